//! An `echoserver` in a child process of the wstest executable, on a free loopback port:
//! a target whose sockets count against its own descriptor limit and whose CPU time is
//! its own (massconnect's stand-in, the connect benches).

use std::path::Path;
use std::process::{Child, Command, Stdio};
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
    /// Start `exe -m echoserver` on a free port with `extra` arguments (permessage-deflate
    /// off, no page) and wait until it accepts connections.
    pub fn start(exe: &Path, extra: &[&str]) -> Result<EchoChild> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| ModeError::io("cannot pick a port", e))?
            .port();
        let url = format!("ws://127.0.0.1:{port}");
        let child = Command::new(exe)
            .args([
                "-m",
                "echoserver",
                "-w",
                &url,
                "-u",
                "0",
                "--deflate",
                "off",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| ModeError::io(format!("cannot start {}", exe.display()), e))?;
        let mut server = EchoChild { child, url };
        let until = Instant::now() + START_TIMEOUT;
        while !crate::common::answers(&server.url) {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(server.did_not_start(format!("it exited ({status})")));
            }
            if Instant::now() >= until {
                return Err(server.did_not_start(format!(
                    "no connection accepted within {} s",
                    START_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
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
}
