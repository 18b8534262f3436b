//! Engine throughput: simulated events per second on small flash crowds, in both block
//! modes. Criterion reports "elements/s" = events per second; the 16 KiB-block run is the
//! fidelity mode, the chunk run the fast mode.
//!
//! `cargo bench --bench engine`

mod common;

use common::{Nothing, crowd};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use swarmlab::sim::Simulation;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    for (name, s) in [
        (
            "blocks-16KiB-100x16MiB",
            crowd("16 KiB", "16 MiB", 100, "10 s", "all-complete"),
        ),
        (
            "chunks-200x64MiB",
            crowd("chunk", "64 MiB", 200, "10 s", "all-complete"),
        ),
    ] {
        let (events, _) = {
            let (outcome, _) = Simulation::new(&s, 1, Nothing)
                .expect("built-in strategies")
                .run(|_| {});
            (outcome.events, ())
        };
        group.throughput(Throughput::Elements(events));
        group.bench_function(name, |b| {
            b.iter(|| {
                Simulation::new(&s, 1, Nothing)
                    .expect("built-in strategies")
                    .run(|_| {})
                    .0
                    .events
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Plots need fonts that a bare machine may lack (criterion then panics); the numbers
    // are what matter here.
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
