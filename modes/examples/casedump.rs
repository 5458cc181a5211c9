//! Print every case definition in the canonical trace form (see `fuzzing::trace`).
//! usage: cargo run -q -p wstest-modes --example casedump [ID-PREFIX...] > ours.json

fn main() {
    let prefixes: Vec<String> = std::env::args().skip(1).collect();
    let all: Vec<serde_json::Value> = wstest_modes::fuzzing::cases::all()
        .iter()
        .filter(|c| {
            prefixes.is_empty()
                || prefixes
                    .iter()
                    .any(|p| c.id == *p || c.id.starts_with(p.trim_end_matches('*')))
        })
        .map(wstest_modes::fuzzing::trace::trace)
        .collect();
    println!("{}", serde_json::to_string_pretty(&all).expect("json"));
}
