//! UTF-8 validation of text payloads: `Utf8Validator::feed` on the whole buffer, in 1 KiB
//! pieces (frames or reads) and in 7-octet pieces (the worst case: most pieces cut a
//! multi-octet character, so the carry path runs), against `std::str::from_utf8` on the whole
//! buffer. ASCII prose and mixed text (Greek, CJK, emoji), 1 KiB and 1 MiB.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wstest_bench::{ascii_text, mixed_text, size_label};
use wstest_engine::proto::Utf8Validator;

const SIZES: [usize; 2] = [1 << 10, 1 << 20];

/// Feed `data` in pieces of `chunk` octets and require a valid, complete result.
fn feed_chunks(data: &[u8], chunk: usize) {
    let mut v = Utf8Validator::new();
    for piece in data.chunks(chunk) {
        v.feed(piece).expect("bench text is valid UTF-8");
    }
    v.finish().expect("bench text ends on a character boundary");
}

fn utf8(c: &mut Criterion) {
    for (kind, make) in [
        ("ascii", ascii_text as fn(usize) -> Vec<u8>),
        ("mixed", mixed_text),
    ] {
        let mut g = c.benchmark_group(format!("utf8_{kind}"));
        for size in SIZES {
            let data = make(size);
            let label = size_label(size);
            g.throughput(Throughput::Bytes(data.len() as u64));
            g.bench_function(BenchmarkId::new("std_from_utf8", &label), |b| {
                b.iter(|| std::str::from_utf8(black_box(&data)).expect("valid").len())
            });
            g.bench_function(BenchmarkId::new("feed_whole", &label), |b| {
                b.iter(|| feed_chunks(black_box(&data), data.len()))
            });
            g.bench_function(BenchmarkId::new("feed_1KiB", &label), |b| {
                b.iter(|| feed_chunks(black_box(&data), 1024))
            });
            g.bench_function(BenchmarkId::new("feed_7B", &label), |b| {
                b.iter(|| feed_chunks(black_box(&data), 7))
            });
        }
        g.finish();
    }
}

criterion_group! { name = benches; config = common::config(); targets = utf8 }
criterion_main!(benches);
