//! Flow control against clients that do not read. Each server mode runs as its own process
//! (`--max-queued 1 MiB`); clients flood it with messages or pings while never reading, or
//! while reading 1 KiB a second. The server's resident memory (from `/proc/PID/status`) must
//! stay within what it may queue for them plus a stated constant, and a well-behaved client
//! must still be served meanwhile. A client that holds the queue up past `--stall-timeout` is
//! closed with 1008 and counted.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use socket2::{Domain, Socket, Type};
use wstest_engine::proto::handshake::{ClientHandshake, ClientOptions};

/// `--max-queued` given to every server.
const MAX_QUEUED: usize = 1 << 20;
/// What a server process may grow by beyond what it may queue for its clients: a read
/// buffer (256 KiB) and a message being assembled or echoed (up to 1 MiB here) per client,
/// the allocator's slack and a debug build's own. Measured growth is printed.
const SLACK: u64 = 24 << 20;
/// Octets each flooding client tries to write; far more than any bound.
const FLOOD: usize = 96 << 20;

/// A socket with a small receive buffer (so that not reading is felt at once), handshaken,
/// offering `protocol`.
fn hostile_socket(addr: SocketAddr, protocol: Option<&str>) -> TcpStream {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.connect(&addr.into()).unwrap();
    let mut stream: TcpStream = s.into();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut o = ClientOptions::new(addr.to_string(), "/");
    o.protocols = protocol.map(|p| vec![p.to_string()]).unwrap_or_default();
    let hs = ClientHandshake::new(o, *b"flow-control-tst");
    stream.write_all(&hs.request()).unwrap();
    // Read the answer head only, octet by octet, so no WebSocket octet is taken.
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            read_some(&mut stream, &mut b).unwrap(),
            1,
            "server closed in handshake"
        );
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

/// What a flooding client writes over and over.
#[derive(Clone, Copy)]
enum Flood {
    /// 1 MiB binary messages.
    Data,
    /// 125-octet pings.
    Pings,
    /// WAMP: HELLO, then CALLs of a procedure nobody registered (each answered by ERROR).
    WampCalls,
}

impl Flood {
    fn chunk(self) -> Vec<u8> {
        match self {
            Flood::Data => masked(BINARY, true, &vec![0x5a; 1 << 20]).to_bytes(),
            Flood::Pings => {
                let one = masked(PING, true, &[0x70; 125]).to_bytes();
                one.repeat(512)
            }
            Flood::WampCalls => {
                let call = br#"[48,1,{},"com.example.nobody"]"#;
                masked(TEXT, true, call).to_bytes().repeat(1024)
            }
        }
    }
}

/// A client that writes `flood` until the server stops taking it (writes block for 2 s) or
/// `FLOOD` octets are out. `reader`: read 1 KiB a second meanwhile (else never read). The
/// connection stays open until dropped.
struct Flooder {
    writer: Option<JoinHandle<usize>>,
    reading: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    stream: TcpStream,
}

