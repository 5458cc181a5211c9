//! The master ⇄ probe protocol: JSON text messages over a WebSocket with the `wsperf`
//! subprotocol.
//!
//! ```text
//! probe  → master  welcome {ident, version, threads}
//! master → probe   prepare {token, probe}      open the connections, then
//! probe  → master  ready   {token}             (every probe holds at the barrier)
//! master → probe   go      {token}             the clock starts on every probe at once
//! probe  → master  result  {token, result}     histogram included, merged by the master
//! master → probe   bye
//! ```

use serde::{Deserialize, Serialize};

use super::probe::{ProbeConfig, ProbeResult};

pub const SUBPROTOCOL: &str = "wsperf";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Msg {
    Welcome {
        ident: String,
        version: String,
        threads: usize,
    },
    Prepare {
        token: u64,
        probe: ProbeConfig,
    },
    Ready {
        token: u64,
    },
    Go {
        token: u64,
    },
    Result {
        token: u64,
        result: Box<ProbeResult>,
    },
    Bye,
}

impl Msg {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("messages serialize")
    }

    pub fn parse(text: &str) -> Result<Msg, String> {
        serde_json::from_str(text).map_err(|e| format!("bad wsperf message: {e}"))
    }
}
