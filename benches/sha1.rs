//! SHA-1 throughput on one core, hashing 256 KiB pieces — the cost of verifying a piece
//! in the tcp backend (`swarmlab::tcp::storage::sha1`).
//!
//! Run: `cargo bench --bench sha1 -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const PIECE: usize = 256 * 1024;

fn bench_sha1(c: &mut Criterion) {
    // Non-constant bytes so nothing about the input is special.
    let piece: Vec<u8> = (0..PIECE).map(|i| (i * 31 % 251) as u8).collect();
    let mut group = c.benchmark_group("sha1");
    group.throughput(Throughput::Bytes(PIECE as u64));
    group.bench_function("256KiB_piece", |b| {
        b.iter(|| swarmlab::tcp::storage::sha1(black_box(&piece)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Plots need fonts that a bare machine may lack (criterion then panics); the numbers
    // are what matter here.
    config = Criterion::default().without_plots();
    targets = bench_sha1
}
criterion_main!(benches);
