//! A client session for modes that talk request/response (send, await the answer): the
//! connection runs on the engine's driver in a task of its own — reads and writes at once,
//! the protocol core's timers (close handshake, linger), flow control, pongs — and the
//! session handle talks to that task through two bounded queues on the same thread.
//!
//! - [`Session::send`] queues a message; it waits while more than [`SEND_MARK`] octets are
//!   queued for the peer and not yet written.
//! - [`Session::recv`] gives the next message, waiting up to a deadline. Waiting never
//!   cancels a read: the driver keeps reading, into an inbox of at most [`INBOX_MESSAGES`]
//!   messages and [`INBOX_OCTETS`] octets, and stops reading from the peer while it is full.
//! - [`Session::close`] sends a Close and waits for the closing handshake to finish (or time
//!   out, as the protocol core decides).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

use monoio::task::JoinHandle;

use crate::net::WsUrl;
use crate::proto::connection::{CloseStatus, Counters, Message};
use crate::proto::handshake::Response;
use crate::proto::{CloseCode, Connection, Event};

use super::client::{connect_ws, ClientError, WsClientOptions};
use super::driver::{drive, DriveOptions, DriveOutcome, Handler};
use super::notify::LocalNotify;

/// Octets queued for the peer above which [`Session::send`] waits for them to be written.
pub const SEND_MARK: usize = 1 << 20;
/// Messages the inbox holds before the driver stops reading.
pub const INBOX_MESSAGES: usize = 4096;
/// Octets the inbox holds before the driver stops reading.
pub const INBOX_OCTETS: usize = 4 << 20;

/// Why a session step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The connection is over (or closing) and no message is left to read.
    #[error("the connection closed ({0})")]
    Closed(String),
    /// Nothing arrived by the deadline (the connection is still open).
    #[error("no message by the deadline")]
    Timeout,
}

/// What the session handle and the connection's task share (one thread, no locks).
#[derive(Default)]
struct Mailbox {
    inbox: VecDeque<Message>,
    inbox_octets: usize,
    outbox: VecDeque<Message>,
    /// Octets queued in the protocol core for the peer when the task last looked (zero
    /// again once everything was written).
    queued: usize,
    /// A Close asked for by the handle.
    close: Option<(CloseCode, String)>,
    /// Why no more messages will come, once that is known (peer's Close, a failure, the
    /// end of the connection).
    over: Option<String>,
    /// How the connection ended, once it has.
    status: Option<CloseStatus>,
}

impl Mailbox {
    fn inbox_full(&self) -> bool {
        self.inbox.len() >= INBOX_MESSAGES || self.inbox_octets >= INBOX_OCTETS
    }
}

struct Shared {
    mail: RefCell<Mailbox>,
    /// Wakes the connection's task (outbox, close, room in the inbox).
    to_task: Rc<LocalNotify>,
    /// Wakes the handle (a message, room to send, the end).
    to_handle: LocalNotify,
}

/// The connection task's handler: moves messages between the connection and the mailbox.
struct Courier(Rc<Shared>);

impl Courier {
    fn post(&self, conn: &mut Connection, now: Instant) {
        let mut m = self.0.mail.borrow_mut();
        while let Some(msg) = m.outbox.pop_front() {
            conn.send_message_owned(msg.binary, msg.data);
        }
        if let Some((code, reason)) = m.close.take() {
            conn.close(Some(code), &reason, now);
        }
        m.queued = conn.transmit_len();
    }
}

impl Handler for Courier {
    fn on_open(&mut self, conn: &mut Connection, now: Instant) {
        self.post(conn, now);
    }

    fn on_event(&mut self, _conn: &mut Connection, event: Event, _now: Instant) {
        let mut m = self.0.mail.borrow_mut();
        match event {
            Event::Message(msg) => {
                m.inbox_octets += msg.data.len();
                m.inbox.push_back(msg);
            }
            Event::Close { code, reason } => {
                m.over.get_or_insert_with(|| {
                    format!("the peer closed with {:?} {reason:?}", code.map(|c| c.0))
                });
            }
            Event::Failed(e) => {
                m.over
                    .get_or_insert_with(|| format!("WebSocket protocol error: {e}"));
            }
            _ => return,
        }
        drop(m);
        self.0.to_handle.notify();
    }

    fn notifier(&self) -> Option<Rc<LocalNotify>> {
        Some(self.0.to_task.clone())
    }

    fn on_notify(&mut self, conn: &mut Connection, now: Instant) {
        self.post(conn, now);
    }

    fn accepts_input(&self) -> bool {
        !self.0.mail.borrow().inbox_full()
    }

    fn on_drained(&mut self, _conn: &mut Connection, _now: Instant) {
        self.0.mail.borrow_mut().queued = 0;
        self.0.to_handle.notify();
    }

