//! Spec files (every mode's) and fuzzingserver's direct-mode commands: text a user or a
//! peer hands us. None of it may panic, and whatever is accepted stays within the limits the
//! parsers promise (a direct-mode command's frames, a wsperf case's numbers).
//!
//! Input: one selector octet (modulo 5), then the text.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wstest_modes::fuzzing::direct::{self, Command};
use wstest_modes::fuzzing::spec::{select, ClientSpec, ServerSpec, CLIENT_KEYS, SERVER_KEYS};
use wstest_modes::{massconnect, spec, wsperf};

fn case_ids() -> &'static [String] {
    static IDS: OnceLock<Vec<String>> = OnceLock::new();
    IDS.get_or_init(|| {
        wstest_modes::fuzzing::cases::all()
            .into_iter()
            .map(|c| c.id)
            .collect()
    })
}

fn direct_command(text: &[u8]) {
    let Ok(Command::Frames(frames)) = direct::parse(text, false) else {
        return;
    };
    assert!(frames.len() <= direct::MAX_FRAMES);
    let mut octets = 0u64;
    for f in &frames {
        assert!(f.len <= direct::MAX_FRAME_PAYLOAD, "{}", f.len);
        assert!(f.opcode <= 15 && f.rsv <= 7);
        assert!(f.len == 0 || !f.text.is_empty());
        octets += f.len + 14;
    }
    assert!(octets <= direct::MAX_COMMAND_OCTETS);
}

fn wsperf_spec(text: &str) {
    let mut warn = |_: String| {};
    let Ok(s) = spec::parse::<wsperf::spec::Spec>(text, "f", wsperf::spec::KEYS, &mut warn)
    else {
        return;
    };
    if s.validate("f").is_err() {
        return;
    }
    for t in &s.testsets {
        for c in &t.cases {
            for server in &s.servers {
                let p = t.probe(c, server);
                assert!(p.size as u64 <= wsperf::spec::MAX_SIZE);
                assert!(p.connections as u64 <= wsperf::spec::MAX_CONNECTIONS);
                assert!(p.connections as u64 * p.window as u64 <= wsperf::spec::MAX_IN_FLIGHT);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which % 5 == 0 {
        return direct_command(rest);
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut warn = |_: String| {};
    match which % 5 {
        1 => {
            if let Ok(s) = spec::parse::<ClientSpec>(text, "f", CLIENT_KEYS, &mut warn) {
                let _ = select(case_ids(), &s.cases, &s.exclude_cases);
            }
        }
        2 => {
            if let Ok(s) = spec::parse::<ServerSpec>(text, "f", SERVER_KEYS, &mut warn) {
                let _ = select(case_ids(), &s.cases, &s.exclude_cases);
            }
        }
        3 => wsperf_spec(text),
        _ => {
            if let Ok(s) = spec::parse::<massconnect::spec::Spec>(
                text,
                "f",
                massconnect::spec::KEYS,
                &mut warn,
            ) {
                let _ = s.validate("f");
            }
        }
    }
});
