//! `wstest -m MODE --help`: the options and spec keys of one mode (the global help lists
//! every option of every mode).

use clap::CommandFactory;

use crate::cli::{Cli, MODES};

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
fn mode_options(mode: &str) -> Option<(Vec<&'static str>, &'static str)> {
    let v = |parts: &[&[&'static str]]| parts.concat();
    Some(match mode {
        "fuzzingclient" => (
            v(&[CLIENT, CHECKS, &["spec", "wait_for", "max_message_size"]]),
            "spec keys: outdir, servers (each: url, agent, options, origin, protocols, \
             embedded, hostname), cases, exclude-cases, exclude-agent-cases, options (parallel, \
             syncPause, maxMessageSize, failByDrop, openHandshakeTimeout, ...)",
        ),
        "fuzzingserver" => (
            v(&[SERVER, CHECKS, &["spec", "webport", "exit_on_update"]]),
            "spec keys: url, outdir, cases, exclude-cases, exclude-agent-cases, options, \
             protocols, key, cert",
        ),
        "testeeserver" | "echoserver" => (v(&[SERVER, DEFLATE]), ""),
        "testeeclient" => (v(&[CLIENT, &["ident", "max_message_size"]]), ""),
        "echoclient" => (v(&[CLIENT, DEFLATE, &["message", "count", "binary"]]), ""),
        "broadcastserver" => (
            v(&[SERVER, DEFLATE, &["webport", "tick", "queue_limit"]]),
            "",
        ),
        "broadcastclient" => (
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
        "wsperfcontrol" => (
            v(&[CLIENT, &["spec"]]),
            "spec keys: servers (name, uri, desc), testsets (mode \"echo\"; options and each \
             case: count, size, timeout, binary, sync, verify, quantile_count, digits, sep, \
             outfile, rtts, connections, window, rate, duration, warmup, threads)",
        ),
        "wsperfmaster" => (v(&[SERVER, &["spec", "webport", "probes", "wait"]]), ""),
        "wsperfslave" => (v(&[CLIENT]), ""),
        "wampserver" => (v(&[SERVER, &["webport", "realm", "hello_timeout"]]), ""),
        "wampclient" => (
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
        "massconnect" => (
            v(&[CLIENT, &["spec", "shard", "start_at", "tsv"]]),
            "spec keys: servers (name, uri, desc), options (connections, batchsize, \
             batchdelay, retrydelay, threads, sources, hold, ping_interval, connect_timeout, \
             handshake_timeout, max_retries, rate, fastopen, give_up_after)",
        ),
        "merge" => (vec!["rest", "tsv"], ""),
        "compare" => (vec!["rest"], ""),
        "plot" => (
            vec!["rest"],
            "inputs, told apart by content: wsperfcontrol TSV/JSON, scripts/wsperf-sweep.sh \
             TSV, massconnect JSON/--tsv, broadcastclient --clients TSV/JSON, \
             scripts/fanout-compare.sh TSV",
        ),
        _ => return None,
    })
}

/// The help of `mode`, or `None` for an unknown mode.
pub fn render(mode: &str) -> Option<String> {
    let (what, (options, spec)) = MODES
        .iter()
        .find(|(m, _)| *m == mode)
        .map(|(_, w)| *w)
        .zip(mode_options(mode))?;
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
    Some(cmd.render_long_help().to_string())
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
        for (m, _) in MODES {
            let h = render(m).unwrap_or_else(|| panic!("no help for {m}"));
            assert!(h.contains(m), "{m}");
        }
        let h = render("fuzzingclient").unwrap();
        assert!(
            h.contains("--expected") && h.contains("exclude-agent-cases"),
            "{h}"
        );
        assert!(
            !h.contains("--hello-timeout") && !h.contains("--tick"),
            "{h}"
        );
        let h = render("wampserver").unwrap();
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
