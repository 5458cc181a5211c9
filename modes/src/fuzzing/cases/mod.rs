//! Every case of the suite, in the original's order and with its ids.

use std::collections::BTreeMap;

use super::case::{id_tuple, Case};

mod g10_misc;
mod g12_compression;
mod g1_framing;
mod g2_pings;
mod g3_rsv;
mod g4_opcodes;
mod g5_fragmentation;
mod g6_utf8;
mod g7_close;
mod g9_limits;

/// All cases, in the original's order.
pub fn all() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(g1_framing::cases());
    v.extend(g2_pings::cases());
    v.extend(g3_rsv::cases());
    v.extend(g4_opcodes::cases());
    v.extend(g5_fragmentation::cases());
    v.extend(g6_utf8::cases());
    v.extend(g7_close::cases());
    v.extend(g9_limits::cases());
    v.extend(g10_misc::cases());
    v.extend(g12_compression::cases());
    v
}

/// Category names by first id component.
pub fn category(first: &str) -> &'static str {
    match first {
        "1" => "Framing",
        "2" => "Pings/Pongs",
        "3" => "Reserved Bits",
        "4" => "Opcodes",
        "5" => "Fragmentation",
        "6" => "UTF-8 Handling",
        "7" => "Close Handling",
        "9" => "Limits/Performance",
        "10" => "Misc",
        "12" => "WebSocket Compression (different payloads)",
        "13" => "WebSocket Compression (different parameters)",
        _ => "Misc",
    }
}

/// Subcategory names by the first two id components (where the suite has one).
pub fn subcategories() -> BTreeMap<String, String> {
    let fixed = [
        ("1.1", "Text Messages"),
        ("1.2", "Binary Messages"),
        ("4.1", "Non-control Opcodes"),
        ("4.2", "Control Opcodes"),
        ("6.1", "Valid UTF-8 with zero payload fragments"),
        (
            "6.2",
            "Valid UTF-8 unfragmented, fragmented on code-points and within code-points",
        ),
        ("6.3", "Invalid UTF-8 differently fragmented"),
        ("6.4", "Fail-fast on invalid UTF-8"),
        ("7.1", "Basic close behavior (fuzzer initiated)"),
        (
            "7.3",
            "Close frame structure: payload length (fuzzer initiated)",
        ),
        (
            "7.5",
            "Close frame structure: payload value (fuzzer initiated)",
        ),
        (
            "7.7",
            "Close frame structure: valid close codes (fuzzer initiated)",
        ),
        (
            "7.9",
            "Close frame structure: invalid close codes (fuzzer initiated)",
        ),
        ("7.13", "Informational close information (fuzzer initiated)"),
        ("9.1", "Text Message (increasing size)"),
        ("9.2", "Binary Message (increasing size)"),
        (
            "9.3",
            "Fragmented Text Message (fixed size, increasing fragment size)",
        ),
        (
            "9.4",
            "Fragmented Binary Message (fixed size, increasing fragment size)",
        ),
        ("9.5", "Text Message (fixed size, increasing chop size)"),
        (
            "9.6",
            "Binary Text Message (fixed size, increasing chop size)",
        ),
        (
            "9.7",
            "Text Message Roundtrip Time (fixed number, increasing size)",
        ),
        (
            "9.8",
            "Binary Message Roundtrip Time (fixed number, increasing size)",
        ),
        ("10.1", "Auto-Fragmentation"),
    ];
    let mut m: BTreeMap<String, String> = fixed
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    m.extend(g6_utf8::subcategories());
    m.extend(g12_compression::subcategories());
    m
}

/// Sort case ids numerically.
pub fn sort_ids(ids: &mut [String]) {
    ids.sort_by_key(|s| id_tuple(s));
}
