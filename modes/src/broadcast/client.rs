//! `broadcastclient`: prints every message the server sends (text as text, binary as hex)
//! and sends a message of its own every `interval` seconds, as the original does.

use std::io::Write;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wstest_engine::net::WsUrl;
use wstest_engine::proto::{CloseCode, CloseStatus, Connection, Event};
use wstest_engine::runtime::{block_on, resolve_driver, Shutdown};
use wstest_engine::ws::{connect_ws, DriveOptions, Handler};

use crate::common::ClientOptions;
use crate::{ModeError, Result};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BroadcastClientConfig {
    pub url: String,
    pub client: ClientOptions,
    /// Seconds between own messages (0: never send).
    pub interval_s: f64,
    /// What to send; default "hello from HOST[PID]".
    pub message: Option<String>,
    /// Stop after this many seconds (default: until the server closes or Ctrl-C).
    pub duration_s: Option<f64>,
    /// Print received messages on stdout.
    pub print: bool,
}

impl Default for BroadcastClientConfig {
    fn default() -> Self {
        BroadcastClientConfig {
            url: "ws://127.0.0.1:9000".into(),
            client: ClientOptions::default(),
            interval_s: 2.0,
            message: None,
            duration_s: None,
            print: true,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BroadcastClientReport {
    pub url: String,
    pub sent: u64,
    pub received: u64,
    pub close: CloseStatus,
}

/// How a received message is shown: text as it is, binary as lowercase hex.
pub fn show(binary: bool, data: &[u8]) -> String {
    if binary {
        data.iter().map(|b| format!("{b:02x}")).collect()
    } else {
        String::from_utf8_lossy(data).into_owned()
    }
}

pub fn default_message() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("hello from {host}[{}]", std::process::id())
}

struct PrintHandler {
    message: String,
    interval: Option<Duration>,
    next_send: Option<Instant>,
    end: Option<Instant>,
    print: bool,
    sent: u64,
    received: u64,
}

impl PrintHandler {
    fn send(&mut self, conn: &mut Connection, now: Instant) {
        if conn.is_open() {
            conn.send_text(&self.message);
            self.sent += 1;
        }
        self.next_send = self.interval.map(|i| now + i);
    }
}

impl Handler for PrintHandler {
    fn on_open(&mut self, conn: &mut Connection, now: Instant) {
        if self.interval.is_some() {
            self.send(conn, now);
        }
    }

    fn on_event(&mut self, _conn: &mut Connection, event: Event, _now: Instant) {
        if let Event::Message(m) = event {
            self.received += 1;
            if self.print {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "received: {}", show(m.binary, &m.data));
            }
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match (self.next_send, self.end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_deadline(&mut self, conn: &mut Connection, now: Instant) {
        if self.end.is_some_and(|e| now >= e) {
            self.end = None;
            self.next_send = None;
            conn.close(Some(CloseCode::NORMAL), "done", now);
        } else if self.next_send.is_some_and(|t| now >= t) {
            self.send(conn, now);
        }
    }
}

/// `broadcastclient`: one connection, until the server closes, `duration_s` or Ctrl-C.
pub fn run_client(
    cfg: &BroadcastClientConfig,
    shutdown: Shutdown,
) -> Result<BroadcastClientReport> {
    let url = WsUrl::parse(&cfg.url)?;
    let wopts = cfg.client.ws_options(&url)?;
    let start = Instant::now();
    let mut h = PrintHandler {
        message: cfg.message.clone().unwrap_or_else(default_message),
        interval: (cfg.interval_s > 0.0).then(|| Duration::from_secs_f64(cfg.interval_s)),
        next_send: None,
        end: cfg.duration_s.map(|d| start + Duration::from_secs_f64(d)),
        print: cfg.print,
        sent: 0,
        received: 0,
    };
    let driver = resolve_driver(cfg.client.runtime.driver);
    let out = block_on(driver, true, async {
        let c = connect_ws(&url, &wopts).await?;
        let opts = DriveOptions {
            shutdown: Some(shutdown),
            ..Default::default()
        };
        Ok::<_, ModeError>(c.run(&mut h, &opts).await)
    })
    .map_err(|e| ModeError::io("runtime", e))??;
    Ok(BroadcastClientReport {
        url: cfg.url.clone(),
        sent: h.sent,
        received: h.received,
        close: out.status,
    })
}

impl crate::report::Outcome for BroadcastClientReport {
    fn summary(&self) -> String {
        format!(
            "broadcastclient: {} sent, {} received; closed: {:?}",
            self.sent, self.received, self.close.remote_code
        )
    }

    /// Standard output carries the messages received.
    fn summary_on_stderr(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_shown_as_hex_and_text_as_text() {
        assert_eq!(show(true, &[0x00, 0xab, 0x10]), "00ab10");
        assert_eq!(show(false, "tick 3".as_bytes()), "tick 3");
    }

    #[test]
    fn the_default_message_names_host_and_pid() {
        let m = default_message();
        assert!(m.starts_with("hello from "));
        assert!(m.ends_with(&format!("[{}]", std::process::id())));
    }
}