    fn on_closed(&mut self, status: &CloseStatus, _counters: &Counters) {
        let mut m = self.0.mail.borrow_mut();
        m.over.get_or_insert_with(|| describe(status));
        m.status = Some(status.clone());
        drop(m);
        self.0.to_handle.notify();
    }
}

fn describe(s: &CloseStatus) -> String {
    match (&s.error, s.remote_code, &s.not_clean_reason) {
        (Some(e), _, _) => format!("WebSocket protocol error: {e}"),
        (None, Some(c), _) => format!("close code {c}"),
        (None, None, Some(r)) => r.clone(),
        (None, None, None) => "TCP closed".into(),
    }
}

/// An open client connection, driven by a task of its own on the current thread.
pub struct Session {
    shared: Rc<Shared>,
    task: Option<JoinHandle<DriveOutcome>>,
    /// The server's handshake response (subprotocol, extensions, headers).
    pub response: Response,
}

impl Session {
    /// Connect to `url`, perform the opening handshake and start driving the connection.
    /// Must be called inside a runtime (it spawns the connection's task there).
    pub async fn open(url: &WsUrl, opts: &WsClientOptions) -> Result<Session, ClientError> {
        let c = connect_ws(url, opts).await?;
        let shared = Rc::new(Shared {
            mail: RefCell::default(),
            to_task: Rc::default(),
            to_handle: LocalNotify::default(),
        });
        let mut courier = Courier(shared.clone());
        let (stream, mut conn, leftover) = (c.stream, c.conn, c.leftover);
        let task = monoio::spawn(async move {
            let opts = DriveOptions::default();
            drive(stream, &mut conn, leftover, &mut courier, &opts).await
        });
        Ok(Session {
            shared,
            task: Some(task),
            response: c.response,
        })
    }

    /// Queue one message (waiting while more than [`SEND_MARK`] octets are unwritten).
    pub async fn send(&mut self, binary: bool, data: Vec<u8>) -> Result<(), SessionError> {
        loop {
            {
                let mut m = self.shared.mail.borrow_mut();
                if let Some(why) = &m.over {
                    return Err(SessionError::Closed(why.clone()));
                }
                if m.queued <= SEND_MARK {
                    m.queued += data.len();
                    m.outbox.push_back(Message { binary, data });
                    break;
                }
            }
            self.shared.to_handle.notified().await;
        }
        self.shared.to_task.notify();
        Ok(())
    }

    /// The next message, waiting until `deadline` (`None`: as long as it takes). Messages
    /// that arrived before the peer closed are still given; then [`SessionError::Closed`].
    pub async fn recv(&mut self, deadline: Option<Instant>) -> Result<Message, SessionError> {
        loop {
            {
                let mut m = self.shared.mail.borrow_mut();
                let was_full = m.inbox_full();
                if let Some(msg) = m.inbox.pop_front() {
                    m.inbox_octets -= msg.data.len();
                    drop(m);
                    if was_full {
                        // Room again: the task may read on.
                        self.shared.to_task.notify();
                    }
                    return Ok(msg);
                }
                if let Some(why) = &m.over {
                    return Err(SessionError::Closed(why.clone()));
                }
            }
            let woken = self.shared.to_handle.notified();
            match deadline {
                None => woken.await,
                Some(d) => {
                    let at = monoio::time::Instant::from_std(d);
                    if monoio::time::timeout_at(at, woken).await.is_err() {
                        return Err(SessionError::Timeout);
                    }
                }
            }
        }
    }

    /// Send a Close with `code` and `reason` and wait for the connection to end (the
    /// closing handshake, bounded by the protocol core's close timeout). Messages still in
    /// the inbox are dropped.
    pub async fn close(mut self, code: CloseCode, reason: &str) -> CloseStatus {
        self.shared.mail.borrow_mut().close = Some((code, reason.to_string()));
        self.shared.to_task.notify();
        self.finish().await
    }

    async fn finish(&mut self) -> CloseStatus {
        match self.task.take() {
            Some(t) => t.await.status,
            None => self.shared.mail.borrow().status.clone().unwrap_or_default(),
        }
    }
}

impl Drop for Session {
    /// A session dropped without [`Session::close`] still closes: its task sends a Close
    /// (1000) and finishes the closing handshake on its own.
    fn drop(&mut self) {
        if self.task.is_some() {
            let mut m = self.shared.mail.borrow_mut();
            if m.status.is_none() {
                m.close.get_or_insert((CloseCode::NORMAL, String::new()));
                drop(m);
                self.shared.to_task.notify();
            }
        }
    }
}

#[cfg(test)]
mod tests;
