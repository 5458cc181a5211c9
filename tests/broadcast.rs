//! broadcastserver / broadcastclient over real loopback sockets: every client gets every
//! message (1,000 receivers), ticks, the page, slow receivers dropped with 1008, the print
//! client, and the fan-out measurement's loss count against a server that loses messages.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{free_port, RawClient, BINARY, TEXT};
use wstest_engine::runtime::Shutdown;
use wstest_modes::broadcast::{
    run_client, run_fanout, start, BroadcastClientConfig, BroadcastServerConfig, FanoutConfig,
    RunningBroadcast,
};
use wstest_modes::common::ServerOptions;

fn server(tick_s: f64, webport: u16, queue_limit: usize) -> RunningBroadcast {
    let mut o = ServerOptions::new("ws://127.0.0.1:0");
    o.runtime.threads = 2;
    let cfg = BroadcastServerConfig {
        server: o,
        webport,
        tick_s,
        queue_limit,
    };
    start(&cfg, Shutdown::new()).expect("broadcast server starts")
}

#[test]
fn a_thousand_clients_receive_every_message() {
    let s = server(0.0, 0, 4 << 20);
    let cfg = FanoutConfig {
        url: s.listening.url.clone(),
        clients: 1000,
        rate: 40.0,
        duration_s: 1.0,
        size: 100,
        drain_s: 20.0,
        ..Default::default()
    };
    let r = run_fanout(&cfg, &Shutdown::new()).expect("fan-out runs");
    assert_eq!(r.connected, 1000, "{:?}", r.first_error);
    assert!(r.published >= 30, "published {}", r.published);
    assert_eq!(r.expected, r.published * 1000);
    assert_eq!(
        (r.delivered, r.lost, r.dropped),
        (r.expected, 0, 0),
        "every receiver gets every message"
    );
    assert_eq!(r.latency.count, r.delivered);
    assert!(r.latency.min_us > 0.0 && r.latency.min_us <= r.latency.max_us);
    let hub = s.stats();
    assert_eq!(
        hub.published, r.published,
        "the server saw each message once"
    );
    // Each message also goes back to the publisher.
    s.stop();
    let report = s.join().expect("server stops");
    assert!(
        report.broadcast.delivered >= r.expected + r.published,
        "{:?}",
        report.broadcast
    );
    assert_eq!(report.broadcast.dropped_slow, 0);
}

#[test]
fn text_and_binary_reach_every_client_the_sender_included_and_ticks_count_up() {
    let s = server(0.1, 0, 4 << 20);
    let addr = s.local_addr();
    let mut a = RawClient::connect(addr);
    let mut b = RawClient::connect(addr);
    let mut c = RawClient::connect(addr);
    // Let all three join before publishing (joining happens at the upgrade).
    std::thread::sleep(Duration::from_millis(50));
    a.send_text("from a");
    a.send_binary(&[1, 2, 250]);
    for (name, cl) in [("a", &mut a), ("b", &mut b), ("c", &mut c)] {
        let mut got = Vec::new();
        let mut ticks = Vec::new();
        while got.len() < 2 || ticks.len() < 3 {
            let f = cl.expect_frame();
            if f.opcode == TEXT && f.payload.starts_with(b"tick ") {
                let n: u64 = String::from_utf8_lossy(&f.payload[5..]).parse().unwrap();
                ticks.push(n);
            } else {
                got.push((f.opcode, f.payload));
            }
        }
        assert_eq!(
            got,
            vec![(TEXT, b"from a".to_vec()), (BINARY, vec![1, 2, 250])],
            "client {name}"
        );
        assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "{ticks:?}");
    }
    a.close_cleanly();
    s.stop();
    let r = s.join().unwrap();
    assert_eq!(r.broadcast.published, r.broadcast.ticks + 2);
}

/// Clients that only listen are set aside without a task (right after their handshake, and
/// again after a second of quiet): ticks and messages still reach each of them, in order,
/// written from the lot; a client that speaks again is answered from a task.
#[test]
fn silent_clients_are_set_aside_and_still_get_everything() {
    let s = server(0.05, 0, 4 << 20);
    let addr = s.local_addr();
    let mut silent: Vec<RawClient> = (0..3).map(|_| RawClient::connect(addr)).collect();
    let mut publisher = RawClient::connect(addr);
    std::thread::sleep(Duration::from_millis(300));
    let big = vec![7u8; 60_000];
    for i in 0..30u8 {
        publisher.send_binary(&[i]);
    }
    publisher.send_binary(&big);
    for (n, cl) in silent.iter_mut().enumerate() {
        let (mut got, mut ticks) = (Vec::new(), Vec::new());
        while got.len() < 31 || ticks.len() < 10 {
            let f = cl.expect_frame();
            if f.opcode == TEXT && f.payload.starts_with(b"tick ") {
                ticks.push(
                    String::from_utf8_lossy(&f.payload[5..])
                        .parse::<u64>()
                        .unwrap(),
                );
            } else {
                got.push(f.payload);
            }
        }
        let want: Vec<Vec<u8>> = (0..30u8).map(|i| vec![i]).chain([big.clone()]).collect();
        assert_eq!(got, want, "client {n}");
        assert!(
            ticks.windows(2).all(|w| w[1] == w[0] + 1),
            "client {n}: {ticks:?}"
        );
    }
    // A set-aside client that speaks is served again.
    silent[0].send_text("back");
    let mut heard = false;
    for _ in 0..100 {
        let f = silent[0].expect_frame();
        if f.payload == b"back" {
            heard = true;
            break;
        }
    }
    assert!(heard, "the client's own message came back");
    s.stop();
    let r = s.join().unwrap();
    assert!(r.server.stats.set_aside >= 4, "{:?}", r.server.stats);
    assert_eq!(r.broadcast.dropped_slow, 0);
}

