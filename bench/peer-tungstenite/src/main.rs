//! usage: peer-tungstenite URL CONNECTIONS WINDOW SIZE SECONDS
//! Opens CONNECTIONS WebSocket connections on one thread (a current-thread tokio runtime),
//! keeps WINDOW binary messages of SIZE octets in flight on each (a writer and a reader task
//! per connection), and prints one JSON line:
//! {"messages": N, "seconds": S, "msgs_per_sec": R}.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 6 {
        eprintln!("usage: peer-tungstenite URL CONNECTIONS WINDOW SIZE SECONDS");
        std::process::exit(2);
    }
    let url = a[1].clone();
    let conns: usize = a[2].parse().expect("connections");
    let window: usize = a[3].parse().expect("window");
    let size: usize = a[4].parse().expect("size");
    let secs: f64 = a[5].parse().expect("seconds");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut socks = Vec::new();
        for _ in 0..conns {
            let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .expect("connect");
            socks.push(ws);
        }
        let payload = vec![7u8; size];
        let start = Instant::now();
        let end = start + Duration::from_secs_f64(secs);
        let mut tasks = Vec::new();
        for ws in socks {
            let payload = payload.clone();
            // A writer and a reader at once, as a pipelining client must be: one task that
            // only reads between bursts of writes stops reading while a write waits on a full
            // socket, and against a server with flow control (which stops reading from a
            // client that leaves its echoes unread) both sides then wait on each other.
            let (mut tx, mut rx) = ws.split();
            let permits = Arc::new(Semaphore::new(window));
            let sent = Arc::new(AtomicU64::new(0));
            let over = Arc::new(AtomicBool::new(false));
            let more = Arc::new(Notify::new());
            let (w_permits, w_sent, w_over, w_more) =
                (permits.clone(), sent.clone(), over.clone(), more.clone());
            let writer = tokio::spawn(async move {
                while Instant::now() < end {
                    w_permits.acquire().await.expect("window").forget();
                    // Feed while more permits are at hand, flush once per burst. Each
                    // message counts as owed before it is fed (a feed can wait on a full
                    // socket, and its echoes must be read meanwhile).
                    loop {
                        w_sent.fetch_add(1, Ordering::Release);
                        w_more.notify_one();
                        tx.feed(Message::binary(payload.clone())).await.expect("send");
                        if Instant::now() >= end {
                            break;
                        }
                        match w_permits.try_acquire() {
                            Ok(p) => p.forget(),
                            Err(_) => break,
                        }
                    }
                    tx.flush().await.expect("flush");
                }
                w_over.store(true, Ordering::Release);
                w_more.notify_one();
                tx
            });
            tasks.push(tokio::spawn(async move {
                let mut done = 0u64;
                loop {
                    // A read is never cancelled (a frame half read would be lost): the
                    // reader waits on the writer only when no echo is owed.
                    if done == sent.load(Ordering::Acquire) {
                        if over.load(Ordering::Acquire) {
                            break;
                        }
                        more.notified().await;
                        continue;
                    }
                    match rx.next().await {
                        Some(Ok(Message::Binary(_))) => {
                            done += 1;
                            permits.add_permits(1);
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
                let mut tx = writer.await.expect("writer");
                let _ = tx.close().await;
                done
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.expect("task");
        }
        let s = start.elapsed().as_secs_f64();
        println!(
            "{{\"messages\": {total}, \"seconds\": {s:.3}, \"msgs_per_sec\": {:.0}}}",
            total as f64 / s
        );
    });
}
