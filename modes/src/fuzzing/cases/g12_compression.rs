//! 12.x and 13.x: permessage-deflate. Each case sends a series of compressed messages cut
//! from a payload family, one at a time, and wants each back unchanged.
//!
//! 12.N: the five payload families with the default offer. 13.N: one family (JSON) with seven
//! combinations of what the client offers and what the server accepts. Within each, the same
//! 18 combinations of message size, count, time limit and fragment size.

use super::super::case::*;
use super::super::corpus::Corpus;
use super::super::pmce::{Accept, Offer};

/// (message length, messages, seconds before the case gives up, fragment size or 0).
const SIZES: [(usize, usize, f64, usize); 18] = [
    (16, 1000, 60.0, 0),
    (64, 1000, 60.0, 0),
    (256, 1000, 120.0, 0),
    (1024, 1000, 240.0, 0),
    (4096, 1000, 480.0, 0),
    (8192, 1000, 480.0, 0),
    (16384, 1000, 480.0, 0),
    (32768, 1000, 480.0, 0),
    (65536, 1000, 480.0, 0),
    (131072, 1000, 480.0, 0),
    (8192, 1000, 480.0, 256),
    (16384, 1000, 480.0, 256),
    (32768, 1000, 480.0, 256),
    (65536, 1000, 480.0, 256),
    (131072, 1000, 480.0, 256),
    (131072, 1000, 480.0, 1024),
    (131072, 1000, 480.0, 4096),
    (131072, 1000, 480.0, 32768),
];

fn offer(server_no_context_takeover: bool, bits: u8) -> Offer {
    Offer {
        server_no_context_takeover,
        server_max_window_bits: (bits != 0).then_some(bits),
    }
}

fn accept(client_no_context_takeover: bool, bits: u8) -> Accept {
    Accept {
        client_no_context_takeover,
        client_max_window_bits: (bits != 0).then_some(bits),
    }
}

/// The seven parameter sets of 13.1 to 13.7: the client's offers, and the server's ways of
/// accepting, tried in order.
fn parameter_sets() -> Vec<(Vec<Offer>, Vec<Accept>)> {
    vec![
        (vec![offer(false, 0)], vec![accept(false, 0)]),
        (vec![offer(true, 0)], vec![accept(true, 0)]),
        (vec![offer(false, 9)], vec![accept(false, 9)]),
        (vec![offer(false, 15)], vec![accept(false, 15)]),
        (vec![offer(true, 9)], vec![accept(true, 9)]),
        (vec![offer(true, 15)], vec![accept(true, 15)]),
        (
            vec![offer(true, 9), offer(true, 0), offer(false, 0)],
            vec![accept(true, 9), accept(true, 0), accept(false, 0)],
        ),
    ]
}

fn family_title(c: Corpus) -> String {
    format!(
        "{} ({}, {} bytes)",
        c.description(),
        if c.binary() { "binary" } else { "utf8" },
        c.data().bytes.len()
    )
}

fn list(v: Vec<String>) -> String {
    format!("[{}]", v.join(", "))
}

fn series(
    id: String,
    corpus: Corpus,
    size: (usize, usize, f64, usize),
    offers: Vec<Offer>,
    rules: Vec<Accept>,
    params: &str,
) -> Case {
    let (len, count, wait, fragment) = size;
    let unit = if corpus.binary() {
        "octets"
    } else {
        "characters"
    };
    let frames = if fragment == 0 {
        "one frame each".to_string()
    } else {
        format!("frames of at most {fragment} octets")
    };
    let mut c = case(
        &id,
        &format!(
            "Send {count} messages of {len} {unit}, one at a time, compressed with permessage-deflate and sent in {frames}; {params}."
        ),
        &format!(
            "Each message comes back unchanged (same type, length and SHA-1). The case gives up after {wait} seconds."
        ),
    )
    .closed_by_me(&[1000])
    .check(Check::Compression(Compression {
        corpus,
        len,
        count,
        wait,
        fragment,
    }))
    .report_time();
    c.deflate_offers = offers;
    c.deflate_accept = rules;
    c.report_compression = true;
    c
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (j, corpus) in Corpus::ALL.into_iter().enumerate() {
        for (i, size) in SIZES.into_iter().enumerate() {
            v.push(series(
                format!("12.{}.{}", j + 1, i + 1),
                corpus,
                size,
                vec![offer(false, 0)],
                vec![accept(false, 0)],
                "the client offers the default parameters",
            ));
        }
    }
    for (j, (offers, rules)) in parameter_sets().into_iter().enumerate() {
        let params = format!(
            "offers (server_no_context_takeover, server_max_window_bits): {}",
            list(offers.iter().map(Offer::describe).collect())
        );
        for (i, size) in SIZES.into_iter().enumerate() {
            v.push(series(
                format!("13.{}.{}", j + 1, i + 1),
                Corpus::Json,
                size,
                offers.clone(),
                rules.clone(),
                &params,
            ));
        }
    }
    v
}

/// Subcategory titles: the payload family (12.x), and family plus parameters (13.x).
pub fn subcategories() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Corpus::ALL
        .into_iter()
        .enumerate()
        .map(|(j, c)| (format!("12.{}", j + 1), family_title(c)))
        .collect();
    for (j, (offers, rules)) in parameter_sets().into_iter().enumerate() {
        v.push((
            format!("13.{}", j + 1),
            format!(
                "{} - client offers (server_no_context_takeover, server_max_window_bits): {} / server accepts (client_no_context_takeover, client_max_window_bits): {}",
                family_title(Corpus::Json),
                list(offers.iter().map(Offer::describe).collect()),
                list(rules.iter().map(Accept::describe).collect()),
            ),
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_counts() {
        let v = cases();
        assert_eq!(v.len(), 5 * 18 + 7 * 18);
        assert_eq!(v[0].id, "12.1.1");
        assert_eq!(v[89].id, "12.5.18");
        assert_eq!(v[90].id, "13.1.1");
        assert_eq!(v.last().unwrap().id, "13.7.18");
        // Timed for the report, not judged by time: they run side by side.
        assert!(v.iter().all(|c| !c.runs_alone() && c.report_compression));
        assert_eq!(subcategories().len(), 12);
        let c = &v[90 + 6 * 18 + 14]; // 13.7.15
        assert_eq!(c.id, "13.7.15");
        assert_eq!(c.deflate_offers.len(), 3);
        match &c.check {
            Check::Compression(s) => assert_eq!((s.len, s.fragment), (131072, 256)),
            _ => panic!("not a compression case"),
        }
    }
}
