//! permessage-deflate throughput (RFC 7692): compressing and inflating messages cut from the
//! compression cases' payload families, text (JSON records) and binary (a grey-scale bitmap
//! and already-compressed PDF data), with context takeover (one zlib stream across messages)
//! and without (reset after every message), at window 15 and zlib level 6. Throughput is in
//! uncompressed octets per second, both ways.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wstest_engine::proto::deflate::{Deflater, Inflater};
use wstest_modes::fuzzing::corpus::Corpus;

/// Messages per iteration and their size: 64 messages of 16 KiB (1 MiB of data).
const MESSAGES: usize = 64;
const SIZE: usize = 16 << 10;

fn messages(c: Corpus) -> Vec<Vec<u8>> {
    let data = c.data();
    let mut pos = 0;
    (0..MESSAGES)
        .map(|_| {
            let mut m = Vec::new();
            data.next_message(&mut pos, SIZE, &mut m);
            m
        })
        .collect()
}

fn deflate(c: &mut Criterion) {
    for (name, corpus) in [
        ("text_json", Corpus::Json),
        ("binary_bitmap", Corpus::Bitmap),
        ("binary_pdf", Corpus::Pdf),
    ] {
        let msgs = messages(corpus);
        let total: usize = msgs.iter().map(Vec::len).sum();
        let mut g = c.benchmark_group(format!("deflate/{name}"));
        g.throughput(Throughput::Bytes(total as u64));
        for (ctx, reset) in [("takeover", false), ("no_takeover", true)] {
            let mut out = Vec::with_capacity(SIZE * 2);
            g.bench_function(BenchmarkId::new("compress", ctx), |b| {
                let mut d = Deflater::new(15, reset, 6);
                b.iter(|| {
                    for m in &msgs {
                        out.clear();
                        d.compress(black_box(m), &mut out);
                    }
                })
            });
            // The compressed stream of the whole series, inflated message by message with a
            // decompressor that keeps (or resets) its context the same way.
            let mut d = Deflater::new(15, reset, 6);
            let compressed: Vec<Vec<u8>> = msgs
                .iter()
                .map(|m| {
                    let mut z = Vec::new();
                    d.compress(m, &mut z);
                    z
                })
                .collect();
            let ratio = compressed.iter().map(Vec::len).sum::<usize>() as f64 / total as f64;
            eprintln!("deflate/{name}/{ctx}: compressed to {ratio:.3} of the input");
            g.bench_function(BenchmarkId::new("inflate", ctx), |b| {
                b.iter(|| {
                    // Fresh each iteration: the stream has to be inflated from its start.
                    let mut inf = Inflater::new(15, reset);
                    for z in &compressed {
                        out.clear();
                        inf.push(black_box(z), &mut out, 0).expect("valid stream");
                        inf.finish(&mut out, 0).expect("valid stream");
                    }
                })
            });
        }
        g.finish();
    }
}

criterion_group! { name = benches; config = common::config(); targets = deflate }
criterion_main!(benches);
