//! Connections set aside and taken up again, over real sockets, under both drivers: short
//! messages and pings are answered from the lot, a long message goes to a task and the
//! connection is set aside again, a close and a reset while set aside end the connection,
//! shutdown closes set-aside connections with 1001, and a handler that does not allow it is
//! never set aside.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::proto::frame::encode_frame;
use crate::proto::handshake::Request;
use crate::proto::{Config, Connection, Event, OpCode, Role};
use crate::runtime::{DriverKind, Shutdown};
use crate::ws::server::{serve, ServerConfig, ServerHandle, Service, Upgrade};
use crate::ws::Handler;

struct Echo {
    parkable: bool,
}

impl Handler for Echo {
    fn on_event(&mut self, conn: &mut Connection, event: Event, _now: Instant) {
        if let Event::Message(m) = event {
            conn.send_message_owned(m.binary, m.data);
        }
    }
    fn parkable(&self) -> bool {
        self.parkable
    }
}

struct EchoService {
    parkable: bool,
}

impl Service for EchoService {
    type Handler = Echo;
    fn upgrade(&self, _req: &Request, _peer: SocketAddr) -> Upgrade<Echo> {
        Upgrade::Accept {
            handler: Echo {
                parkable: self.parkable,
            },
            config: Config::new(Role::Server),
            protocol: None,
            extensions: None,
        }
    }
}

const PARK: Duration = Duration::from_millis(50);

fn start(driver: DriverKind, parkable: bool) -> ServerHandle {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.runtime.threads = 1;
    cfg.runtime.driver = driver;
    cfg.runtime.no_pin = true;
    cfg.park_after = Some(PARK);
    cfg.drain_timeout = Duration::from_secs(2);
    serve(cfg, Arc::new(EchoService { parkable }), Shutdown::new()).unwrap()
}

/// A blocking client with the opening handshake done.
fn client(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    s
}

fn send(s: &mut TcpStream, op: OpCode, payload: &[u8]) {
    let mut f = Vec::new();
    encode_frame(&mut f, true, 0, op, Some([1, 2, 3, 4]), payload);
    s.write_all(&f).unwrap();
}

/// One unmasked server frame with a short payload: (opcode, payload).
fn recv(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    assert!(h[1] < 126, "short frames only");
    let mut p = vec![0u8; h[1] as usize];
    s.read_exact(&mut p).unwrap();
    (h[0] & 0x0F, p)
}

fn drivers() -> Vec<DriverKind> {
    let mut v = vec![DriverKind::Epoll];
    if crate::runtime::resolve_driver(DriverKind::Auto) == crate::runtime::Driver::Uring {
        v.push(DriverKind::Uring);
    } else {
        eprintln!("SKIP io_uring half: io_uring is not available here");
    }
    v
}

#[test]
fn set_aside_connections_echo_close_and_shut_down() {
    for driver in drivers() {
        let server = start(driver, true);
        let addr = server.local_addr;
        let mut a = client(addr);
        let mut b = client(addr);
        let c = client(addr);
        for round in 0..3 {
            // Set aside since its handshake: a short message is answered from the lot.
            std::thread::sleep(PARK * 4);
            let msg = format!("round {round}");
            send(&mut a, OpCode::TEXT, msg.as_bytes());
            assert_eq!(recv(&mut a), (1, msg.into_bytes()), "{driver:?}");
        }
        // A ping to a set-aside connection is answered.
        send(&mut a, OpCode::PING, b"p");
        assert_eq!(recv(&mut a), (0xA, b"p".to_vec()), "{driver:?}");
        // A message longer than the lot reads goes to a task, which echoes it; quiet again,
        // the connection is set aside again (the fourth time).
        let long: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        send(&mut a, OpCode::BINARY, &long);
        let mut h = [0u8; 4];
        a.read_exact(&mut h).unwrap();
        assert_eq!(
            (h[0], h[1], u16::from_be_bytes([h[2], h[3]])),
            (0x82, 126, 3000)
        );
        let mut back = vec![0u8; 3000];
        a.read_exact(&mut back).unwrap();
        assert_eq!(back, long, "{driver:?}");
        std::thread::sleep(PARK * 4);
        send(&mut a, OpCode::TEXT, b"after");
        assert_eq!(recv(&mut a), (1, b"after".to_vec()), "{driver:?}");
        // A close while set aside gets the closing handshake.
        send(&mut b, OpCode::CLOSE, &1000u16.to_be_bytes());
        assert_eq!(
            recv(&mut b),
            (8, 1000u16.to_be_bytes().to_vec()),
            "{driver:?}"
        );
        // A peer that vanishes while set aside (reset) is let go.
        socket2::SockRef::from(&c)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(c);
        std::thread::sleep(PARK * 4);
        // Shutdown closes a set-aside connection with 1001.
        server.stop();
        let (op, payload) = recv(&mut a);
        assert_eq!(
            (op, &payload[..2]),
            (8, &1001u16.to_be_bytes()[..]),
            "{driver:?}"
        );
        send(&mut a, OpCode::CLOSE, &1001u16.to_be_bytes());
        let stats = server.join().unwrap();
        // Three after their handshakes, one after the long message.
        assert_eq!(stats.set_aside, 4, "{driver:?}: {stats:?}");
        assert_eq!(stats.connections, 3);
        // Counted across the lot and the tasks (the counters sleep with the connection).
        assert_eq!(stats.rx_messages, 5, "{driver:?}");
        assert_eq!(stats.tx_messages, 5, "{driver:?}");
    }
}

#[test]
fn a_handler_that_does_not_allow_it_is_never_set_aside() {
    let server = start(DriverKind::Epoll, false);
    let mut a = client(server.local_addr);
    std::thread::sleep(PARK * 4);
    send(&mut a, OpCode::TEXT, b"x");
    assert_eq!(recv(&mut a), (1, b"x".to_vec()));
    server.stop();
    let _ = recv(&mut a);
    send(&mut a, OpCode::CLOSE, &[]);
    assert_eq!(server.join().unwrap().set_aside, 0);
}

/// A message that arrives while the read is being called off is not lost: many clients
/// send just as their connections go quiet long enough to be set aside.
#[test]
fn messages_at_the_moment_of_setting_aside_are_not_lost() {
    for driver in drivers() {
        let server = start(driver, true);
        let mut clients: Vec<TcpStream> = (0..20).map(|_| client(server.local_addr)).collect();
        for round in 0..10u32 {
            // Around the park delay, spread over the clients.
            std::thread::sleep(
                PARK - Duration::from_millis(5) + Duration::from_micros(round as u64 * 1000),
            );
            for (i, s) in clients.iter_mut().enumerate() {
                let m = format!("{round}/{i}");
                send(s, OpCode::BINARY, m.as_bytes());
            }
            for (i, s) in clients.iter_mut().enumerate() {
                assert_eq!(
                    recv(s),
                    (2, format!("{round}/{i}").into_bytes()),
                    "{driver:?}"
                );
            }
        }
        server.stop();
        drop(clients);
        let stats = server.join().unwrap();
        assert_eq!(stats.rx_messages, 200, "{driver:?}");
    }
}

/// What a set-aside connection holds in user space: one slab entry with its socket and its
/// protocol state put to sleep. (A whole `Connection` was 944 octets, 640 once its
/// compression contexts were boxed; asleep it keeps only what carries over.)
#[test]
fn a_set_aside_connection_is_small() {
    let size = std::mem::size_of::<Option<super::Parked<Echo>>>();
    assert!(size <= 256, "a set-aside connection takes {size} octets");
}
