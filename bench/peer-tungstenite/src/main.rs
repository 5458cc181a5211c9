//! usage: peer-tungstenite URL CONNECTIONS WINDOW SIZE SECONDS
//! Opens CONNECTIONS WebSocket connections on one thread (a current-thread tokio runtime),
//! keeps WINDOW binary messages of SIZE octets in flight on each, and prints one JSON line:
//! {"messages": N, "seconds": S, "msgs_per_sec": R}.

use std::time::{Duration, Instant};

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
            tasks.push(tokio::spawn(async move {
                let (mut tx, mut rx) = ws.split();
                let mut done = 0u64;
                let mut in_flight = 0usize;
                loop {
                    while in_flight < window && Instant::now() < end {
                        tx.feed(Message::binary(payload.clone())).await.expect("send");
                        in_flight += 1;
                    }
                    tx.flush().await.expect("flush");
                    if in_flight == 0 {
                        break;
                    }
                    match rx.next().await {
                        Some(Ok(Message::Binary(_))) => {
                            in_flight -= 1;
                            done += 1;
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
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
