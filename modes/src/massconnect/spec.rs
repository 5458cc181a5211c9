//! massconnect spec: the original's `options` (`connections`, `batchsize`, `batchdelay` ms,
//! `retrydelay` ms) and `servers`, plus our own options.

use serde::{Deserialize, Serialize};

pub use crate::spec::Server;
use crate::{ModeError, Result};

pub const TEMPLATE: &str = r#"{
   "options": {
      "connections": 10000,
      "batchsize": 100,
      "batchdelay": 10,
      "retrydelay": 10
   },
   "servers": [
      {
         "name": "wstest-echoserver",
         "uri": "{url}",
         "desc": "wstest echoserver (started in-process when nothing answers there)"
      }
   ]
}
"#;

pub const KEYS: &[&str] = &["options", "servers"];

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub options: Options,
    pub servers: Vec<Server>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Connections to have open at once.
    pub connections: u64,
    /// Connections started per batch.
    pub batchsize: u64,
    /// Milliseconds between batches.
    pub batchdelay: u64,
    /// Milliseconds before a failed or lost connection is tried again.
    pub retrydelay: u64,
    // Ours.
    /// Worker threads (0: every core).
    pub threads: usize,
    /// Local addresses or CIDR ranges to connect from, round-robin.
    pub sources: Vec<String>,
    /// Seconds to keep every connection open once the target is reached.
    pub hold: f64,
    /// Seconds between pings on each held connection (0: none).
    pub ping_interval: f64,
    /// Seconds for the TCP (and TLS) connect.
    pub connect_timeout: f64,
    /// Seconds for the opening handshake.
    pub handshake_timeout: f64,
    /// Attempts per connection slot before giving up on it (0: unlimited).
    pub max_retries: u64,
    /// Cap on handshakes started per second over all threads (0: none).
    pub rate: f64,
    /// TCP Fast Open: the upgrade request leaves in the SYN (once this host has the
    /// server's cookie), one segment and one round trip fewer per handshake. Needs
    /// `net.ipv4.tcp_fastopen` bit 1 here and a server that takes Fast Open; the connect
    /// latency is then only the local setup, the network's share moves to the handshake.
    pub fastopen: bool,
    /// Seconds without a single successful handshake, the target not reached, after which
    /// the run gives up on this server (it died, or hangs) and ends with what it has; 0: the
    /// longer of the two timeouts (as long as one attempt may take); negative: never.
    pub give_up_after: f64,
}

impl Options {
    /// [`Options::give_up_after`] as a duration (`None`: never give up).
    pub fn give_up(&self) -> Option<std::time::Duration> {
        match self.give_up_after {
            g if g < 0.0 => None,
            0.0 => Some(std::time::Duration::from_secs_f64(
                self.connect_timeout.max(self.handshake_timeout),
            )),
            g => Some(std::time::Duration::from_secs_f64(g)),
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connections: 10000,
            batchsize: 100,
            batchdelay: 10,
            retrydelay: 10,
            threads: 0,
            sources: Vec::new(),
            hold: 0.0,
            ping_interval: 0.0,
            connect_timeout: 10.0,
            handshake_timeout: 10.0,
            max_retries: 100,
            rate: 0.0,
            fastopen: false,
            give_up_after: 0.0,
        }
    }
}

impl Spec {
    pub fn validate(&self, name: &str) -> Result<()> {
        let o = &self.options;
        let bad = |m: &str| Err(ModeError::spec(name, m));
        if self.servers.is_empty() {
            return bad("\"servers\" is empty");
        }
        if o.connections == 0 {
            return bad("options.connections must be at least 1");
        }
        if o.batchsize == 0 {
            return bad("options.batchsize must be at least 1");
        }
        if o.hold < 0.0 || o.ping_interval < 0.0 || o.rate < 0.0 {
            return bad("options.hold, ping_interval and rate cannot be negative");
        }
        if o.connect_timeout <= 0.0 || o.handshake_timeout <= 0.0 {
            return bad("options.connect_timeout and handshake_timeout must be positive");
        }
        Ok(())
    }
}
