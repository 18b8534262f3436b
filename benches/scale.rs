//! The scale run: a 10,000-peer flash crowd on a 1 GiB file in 4096 chunks, one block per
//! chunk (benches/scenarios/flash-crowd-10k.toml), simulated once with the full recorder
//! and then plotted. Prints wall time, events per second, peak resident memory, and the
//! plotting time relative to the simulation.
//!
//! `cargo bench --bench scale` (several minutes; `SCALE_PEERS=2000` for a smaller run)

mod common;

use common::peak_rss_mib;
use std::time::Instant;
use swarmlab::scenario::Scenario;

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/scenarios/flash-crowd-10k.toml"
    );
    let mut scenario = match Scenario::from_file(std::path::Path::new(path)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Some(n) = std::env::var("SCALE_PEERS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        scenario.groups[1].count = n;
    }
    let started = Instant::now();
    let (outcome, result) = swarmlab::run::simulate(&scenario, scenario.run.seed, |p| {
        eprint!(
            "\r  t = {:>8.0} s  {:>6}/{} done  {:>11} events",
            p.now.as_secs_f64(),
            p.done,
            p.leechers,
            p.events
        );
    })
    .expect("the scenario's strategies are built in");
    let sim = started.elapsed().as_secs_f64();
    eprintln!();
    let rss = peak_rss_mib().unwrap_or(f64::NAN);
    let dir = tempfile::tempdir().expect("temporary folder");
    let plot_start = Instant::now();
    swarmlab::plot::draw(&swarmlab::plot::RunData::from_result(&result), dir.path())
        .expect("plots draw");
    let plot = plot_start.elapsed().as_secs_f64();
    let s = &result.summary;
    println!("peers            {}", s.peers);
    println!("completed        {} ({:?})", s.completed, outcome.ending);
    println!(
        "makespan         {:.1} s (bound {:.1} s, efficiency {:.3})",
        s.makespan.map_or(f64::NAN, |d| d.as_secs_f64()),
        s.bound_s,
        s.efficiency.unwrap_or(f64::NAN)
    );
    println!("events           {}", outcome.events);
    println!(
        "simulation wall  {sim:.1} s ({:.0} events/s)",
        outcome.events as f64 / sim
    );
    println!("peak RSS         {rss:.0} MiB");
    println!(
        "plotting         {plot:.2} s ({:.1}% of the simulation)",
        100.0 * plot / sim
    );
}
