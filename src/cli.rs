//! Command line: Autobahn wstest's flags, plus long options of our own.

use std::path::PathBuf;

use clap::Parser;

/// Every mode, in the order `--help` lists them; each doc line is its description there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// run the conformance suite against WebSocket servers (-s spec)
    Fuzzingclient,
    /// serve the conformance suite to WebSocket clients (-s spec)
    Fuzzingserver,
    /// our strict WebSocket server, as a conformance target (-w)
    Testeeserver,
    /// our strict WebSocket client, driving a fuzzing server (-w)
    Testeeclient,
    /// echo every message back (-w)
    Echoserver,
    /// send messages and print their echoes with round-trip times (-w)
    Echoclient,
    /// send every message to every client (-w)
    Broadcastserver,
    /// print what a broadcast server sends, publish periodically (-w)
    Broadcastclient,
    /// echo round-trip measurements written as TSV (-s spec; -w: the template's target)
    Wsperfcontrol,
    /// run wsperf measurements on connected probes (-w)
    Wsperfmaster,
    /// a probe for wsperfmaster (-w master)
    Wsperfslave,
    /// WAMP v2 router (-w)
    Wampserver,
    /// WAMP v2 router checks and load (-w)
    Wampclient,
    /// open many connections, count handshakes per second (-s spec)
    Massconnect,
    /// add up massconnect results of several agents (wstest merge A.json B.json -o M.json)
    Merge,
    /// compare two fuzzing index.json files' verdicts (wstest compare EXPECTED.json ACTUAL.json)
    Compare,
    /// draw a wsperf, sweep, massconnect or fan-out result as SVG (wstest plot FILE -o OUT.svg|OUT.html)
    Plot,
}

impl Mode {
    /// The name on the command line (`-m NAME`).
    pub fn name(self) -> String {
        self.value().get_name().to_string()
    }

    /// The one-line description.
    pub fn about(self) -> String {
        self.value()
            .get_help()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    fn value(self) -> clap::builder::PossibleValue {
        clap::ValueEnum::to_possible_value(&self).expect("no mode is skipped")
    }

    /// A mode named on the command line, `None` if there is none such.
    pub fn named(name: &str) -> Option<Mode> {
        <Mode as clap::ValueEnum>::from_str(name, false).ok()
    }

    /// Every mode, in order.
    pub fn all() -> &'static [Mode] {
        <Mode as clap::ValueEnum>::value_variants()
    }

    /// Modes that cannot run without `-w`.
    pub fn needs_url(self) -> bool {
        matches!(
            self,
            Mode::Testeeclient | Mode::Broadcastclient | Mode::Wsperfslave | Mode::Wampclient
        )
    }
}

/// `--help`'s closing text.
pub const EXIT_STATUS: &str = "Exit status: 0 success; 1 the run failed its checks; 2 bad arguments or configuration;\n3 a network peer could not be reached; 4 local I/O or runtime failure; 130 interrupted.";

#[derive(Parser, Debug)]
#[command(
    name = "wstest",
    version,
    about = "WebSocket conformance fuzzer, testee and load tool (a successor of Autobahn|Testsuite's wstest)",
    after_help = EXIT_STATUS
)]
pub struct Cli {
    /// Test mode.
    #[arg(short = 'm', long = "mode", value_enum)]
    pub mode: Option<Mode>,
    /// WebSocket URL: where a server listens, or what a client connects to.
    #[arg(short = 'w', long = "wsuri")]
    pub wsuri: Option<String>,
    /// Specification file (JSON); a missing one is written as a template and used.
    #[arg(short = 's', long = "spec")]
    pub spec: Option<PathBuf>,
    /// Output file for modes that produce data (reports are JSON).
    #[arg(short = 'o', long = "outfile")]
    pub outfile: Option<PathBuf>,
    /// Port of the embedded web server (0 = off).
    #[arg(short = 'u', long = "webport", default_value_t = 8080)]
    pub webport: u16,
    /// Client identifier (agent name) for testee clients; Server header for servers.
    #[arg(short = 'i', long = "ident")]
    pub ident: Option<String>,
    /// Server private key (PEM) for wss://.
    #[arg(short = 'k', long = "key")]
    pub key: Option<PathBuf>,
    /// Server certificate chain (PEM) for wss://.
    #[arg(short = 'c', long = "cert")]
    pub cert: Option<PathBuf>,
    /// Debug output.
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    /// Print version information and exit.
    #[arg(short = 'a', long = "autobahnversion")]
    pub autobahnversion: bool,

