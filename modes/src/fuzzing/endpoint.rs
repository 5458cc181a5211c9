//! The fuzzer's endpoint settings: the engine's [`Connection`](wstest_engine::proto::Connection)
//! configured to behave like the original's, with the spec's options applied, and how a case
//! connection paces and queues its writes.

use std::time::Duration;

use wstest_engine::proto::connection::CloseCodePolicy;
use wstest_engine::proto::{Config, FailPolicy, Role};

use super::limits::MAX_MESSAGE;
use super::spec::Options;

/// zlib level of the fuzzer's own compressor.
pub const FUZZER_DEFLATE_LEVEL: u32 = 1;

/// The fuzzer's endpoint settings: those of the original (Autobahn 0.10 with
/// `failByDrop = false`), except a message size limit ([`MAX_MESSAGE`]; the original has
/// none, and one hostile peer's 1 GiB frame would take the whole run): close replies carry 1000, a violation by the peer is
/// answered with a Close and the connection dropped on the next input, 1 s close handshake
/// and server drop timeouts, its list of acceptable close codes.
pub fn fuzzer_config(role: Role) -> Config {
    let mut c = Config::new(role);
    c.max_message_size = MAX_MESSAGE;
    c.echo_close_code = false;
    c.fail_policy = FailPolicy::CloseThenDropOnInput;
    c.close_timeout = Duration::from_secs(1);
    c.linger_timeout = Duration::from_secs(1);
    c.record_frames = true;
    c.close_codes = CloseCodePolicy::Autobahn;
    // As the original's writes reach the wire (tcpdump, docs/conformance.md): the first two
    // pieces of a burst share a segment, its client's and its server's alike (the server's
    // also carry the handshake answer: 208 + 30 octets in 3.3, 208 + 2 in 3.4).
    c.pair_burst_start = true;
    c.linger_after_peer_close = false;
    // Compression cases: level 1 (the original uses zlib's default, 6). What the fuzzer sends
    // only has to be valid deflate data, and the fastest level leaves the machine to the
    // testee; the verdicts do not depend on it, the reported ratios do.
    c.deflate_level = FUZZER_DEFLATE_LEVEL;
    // Large messages that level 1 hardly shrinks (the bitmap and PDF families) go as stored
    // blocks for a while, as zlib's default level mostly sends them too, at the cost of a
    // copy instead of a full LZ77 pass.
    c.deflate_adaptive = true;
    c
}

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
