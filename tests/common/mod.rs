//! Shared helpers for the integration tests: servers started in-process on 127.0.0.1:0, a
//! raw blocking WebSocket client that can put any frame on the wire and reads back exactly
//! what the server sends, and a raw HTTP exchange for opening-handshake tests.
//!
//! Every read has a generous timeout (`IO_TIMEOUT`) so that a server that hangs fails the
//! test instead of hanging it; no test asserts on how long anything takes.

#![allow(dead_code)]

pub mod netns;

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown as NetShutdown, SocketAddr, TcpStream};
use std::time::Duration;

use wstest_engine::proto::frame::RawFrame;
use wstest_engine::proto::handshake::{ClientHandshake, ClientOptions};
use wstest_engine::proto::{FrameDecoder, Item, OpCode};
use wstest_engine::runtime::Shutdown;
use wstest_modes::common::ServerOptions;
use wstest_modes::serving::{Listening, ServerReport};
use wstest_modes::testee;

/// How long any single read waits before the test fails as hung.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The masking key our raw client uses (not all zeroes, so a server that forgets to unmask
/// echoes garbage).
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CONTINUATION: u8 = 0x0;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// A port nothing listens on right now (bound and released).
pub fn free_port() -> u16 {
    bound_port(0).expect("bind 127.0.0.1:0")
}

/// Bind (never listen on) 127.0.0.1:`port` for a moment; the port it got. Not a listener on
/// purpose: a child process that another thread forks while this socket is open keeps a copy
/// until it execs, and a listening copy would accept a probe meant for the server that is to
/// take the port (seen: a test's first connection reset, or refused, before its server had
/// even bound).
fn bound_port(port: u16) -> Option<u16> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM.cloexec(), None).ok()?;
    s.bind(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .ok()?;
    s.local_addr().ok()?.as_socket().map(|a| a.port())
}

/// A free port below the ephemeral range, for a server that a test stops and starts again on
/// the same port: a port from [`free_port`] is an ephemeral one, and while the server is down
/// another test's `free_port` (or any outgoing connection) may be handed it. Falls back to
/// [`free_port`] where the range starts too low to leave room (a tuned host).
pub fn stable_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(0);
    if low < 12_000 {
        return free_port();
    }
    // Spread over 10,000..low by the process id and a counter, so concurrent tests (and
    // test binaries) start at different ports.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let span = u32::from(low) - 10_000;
    for _ in 0..span {
        let n = NEXT.fetch_add(7919, std::sync::atomic::Ordering::Relaxed);
        let port = (10_000 + (std::process::id().wrapping_mul(2_654_435_761) ^ n) % span) as u16;
        if bound_port(port).is_some() {
            return port;
        }
    }
    free_port()
}

