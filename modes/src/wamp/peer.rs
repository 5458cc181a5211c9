//! A WAMP client session over one WebSocket connection, for the checks and the load: send a
//! message, await the next one. The connection is the engine's [`Session`] (driven in a
//! task of its own: reads and writes at once, timers, flow control); this only encodes and
//! decodes WAMP messages.

use std::time::{Duration, Instant};

use rmpv::Value;
use wstest_engine::net::WsUrl;
use wstest_engine::proto::CloseCode;
use wstest_engine::ws::{ClientError, Session, SessionError, WsClientOptions};

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

impl From<SessionError> for PeerError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Closed(why) => PeerError::Closed(why),
            // Callers map a timeout with the duration they waited (see `recv_until`).
            SessionError::Timeout => PeerError::Timeout(Duration::ZERO),
        }
    }
}

pub struct Peer {
    ws: Session,
    pub ser: Serializer,
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
        let ws = Session::open(url, &o).await?;
        if ws.response.protocol.as_deref() != Some(ser.subprotocol()) {
            return Err(PeerError::Subprotocol {
                offered: ser.subprotocol(),
                got: ws.response.protocol.clone(),
            });
        }
        Ok(Peer {
            ws,
            ser,
            session: 0,
            welcome: Vec::new(),
            last_request: 0,
        })
    }

    /// A fresh request id (session scope, sequential).
    pub fn request(&mut self) -> u64 {
        self.last_request += 1;
        self.last_request
    }

    pub async fn send(&mut self, m: &Message) -> Result<(), PeerError> {
        let b = self
            .ser
            .encode(m)
            .map_err(|e| PeerError::Closed(e.to_string()))?;
        Ok(self.ws.send(self.ser.is_binary(), b).await?)
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

    async fn recv_until(
        &mut self,
        deadline: Option<Instant>,
        timeout: Duration,
    ) -> Result<Message, PeerError> {
        match self.ws.recv(deadline).await {
            Ok(m) => Ok(self.ser.decode(&m.data, m.binary)?),
            Err(SessionError::Timeout) => Err(PeerError::Timeout(timeout)),
            Err(e) => Err(e.into()),
        }
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

    /// Close the WebSocket: the closing handshake, bounded by the close timeout.
    pub async fn close(self) {
        self.ws.close(CloseCode::NORMAL, "").await;
    }
}
