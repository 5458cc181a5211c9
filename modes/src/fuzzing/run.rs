//! Running one case as the client side (fuzzingclient), and the fuzzer's endpoint settings
//! derived from spec options.

use std::sync::Arc;
use std::time::Duration;

use wstest_engine::net::WsUrl;
use wstest_engine::proto::{Config, FailPolicy, Role};
use wstest_engine::runtime::Shutdown;
use wstest_engine::ws::{connect_ws, drive, DriveOptions, WsClientOptions};

use super::case::Case;
use super::result::CaseResult;
use super::session::{fuzzer_config, CaseSession};
use super::spec::Options;

/// The fuzzer's endpoint configuration for `role` with the spec's options applied.
pub fn endpoint_config(role: Role, o: &Options) -> Config {
    let mut c = fuzzer_config(role);
    if let Some(m) = o.max_message_size {
        c.max_message_size = m;
    }
    if o.fail_by_drop == Some(true) {
        c.fail_policy = FailPolicy::Drop;
    }
    if let Some(t) = o.close_handshake_timeout {
        c.close_timeout = Duration::from_secs_f64(t.max(0.0));
    }
    if let Some(t) = o.server_connection_drop_timeout {
        c.linger_timeout = Duration::from_secs_f64(t.max(0.0));
    }
    c
}

/// Run `case` against the server at `url`; never fails: a connection that cannot be opened
/// gives a FAILED result naming why.
pub async fn run_case_client(
    url: &WsUrl,
    case: Arc<Case>,
    agent: &str,
    index: usize,
    base: &WsClientOptions,
    options: &Options,
    shutdown: &Shutdown,
) -> CaseResult {
    let mut session = CaseSession::new(case, agent.to_string(), index, Role::Client);
    let mut opts = base.clone();
    opts.config = endpoint_config(Role::Client, options);
    // The case's own offers; a valid answer is taken as the server writes it.
    opts.extensions = super::pmce::offers_header(&session.case.deflate_offers);
    opts.deflate = None;
    opts.handshake_timeout =
        Duration::from_secs_f64(options.open_handshake_timeout.unwrap_or(5.0).max(0.001));
    let id = session.case.id.clone();
    log::debug!("case {id} ({agent}): connecting to {url}");
    let r = match connect_ws(url, &opts).await {
        Err(e) => {
            log::debug!("case {id} ({agent}): {e}");
            session.finish(Some(e.to_string()))
        }
        Ok(c) => {
            log::debug!(
                "case {id} ({agent}): handshake done, HTTP {}{}",
                c.response.status,
                c.response
                    .header("sec-websocket-extensions")
                    .map(|e| format!(", extensions {e}"))
                    .unwrap_or_default()
            );
            session.http_request = c.request.clone();
            session.http_response = c.response.raw.clone();
            let (req, resp) = (c.request, c.response.raw);
            session.log_handshake(&req, &resp);
            let mut conn = c.conn;
            let dopts = DriveOptions {
                shutdown: Some(shutdown.clone()),
                sync_pause: sync_pause(options),
                flow: session_flow(),
                ..DriveOptions::default()
            };
            let out = drive(c.stream, &mut conn, c.leftover, &mut session, &dopts).await;
            log::debug!(
                "case {id} ({agent}): closed: {}",
                describe_close(&out.status)
            );
            session.finish(None)
        }
    };
    log::debug!(
        "case {id} ({agent}): {} / {} in {} ms",
        r.verdict.behavior.as_str(),
        r.verdict.behavior_close.as_str(),
        r.duration_ms
    );
    r
}

/// A close as a debug line shows it.
pub fn describe_close(s: &wstest_engine::proto::CloseStatus) -> String {
    format!(
        "ours {:?}, theirs {:?}{}{}",
        s.local_code,
        s.remote_code,
        if s.was_clean {
            ", clean"
        } else {
            ", not clean"
        },
        s.not_clean_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    )
}

/// Pause after chopped or synced writes (`"options": {"syncPause": microseconds}`; default
/// 50 us). The original paces such writes by one turn of its event loop, about 50 us (its
/// case 9.5.1 writes 16384 pieces in about 860 ms); a peer slower than we are gets the same
/// chance to read each piece on its own.
pub fn sync_pause(o: &Options) -> Duration {
    Duration::from_micros(o.sync_pause_us.unwrap_or(50))
}

/// What a case session may queue: its script writes up to 16 MiB messages (group 9), some
/// cases several before reading, and the peer's replies come on top.
pub fn session_flow() -> wstest_engine::ws::FlowLimits {
    wstest_engine::ws::FlowLimits::with_own_output(64 << 20)
}
