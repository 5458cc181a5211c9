//! An `echoserver` in a child process of the wstest executable, on a free loopback port:
//! a target whose sockets count against its own descriptor limit and whose CPU time is
//! its own (massconnect's stand-in, the connect benches).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::error::ConfigError;
use crate::{ModeError, Result};

/// How long a child may take to accept its first connection.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running echoserver child; killed and reaped when dropped.
pub struct EchoChild {
    child: Child,
    /// Where it listens (`ws://127.0.0.1:PORT`).
    pub url: String,
}

impl EchoChild {
    /// Start `exe -m echoserver` on port 0 with `extra` arguments (permessage-deflate off,
    /// no page) and wait until it says where it listens: the first `ws://HOST:PORT` on its
    /// stderr, which a server prints once it listens. No port is picked ahead and probed: a
    /// port picked with a listener of our own can be held, and answered, for a moment by a
    /// child that another thread forks.
    pub fn start(exe: &Path, extra: &[&str]) -> Result<EchoChild> {
        let mut child = Command::new(exe)
            .args([
                "-m",
                "echoserver",
                "-w",
                "ws://127.0.0.1:0",
                "-u",
                "0",
                "--deflate",
                "off",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ModeError::io(format!("cannot start {}", exe.display()), e))?;
        let banner = watch_stderr(&mut child, |_| {});
        let mut server = EchoChild {
            child,
            url: format!("{} -m echoserver", exe.display()),
        };
        match wait_for_banner(&mut server.child, &banner, START_TIMEOUT) {
            Started::Port(port) => {
                server.url = format!("ws://127.0.0.1:{port}");
                Ok(server)
            }
            Started::Exited(status) => Err(server.did_not_start(format!("it exited ({status})"))),
            Started::Silent => Err(server.did_not_start(format!(
                "it did not say where it listens within {} s",
                START_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Its process id (to read its CPU time).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    fn did_not_start(&self, problem: String) -> ModeError {
        ConfigError::Start {
            what: format!("the echo server at {}", self.url),
            problem,
        }
        .into()
    }
}

/// A thread that reads a server child's stderr to its end (the child never blocks on a full
/// pipe), gives each line to `each_line`, and sends the port of the first `ws://HOST:PORT`
/// or `wss://HOST:PORT` it finds there (every server mode prints one once it listens).
pub fn watch_stderr(
    child: &mut Child,
    mut each_line: impl FnMut(&str) + Send + 'static,
) -> Receiver<u16> {
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                each_line(&line);
                if let Some(port) = tx.as_ref().and(url_port(&line)) {
                    let _ = tx.take().map(|t| t.send(port));
                }
            }
        });
    }
    rx
}

/// How a server child started.
pub enum Started {
    /// It listens on this port.
    Port(u16),
    /// It ended first.
    Exited(ExitStatus),
    /// It said nothing of the kind in time (it runs on).
    Silent,
}

/// Wait until the child that [`watch_stderr`] watches says where it listens, ends, or
/// `timeout` passes.
pub fn wait_for_banner(child: &mut Child, banner: &Receiver<u16>, timeout: Duration) -> Started {
    let until = Instant::now() + timeout;
    loop {
        match banner.recv_timeout(Duration::from_millis(20)) {
            Ok(port) => return Started::Port(port),
            // Its stderr is closed: it is ending, or runs on without one.
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(Duration::from_millis(20)),
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Started::Exited(status);
        }
        if Instant::now() >= until {
            return Started::Silent;
        }
    }
}

/// The port of the first `ws://HOST:PORT` or `wss://HOST:PORT` in `line` (a server's
/// banner), when it is not 0.
pub fn url_port(line: &str) -> Option<u16> {
    let start = match (line.find("ws://"), line.find("wss://")) {
        (Some(a), Some(b)) if b < a => b + 6,
        (Some(a), _) => a + 5,
        (None, b) => b? + 6,
    };
    let rest = &line[start..];
    // The host: a bracketed IPv6 address, or anything up to the colon.
    let after_host = match rest.strip_prefix('[') {
        Some(v6) => &v6[v6.find(']')? + 1..],
        None => &rest[rest.find(|c: char| c == ':' || c == '/' || c.is_whitespace())?..],
    };
    let digits = after_host.strip_prefix(':')?;
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok().filter(|&p| p != 0)
}

impl Drop for EchoChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_is_no_server_is_said_so() {
        let e = EchoChild::start(Path::new("/bin/true"), &[])
            .err()
            .expect("true is not an echo server");
        assert!(e.to_string().contains("did not start"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn the_port_is_read_from_a_servers_banner() {
        let banners = [
            (
                "echoserver listening on ws://127.0.0.1:41355 (1 threads, io_uring)",
                Some(41355),
            ),
            (
                "wampserver: router on ws://[::1]:8080 (1 threads)",
                Some(8080),
            ),
            ("echoserver listening on ws://127.0.0.1:0 (1 threads)", None),
            ("wstest: no spec file fuzzingserver.json", None),
            ("see ws://example.com/path", None),
            (
                "echoserver listening on wss://127.0.0.1:9443 (1 threads)",
                Some(9443),
            ),
            (
                "fuzzingserver: 1 cases on ws://127.0.0.1:39157, browser page at",
                Some(39157),
            ),
        ];
        for (line, port) in banners {
            assert_eq!(url_port(line), port, "{line}");
        }
    }
}
