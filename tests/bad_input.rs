//! Bad peers: handshakes cut off, silent clients, peers that stop answering during the
//! closing handshake, peers that vanish mid-message (FIN or RST), and runs of garbage. The
//! server must drop each one, never panic a worker, and keep serving good clients.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use wstest_engine::proto::handshake::Request;
use wstest_engine::proto::{CloseCode, Config, Connection, Event, Role};
use wstest_engine::runtime::Shutdown;
use wstest_engine::ws::{serve, Handler, ServerConfig, ServerHandle, Service, Upgrade};
use wstest_modes::echo::EchoService;

/// Close the socket with a TCP reset instead of a FIN (SO_LINGER with a zero timeout).
fn reset(s: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized `linger` value.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt(SO_LINGER): {}",
        std::io::Error::last_os_error()
    );
    drop(s);
}

/// An engine server with a given config and service, stopped on drop.
struct EngineServer(Option<ServerHandle>);

impl EngineServer {
    fn start<S: Service>(adjust: impl FnOnce(&mut ServerConfig), service: S) -> EngineServer {
        let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
        cfg.runtime.threads = 1;
        cfg.runtime.no_pin = true;
        adjust(&mut cfg);
        EngineServer(Some(
            serve(cfg, Arc::new(service), Shutdown::new()).expect("server starts"),
        ))
    }

    fn addr(&self) -> SocketAddr {
        self.0.as_ref().unwrap().local_addr
    }

    fn finish(mut self) -> wstest_engine::ws::ServerStats {
        let h = self.0.take().unwrap();
        h.stop();
        h.join().expect("workers ended without error")
    }
}

impl Drop for EngineServer {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.stop();
            let _ = h.join();
        }
    }
}

fn echo_service() -> EchoService {
    EchoService {
        server_name: "bad-input-test".into(),
        config: Config::new(Role::Server),
        deflate: None,
    }
}

#[test]
fn handshake_cut_off_then_client_vanishes() {
    let server = Server::testee();
    let full = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    // Cut after a few octets, mid-line and after a complete line; FIN once, RST once.
    for (i, cut) in [3usize, 40, full.len()].into_iter().enumerate() {
        let mut s = tcp(server.addr());
        s.write_all(&full[..cut]).unwrap();
        if i % 2 == 0 {
            drop(s);
        } else {
            reset(s);
        }
    }
    assert_serves(server.addr());
    let stats = server.finish().stats;
    assert_eq!(stats.handshakes_failed, 3, "{stats:?}");
    assert_eq!(stats.connections, 1, "{stats:?}");
}

#[test]
fn silent_client_is_dropped_after_the_handshake_timeout() {
    let server = EngineServer::start(
        |c| c.handshake_timeout = Duration::from_millis(300),
        echo_service(),
    );
    // One client says nothing; another sends half a request and stalls.
    let mut silent = tcp(server.addr());
    let mut stalled = tcp(server.addr());
    stalled
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpg")
        .unwrap();
    // Meanwhile a good client is served.
    assert_serves(server.addr());
    // Both are dropped without an answer (nothing to read, then the end of the connection).
    for (name, s) in [("silent", &mut silent), ("stalled", &mut stalled)] {
        assert!(
            read_http_reply(s).is_none(),
            "{name}: the server answered instead of dropping"
        );
    }
    // Still serving afterwards.
    assert_serves(server.addr());
    let stats = server.finish();
    assert_eq!(stats.handshakes_failed, 2, "{stats:?}");
    assert_eq!(stats.connections, 2, "{stats:?}");
}

/// Echoes, except that the text "close please" makes the server start the closing handshake.
struct CloseOnRequest;

impl Handler for CloseOnRequest {
    fn on_event(&mut self, conn: &mut Connection, event: Event, now: Instant) {
        if let Event::Message(m) = event {
            if m.data == b"close please" {
                conn.close(Some(CloseCode::NORMAL), "as requested", now);
            } else {
                conn.send_message(m.binary, &m.data);
            }
        }
    }
}

struct CloseOnRequestService;

impl Service for CloseOnRequestService {
    type Handler = CloseOnRequest;
    fn upgrade(&self, _req: &Request, _peer: SocketAddr) -> Upgrade<CloseOnRequest> {
        Upgrade::Accept {
            handler: CloseOnRequest,
            config: Config::new(Role::Server),
            protocol: None,
            extensions: None,
        }
    }
}

