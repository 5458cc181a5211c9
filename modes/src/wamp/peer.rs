//! A WAMP client session over one WebSocket connection, for the checks and the load: send a
//! message, await the next one. The WebSocket protocol is the engine's [`Connection`]; this
//! only moves octets between it and the stream (reads and writes take turns, which is enough
//! for a client that waits for each answer).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use rmpv::Value;
use wstest_engine::net::{Stream, WsUrl};
use wstest_engine::proto::{CloseCode, Connection, Event};
use wstest_engine::ws::{connect_ws, ClientError, WsClientOptions};

use super::message::{dict, DecodeError, Message};
use super::serializer::Serializer;
use super::uri;

/// Why a session step failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error(transparent)]
    Connect(#[from] ClientError),
    #[error("the server did not accept a WAMP subprotocol (offered {offered}, got {got:?})")]
    Subprotocol {
        offered: &'static str,
        got: Option<String>,
    },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the connection closed ({0})")]
    Closed(String),
    #[error("no message within {0:?}")]
    Timeout(Duration),
    #[error("undecodable message from the router: {0}")]
    Decode(#[from] DecodeError),
    #[error("the router sent ABORT {reason}")]
    Aborted { reason: String },
    #[error("expected {expected}, got {got}")]
    Unexpected { expected: &'static str, got: String },
}

/// One message, shown compactly (for failure lines).
pub fn show(m: &Message) -> String {
    Serializer::Json
        .encode(m)
        .map(|b| String::from_utf8_lossy(&b).chars().take(200).collect())
        .unwrap_or_else(|_| m.msg_type().name().to_string())
}

pub struct Peer {
    stream: Stream,
    conn: Connection,
    pub ser: Serializer,
    inbox: VecDeque<Result<Message, DecodeError>>,
    rbuf: Option<Vec<u8>>,
    wbuf: Vec<u8>,
    closed: Option<String>,
    pub session: u64,
    /// WELCOME.Details (the router's roles and features).
    pub welcome: super::message::Dict,
    last_request: u64,
}

impl Peer {
    /// Connect, offering only `ser`'s subprotocol.
    pub async fn connect(
        url: &WsUrl,
        opts: &WsClientOptions,
        ser: Serializer,
    ) -> Result<Peer, PeerError> {
        let mut o = opts.clone();
        o.protocols = vec![ser.subprotocol().to_string()];
        let c = connect_ws(url, &o).await?;
        if c.response.protocol.as_deref() != Some(ser.subprotocol()) {
            return Err(PeerError::Subprotocol {
                offered: ser.subprotocol(),
                got: c.response.protocol.clone(),
            });
        }
        let mut p = Peer {
            stream: c.stream,
            conn: c.conn,
            ser,
            inbox: VecDeque::new(),
            rbuf: None,
            wbuf: Vec::new(),
            closed: None,
            session: 0,
            welcome: Vec::new(),
            last_request: 0,
        };
        let mut leftover = c.leftover;
        if !leftover.is_empty() {
            p.input(&mut leftover);
        }
        Ok(p)
    }

    /// A fresh request id (session scope, sequential).
    pub fn request(&mut self) -> u64 {
        self.last_request += 1;
        self.last_request
    }

    fn input(&mut self, data: &mut [u8]) {
        let now = Instant::now();
        let (ser, inbox, closed) = (self.ser, &mut self.inbox, &mut self.closed);
        self.conn.handle_input_all(data, now, |_, ev| match ev {
            Event::Message(m) => inbox.push_back(ser.decode(&m.data, m.binary)),
            Event::Close { code, reason } => {
                *closed = Some(format!("close code {:?} {reason:?}", code.map(|c| c.0)));
            }
            Event::Failed(e) => *closed = Some(format!("WebSocket protocol error: {e}")),
            _ => {}
        });
    }

    async fn flush(&mut self) -> Result<(), PeerError> {
        while self.conn.has_transmit() {
            let mut buf = std::mem::take(&mut self.wbuf);
            buf.clear();
            self.conn.take_transmit(&mut buf);
            let (res, buf) = self.stream.write_all(buf).await;
            self.wbuf = buf;
            res?;
        }
        Ok(())
    }

    pub async fn send(&mut self, m: &Message) -> Result<(), PeerError> {
        let b = self
            .ser
            .encode(m)
            .map_err(|e| PeerError::Closed(e.to_string()))?;
        self.conn.send_message(self.ser.is_binary(), &b);
        self.flush().await
    }

    /// The next message (waiting up to `timeout`).
    pub async fn recv(&mut self, timeout: Duration) -> Result<Message, PeerError> {
        self.recv_until(Some(Instant::now() + timeout), timeout)
            .await
    }

    /// The next message, however long it takes.
    pub async fn recv_forever(&mut self) -> Result<Message, PeerError> {
        self.recv_until(None, Duration::ZERO).await
    }

    /// The next message, by `deadline` if one is given. On plain TCP only the wait for
    /// readability is given up at the deadline, never a read under way (a read the ring had
    /// already completed would take its octets along and leave the stream out of step for
    /// the next step). TLS has octets of its own buffered, so there the read itself is timed.
    async fn recv_until(
        &mut self,
        deadline: Option<Instant>,
        timeout: Duration,
    ) -> Result<Message, PeerError> {
        loop {
            if let Some(m) = self.inbox.pop_front() {
                return Ok(m?);
            }
            if let Some(c) = &self.closed {
                return Err(PeerError::Closed(c.clone()));
            }
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if let Stream::Plain(t) = &self.stream {
                    match monoio::time::timeout(left, t.readable(false)).await {
                        Ok(r) => r?,
                        Err(_) => return Err(PeerError::Timeout(timeout)),
                    }
                } else {
                    match monoio::time::timeout(left, self.read_some()).await {
                        Ok(r) => r?,
                        Err(_) => return Err(PeerError::Timeout(timeout)),
                    }
                    continue;
                }
            }
            self.read_some().await?;
        }
    }

    /// One read into the protocol (and the pongs or close replies it makes).
    async fn read_some(&mut self) -> Result<(), PeerError> {
        // A (TLS) read cancelled by a timeout takes its buffer along: then a new one.
        let buf = self
            .rbuf
            .take()
            .unwrap_or_else(|| Vec::with_capacity(16 * 1024));
        let (res, mut buf) = self.stream.read(buf).await;
        match res? {
            0 => {
                self.conn.handle_eof();
                self.closed.get_or_insert_with(|| "TCP closed".into());
            }
            n => self.input(&mut buf[..n]),
        }
        buf.clear();
        self.rbuf = Some(buf);
        // Pongs and close replies.
        self.flush().await
    }

    /// HELLO to `realm`; returns the session id from WELCOME.
    pub async fn join(&mut self, realm: &str, timeout: Duration) -> Result<u64, PeerError> {
        let e = Value::Map(vec![]);
        let roles = dict([
            ("publisher", e.clone()),
            ("subscriber", e.clone()),
            ("caller", e.clone()),
            ("callee", e),
        ]);
        let details = dict([
            ("roles", Value::Map(roles)),
            ("agent", Value::from(super::client::AGENT)),
        ]);
        self.send(&Message::Hello {
            realm: realm.into(),
            details,
        })
        .await?;
        match self.recv(timeout).await? {
            Message::Welcome { session, details } => {
                self.session = session;
                self.welcome = details;
                Ok(session)
            }
            Message::Abort { reason, .. } => Err(PeerError::Aborted { reason }),
            m => Err(PeerError::Unexpected {
                expected: "WELCOME",
                got: show(&m),
            }),
        }
    }

    /// GOODBYE and wait for the router's GOODBYE (messages still coming in are skipped).
    pub async fn leave(&mut self, timeout: Duration) -> Result<String, PeerError> {
        let bye = Message::Goodbye {
            details: vec![],
            reason: uri::CLOSE_REALM.into(),
        };
        self.send(&bye).await?;
        let until = Instant::now() + timeout;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.recv(left).await? {
                Message::Goodbye { reason, .. } => return Ok(reason),
                Message::Abort { reason, .. } => return Err(PeerError::Aborted { reason }),
                _ => {}
            }
        }
    }

    /// Close the WebSocket (best effort).
    pub async fn close(mut self) {
        self.conn.close(Some(CloseCode::NORMAL), "", Instant::now());
        let _ = self.flush().await;
    }
}
