//! `wstest -m MODE --help`: the options and spec keys of one mode (the global help lists
//! every option of every mode).

use clap::CommandFactory;

use crate::cli::{Cli, Mode};

/// Options every mode takes.
const COMMON: &[&str] = &[
    "mode", "debug", "threads", "driver", "no_pin", "cpus", "json", "quiet", "outfile",
];
const SERVER: &[&str] = &[
    "wsuri",
    "key",
    "cert",
    "bind",
    "reuse_port",
    "backlog",
    "ident",
    "max_message_size",
    "max_queued",
    "stall_timeout",
];
const CLIENT: &[&str] = &["wsuri", "cacert", "insecure", "connect_timeout"];
const DEFLATE: &[&str] = &[
    "deflate",
    "deflate_window_bits",
    "deflate_no_context_takeover",
    "deflate_threshold",
    "deflate_level",
];
const CHECKS: &[&str] = &["strict", "expected", "update_expected", "accept", "junit"];

/// A mode's options besides [`COMMON`], and what its spec holds.
fn mode_options(mode: Mode) -> (Vec<&'static str>, &'static str) {
    let v = |parts: &[&[&'static str]]| parts.concat();
    match mode {
        Mode::Fuzzingclient => (
            v(&[CLIENT, CHECKS, &["spec", "wait_for", "max_message_size"]]),
            "spec keys: outdir, servers (each: url, agent, options, origin, protocols, \
             embedded, hostname), cases, exclude-cases, exclude-agent-cases, options (parallel, \
             syncPause, maxMessageSize, failByDrop, openHandshakeTimeout, ...)",
        ),
        Mode::Fuzzingserver => (
            v(&[SERVER, CHECKS, &["spec", "webport", "exit_on_update"]]),
            "spec keys: url, outdir, cases, exclude-cases, exclude-agent-cases, options, \
             protocols, key, cert",
        ),
        Mode::Testeeserver | Mode::Echoserver => (v(&[SERVER, DEFLATE]), ""),
        Mode::Testeeclient => (v(&[CLIENT, &["ident", "max_message_size"]]), ""),
        Mode::Echoclient => (v(&[CLIENT, DEFLATE, &["message", "count", "binary"]]), ""),
        Mode::Broadcastserver => (
            v(&[SERVER, DEFLATE, &["webport", "tick", "queue_limit"]]),
            "",
        ),
        Mode::Broadcastclient => (
            v(&[
                CLIENT,
                &[
                    "message",
                    "interval",
                    "duration",
                    "clients",
                    "publish_rate",
                    "size",
                    "tsv",
                ],
            ]),
            "",
        ),
        Mode::Wsperfcontrol => (
            v(&[CLIENT, &["spec"]]),
            "spec keys: servers (name, uri, desc), testsets (mode \"echo\"; options and each \
             case: count, size, timeout, binary, sync, verify, quantile_count, digits, sep, \
             outfile, rtts, connections, window, rate, duration, warmup, threads)",
        ),
        Mode::Wsperfmaster => (v(&[SERVER, &["spec", "webport", "probes", "wait"]]), ""),
        Mode::Wsperfslave => (v(&[CLIENT]), ""),
        Mode::Wampserver => (v(&[SERVER, &["webport", "realm", "hello_timeout"]]), ""),
        Mode::Wampclient => (
            v(&[
                CLIENT,
                &[
                    "realm",
                    "serializer",
                    "load",
                    "clients",
                    "duration",
                    "count",
                    "tsv",
                ],
            ]),
            "",
        ),
        Mode::Massconnect => (
            v(&[CLIENT, &["spec", "shard", "start_at", "tsv"]]),
            "spec keys: servers (name, uri, desc), options (connections, batchsize, \
             batchdelay, retrydelay, threads, sources, hold, ping_interval, connect_timeout, \
             handshake_timeout, max_retries, rate, fastopen, give_up_after)",
        ),
        Mode::Merge => (vec!["rest", "tsv"], ""),
        Mode::Compare => (vec!["rest"], ""),
        Mode::Plot => (
            vec!["rest"],
            "inputs, told apart by content: wsperfcontrol TSV/JSON, scripts/wsperf-sweep.sh \
             TSV, massconnect JSON/--tsv, broadcastclient --clients TSV/JSON, \
             scripts/fanout-compare.sh TSV",
        ),
    }
}

/// The help of `mode`.
pub fn render(mode: Mode) -> String {
    let (options, spec) = mode_options(mode);
    let (what, mode) = (mode.about(), mode.name());
    let mut cmd = Cli::command();
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        if !COMMON.contains(&id.as_str()) && !options.contains(&id.as_str()) {
            cmd = cmd.mut_arg(id, |a| a.hide(true));
        }
    }
    let about = if spec.is_empty() {
        format!("wstest -m {mode}: {what}")
    } else {
        format!("wstest -m {mode}: {what}\n\n{spec}")
    };
    cmd = cmd
        .about(about.clone())
        .long_about(about)
        .after_help("")
        .after_long_help("");
    cmd.render_long_help().to_string()
}

/// `-m MODE` (or `--mode MODE`, `-mMODE`) with `-h`/`--help` among the arguments.
pub fn requested(args: &[String]) -> Option<String> {
    if !args.iter().any(|a| a == "-h" || a == "--help") {
        return None;
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-m" | "--mode" => return it.next().cloned(),
            s if s.starts_with("--mode=") => return Some(s["--mode=".len()..].to_string()),
            s if s.starts_with("-m") && s.len() > 2 => return Some(s[2..].to_string()),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_has_its_help_and_only_its_options() {
        for m in Mode::all() {
            let h = render(*m);
            assert!(h.contains(&m.name()), "{m:?}");
        }
        let h = render(Mode::Fuzzingclient);
        assert!(
            h.contains("--expected") && h.contains("exclude-agent-cases"),
            "{h}"
        );
        assert!(
            !h.contains("--hello-timeout") && !h.contains("--tick"),
            "{h}"
        );
        let h = render(Mode::Wampserver);
        assert!(
            h.contains("--hello-timeout") && !h.contains("--expected"),
            "{h}"
        );
    }

    #[test]
    fn finds_the_mode_next_to_help() {
        let a = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            requested(&a("wstest -m echoserver --help")),
            Some("echoserver".into())
        );
        assert_eq!(
            requested(&a("wstest --help -mwampclient")),
            Some("wampclient".into())
        );
        assert_eq!(requested(&a("wstest -m echoserver")), None);
        assert_eq!(requested(&a("wstest --help")), None);
    }
}
