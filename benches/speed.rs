//! Engine speed on the swarms issue 15 sets targets for, each simulated once (they are too
//! long for criterion's repetitions): events, wall and CPU time, events per CPU second,
//! and the work no model can skip — HAVEs that reach a neighbour lacking the piece (chunk
//! completions × neighbours that must learn of them) and flow rate changes — with the
//! nanoseconds of CPU time per unit of it. CPU time, because on a shared machine wall time
//! measures the neighbours too.
//!
//! `cargo bench --bench speed` runs every case; `SPEED_CASE=name` runs one (so that
//! `/usr/bin/time -v` measures one case's memory):
//!
//! * `blocks-129`: 16 KiB blocks, 1 seed + 128 leechers, 128 MiB (target ≥ 3 M events/s);
//! * `blocks-10k`: 16 KiB blocks, 1 seed + 10,000 leechers, 128 MiB, the first 60 s of
//!   simulated time (target ≥ 1 M events/s);
//! * `chunks-200`: fast mode, 1 seed + 200 leechers, 64 MiB (the engine bench's fast case:
//!   the cost per unit of work where everything fits the caches);
//! * `simgrid`: SimGrid's BitTorrent example at 1,000 peers — 1 seed + 1,000 leechers,
//!   10 pieces × 5 blocks of 16 KiB, all at t = 0, 1 Gbit/s links, 600 µs between peers
//!   (the example's `cluster_backbone.xml`: 50 µs + 500 µs backbone + 50 µs).

mod common;

use common::{Nothing, cpu_s, crowd, peak_rss_mib, simgrid_swarm};
use std::time::Instant;
use swarmlab::scenario::Scenario;
use swarmlab::sim::Simulation;

fn main() {
    let only = std::env::var("SPEED_CASE").ok();
    /// A case: its name and the swarm it simulates.
    type Case = (&'static str, fn() -> Scenario);
    let cases: [Case; 4] = [
        ("blocks-129", || {
            crowd("16 KiB", "128 MiB", 128, "10 s", "all-complete")
        }),
        ("blocks-10k", || {
            crowd("16 KiB", "128 MiB", 10_000, "10 s", "60 s")
        }),
        ("chunks-200", || {
            crowd("chunk", "64 MiB", 200, "10 s", "all-complete")
        }),
        ("simgrid", || simgrid_swarm(1000)),
    ];
    println!(
        "{:<12} {:>10} {:>8} {:>8} {:>10} {:>10} {:>9} {:>9} {:>9}",
        "case",
        "events",
        "wall_s",
        "cpu_s",
        "Mev/cpu_s",
        "haves",
        "rate_chg",
        "ns/unit",
        "peak_MiB"
    );
    for (name, make) in &cases {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let scenario = make();
        let (cpu0, started) = (cpu_s(false), Instant::now());
        let (outcome, _) = Simulation::new(&scenario, scenario.run.seed, Nothing)
            .expect("built-in strategies")
            .run(|_| {});
        let (wall, cpu) = (started.elapsed().as_secs_f64(), cpu_s(false) - cpu0);
        let work = outcome.work;
        let units = work.haves_delivered + work.rate_changes;
        println!(
            "{:<12} {:>10} {:>8.2} {:>8.2} {:>10.2} {:>10} {:>9} {:>9.0} {:>9.0}",
            name,
            outcome.events,
            wall,
            cpu,
            outcome.events as f64 / cpu.max(0.01) / 1e6,
            work.haves_delivered,
            work.rate_changes,
            cpu * 1e9 / units.max(1) as f64,
            peak_rss_mib().unwrap_or(f64::NAN),
        );
    }
}
