//! The session against blocking peers of our own (real sockets on loopback): the peer runs
//! the protocol core in the server role over a std socket, so it speaks WebSocket without
//! any of the code under test.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::net::WsUrl;
use crate::proto::handshake::key::accept_key;
use crate::proto::{CloseCode, Config, Connection, Event, Role, TransportAction};
use crate::runtime::{block_on, Driver};

use super::{Session, SessionError, INBOX_OCTETS, SEND_MARK};
use crate::ws::WsClientOptions;

/// Octets the kernel may hold on loopback between two sockets, both directions' buffers
/// fully grown (tcp_rmem and tcp_wmem maxima are 6 MiB and 4 MiB by default), with room.
const KERNEL: usize = 16 << 20;

fn drivers() -> Vec<Driver> {
    let mut d = vec![Driver::Epoll];
    if monoio::utils::detect_uring() {
        d.push(Driver::Uring);
    }
    d
}

/// Accept one connection and answer its upgrade; the peer's side of it.
fn accept(l: &TcpListener) -> TcpStream {
    let (mut s, _) = l.accept().unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("a key");
    write!(
        s,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.trim())
    )
    .unwrap();
    s
}

/// A peer on a fresh port running `behave` on the upgraded socket.
fn peer<T: Send + 'static>(
    behave: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (WsUrl, JoinHandle<T>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = WsUrl::parse(&format!("ws://{}/", l.local_addr().unwrap())).unwrap();
    (url, std::thread::spawn(move || behave(accept(&l))))
}

/// Write what the core queued.
fn flush(conn: &mut Connection, s: &mut TcpStream) {
    let mut out = Vec::new();
    while conn.take_transmit(&mut out) {}
    s.write_all(&out).unwrap();
}

/// Echo every message until the connection closes.
fn echo(mut s: TcpStream) {
    let mut conn = Connection::new(Config::new(Role::Server));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let now = Instant::now();
        let mut echoes = Vec::new();
        conn.handle_input_all(&mut buf[..n], now, |_, ev| {
            if let Event::Message(m) = ev {
                echoes.push(m);
            }
        });
        for m in echoes {
            conn.send_message(m.binary, &m.data);
        }
        flush(&mut conn, &mut s);
        if conn.transport_action() != TransportAction::Keep {
            return;
        }
    }
}

#[test]
fn a_round_trip_a_timeout_and_a_clean_close() {
    for d in drivers() {
        let (url, p) = peer(echo);
        let status = block_on(d, false, async move {
            let mut ws = Session::open(&url, &WsClientOptions::default())
                .await
                .unwrap();
            ws.send(false, b"hello".to_vec()).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(5);
            let m = ws.recv(Some(deadline)).await.unwrap();
            assert_eq!((m.binary, &m.data[..]), (false, &b"hello"[..]));
            let t0 = Instant::now();
            let r = ws.recv(Some(t0 + Duration::from_millis(50))).await;
            assert_eq!(r, Err(SessionError::Timeout));
            assert!(t0.elapsed() >= Duration::from_millis(45));
            // Still usable after a timeout: nothing was lost.
            ws.send(true, vec![1, 2, 3]).await.unwrap();
            assert_eq!(ws.recv(Some(deadline)).await.unwrap().data, [1, 2, 3]);
            ws.close(CloseCode::NORMAL, "bye").await
        })
        .unwrap();
        p.join().unwrap();
        assert!(status.was_clean, "{d:?}: {status:?}");
        assert_eq!(status.remote_code, Some(1000));
    }
}

#[test]
fn the_peers_close_ends_recv_after_the_messages_before_it() {
    for d in drivers() {
        let (url, p) = peer(|mut s| {
            let mut conn = Connection::new(Config::new(Role::Server));
            conn.send_message(false, b"last words");
            conn.close(Some(CloseCode::GOING_AWAY), "done", Instant::now());
            flush(&mut conn, &mut s);
            // Read the client's close reply, then end.
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
        });
        block_on(d, false, async move {
            let mut ws = Session::open(&url, &WsClientOptions::default())
                .await
                .unwrap();
            let soon = Some(Instant::now() + Duration::from_secs(5));
            assert_eq!(ws.recv(soon).await.unwrap().data, b"last words");
            match ws.recv(soon).await {
                Err(SessionError::Closed(why)) => assert!(why.contains("1001"), "{why}"),
                other => panic!("{d:?}: {other:?}"),
            }
            assert!(ws.send(false, b"x".to_vec()).await.is_err());
        })
        .unwrap();
        p.join().unwrap();
    }
}

