//! Running one case as the client side (fuzzingclient).

use std::sync::Arc;
use std::time::Duration;

use wstest_engine::net::WsUrl;
use wstest_engine::proto::Role;
use wstest_engine::runtime::Shutdown;
use wstest_engine::ws::{connect_ws, drive, DriveOptions, WsClientOptions};

use super::case::Case;
use super::endpoint::{endpoint_config, session_flow, sync_pause};
use super::result::CaseResult;
use super::session::CaseSession;
use super::spec::Options;

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
    let mut session = CaseSession::new(case.clone(), agent.to_string(), index, Role::Client);
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
            CaseResult::judge(&case, session.finish(Some(e.to_string())))
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
            session.handshake(c.request, c.response.raw);
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
            CaseResult::judge(&case, session.finish(None))
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