/// Wait (up to 10 s) until something accepts connections on 127.0.0.1:`port`.
pub fn wait_port(port: u16) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !accepts(port) {
        assert!(
            std::time::Instant::now() < until,
            "nothing listens on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a listener takes a connection on 127.0.0.1:`port`. A connect to a port where
/// nothing listens can pick that same port as its own and connect to itself (TCP's
/// simultaneous open): that is not a listener.
pub fn accepts(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok_and(|s| s.local_addr().ok() != s.peer_addr().ok())
}

/// Server options for a small in-process server: one worker thread, not pinned.
pub fn server_options(url: &str) -> ServerOptions {
    let mut o = ServerOptions::new(url);
    o.runtime.threads = 1;
    o.runtime.no_pin = true;
    o
}

/// A running in-process server that is stopped (and joined) when dropped, so a failing test
/// does not leave it behind.
pub struct Server {
    inner: Option<Listening>,
}

impl Server {
    /// The testee server on ws://127.0.0.1:0.
    pub fn testee() -> Server {
        Server::testee_with(|_| {})
    }

    /// The testee server with adjusted options (the URL defaults to ws://127.0.0.1:0).
    pub fn testee_with(adjust: impl FnOnce(&mut ServerOptions)) -> Server {
        let mut o = server_options("ws://127.0.0.1:0");
        adjust(&mut o);
        let s = testee::start_server(&o, Shutdown::new()).expect("testee server starts");
        Server { inner: Some(s) }
    }

    pub fn from_running(s: Listening) -> Server {
        Server { inner: Some(s) }
    }

    pub fn running(&self) -> &Listening {
        self.inner.as_ref().expect("server is running")
    }

    pub fn addr(&self) -> SocketAddr {
        self.running().local_addr()
    }

    pub fn url(&self) -> String {
        self.running().url.clone()
    }

    /// Stop the server, wait for it, and return its report (panics if a worker failed).
    pub fn finish(mut self) -> ServerReport {
        let s = self.inner.take().expect("server is running");
        s.stop();
        s.join().expect("server workers ended without error")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.inner.take() {
            s.stop();
            let _ = s.join();
        }
    }
}

/// A frame as the server sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The status code of a Close frame (`None` for an empty payload).
    pub fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, CLOSE, "not a close frame: {self:?}");
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    pub fn close_reason(&self) -> String {
        assert_eq!(self.opcode, CLOSE, "not a close frame: {self:?}");
        String::from_utf8_lossy(self.payload.get(2..).unwrap_or(&[])).into_owned()
    }
}

/// What the next read from the server gave.
#[derive(Debug)]
pub enum Next {
    Frame(Frame),
    /// The server closed its side of the TCP connection (read returned 0).
    Eof,
    /// The connection was reset.
    Reset,
}

/// Close frame payload: code then reason.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// A frame masked with [`MASK`], as a client must send it.
pub fn masked(opcode: u8, fin: bool, payload: &[u8]) -> RawFrame {
    RawFrame::new(opcode, payload.to_vec())
        .fin(fin)
        .mask(Some(MASK))
}

/// A blocking client over a plain `TcpStream` that writes raw octets and decodes the server's
/// frames with the lenient decoder (which still rejects non-minimal length encodings).
pub struct RawClient {
    pub stream: TcpStream,
    decoder: FrameDecoder,
    partial: Option<Frame>,
    frames: VecDeque<Frame>,
    ended: Option<bool>,
    /// The server's 101 response head.
    pub response: String,
}