#[test]
fn peer_that_never_answers_our_close_is_dropped() {
    let server = EngineServer::start(|_| {}, CloseOnRequestService);
    let mut c = RawClient::connect(server.addr());
    c.send_text("echo first");
    c.expect_text("echo first");
    c.send_text("close please");
    let f = c.expect_close(1000);
    assert_eq!(f.close_reason(), "as requested");
    // We never answer: the server gives up on the closing handshake and closes TCP.
    c.expect_eof();
    assert_serves(server.addr());
    server.finish();
}

#[test]
fn peer_that_answers_our_close_gets_a_clean_close() {
    let server = EngineServer::start(|_| {}, CloseOnRequestService);
    let mut c = RawClient::connect(server.addr());
    c.send_text("close please");
    c.expect_close(1000);
    c.send_close(1000, b"");
    c.expect_eof();
    let stats = server.finish();
    assert_eq!(stats.protocol_errors, 0);
}

#[test]
fn shutdown_with_an_unresponsive_peer_still_finishes() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    c.send_text("hello");
    c.expect_text("hello");
    server.running().stop();
    // The server goes away with 1001; we never answer, the server closes anyway.
    c.expect_close(1001);
    c.expect_eof();
    let report = server.finish();
    assert_eq!(report.stats.connections, 1);
}

#[test]
fn peer_vanishes_mid_message() {
    let server = Server::testee();
    // A frame header declaring 1000 octets, and only 100 of them.
    let frame = masked(BINARY, true, &[5; 1000]).to_bytes();
    let mut c = RawClient::connect(server.addr());
    c.send_raw(&frame[..8 + 100]);
    drop(c);
    // Inside a fragmented text message (FIN), and mid-frame with a reset.
    let mut c = RawClient::connect(server.addr());
    c.send_frame(TEXT, false, b"first part ");
    c.send_frame(CONTINUATION, false, b"second part");
    drop(c);
    let mut c = RawClient::connect(server.addr());
    c.send_raw(&frame[..8 + 500]);
    reset(c.stream);
    // Mid-header.
    let mut c = RawClient::connect(server.addr());
    c.send_raw(&frame[..3]);
    drop(c);
    assert_serves(server.addr());
    let stats = server.finish().stats;
    assert_eq!(stats.connections, 5, "{stats:?}");
    assert_eq!(
        stats.protocol_errors, 0,
        "a vanished peer is not a protocol violation: {stats:?}"
    );
    assert_eq!(
        stats.rx_messages, 2,
        "only the good client's messages were complete: {stats:?}"
    );
}

#[test]
fn many_garbage_connections_then_a_good_one() {
    let server = Server::testee();
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let rounds = 60;
    let mut closes = Vec::new();
    for i in 0..rounds {
        let len = 1 + rng.below(400) as usize;
        let junk = rng.bytes(len);
        if i % 2 == 0 {
            // Garbage instead of a handshake: a 400 or a closed connection.
            let mut s = tcp(server.addr());
            s.write_all(&junk).unwrap();
            shutdown_write(&s);
            if let Some(reply) = read_http_reply(&mut s) {
                assert_eq!(reply.status, 400, "round {i}: {reply:?}");
            }
        } else {
            // Garbage after a good handshake: whatever the server makes of it, the
            // connection ends, and any Close it sends carries an error code.
            let mut c = RawClient::connect(server.addr());
            c.send_raw(&junk);
            shutdown_write(&c.stream);
            loop {
                match c.next() {
                    Next::Frame(f) if f.opcode == CLOSE => closes.push(f.close_code()),
                    Next::Frame(_) => {}
                    Next::Eof | Next::Reset => break,
                }
            }
        }
    }
    for code in &closes {
        assert!(
            matches!(code, Some(1002 | 1007 | 1009)),
            "close codes for garbage: {closes:?}"
        );
    }
    assert!(
        !closes.is_empty(),
        "random frames should draw at least one protocol-error close"
    );
    assert_serves(server.addr());
    let stats = server.finish().stats;
    assert_eq!(stats.accepted, rounds + 1, "{stats:?}");
    assert_eq!(stats.connections, rounds / 2 + 1, "{stats:?}");
}