#[test]
fn the_page_is_served_on_the_web_port_and_the_websocket_port() {
    let web = free_port();
    let s = server(0.0, web, 4 << 20);
    let get = |port: u16| {
        let mut t = TcpStream::connect(("127.0.0.1", port)).unwrap();
        t.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut body = String::new();
        t.read_to_string(&mut body).unwrap();
        body
    };
    let page = get(web);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.contains(&format!("const port = \"{}\"", s.local_addr().port())),
        "the web port's page connects to the WebSocket port"
    );
    let own = get(s.local_addr().port());
    assert!(own.contains("const port = \"\" || location.port"));
    s.stop();
}

/// A receiver that never reads is closed (1008) once its queue is full; the others get
/// every message and the server's memory stays bounded by the queue limit.
#[test]
fn a_slow_receiver_is_dropped_and_the_others_get_everything() {
    let s = server(0.0, 0, 1 << 20);
    let slow = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    slow.set_recv_buffer_size(4096).unwrap();
    slow.connect(&s.local_addr().into()).unwrap();
    let slow: TcpStream = slow.into();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let raw = slow.try_clone().unwrap();
    let slow = RawClient::handshake_request(slow);
    std::thread::sleep(Duration::from_millis(50));
    let cfg = FanoutConfig {
        url: s.listening.url.clone(),
        clients: 3,
        rate: 50.0,
        duration_s: 6.0,
        size: 64 * 1024,
        drain_s: 20.0,
        ..Default::default()
    };
    let r = run_fanout(&cfg, &Shutdown::new()).expect("fan-out runs");
    assert_eq!((r.lost, r.dropped), (0, 0), "{r:?}");
    let until = Instant::now() + Duration::from_secs(10);
    while s.stats().dropped_slow == 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        s.stats().dropped_slow,
        1,
        "19 MiB went to a reader of nothing"
    );
    // The server let go of it: reading what is left ends in EOF or a reset (the close
    // handshake may time out with a frame half written), not in more data forever.
    let mut rest = raw;
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0usize;
    let ended = loop {
        match rest.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(e) => panic!("slow receiver still held after {total} octets: {e}"),
        }
    };
    assert!(ended && total < 32 << 20, "{total} octets");
    drop(slow);
    s.stop();
}

#[test]
fn the_print_client_sends_periodically_and_hears_itself_and_others() {
    let s = server(0.2, 0, 4 << 20);
    let mut other = RawClient::connect(s.local_addr());
    let url = s.listening.url.clone();
    let h = std::thread::spawn(move || {
        run_client(
            &BroadcastClientConfig {
                url,
                interval_s: 0.25,
                message: Some("periodic".into()),
                duration_s: Some(1.2),
                print: false,
                ..Default::default()
            },
            Shutdown::new(),
        )
    });
    let mut seen = 0;
    while seen < 4 {
        let f = other.expect_frame();
        if f.payload == b"periodic" {
            seen += 1;
        }
    }
    let r = h.join().unwrap().expect("client runs");
    assert!(r.sent >= 4, "{r:?}");
    // Its own messages and the ticks came back to it.
    assert!(r.received >= r.sent + 3, "{r:?}");
    assert_eq!(r.close.local_code, Some(1000));
    s.stop();
}

#[test]
fn fan_out_counts_what_a_server_loses() {
    // An echo server sends each message back to its sender only: the receivers get nothing.
    let mut o = ServerOptions::new("ws://127.0.0.1:0");
    o.runtime.threads = 1;
    let echo =
        wstest_modes::echo::start_echo_server(&o, "echoserver", "echo", Shutdown::new()).unwrap();
    let cfg = FanoutConfig {
        url: echo.url.clone(),
        clients: 5,
        rate: 100.0,
        duration_s: 0.5,
        drain_s: 0.5,
        ..Default::default()
    };
    let r = run_fanout(&cfg, &Shutdown::new()).expect("fan-out runs");
    assert!(r.published > 0);
    assert_eq!((r.delivered, r.lost), (0, r.published * 5));
    echo.stop();
}

#[test]
fn fan_out_to_nothing_is_unreachable() {
    let cfg = FanoutConfig {
        url: format!("ws://127.0.0.1:{}", free_port()),
        clients: 3,
        duration_s: 0.2,
        client: wstest_modes::common::ClientOptions {
            connect_timeout: Some(1.0),
            ..Default::default()
        },
        ..Default::default()
    };
    let e = run_fanout(&cfg, &Shutdown::new()).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().contains("127.0.0.1"), "{e}");
}
