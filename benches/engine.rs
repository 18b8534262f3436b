//! Engine throughput: simulated events per second on small flash crowds, in both block
//! modes. Criterion reports "elements/s" = events per second; the 16 KiB-block run is the
//! fidelity mode, the chunk run the fast mode.
//!
//! `cargo bench --bench engine`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use swarmlab::scenario::Scenario;
use swarmlab::sim::Simulation;

/// An observer that keeps nothing, so the bench measures the engine alone.
struct Nothing;

impl swarmlab::metrics::Observer for Nothing {
    fn peer_joined(&mut self, _: swarmlab::units::SimTime, _: &swarmlab::metrics::PeerInfo) {}
    fn piece_verified(&mut self, _: swarmlab::units::SimTime, _: u32, _: u32) {}
    fn peer_completed(&mut self, _: swarmlab::units::SimTime, _: u32) {}
    fn peer_left(
        &mut self,
        _: swarmlab::units::SimTime,
        _: u32,
        _: &[u32],
        _: swarmlab::metrics::LeaveReason,
    ) {
    }
    fn flow(
        &mut self,
        _: u32,
        _: u32,
        _: swarmlab::units::SimTime,
        _: swarmlab::units::SimTime,
        _: swarmlab::units::Rate,
    ) {
    }
    fn block_delivered(
        &mut self,
        _: swarmlab::units::SimTime,
        _: u32,
        _: u32,
        _: swarmlab::units::Bytes,
    ) {
    }
}

fn crowd(block: &str, size: &str, leechers: u32) -> Scenario {
    let text = format!(
        r#"
        [file]
        size = "{size}"
        block_size = "{block}"
        [[group]]
        name = "seeds"
        count = 1
        role = "seed"
        upload = "10 Mbit/s"
        download = "100 Mbit/s"
        latency = "20 ms"
        [[group]]
        name = "leechers"
        count = {leechers}
        upload = "2 Mbit/s"
        download = "20 Mbit/s"
        latency = "50 ms"
        join = {{ uniform = ["0 s", "10 s"] }}
        linger = "forever"
        "#
    );
    Scenario::from_str_named(&text, "bench.toml").expect("bench scenario parses")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    for (name, s) in [
        ("blocks-16KiB-100x16MiB", crowd("16 KiB", "16 MiB", 100)),
        ("chunks-200x64MiB", crowd("chunk", "64 MiB", 200)),
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