fn flood(addr: SocketAddr, protocol: Option<&str>, what: Flood, slow_reader: bool) -> Flooder {
    let mut stream = hostile_socket(addr, protocol);
    if let Flood::WampCalls = what {
        let hello = br#"[1,"realm1",{"roles":{"caller":{}}}]"#;
        stream
            .write_all(&masked(TEXT, true, hello).to_bytes())
            .unwrap();
    }
    let reading = Arc::new(AtomicBool::new(true));
    let reader = slow_reader.then(|| {
        let (mut r, on) = (stream.try_clone().unwrap(), reading.clone());
        std::thread::spawn(move || {
            let mut kib = [0u8; 1024];
            while on.load(Ordering::SeqCst) {
                if !matches!(r.read(&mut kib), Ok(n) if n > 0) {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    });
    let mut w = stream.try_clone().unwrap();
    w.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = what.chunk();
        let mut sent = 0;
        while sent < FLOOD {
            match w.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // Blocked (the server stopped reading) or closed: done.
                Err(_) => break,
            }
        }
        sent
    });
    Flooder {
        writer: Some(writer),
        reading,
        reader,
        stream,
    }
}

impl Flooder {
    /// Octets the server took before it stopped reading (waits for the writing to end).
    fn wait(&mut self) -> usize {
        self.writer.take().map_or(0, |w| w.join().unwrap())
    }
}

impl Drop for Flooder {
    fn drop(&mut self) {
        self.reading.store(false, Ordering::SeqCst);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// A well-behaved client gets its answer from each mode.
fn assert_mode_serves(mode: &str, addr: SocketAddr) {
    match mode {
        "echoserver" | "testeeserver" => assert_serves(addr),
        "broadcastserver" => {
            // A client that joins while the thread still publishes a flood's backlog may be
            // dropped with the thread's clients when that backlog passes the thread's limit
            // (every client gets every message or is closed): the server serves a new one
            // once the backlog is gone. Up to five clients, one after the other.
            for attempt in 1..=5 {
                let mut c = RawClient::connect(addr);
                c.send_text("hello all");
                // Ticks may come first; our own message comes back to us too.
                let until = Instant::now() + IO_TIMEOUT;
                loop {
                    assert!(Instant::now() < until, "broadcast never came back");
                    match c.next() {
                        Next::Frame(f) if f.payload == b"hello all" => return,
                        Next::Frame(f) if f.opcode == CLOSE && attempt < 5 => {
                            eprintln!(
                                "broadcastserver: client {attempt} dropped ({:?})",
                                f.payload
                            );
                            break;
                        }
                        Next::Frame(_) => {}
                        other => panic!("client {attempt}: connection ended: {other:?}"),
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        "wampserver" => {
            let mut c = wamp_client(addr);
            c.send_text(r#"[1,"realm1",{"roles":{"caller":{}}}]"#);
            let f = c.expect_frame();
            let text = String::from_utf8_lossy(&f.payload).into_owned();
            assert!(text.starts_with("[2,"), "expected WELCOME, got {text}");
        }
        m => panic!("no check for {m}"),
    }
}

fn wamp_client(addr: SocketAddr) -> RawClient {
    let mut o = ClientOptions::new(addr.to_string(), "/");
    o.protocols = vec!["wamp.2.json".into()];
    let hs = ClientHandshake::new(o, *b"flow-control-ok!");
    let req = hs.request();
    RawClient::handshake_over(tcp(addr), &hs, &req)
}

/// Whether the server has ended this connection (EOF or reset within 10 s; what it had
/// queued is read and dropped).
fn ended_by_server(s: &TcpStream) -> bool {
    let mut s = s.try_clone().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 1 << 16];
    while Instant::now() < until {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
    false
}

/// Two flooders of `what` (one never reads, one reads 1 KiB/s) against `mode`: the server
/// stops taking their octets (or, broadcastserver, drops them as too slow), its resident
/// memory grows by at most `bound` (what it may queue for them plus `SLACK`), and a good
/// client is served meanwhile.
fn bounded_against(mode: &str, protocol: Option<&str>, what: Flood, bound: u64) {
    let server = Proc::start(
        mode,
        &[
            "--max-queued",
            &MAX_QUEUED.to_string(),
            "--stall-timeout",
            "60",
        ],
    );
    let addr = server.addr();
    assert_mode_serves(mode, addr);
    let before = server.rss();
    let mut a = flood(addr, protocol, what, false);
    let mut b = flood(addr, protocol, what, true);
    let (sent_a, sent_b) = (a.wait(), b.wait());
    let grown = server.rss().saturating_sub(before);
    eprintln!(
        "{mode}: took {sent_a} / {sent_b} octets of {} floods, resident memory +{} KiB (bound {} KiB)",
        match what {
            Flood::Data => "message",
            Flood::Pings => "ping",
            Flood::WampCalls => "CALL",
        },
        grown / 1024,
        bound / 1024
    );
    assert!(
        grown <= bound,
        "{mode}: resident memory grew by {grown} octets, more than {bound}"
    );
    assert_mode_serves(mode, addr);
    for (sent, f) in [(sent_a, &a), (sent_b, &b)] {
        // A broadcast server reads on (a publisher is not slowed by its receivers) and
        // drops a receiver whose queue is full instead.
        assert!(
            sent < FLOOD || (mode == "broadcastserver" && ended_by_server(&f.stream)),
            "{mode}: the server kept reading from a client that does not read ({sent} octets taken)"
        );
    }
}

/// Two clients' worth of the high-water mark, plus `SLACK`.
const TWO_QUEUES: u64 = 2 * MAX_QUEUED as u64 + SLACK;

#[test]
fn echoserver_stays_bounded_against_clients_that_do_not_read() {
    bounded_against("echoserver", None, Flood::Data, TWO_QUEUES);
    bounded_against("echoserver", None, Flood::Pings, TWO_QUEUES);
}

#[test]
fn testeeserver_stays_bounded_against_clients_that_do_not_read() {
    bounded_against("testeeserver", None, Flood::Data, TWO_QUEUES);
    bounded_against("testeeserver", None, Flood::Pings, TWO_QUEUES);
}

#[test]
fn broadcastserver_stays_bounded_against_clients_that_do_not_read() {
    // Broadcast frames wait in each receiver's queue (`--queue-limit`, 4 MiB by default) and,
    // on their way to a thread, in its mailbox (at most 16 queues' worth): the same bytes for
    // every receiver, so three receivers' queues and one mailbox.
    let fan_out = TWO_QUEUES + 3 * (4 << 20) + 16 * (4 << 20);
    bounded_against("broadcastserver", None, Flood::Data, fan_out);
    bounded_against("broadcastserver", None, Flood::Pings, TWO_QUEUES);
}

#[test]
fn wampserver_stays_bounded_against_clients_that_do_not_read() {
    // A session's documented limits (README): messages waiting for the router, answers
    // waiting for the session's thread, octets waiting for the socket; pings count against
    // the connection's high-water mark.
    use wstest_modes::wamp::server::{INBOUND_LIMIT, OUTBOUND_LIMIT, SLOW_LIMIT};
    let session = (INBOUND_LIMIT + OUTBOUND_LIMIT + SLOW_LIMIT) as u64;
    bounded_against(
        "wampserver",
        Some("wamp.2.json"),
        Flood::WampCalls,
        2 * session + SLACK,
    );
    bounded_against("wampserver", Some("wamp.2.json"), Flood::Pings, TWO_QUEUES);
}

/// A client that holds the queue up past the stall timeout is closed with 1008: the server
/// counts it, and the connection ends (the client sees the close, or a reset).
#[test]
fn a_client_that_stalls_past_the_timeout_is_closed_and_counted() {
    let server = Proc::start(
        "echoserver",
        &[
            "--max-queued",
            &MAX_QUEUED.to_string(),
            "--stall-timeout",
            "1",
        ],
    );
    let addr = server.addr();
    let mut f = flood(addr, None, Flood::Pings, false);
    let sent = f.wait();
    assert!(sent < FLOOD, "the server kept reading ({sent} octets)");
    // Stall timeout (1 s) plus the closing handshake's (1 s): the server has let go, and
    // what it had queued ends in a FIN or a reset.
    std::thread::sleep(Duration::from_secs(4));
    let mut s = f.stream.try_clone().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the stalled connection is still open")
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    assert_serves(addr);
    drop(f);
    let out = server.stop();
    assert!(
        out.contains("1 closed for not reading"),
        "the server did not count the stalled client: {out}"
    );
}