/// `read`, retried when a signal interrupts it. (A blocking socket read with a timeout is
/// not restarted automatically; io_uring task work on this thread can interrupt it.)
pub fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match s.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Connect a TCP socket with the test read timeout set.
pub fn tcp(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(IO_TIMEOUT))
        .expect("set read timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

impl RawClient {
    /// Connect and perform the opening handshake.
    pub fn connect(addr: SocketAddr) -> RawClient {
        RawClient::connect_sending(addr, &[])
    }

    /// Connect and perform the opening handshake offering `extensions`
    /// (Sec-WebSocket-Extensions value); the response head is in `response`.
    pub fn connect_offering(addr: SocketAddr, extensions: &str) -> RawClient {
        let stream = tcp(addr);
        let mut o = ClientOptions::new(addr.to_string(), "/");
        o.extensions = Some(extensions.to_string());
        let hs = ClientHandshake::new(o, *b"integration-test");
        let req = hs.request();
        RawClient::handshake_over(stream, &hs, &req)
    }

    /// Perform the opening handshake on a stream the caller connected (and tuned).
    pub fn handshake_request(stream: TcpStream) -> RawClient {
        let addr = stream.peer_addr().expect("connected stream");
        let hs = ClientHandshake::new(
            ClientOptions::new(addr.to_string(), "/"),
            *b"integration-test",
        );
        let req = hs.request();
        RawClient::handshake_over(stream, &hs, &req)
    }

    /// The value of a header of the 101 response (case-insensitive name).
    pub fn response_header(&self, name: &str) -> Option<String> {
        self.response.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    /// Connect and perform the opening handshake, writing `extra` in the same write as the
    /// request (WebSocket octets pipelined behind the handshake).
    pub fn connect_sending(addr: SocketAddr, extra: &[u8]) -> RawClient {
        let stream = tcp(addr);
        let hs = ClientHandshake::new(
            ClientOptions::new(addr.to_string(), "/"),
            *b"integration-test",
        );
        let mut req = hs.request();
        req.extend_from_slice(extra);
        RawClient::handshake_over(stream, &hs, &req)
    }

    /// Finish a handshake on `stream`: write `request`, read and check the 101 answer.
    pub fn handshake_over(
        mut stream: TcpStream,
        hs: &ClientHandshake,
        request: &[u8],
    ) -> RawClient {
        stream.write_all(request).expect("write handshake request");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let (resp, used) = loop {
            let n = match read_some(&mut stream, &mut chunk) {
                Ok(n) => n,
                Err(e) => panic!(
                    "reading the handshake response: {e} (got so far: {:?})",
                    String::from_utf8_lossy(&buf)
                ),
            };
            assert!(
                n > 0,
                "server closed during the opening handshake; got {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
            match hs.parse_response(&buf) {
                Ok(Some(r)) => break r,
                Ok(None) => continue,
                Err(e) => panic!(
                    "bad handshake response: {e}: {:?}",
                    String::from_utf8_lossy(&buf)
                ),
            }
        };
        assert_eq!(resp.status, 101);
        let mut c = RawClient {
            stream,
            decoder: FrameDecoder::lenient(),
            partial: None,
            frames: VecDeque::new(),
            ended: None,
            response: String::from_utf8_lossy(&resp.raw).into_owned(),
        };
        let mut rest = buf.split_off(used);
        c.feed(&mut rest);
        c
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    /// Write a frame exactly as given (masked or not, valid or not).
    pub fn send(&mut self, frame: &RawFrame) {
        self.send_raw(&frame.to_bytes());
    }

    /// Write one masked frame.
    pub fn send_frame(&mut self, opcode: u8, fin: bool, payload: &[u8]) {
        self.send(&masked(opcode, fin, payload));
    }

    pub fn send_text(&mut self, text: &str) {
        self.send_frame(TEXT, true, text.as_bytes());
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.send_frame(BINARY, true, data);
    }

    pub fn send_close(&mut self, code: u16, reason: &[u8]) {
        self.send_frame(CLOSE, true, &close_payload(code, reason));
    }

    fn feed(&mut self, data: &mut [u8]) {
        let mut off = 0;
        loop {
            let (used, item) = self
                .decoder
                .decode(&mut data[off..])
                .unwrap_or_else(|e| panic!("server sent an undecodable frame: {e}"));
            let start = off;
            off += used;
            match item {
                None => break,
                Some(Item::Header(h)) => {
                    // RFC 6455 §5.1: "A server MUST NOT mask any frames that it sends to the
                    // client."
                    assert!(h.mask.is_none(), "server sent a masked frame: {h:?}");
                    self.partial = Some(Frame {
                        fin: h.fin,
                        rsv: h.rsv,
                        opcode: h.opcode.0,
                        payload: Vec::new(),
                    });
                }
                Some(Item::Payload(r)) => {
                    self.partial
                        .as_mut()
                        .expect("payload after header")
                        .payload
                        .extend_from_slice(&data[start + r.start..start + r.end]);
                }
                Some(Item::End) => {
                    let f = self.partial.take().expect("end after header");
                    self.frames.push_back(f);
                }
            }
        }
    }

    /// The next complete frame, or how the connection ended. Panics if nothing arrives within
    /// [`IO_TIMEOUT`].
    pub fn next(&mut self) -> Next {
        loop {
            if let Some(f) = self.frames.pop_front() {
                return Next::Frame(f);
            }
            match self.ended {
                Some(true) => return Next::Eof,
                Some(false) => return Next::Reset,
                None => {}
            }
            let mut chunk = vec![0u8; 64 * 1024];
            match read_some(&mut self.stream, &mut chunk) {
                Ok(0) => {
                    assert!(
                        self.partial.is_none(),
                        "connection ended inside a frame: {:?}",
                        self.partial
                    );
                    self.ended = Some(true);
                }
                Ok(n) => self.feed(&mut chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!("nothing from the server within {IO_TIMEOUT:?} (waiting for a frame or the end of the connection)")
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                    ) =>
                {
                    self.ended = Some(false)
                }
                Err(e) => panic!("read from server: {e}"),
            }
        }
    }

    /// The next frame; panics if the connection ends instead.
    pub fn expect_frame(&mut self) -> Frame {
        match self.next() {
            Next::Frame(f) => f,
            other => panic!("expected a frame, connection ended: {other:?}"),
        }
    }

    /// The next frame must be a complete (FIN) data or control frame with this opcode and
    /// payload.
    pub fn expect(&mut self, opcode: u8, payload: &[u8]) {
        let f = self.expect_frame();
        assert_eq!((f.opcode, f.fin, f.rsv), (opcode, true, 0), "frame {f:?}");
        assert!(
            f.payload == payload,
            "opcode {opcode}: expected payload {:?}, got {:?}",
            Show(payload),
            Show(&f.payload)
        );
    }

    pub fn expect_text(&mut self, text: &str) {
        self.expect(TEXT, text.as_bytes());
    }

    pub fn expect_binary(&mut self, data: &[u8]) {
        self.expect(BINARY, data);
    }

    /// The next frame must be a Close frame with this code; returns it.
    pub fn expect_close(&mut self, code: u16) -> Frame {
        let f = self.expect_frame();
        assert_eq!(
            f.opcode,
            CLOSE,
            "expected a close frame with code {code}, got {f:?} ({:?})",
            Show(&f.payload)
        );
        assert!(f.fin);
        assert_eq!(
            f.close_code(),
            Some(code),
            "close frame {f:?}, reason {:?}",
            f.close_reason()
        );
        f
    }

    /// The server must close its side of the TCP connection (FIN) with no further frames.
    pub fn expect_eof(&mut self) {
        match self.next() {
            Next::Eof => {}
            other => panic!("expected the server to close the TCP connection, got {other:?}"),
        }
    }

    /// The connection must end (FIN or reset) with no further frames.
    pub fn expect_end(&mut self) {
        match self.next() {
            Next::Eof | Next::Reset => {}
            Next::Frame(f) => panic!("expected the connection to end, got frame {f:?}"),
        }
    }

    /// The server fails the connection: a Close frame with `code`, then TCP closed by the
    /// server.
    pub fn expect_failed(&mut self, code: u16) -> Frame {
        let f = self.expect_close(code);
        self.expect_eof();
        f
    }

    /// A full, clean close started by us: send Close, get the echo of the code, then the
    /// server closes TCP first.
    pub fn close_cleanly(mut self) {
        self.send_close(1000, b"bye");
        self.expect_close(1000);
        self.expect_eof();
    }
}

/// Payloads shown as text when they are text, else as hex.
pub struct Show<'a>(pub &'a [u8]);

impl std::fmt::Debug for Show<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head = &self.0[..self.0.len().min(64)];
        let more = if self.0.len() > 64 {
            format!("... ({} bytes)", self.0.len())
        } else {
            String::new()
        };
        match std::str::from_utf8(head) {
            Ok(s) => write!(f, "{s:?}{more}"),
            Err(_) => write!(
                f,
                "{}{more}",
                head.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
        }
    }
}

/// The server still serves a good client: handshake, an echo of text and binary, a clean
/// close.
pub fn assert_serves(addr: SocketAddr) {
    let mut c = RawClient::connect(addr);
    c.send_text("still serving?");
    c.expect_text("still serving?");
    c.send_binary(&[0, 1, 2, 0xff]);
    c.expect_binary(&[0, 1, 2, 0xff]);
    c.close_cleanly();
}

/// An HTTP answer, as read until the server closed the connection.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Write `request` (in one write), then read until the server closes the connection.
/// Returns `None` when the server closed (or reset) without answering.
pub fn http_exchange(addr: SocketAddr, request: &[u8]) -> Option<HttpReply> {
    let mut s = tcp(addr);
    s.write_all(request).expect("write request");
    read_http_reply(&mut s)
}

/// Read an HTTP reply until the server closes the connection.
pub fn read_http_reply(s: &mut TcpStream) -> Option<HttpReply> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match read_some(s, &mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!(
                    "the server neither answered nor closed within {IO_TIMEOUT:?}; got {:?}",
                    String::from_utf8_lossy(&buf)
                )
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                break
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    if buf.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("incomplete HTTP answer {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_string();
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(
        parts.next(),
        Some("HTTP/1.1"),
        "status line {status_line:?}"
    );
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let headers = lines
        .map(|l| {
            let (n, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("header line {l:?}"));
            (n.trim().to_string(), v.trim().to_string())
        })
        .collect();
    Some(HttpReply {
        status,
        status_line,
        headers,
        body: body.to_string(),
    })
}

/// Shut down our write side (the server sees EOF).
pub fn shutdown_write(s: &TcpStream) {
    let _ = s.shutdown(NetShutdown::Write);
}

/// A small deterministic generator (xorshift64*) for garbage inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// OpCode names for messages.
pub fn opname(op: u8) -> &'static str {
    OpCode(op).name()
}

/// Resident memory of a process, octets (from `/proc/PID/status`); panics when it is gone.
pub fn rss_of(pid: u32) -> u64 {
    status_bytes(pid, "VmRSS:")
}

/// Peak resident memory of a process so far, octets.
pub fn peak_rss_of(pid: u32) -> u64 {
    status_bytes(pid, "VmHWM:")
}

fn status_bytes(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("process {pid} is gone: {e}"));
    let kib: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
    kib * 1024
}

/// Open a WebSocket connection to `path` on `addr` with the raw client.
pub fn raw_connect_path(addr: SocketAddr, path: &str) -> RawClient {
    let hs = ClientHandshake::new(
        ClientOptions::new(addr.to_string(), path),
        *b"integration-test",
    );
    let req = hs.request();
    RawClient::handshake_over(tcp(addr), &hs, &req)
}

/// A server mode in a process of its own (the real binary, one worker thread, no page port
/// unless `extra` names one), killed on drop.
pub struct Proc {
    pub child: std::process::Child,
    pub port: u16,
}

impl Proc {
    /// Start `wstest -m mode` on port 0 and wait until it says where it listens (the first
    /// `ws://HOST:PORT` or `wss://HOST:PORT` on its stderr, printed once it listens). No port
    /// is picked ahead of the server and nothing is probed: both can be fooled by another
    /// thread's socket in a forked child (see `bound_port`).
    pub fn start(mode: &str, extra: &[&str]) -> Proc {
        Proc::start_at(mode, "127.0.0.1", extra, &[])
    }

    /// [`Proc::start`] with `host` in the URL and `env` set (`WSTEST_BIND` listens elsewhere
    /// than the URL says).
    pub fn start_at(mode: &str, host: &str, extra: &[&str], env: &[(&str, &str)]) -> Proc {
        // A port that `extra` names (a page port from `free_port`) can be held for a moment
        // by a forked child of another thread: the server then exits, and is started again.
        for _ in 0..5 {
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wstest"))
                .args(["-m", mode, "-w", &format!("ws://{host}:0")])
                .envs(env.iter().copied())
                .args(["--threads", "1"])
                .args(if extra.contains(&"-u") {
                    &[][..]
                } else {
                    &["-u", "0"][..]
                })
                .args(extra)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start wstest");
            if let Some(port) = banner_port(mode, &mut child) {
                return Proc { child, port };
            }
        }
        panic!("{mode} did not start (5 tries)");
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn rss(&self) -> u64 {
        rss_of(self.child.id())
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then what the process printed on stdout.
    pub fn stop(mut self) -> String {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let mut out = String::new();
        if let Some(mut so) = self.child.stdout.take() {
            let _ = so.read_to_string(&mut out);
        }
        let _ = self.child.wait();
        out
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A server that ended before its test let it go: say how (a crash has no other trace).
        if let Ok(Some(st)) = self.child.try_wait() {
            eprintln!("the server on port {} had ended: {st}", self.port);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a server just started says it listens: the port of the first `ws://` or `wss://`
/// URL on its stderr (within 10 s; `None` when it exited first). Its stderr is passed on to
/// ours, line by line ([`wstest_modes::child::watch_stderr`]).
fn banner_port(mode: &str, child: &mut std::process::Child) -> Option<u16> {
    use wstest_modes::child::{wait_for_banner, watch_stderr, Started};
    let banner = watch_stderr(child, |line| eprintln!("{line}"));
    match wait_for_banner(child, &banner, Duration::from_secs(10)) {
        Started::Port(port) => Some(port),
        Started::Exited(status) => {
            eprintln!("{mode} exited before it listened ({status})");
            None
        }
        Started::Silent => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{mode} did not say where it listens within 10 s");
        }
    }
}

/// A test's peer (another implementation, a tool) cannot be had here. On a developer's
/// machine the test says so and passes; where `WSTEST_REQUIRE_PEERS` is set (CI), it fails:
/// a run without the differential checks must not look like a full one.
pub fn peer_missing(what: &str) {
    let required = std::env::var("WSTEST_REQUIRE_PEERS").is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(
        !required,
        "{what} (WSTEST_REQUIRE_PEERS is set: a missing peer fails the test)"
    );
    eprintln!("SKIP: {what}");
    println!("SKIP: {what}");
}

/// A minimal client for the URL protocol: connect to `path`, collect text messages until the
/// server closes.
pub fn url_command(port: u16, path: &str) -> Result<Vec<String>, String> {
    use wstest_engine::net::WsUrl;
    use wstest_engine::runtime::{block_on, Driver};
    use wstest_engine::ws::{connect_ws, drive, DriveOptions, Handler, WsClientOptions};
    struct Collect(Vec<String>);
    impl Handler for Collect {
        fn on_event(
            &mut self,
            _c: &mut wstest_engine::Connection,
            e: wstest_engine::Event,
            _n: std::time::Instant,
        ) {
            if let wstest_engine::Event::Message(m) = e {
                self.0.push(String::from_utf8_lossy(&m.data).into_owned());
            }
        }
    }
    let url = WsUrl::parse(&format!("ws://127.0.0.1:{port}{path}")).unwrap();
    block_on(Driver::Epoll, false, async move {
        let c = connect_ws(&url, &WsClientOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let mut conn = c.conn;
        let mut h = Collect(Vec::new());
        drive(
            c.stream,
            &mut conn,
            c.leftover,
            &mut h,
            &DriveOptions::default(),
        )
        .await;
        Ok(h.0)
    })
    .unwrap()
}

/// The Chromium on this machine, if any (Debian package `chromium`).
pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

/// Headless Chromium on `url` with a fresh profile in `profile`, without the background
/// connections this machine's closed network refuses; the DevTools port, when asked for
/// with `--remote-debugging-port=0`, is written to `profile/DevToolsActivePort`.
pub fn headless_chromium(
    browser: &str,
    profile: &std::path::Path,
    url: &str,
) -> std::process::Command {
    let mut c = std::process::Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(url)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    c
}

/// Run the binary in `dir` with `args` (no stdin) to its end.
pub fn wstest_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wstest"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run wstest")
}

/// Program output as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
