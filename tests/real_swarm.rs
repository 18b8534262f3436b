//! The simulator against a swarm of real libtorrent peers: the homogeneous swarms of
//! `benches/real_swarm/` (one seed, 16 upload-bound leechers, 8 MiB), with peers staying
//! and with peers leaving on completion, simulated and played [`RUNS`] times by real
//! python3-libtorrent peers on loopback (see `benches/real_swarm/harness.rs`). Each
//! leecher group's simulated mean download time must be within [`AGREEMENT`] of the mean
//! over the real runs. The real runs of a swarm are played at once (each with its own
//! tracker and sessions; a swarm uses about a tenth of a core), so the test takes about
//! one real run's time, under a minute.
//!
//! The fast/thin swarms of the bench (`mixed-*.toml`) are not asserted here: the
//! simulator's fast group finishes far sooner than libtorrent's (see the bench).
//!
//! Run in release: `cargo test --release --test real_swarm -- --nocapture` (prints the
//! figures). Needs (Debian): `apt-get install -y python3-libtorrent`; a missing module
//! fails the test with that instruction.

#[allow(dead_code)]
#[path = "../benches/real_swarm/harness.rs"]
mod harness;

use harness::{Figures, RealRun};
use std::path::Path;
use swarmlab::core::Role;
use swarmlab::scenario::Scenario;

/// Real runs per swarm (they vary by several per cent).
const RUNS: usize = 3;

/// Largest relative difference allowed between the simulated and the real group means.
const AGREEMENT: f64 = 0.15;

/// Plays `scenario` [`RUNS`] times at once in a temporary folder.
fn real_runs(scenario: &Scenario) -> Vec<RealRun> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let seed = scenario.run.seed;
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..RUNS)
            .map(|k| {
                let run_dir = dir.path().join(format!("run-{k}"));
                s.spawn(move || harness::run_real(scenario, seed, &run_dir, false))
            })
            .collect();
        runs.into_iter()
            .enumerate()
            .map(|(k, r)| {
                r.join()
                    .expect("a real run's thread")
                    .unwrap_or_else(|e| panic!("{} real run {k}: {e}", scenario.name))
            })
            .collect()
    })
}

/// The mean of one group's mean download time over the real runs.
fn real_mean(runs: &[RealRun], group: usize) -> f64 {
    let means: Vec<f64> = runs
        .iter()
        .map(|r| r.figures.group_means[group].expect("every leecher completed"))
        .collect();
    means.iter().sum::<f64>() / means.len() as f64
}

/// Simulates and plays the bench's swarm `file`; asserts every leecher group agrees.
fn assert_sim_agrees_with_libtorrent(file: &str) {
    harness::libtorrent_version().unwrap_or_else(|e| panic!("{e}"));
    let path = Path::new(harness::HERE).join(file);
    let scenario = harness::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let sim: Figures = harness::simulated(&scenario, scenario.run.seed);
    let runs = real_runs(&scenario);
    let mut failures = Vec::new();
    for (gi, g) in scenario.groups.iter().enumerate() {
        if g.role == Role::Seed {
            continue;
        }
        let sim_mean = sim.group_means[gi].expect("every simulated leecher completed");
        let real = real_mean(&runs, gi);
        let each: Vec<String> = runs
            .iter()
            .map(|r| format!("{:.2}", r.figures.group_means[gi].unwrap_or(f64::NAN)))
            .collect();
        let diff = (sim_mean - real) / real;
        println!(
            "{} {}: sim {sim_mean:.2} s, real {real:.2} s (runs {}), {:+.1} %",
            scenario.name,
            g.name,
            each.join(" "),
            diff * 100.0
        );
        if diff.abs() > AGREEMENT {
            failures.push(format!(
                "{}: sim {sim_mean:.2} s against real {real:.2} s ({:+.1} %)",
                g.name,
                diff * 100.0
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}: the simulation is more than {} % off the real swarm:\n{}",
        scenario.name,
        AGREEMENT * 100.0,
        failures.join("\n")
    );
}

#[test]
fn homogeneous_swarm_with_peers_staying_agrees_with_libtorrent() {
    assert_sim_agrees_with_libtorrent("homogeneous.toml");
}

#[test]
fn homogeneous_swarm_with_peers_leaving_agrees_with_libtorrent() {
    assert_sim_agrees_with_libtorrent("homogeneous-leave.toml");
}
