//! What this host can reach, checked before ramping: file descriptors, ephemeral ports per
//! source and destination, fs.file-max, conntrack. Each warning names the setting to change.

use wstest_engine::runtime::limits::{
    local_port_range, raise_nofile, sysctl, tcp_fastopen, FASTOPEN_CLIENT, FASTOPEN_SERVER,
};

/// Warnings for `target` connections from `sources` source addresses (0: the default one) to
/// one destination; `embedded`: the server runs in this process too (two descriptors each);
/// `fastopen`: TCP Fast Open asked for; `server_here`: the server runs on this host (in this
/// process, or at a loopback address), so this host's setting must let it take Fast Open too.
pub fn check(
    target: u64,
    sources: usize,
    embedded: bool,
    fastopen: bool,
    server_here: bool,
) -> Vec<String> {
    let mut w = Vec::new();
    if fastopen {
        let both = FASTOPEN_CLIENT | FASTOPEN_SERVER;
        let need = if embedded || server_here {
            both
        } else {
            FASTOPEN_CLIENT
        };
        if let Some(v) = tcp_fastopen().filter(|v| v & need != need) {
            w.push(format!(
                "options.fastopen is on but net.ipv4.tcp_fastopen is {v}: connections open \
                 without it until sysctl -w net.ipv4.tcp_fastopen={} (tuning/tune.sh apply)",
                v | both
            ));
        }
    }
    let per_conn = if embedded { 2 } else { 1 };
    if let Ok((soft, hard)) = raise_nofile() {
        // Some descriptors go to the runtime, listeners, stdio.
        let usable = soft.saturating_sub(64) / per_conn;
        if target > usable {
            w.push(format!(
                "{target} connections need {} file descriptors but RLIMIT_NOFILE is {soft} (hard {hard}): \
                 split the run over {} processes with --shard I/N, or raise the hard limit \
                 (tuning/limits.conf, `ulimit -Hn`)",
                target * per_conn,
                target.div_ceil(usable.max(1))
            ));
        }
    }
    if let Some((lo, hi)) = local_port_range() {
        let ports = u64::from(hi.saturating_sub(lo) + 1);
        let cap = ports * sources.max(1) as u64;
        if target > cap {
            w.push(format!(
                "{target} connections to one server address from {} source address(es) exceed the \
                 {ports} ephemeral ports ({lo}-{hi}) per source: add source addresses (options.sources, \
                 tuning/add-sources.sh) or widen net.ipv4.ip_local_port_range (tuning/tune.sh apply)",
                sources.max(1)
            ));
        }
    }
    if let Some(max) = sysctl("fs.file-max").and_then(|v| v.parse::<u64>().ok()) {
        if target * per_conn > max {
            w.push(format!(
                "fs.file-max is {max}, below {}: sysctl -w fs.file-max=2097152 (tuning/tune.sh apply)",
                target * per_conn
            ));
        }
    }
    if let Some(max) = sysctl("net.netfilter.nf_conntrack_max").and_then(|v| v.parse::<u64>().ok())
    {
        if target > max {
            w.push(format!(
                "net.netfilter.nf_conntrack_max is {max}, below {target}: new connections will be \
                 dropped once the table is full: sysctl -w net.netfilter.nf_conntrack_max=1048576 \
                 (tuning/tune.sh apply)"
            ));
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_for_too_much_names_the_fix() {
        let w = check(10_000_000, 1, false, false, false);
        assert!(
            w.iter()
                .any(|m| m.contains("RLIMIT_NOFILE") && m.contains("--shard")),
            "{w:?}"
        );
        assert!(w.iter().any(|m| m.contains("ip_local_port_range")), "{w:?}");
        assert!(check(10, 1, false, false, false).is_empty());
    }

    #[test]
    fn fast_open_wants_the_server_bit_only_where_the_server_runs_here() {
        let Some(v) = tcp_fastopen() else {
            eprintln!("skipped: no net.ipv4.tcp_fastopen here");
            return;
        };
        let warned = |embedded, here| {
            check(10, 1, embedded, true, here)
                .iter()
                .any(|m| m.contains("net.ipv4.tcp_fastopen"))
        };
        let has = |bits| v & bits == bits;
        assert_eq!(warned(false, false), !has(FASTOPEN_CLIENT), "{v}");
        let both = FASTOPEN_CLIENT | FASTOPEN_SERVER;
        assert_eq!(warned(false, true), !has(both), "{v}");
        assert_eq!(warned(true, false), !has(both), "{v}");
        assert!(!check(10, 1, true, false, true)
            .iter()
            .any(|m| m.contains("tcp_fastopen")));
    }
}