/// Write `size`-octet messages for `secs` or until `limit` octets are written, without
/// reading; returns the octets the socket took.
fn flood(mut s: TcpStream, size: usize, limit: usize, secs: u64) -> usize {
    let mut conn = Connection::new(Config::new(Role::Server));
    s.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let payload = vec![7u8; size];
    let (mut written, mut out) = (0, Vec::new());
    let until = Instant::now() + Duration::from_secs(secs);
    while written < limit && Instant::now() < until {
        if out.is_empty() {
            conn.send_message(true, &payload);
            while conn.take_transmit(&mut out) {}
        }
        match s.write(&out) {
            Ok(n) => {
                written += n;
                out.drain(..n);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // The client went away (the test's runtime ended).
            Err(_) => return written,
        }
    }
    // Let the client drain what it can, then let it see the end.
    std::thread::sleep(Duration::from_millis(200));
    written
}

#[test]
fn a_full_inbox_stops_reading_until_messages_are_taken() {
    const SIZE: usize = 64 * 1024;
    const FLOOD: usize = 96 << 20;
    for d in drivers() {
        let (url, p) = peer(|s| flood(s, SIZE, FLOOD, 3));
        let got = block_on(d, false, async move {
            let ws = Session::open(&url, &WsClientOptions::default())
                .await
                .unwrap();
            // Not reading for a while: the peer must stop getting its octets in.
            monoio::time::sleep(Duration::from_secs(1)).await;
            (ws, 0usize)
        })
        .unwrap();
        // The runtime is gone with the session's task: what the peer managed to write is
        // what the session read plus what the kernel held.
        drop(got);
        let written = p.join().unwrap();
        assert!(
            written < INBOX_OCTETS + SIZE + 256 * 1024 + KERNEL,
            "{d:?}: the peer wrote {written} octets to a session nobody read from"
        );
    }
}

#[test]
fn taken_messages_let_reading_go_on_and_none_is_lost() {
    const SIZE: usize = 64 * 1024;
    const FLOOD: usize = 48 << 20;
    for d in drivers() {
        let (url, p) = peer(|s| flood(s, SIZE, FLOOD, 20));
        let got = block_on(d, false, async move {
            let mut ws = Session::open(&url, &WsClientOptions::default())
                .await
                .unwrap();
            monoio::time::sleep(Duration::from_millis(300)).await;
            let mut got = 0usize;
            while got < FLOOD / SIZE {
                let soon = Some(Instant::now() + Duration::from_secs(10));
                let m = ws.recv(soon).await.unwrap();
                assert_eq!(m.data.len(), SIZE);
                got += 1;
            }
            got
        })
        .unwrap();
        let written = p.join().unwrap();
        assert!(written >= FLOOD, "{d:?}: the peer only wrote {written}");
        assert_eq!(got, FLOOD / SIZE);
    }
}

#[test]
fn send_waits_while_the_peer_does_not_read() {
    const SIZE: usize = 256 * 1024;
    for d in drivers() {
        let (url, p) = peer(|s| {
            std::thread::sleep(Duration::from_secs(2));
            drop(s);
        });
        let queued = block_on(d, false, async move {
            let mut ws = Session::open(&url, &WsClientOptions::default())
                .await
                .unwrap();
            let mut queued = 0usize;
            // Every send returns at once until the mark is passed and the socket is full.
            loop {
                let send = ws.send(true, vec![0u8; SIZE]);
                match monoio::time::timeout(Duration::from_millis(300), send).await {
                    Ok(r) => {
                        r.unwrap();
                        queued += SIZE;
                        assert!(queued < 256 << 20, "{d:?}: send never waited");
                    }
                    Err(_) => break queued,
                }
            }
        })
        .unwrap();
        p.join().unwrap();
        assert!(
            queued <= SEND_MARK + 2 * SIZE + KERNEL,
            "{d:?}: {queued} octets queued before send waited"
        );
    }
}
