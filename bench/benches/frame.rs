//! Frames on the wire: writing them (`encode_frame`, masked as a client sends and unmasked as
//! a server sends, into one reused Vec) and reading them (a stream of masked binary frames
//! through a checked server-role `FrameDecoder`, and through `Connection::handle_input_all`,
//! which adds message assembly and events). Payloads of 16 B, 1 KiB and 64 KiB.
//!
//! Throughput counts octets on the wire (headers included) and frames, so criterion prints
//! both MiB/s and frames/s. A decode iteration reads about 1 MiB of payload (at least 16
//! frames), unmasking it in place; the same buffer is decoded again in the next iteration
//! (see `wstest_bench::binary_stream`), so no copy is timed.

mod common;

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wstest_bench::{binary_stream, frames_per_stream, size_label, MASK};
use wstest_engine::proto::frame::encode_frame;
use wstest_engine::proto::{Config, Connection, Event, FrameDecoder, Item, RuleState};
use wstest_engine::{OpCode, Role};

const SIZES: [usize; 3] = [16, 1 << 10, 64 << 10];

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_encode");
    for size in SIZES {
        let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let label = size_label(size);
        let mut out = Vec::with_capacity(size + 14);
        for (name, mask) in [("unmasked", None), ("masked", Some(MASK))] {
            out.clear();
            encode_frame(&mut out, true, 0, OpCode::BINARY, mask, &payload);
            g.throughput(Throughput::ElementsAndBytes {
                elements: 1,
                bytes: out.len() as u64,
            });
            g.bench_function(BenchmarkId::new(name, &label), |b| {
                b.iter(|| {
                    out.clear();
                    encode_frame(
                        &mut out,
                        true,
                        0,
                        OpCode::BINARY,
                        black_box(mask),
                        black_box(&payload),
                    );
                    black_box(out.len())
                })
            });
        }
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_decode");
    for size in SIZES {
        let count = frames_per_stream(size);
        let mut wire = binary_stream(size, count, Some(MASK));
        let label = size_label(size);
        g.throughput(Throughput::ElementsAndBytes {
            elements: count as u64,
            bytes: wire.len() as u64,
        });

        g.bench_function(BenchmarkId::new("decoder", &label), |b| {
            b.iter(|| {
                let mut d = FrameDecoder::new(RuleState::new(Role::Server));
                let (mut off, mut frames) = (0, 0usize);
                loop {
                    match d.decode(&mut wire[off..]) {
                        Ok((used, Some(item))) => {
                            off += used;
                            frames += usize::from(item == Item::End);
                        }
                        Ok((_, None)) => break,
                        Err(e) => panic!("bench stream rejected: {e}"),
                    }
                }
                assert_eq!(frames, count);
                frames
            })
        });

        // One connection for the whole run, as a server reading a client's messages.
        let mut conn = Connection::new(Config::new(Role::Server));
        g.bench_function(BenchmarkId::new("connection", &label), |b| {
            b.iter(|| {
                let mut messages = 0usize;
                conn.handle_input_all(&mut wire, Instant::now(), |_, ev| match ev {
                    Event::Message(m) => messages += black_box(m.data.len()).min(1),
                    other => panic!("unexpected event {other:?}"),
                });
                assert_eq!(messages, count);
                messages
            })
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = common::config(); targets = encode, decode }
criterion_main!(benches);
