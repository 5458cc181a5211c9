//! The protocol core (`src/proto`) is sans-IO: bytes and `now` in, events and bytes out. It
//! never names a socket, a runtime, a thread or a clock of its own; this test reads its
//! sources and fails when one appears (test code, which may build inputs with a clock, is
//! not checked).

use std::path::{Path, PathBuf};

/// What the core must not use, with why.
const FORBIDDEN: &[(&str, &str)] = &[
    ("monoio", "a runtime"),
    ("tokio", "a runtime"),
    ("std::net", "sockets"),
    ("std::fs", "files"),
    ("std::thread", "threads"),
    ("std::process", "processes"),
    ("libc::", "system calls"),
    ("Instant::now", "its own clock (time comes in as `now`)"),
    ("SystemTime", "its own clock"),
    ("crate::runtime", "the runtime"),
    ("crate::net", "the network layer"),
    ("crate::ws", "the connection driver"),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "tests") {
                continue;
            }
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs")
            && p.file_name().is_none_or(|n| n != "tests.rs")
        {
            out.push(p);
        }
    }
}

#[test]
fn the_protocol_core_does_no_io_and_reads_no_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/proto");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(
        files.len() > 10,
        "found {} sources under {}",
        files.len(),
        root.display()
    );
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        // Unit tests at the end of a file (`#[cfg(test)] mod tests { ... }`) may use a clock.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            for (what, why) in FORBIDDEN {
                if line.contains(what) {
                    found.push(format!("{}:{}: {what} ({why})", f.display(), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "the sans-IO core uses:\n{}",
        found.join("\n")
    );
}