    /// Worker threads (default: every available core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// I/O driver: auto (io_uring, else epoll), uring, epoll.
    #[arg(long, default_value = "auto")]
    pub driver: String,
    /// Do not pin worker threads to cores (by default a pool over every core is pinned, one
    /// worker per core; a smaller one is left to the scheduler; the fuzzing modes are never
    /// pinned unless --cpus says where).
    #[arg(long)]
    pub no_pin: bool,
    /// Pin the worker threads to these cores, round-robin (`taskset -c` syntax: 0-3,8). For
    /// processes started side by side with fewer threads than cores.
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// Server modes: listen on this address (0.0.0.0 or :: for every interface) instead of
    /// the URL's host, the page port too. The Docker image sets WSTEST_BIND=0.0.0.0.
    #[arg(long, value_name = "ADDR", env = "WSTEST_BIND")]
    pub bind: Option<std::net::IpAddr>,
    /// Server modes: share the port with servers already listening there (SO_REUSEPORT; the
    /// kernel spreads connections over all of them), as several processes of one load
    /// test do. Without it a port that has a listener is an error.
    #[arg(long)]
    pub reuse_port: bool,
    /// Listen backlog for server modes.
    #[arg(long, default_value_t = 1024)]
    pub backlog: i32,
    /// Largest message accepted, in bytes, also once inflated (default 64 MiB; wampserver
    /// 1 MiB; fuzzers: each case's limit, 0 = none, group 9 needs 16 MiB).
    #[arg(long)]
    pub max_message_size: Option<u64>,
    /// Server modes: octets a connection may queue for a client that does not read; above
    /// it the server stops reading from that client until a quarter of it is left (default
    /// 4 MiB).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1024..=1 << 40))]
    pub max_queued: Option<u64>,
    /// Server modes: a client that keeps more than --max-queued waiting this long is closed
    /// with 1008 and counted as stalled (default 30).
    #[arg(long, value_parser = seconds)]
    pub stall_timeout: Option<f64>,
    /// echoserver, testeeserver, broadcastserver: a plain connection quiet this long is set
    /// aside without a task or read buffer (under 1 KiB each) until its client sends again
    /// (default 1; 0: never).
    #[arg(long, value_parser = seconds)]
    pub park_after: Option<f64>,
    /// fuzzingclient/fuzzingserver: compare this run's verdicts (behavior and behaviorClose
    /// per agent and case; durations aside) with a stored index.json: exit 0 when nothing
    /// differs, whatever the verdicts, 1 otherwise (the differing cases are listed).
    #[arg(long, value_name = "FILE")]
    pub expected: Option<PathBuf>,
    /// With --expected: write this run's verdicts to that file instead of comparing.
    #[arg(long)]
    pub update_expected: bool,
    /// fuzzingclient/fuzzingserver: the verdicts that pass, comma separated (e.g.
    /// OK,INFORMATIONAL,NON-STRICT): exit 1 if a case's behavior or behaviorClose is another.
    #[arg(long, value_name = "LIST")]
    pub accept: Option<String>,
    /// fuzzingclient/fuzzingserver: write JUnit XML (a test suite per agent, a test case per
    /// case; failures carry the verdicts and the case's report).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// fuzzingserver: stop after a client's /updateReports (as shutdownOnComplete=true in
    /// that request does); the exit status is then the verdicts'.
    #[arg(long)]
    pub exit_on_update: bool,
    /// fuzzingclient: wait up to this many seconds for each server to answer before its
    /// cases start (a server started just before, in CI).
    #[arg(long, value_parser = seconds)]
    pub wait_for: Option<f64>,
    /// wampserver: a connection that sends no message (HELLO) this long after its upgrade is
    /// closed with 1008 and counted as silent (default 10).
    #[arg(long, value_parser = seconds)]
    pub hello_timeout: Option<f64>,
    /// Extra CA certificates (PEM) to trust for wss:// (clients).
    #[arg(long)]
    pub cacert: Option<PathBuf>,
    /// Do not verify server certificates (clients).
    #[arg(long)]
    pub insecure: bool,
    /// Seconds to wait for connect and opening handshake (clients).
    #[arg(long, value_parser = seconds)]
    pub connect_timeout: Option<f64>,
    /// echoclient: send this text (instead of reading lines from stdin); broadcastclient: the
    /// text sent every --interval.
    #[arg(long)]
    pub message: Option<String>,
    /// echoclient: how many times to send --message (default 1); wampclient --load: calls per
    /// client (instead of --duration).
    #[arg(long)]
    pub count: Option<u64>,
    /// echoclient: send binary messages.
    #[arg(long)]
    pub binary: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// fuzzingclient/fuzzingserver: exit 0 only if every case is OK (INFORMATIONAL aside).
    #[arg(long)]
    pub strict: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// wsperfmaster: probes to wait for before running the spec.
    #[arg(long, default_value_t = 1)]
    pub probes: usize,
    /// wsperfmaster: seconds to wait for the probes.
    #[arg(long, default_value_t = 300.0, value_parser = seconds)]
    pub wait: f64,
    /// massconnect: run shard I of N (1-based): its share of the connections and sources.
    /// VAR/N: the 0-based index in environment variable VAR (e.g. a Kubernetes Indexed Job's
    /// JOB_COMPLETION_INDEX).
    #[arg(long, value_name = "I/N", value_parser = wstest_modes::massconnect::parse_shard)]
    pub shard: Option<(u64, u64)>,
    /// massconnect: start ramping at this time (RFC 3339 or Unix seconds), so agents on
    /// several machines start together.
    #[arg(long, value_name = "TIME", value_parser = wstest_modes::massconnect::parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// massconnect, wampclient --load: also write the TSV to this file.
    #[arg(long, value_name = "FILE")]
    pub tsv: Option<PathBuf>,
    /// `wstest merge RESULT.json... -o merged.json`: add up massconnect agents' results;
    /// `wstest compare EXPECTED.json ACTUAL.json`: fuzzing verdicts that differ;
    /// `wstest plot RESULT -o OUT.svg` (or OUT.html: a report, the SVG beside it).
    #[arg(value_name = "merge FILES")]
    pub rest: Vec<String>,
    /// broadcastclient: seconds between own messages (0: never send).
    #[arg(long, value_name = "S", default_value_t = 2.0, value_parser = seconds)]
    pub interval: f64,
    /// broadcastclient: seconds to run (default: until the server closes or Ctrl-C); with
    /// --clients, seconds of publishing (default 5). wampclient --load: seconds to run
    /// (default 5, unless --count is given).
    #[arg(long, value_name = "S", value_parser = seconds)]
    pub duration: Option<f64>,
    /// broadcastclient: measure fan-out with N receivers and one publisher. wampclient --load:
    /// caller/publisher sessions (default 4).
    #[arg(long, value_name = "N")]
    pub clients: Option<usize>,
    /// broadcastclient --clients: messages per second from the publisher.
    #[arg(long, value_name = "R", default_value_t = 100.0, value_parser = rate)]
    pub publish_rate: f64,
    /// broadcastclient --clients: message size in octets.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub size: usize,
    /// broadcastserver: seconds between "tick N" messages (0: none).
    #[arg(long, value_name = "S", default_value_t = 1.0, value_parser = seconds)]
    pub tick: f64,
    /// broadcastserver: octets queued for one receiver before it is dropped (close 1008).
    #[arg(long, value_name = "N", default_value_t = 4 << 20)]
    pub queue_limit: usize,
    /// wampclient: the realm to join (default realm1); wampserver: only these realms may be
    /// joined (repeat the option; default: any realm, created on first join).
    #[arg(long, value_name = "URI")]
    pub realm: Vec<String>,
    /// wampclient: json (wamp.2.json) or msgpack (wamp.2.msgpack).
    #[arg(long, default_value = "json", value_parser = ["json", "msgpack"])]
    pub serializer: String,
    /// wampclient: measure calls/s and publish→event latency instead of running the checks.
    #[arg(long)]
    pub load: bool,
    /// permessage-deflate on or off (default: servers accept offers, testeeclient offers,
    /// echoclient does not).
    #[arg(long, value_name = "on|off", value_parser = wstest_modes::common::parse_on_off)]
    pub deflate: Option<bool>,
    /// permessage-deflate: limit both directions' LZ77 windows to 2^N octets (8-15).
    #[arg(long, value_name = "N")]
    pub deflate_window_bits: Option<u8>,
    /// permessage-deflate: no context takeover in either direction.
    #[arg(long)]
    pub deflate_no_context_takeover: bool,
    /// permessage-deflate: send messages shorter than N octets uncompressed.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub deflate_threshold: usize,
    /// permessage-deflate: zlib compression level (0-9, default 6).
    #[arg(long, value_name = "N")]
    pub deflate_level: Option<u32>,
}

/// A number of seconds: finite, not negative, at most 10^9 (a typo, not a plan).
fn seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !v.is_finite() || !(0.0..=1e9).contains(&v) {
        return Err(format!("{s}: expected seconds from 0 to 1e9"));
    }
    Ok(v)
}

/// A rate per second: finite, above 0, at most 10^9.
fn rate(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a rate"))?;
    if !v.is_finite() || v <= 0.0 || v > 1e9 {
        return Err(format!(
            "{s}: expected a rate above 0 and at most 1e9 per second"
        ));
    }
    Ok(v)
}
