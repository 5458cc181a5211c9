//! `scripts/massconnect-ssh.sh` for real: three network namespaces as three agent hosts, each
//! with its own sshd (its own host key, a key pair made here), the echoserver and the
//! launcher in a fourth. The launcher copies the spec over ssh, starts the three shards with
//! one `--start-at`, brings their results back and merges them: the merged count must be the
//! sum of the agents' and the configured total.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use common::netns::{wait_reachable, Net};
use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_wstest");
const AGENTS: usize = 3;
/// The configured total (WSTEST_SSH_CONNECTIONS overrides it, for a larger run by hand).
fn connections() -> u64 {
    std::env::var("WSTEST_SSH_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// A process killed (and reaped) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first of `candidates` that exists.
fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// An ed25519 key pair without a passphrase at `path` (and `path`.pub).
fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "wstest-ssh-launcher",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ssh-keygen -f {}", path.display());
}

fn json(path: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("{}: {e}: {t}", path.display()))
}

#[test]
fn the_ssh_launcher_shards_over_three_hosts_and_merges_every_connection_once() {
    let Some(sshd) = find(&["/usr/sbin/sshd", "/usr/bin/sshd"]) else {
        return peer_missing("no sshd here (Debian package openssh-server)");
    };
    let has = |tool: &str| {
        Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if !has("ssh") || !has("ssh-keygen") {
        return peer_missing("no ssh client here (Debian package openssh-client)");
    }
    let Some(net) = Net::build("s", AGENTS + 1) else {
        return peer_missing("cannot create network namespaces here (needs root and iproute2)");
    };
    let controller = net.ns(AGENTS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The client's key, authorized on every agent host.
    keygen(&d.join("id"));
    // sshd's privilege separation directory (made by its service on a booted system).
    std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
    let mut daemons = Vec::new();
    for i in 0..AGENTS {
        let host_key = d.join(format!("host{i}"));
        keygen(&host_key);
        let config = d.join(format!("sshd{i}.conf"));
        std::fs::write(
            &config,
            format!(
                "ListenAddress {}\nPort 22\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nPidFile none\nLogLevel VERBOSE\n",
                net.addr(i),
                host_key.display(),
                d.join("id.pub").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join(format!("sshd{i}.log"))).unwrap();
        let child = net
            .ns(i)
            .command(sshd.to_str().unwrap(), &["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        daemons.push(Killed(child));
    }
    let sshd_log = |i: usize| std::fs::read_to_string(d.join(format!("sshd{i}.log")));
    for i in 0..AGENTS {
        wait_reachable(controller, &net.addr(i), 22);
    }

    let server_addr = net.addr(AGENTS);
    let server = Killed(
        controller
            .command(
                BIN,
                &[
                    "-m",
                    "echoserver",
                    "-w",
                    &format!("ws://{server_addr}:9000"),
                    "-u",
                    "0",
                    "--threads",
                    "1",
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_reachable(net.ns(0), &server_addr, 9000);

    let ssh_config = d.join("ssh_config");
    std::fs::write(
        &ssh_config,
        format!(
            "Host *\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
             StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  \
             ConnectTimeout 10\n",
            d.join("id").display()
        ),
    )
    .unwrap();
    let hosts = d.join("hosts");
    let mut lines = String::from("# the agent hosts\n");
    for i in 0..AGENTS {
        lines += &format!("{}\n", net.addr(i));
    }
    std::fs::write(&hosts, lines).unwrap();
    let total = connections();
    let spec = d.join("spec.json");
    std::fs::write(
        &spec,
        serde_json::json!({
            "options": {"connections": total, "batchsize": 100, "batchdelay": 5,
                        "retrydelay": 10, "max_retries": 20},
            "servers": [{"name": "echo", "uri": format!("ws://{server_addr}:9000")}]
        })
        .to_string(),
    )
    .unwrap();
    let out = d.join("out");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/massconnect-ssh.sh");
    let started = Instant::now();
    let run = controller
        .command("bash", &[script.to_str().unwrap()])
        .args([&hosts, &spec, &out])
        .env("WSTEST", BIN)
        .env("WSTEST_REMOTE", BIN)
        .env("SSH_OPTS", format!("-F {}", ssh_config.display()))
        .env("DELAY", "3")
        .env("MASSCONNECT_ARGS", "--threads 1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = started.elapsed();
    // The server's accept queue overflowing (the agents start together): those connections
    // wait for a retransmission. Shown with the figures; nothing is asserted on it.
    let overflows = controller
        .command("nstat", &["-az", "TcpExtListenOverflows"])
        .output()
        .ok()
        .and_then(|o| {
            text(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("TcpExtListenOverflows"))
                .and_then(|v| v.split_whitespace().next().map(str::to_string))
        })
        .unwrap_or_else(|| "?".into());
    let logs = || {
        let mut s = String::new();
        for i in 1..=AGENTS {
            let l = std::fs::read_to_string(out.join(format!("host-{i}.log"))).unwrap_or_default();
            s += &format!("--- agent {i}:\n{l}");
        }
        for i in 0..AGENTS {
            s += &format!("--- sshd {i}:\n{}", sshd_log(i).unwrap_or_default());
        }
        s
    };
    assert!(
        run.status.success(),
        "the launcher failed ({}):\n{}{}\n{}",
        run.status,
        text(&run.stdout),
        text(&run.stderr),
        logs()
    );

    // Every agent ran its own shard, on its own host, reached over ssh, and waited for the
    // common start.
    let mut sum = 0;
    let mut per_agent = Vec::new();
    for i in 1..=AGENTS {
        let r = json(&out.join(format!("host-{i}.json")));
        assert_eq!(r["shard"], format!("{i}/{AGENTS}"), "{r}");
        let s = &r["servers"][0];
        assert_eq!(s["connected"], s["target"], "agent {i}: {s}");
        sum += s["connected"].as_u64().unwrap();
        per_agent.push(format!(
            "{} in {:.2} s, 99 % after {:.2} s ({:.0}/s)",
            s["connected"],
            s["seconds"].as_f64().unwrap_or(0.0),
            s["seconds_to_99"].as_f64().unwrap_or(0.0),
            s["handshakes_per_sec"].as_f64().unwrap_or(0.0)
        ));
        let log = std::fs::read_to_string(out.join(format!("host-{i}.log"))).unwrap();
        assert!(log.contains("(--start-at)"), "agent {i}: {log}");
    }
    for i in 0..AGENTS {
        let log = sshd_log(i).unwrap();
        assert!(
            log.contains("Accepted publickey for root"),
            "sshd {i}: {log}"
        );
    }
    let m = json(&out.join("merged.json"));
    let s = &m["servers"][0];
    assert_eq!(s["connected"].as_u64(), Some(sum), "{s}");
    assert_eq!(sum, total, "{s}");
    assert_eq!(s["target"], total);
    assert_eq!(s["agents"], AGENTS as u64);
    assert_eq!(s["handshake_latency"]["count"], s["handshakes"]);
    assert!(out.join("merged.tsv").exists());
    // The remote files went (the hosts here share this file system).
    assert_no_remote_files(&run);

    // An agent that fails (no wstest where WSTEST_REMOTE says): no result from it, exit 1.
    let broken = controller
        .command("bash", &[script.to_str().unwrap()])
        .args([&hosts, &spec, &d.join("out-broken")])
        .env("WSTEST", BIN)
        .env("WSTEST_REMOTE", d.join("no-such-wstest"))
        .env("SSH_OPTS", format!("-F {}", ssh_config.display()))
        .env("DELAY", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = text(&broken.stderr);
    assert_eq!(broken.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("agent 1 ({}): no result (exit 127)", net.addr(0)))
            && err.contains("no agent's result came back"),
        "{err}"
    );
    assert_no_remote_files(&broken);

    // A host that does not answer ssh (the server's namespace runs no sshd): the launcher says
    // which, starts nothing and fails.
    std::fs::write(&hosts, format!("{}\n{server_addr}\n", net.addr(0))).unwrap();
    let dead = controller
        .command("bash", &[script.to_str().unwrap()])
        .args([&hosts, &spec, &d.join("out-dead")])
        .env("WSTEST", BIN)
        .env("WSTEST_REMOTE", BIN)
        .env("SSH_OPTS", format!("-F {}", ssh_config.display()))
        .env("DELAY", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = text(&dead.stderr);
    assert_eq!(dead.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("agent 2 ({server_addr}): cannot copy the spec"))
            && err.contains("1 of 2 hosts unreachable; nothing started"),
        "{err}"
    );
    assert!(!d.join("out-dead/merged.json").exists());
    // The spec copied to the host that answered went again.
    assert_no_remote_files(&dead);

    eprintln!(
        "ssh launcher: {total} connections from {AGENTS} agents [{}]; merged: {:.0} handshakes/s, \
         all open after {:.2} s; the launcher took {:.1} s (DELAY 3 s included); \
         the server's listen queue overflowed {overflows} times",
        per_agent.join(", "),
        s["handshakes_per_sec"].as_f64().unwrap_or(0.0),
        s["seconds"].as_f64().unwrap_or(0.0),
        took.as_secs_f64(),
    );
    drop(server);
    drop(daemons);
    drop(net);
}

/// No file of the launcher's run is left in /tmp: the run's name (printed as
/// `(run wstest-mc-TIME-PID)`) is its remote files' prefix.
fn assert_no_remote_files(run: &std::process::Output) {
    let o = text(&run.stdout);
    let name = o
        .split("(run ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no run name in {o:?}"));
    let left: Vec<_> = std::fs::read_dir("/tmp")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{name}-")))
        .collect();
    assert!(left.is_empty(), "left behind in /tmp: {left:?}");
}
