//! Network namespaces as hosts: a namespace with its loopback up ([`Ns`]), and several on
//! one bridge with an address each ([`Net`]); both removed on drop, a failing test included.
//! They need root and iproute2; `build` returns `None` where they cannot be had (the caller
//! then reports the missing peer with `peer_missing`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `ip` with arguments; false when it fails.
pub fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// One network namespace with its loopback up; removed on drop.
pub struct Ns(pub String);

impl Ns {
    /// The namespace `wst<pid><name>` (unique to this test process).
    pub fn build(name: &str) -> Option<Ns> {
        let ns = Ns(format!("wst{}{name}", std::process::id() % 100000));
        (ip(&["netns", "add", &ns.0]) && ip(&["-n", &ns.0, "link", "set", "lo", "up"]))
            .then_some(ns)
    }

    /// `program args` inside the namespace.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, program]).args(args);
        c
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        ip(&["netns", "del", &self.0]);
    }
}

/// `count` namespaces on one bridge, namespace `i` at [`Net::addr`]`(i)` on its `eth0`;
/// removed on drop.
pub struct Net {
    tag: String,
    spaces: Vec<Ns>,
}

impl Net {
    pub fn ns(&self, i: usize) -> &Ns {
        &self.spaces[i]
    }

    /// Namespace `i`'s address: 10.231.0.(10 + i). (The host has none on the bridge, so two
    /// nets with the same addresses do not meet.)
    pub fn addr(&self, i: usize) -> String {
        format!("10.231.0.{}", 10 + i)
    }

    /// `name` (a letter or two) tells this test's nets apart: the bridge, the host ends of
    /// the veth pairs and the namespaces are named after the test process and it, within
    /// the 15 characters an interface name may have.
    pub fn build(name: &str, count: usize) -> Option<Net> {
        let tag = format!("{}{name}", std::process::id() % 100000);
        let br = format!("wst{tag}br");
        if !ip(&["link", "add", &br, "type", "bridge"]) || !ip(&["link", "set", &br, "up"]) {
            return None;
        }
        let mut net = Net {
            tag,
            spaces: Vec::new(),
        };
        // dockerd sets the FORWARD policy to DROP and has bridged frames go through iptables
        // (`bridge-nf-call-iptables`), which cuts this bridge's namespaces from each other:
        // allow our own bridge's traffic for as long as the test runs (undone on drop).
        // Without iptables (or without Docker) there is nothing to allow.
        iptables_forward(&br, "-I");
        for i in 0..count {
            let ns = Ns::build(&format!("{name}n{i}"))?;
            let host = format!("wst{}h{i}", net.tag);
            let ok = ip(&[
                "link", "add", &host, "type", "veth", "peer", "name", "eth0", "netns", &ns.0,
            ]) && ip(&["link", "set", &host, "master", &br])
                && ip(&["link", "set", &host, "up"])
                && ip(&[
                    "-n",
                    &ns.0,
                    "addr",
                    "add",
                    &format!("{}/24", net.addr(i)),
                    "dev",
                    "eth0",
                ])
                && ip(&["-n", &ns.0, "link", "set", "eth0", "up"]);
            net.spaces.push(ns);
            if !ok {
                return None;
            }
        }
        Some(net)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // The namespaces go with `spaces`; the host ends of the veth pairs and the bridge here.
        for i in 0..self.spaces.len() {
            ip(&["link", "del", &format!("wst{}h{i}", self.tag)]);
        }
        let br = format!("wst{}br", self.tag);
        iptables_forward(&br, "-D");
        ip(&["link", "del", &br]);
    }
}

/// Insert (`-I`) or delete (`-D`) the rule that lets `bridge` forward to itself.
fn iptables_forward(bridge: &str, op: &str) {
    let _ = Command::new("iptables")
        .args([op, "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Wait until `host:port` takes a TCP connection from inside `ns`.
pub fn wait_reachable(ns: &Ns, host: &str, port: u16) {
    let until = Instant::now() + Duration::from_secs(10);
    let probe = format!("exec 3<>/dev/tcp/{host}/{port}");
    while !ns
        .command("bash", &["-c", &probe])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
    {
        assert!(
            Instant::now() < until,
            "{host}:{port} not reachable from {}",
            ns.0
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
