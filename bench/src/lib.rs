//! Inputs for the criterion benches in `benches/`: text of a given size and streams of
//! frames, built once outside the timed loops. The benches themselves live in `benches/`
//! (`cargo bench -p wstest-bench`); `README.md` beside this crate has the figures.

use wstest_engine::proto::frame::encode_frame;
use wstest_engine::OpCode;

/// Masking key used by every bench (any value works; this one is RFC 6455 §5.7's).
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Payload octets per decode iteration: enough frames that per-call overhead is amortised.
const STREAM_PAYLOAD: usize = 1 << 20;

/// `len` octets of printable ASCII prose.
pub fn ascii_text(len: usize) -> Vec<u8> {
    repeat_to(
        len,
        "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ",
    )
}

/// About `len` octets (never more, at most 3 fewer) of valid UTF-8 mixing 1-, 2-, 3- and
/// 4-octet characters: ASCII, Greek, CJK and emoji.
pub fn mixed_text(len: usize) -> Vec<u8> {
    repeat_to(
        len,
        "Hello κόσμε, 你好世界 🎉🚀 καλημέρα — 日本語のテキスト ✓ ",
    )
}

/// `piece` repeated and cut at the last character boundary at or below `len` octets.
fn repeat_to(len: usize, piece: &str) -> Vec<u8> {
    let mut s = piece.repeat(len / piece.len() + 1);
    let mut end = len.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.into_bytes()
}

/// How many frames of `payload_len` octets make up one decode iteration (at least 16).
pub fn frames_per_stream(payload_len: usize) -> usize {
    (STREAM_PAYLOAD / payload_len.max(1)).max(16)
}

/// `count` final binary frames of `payload_len` octets each, masked with `mask` if given,
/// back to back as they would arrive on the wire.
///
/// Binary payloads have no validity rule, so a decoder may unmask such a stream in place
/// again and again: masking is an XOR, every pass leaves valid frames behind, and the
/// benches can decode one buffer repeatedly without rebuilding it between iterations.
pub fn binary_stream(payload_len: usize, count: usize, mask: Option<[u8; 4]>) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
    let mut wire = Vec::with_capacity(count * (payload_len + 14));
    for _ in 0..count {
        encode_frame(&mut wire, true, 0, OpCode::BINARY, mask, &payload);
    }
    wire
}

/// A size for a benchmark id: `16B`, `1KiB`, `64KiB`, `1MiB`.
pub fn size_label(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{}KiB", n >> 10),
        n => format!("{n}B"),
    }
}

/// Write a massconnect spec to `path`: `n` connections to `url`, `batch` attempts in flight
/// (no batch delay), one thread when `one_thread`.
pub fn write_mass_spec(
    path: &std::path::Path,
    url: &str,
    n: usize,
    batch: usize,
    one_thread: bool,
    fastopen: bool,
) {
    let threads = if one_thread { r#", "threads": 1"# } else { "" };
    let fastopen = if fastopen {
        r#", "fastopen": true"#
    } else {
        ""
    };
    std::fs::write(
        path,
        format!(
            r#"{{"options": {{"connections": {n}, "batchsize": {batch}, "batchdelay": 0, "retrydelay": 10{threads}{fastopen}}},
               "servers": [{{"name": "echo", "uri": "{url}"}}]}}"#
        ),
    )
    .expect("spec written");
}

/// The allocator settings the `wstest` binary makes at start (its main.rs): mimalloc keeps
/// freed pages for a second before returning them to the kernel (`mi_option_purge_delay`,
/// index 15 in its v2 and v3 headers), so in-process runs measure what the binary does.
pub fn allocator_like_wstest() {
    // SAFETY: sets a mimalloc option at start, before the bench's threads allocate.
    unsafe { libmimalloc_sys::mi_option_set(15, 1000) };
}

/// Pin this thread to `core` (modulo the cores there are): servers on core 0, clients on
/// core 1, as the benches place our own runtimes. `NO_PIN` set: leave it to the scheduler.
pub fn pin_to(core: usize) {
    if std::env::var_os("NO_PIN").is_some() {
        return;
    }
    core_affinity::set_for_current(core_affinity::CoreId {
        id: core % wstest_engine::runtime::available_threads(),
    });
}

/// The core list for `taskset -c` that [`pin_to`] would pick for `core`, or `None` under
/// `NO_PIN` (a peer process is then left unpinned, as ours are).
pub fn taskset_core(core: usize) -> Option<String> {
    if std::env::var_os("NO_PIN").is_some() {
        return None;
    }
    Some((core % wstest_engine::runtime::available_threads()).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use wstest_engine::proto::{Config, Connection, Event, FrameDecoder, Item, RuleState};
    use wstest_engine::Role;

    #[test]
    fn texts_have_the_asked_size_and_mix() {
        for len in [1024, 1 << 20] {
            let a = ascii_text(len);
            assert_eq!(a.len(), len);
            assert!(a.is_ascii());
            let m = mixed_text(len);
            assert!(
                m.len() <= len && m.len() + 3 >= len,
                "{} for {len}",
                m.len()
            );
            let s = std::str::from_utf8(&m).expect("valid UTF-8");
            for width in 1..=4 {
                assert!(
                    s.chars().any(|c| c.len_utf8() == width),
                    "no {width}-octet character"
                );
            }
        }
    }

    #[test]
    fn stream_decodes_to_count_frames_every_pass() {
        let count = 5;
        let mut wire = binary_stream(300, count, Some(MASK));
        // Two passes over the same buffer: the second sees the first's unmasked payloads,
        // which must still decode as the same number of valid frames.
        for _ in 0..2 {
            let mut d = FrameDecoder::new(RuleState::new(Role::Server));
            let (mut off, mut ends) = (0, 0);
            loop {
                let (used, item) = d.decode(&mut wire[off..]).expect("valid stream");
                off += used;
                match item {
                    Some(Item::End) => ends += 1,
                    Some(_) => {}
                    None => break,
                }
            }
            assert_eq!((off, ends), (wire.len(), count));
        }
    }

    #[test]
    fn connection_receives_every_message() {
        let count = 7;
        let mut wire = binary_stream(70_000, count, Some(MASK));
        let mut conn = Connection::new(Config::new(Role::Server));
        let mut got = 0;
        conn.handle_input_all(&mut wire, Instant::now(), |_, ev| match ev {
            Event::Message(m) => {
                assert!(m.binary && m.data.len() == 70_000);
                got += 1;
            }
            other => panic!("unexpected event {other:?}"),
        });
        assert_eq!(got, count);
        assert!(conn.is_open());
    }

    #[test]
    fn labels() {
        assert_eq!(size_label(16), "16B");
        assert_eq!(size_label(125), "125B");
        assert_eq!(size_label(1024), "1KiB");
        assert_eq!(size_label(64 << 10), "64KiB");
        assert_eq!(size_label(1 << 20), "1MiB");
    }
}
