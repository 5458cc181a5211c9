//! Payload masking (RFC 6455 §5.3): the word-at-a-time `apply_mask` against the byte-at-a-time
//! reference, from a 16-octet ping to a 1 MiB message, plus `apply_mask` on a buffer that
//! starts one octet past an 8-octet boundary at payload offset 3 (a payload masked in
//! pieces as it streams in).

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wstest_bench::{size_label, MASK};
use wstest_engine::proto::mask::{apply_mask, apply_mask_bytewise};

const SIZES: [usize; 5] = [16, 125, 1 << 10, 64 << 10, 1 << 20];

fn mask(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask");
    for size in SIZES {
        g.throughput(Throughput::Bytes(size as u64));
        let label = size_label(size);
        // One spare octet in front so the unaligned case masks the same number of octets.
        let mut buf: Vec<u8> = (0..size + 1).map(|i| i as u8).collect();
        g.bench_function(BenchmarkId::new("word", &label), |b| {
            b.iter(|| apply_mask(black_box(&mut buf[..size]), black_box(MASK), 0))
        });
        g.bench_function(BenchmarkId::new("bytewise", &label), |b| {
            b.iter(|| apply_mask_bytewise(black_box(&mut buf[..size]), black_box(MASK), 0))
        });
        g.bench_function(BenchmarkId::new("word_unaligned", &label), |b| {
            b.iter(|| apply_mask(black_box(&mut buf[1..]), black_box(MASK), black_box(3)))
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = common::config(); targets = mask }
criterion_main!(benches);
