//! Simulator against a real swarm: each scenario of `benches/real_swarm/` is simulated
//! and played by real python3-libtorrent peers on loopback (several runs, as real runs
//! vary), and the bench prints, per group, the simulated mean download time, each real
//! run's mean, their mean and the difference, then the makespans. See
//! `benches/real_swarm/harness.rs` for how a real run is set up and checked, and
//! `benches/real_swarm/libtorrent_swarm.py` for the libtorrent settings and why.
//!
//! Run: `cargo bench --bench real_swarm [-- NAME...]` (NAME: part of a scenario's file
//! name, to run only those). `REAL_SWARM_RUNS` sets the real runs per scenario (default
//! 3); `REAL_SWARM_KEEP=1` keeps the run folders (spec.json, the driver's report and
//! log); `REAL_SWARM_TRACE=1` keeps them with a `trace.jsonl` of every connection (who
//! chokes whom, rates, every 2 s), which `benches/real_swarm/trace_summary.py RUN_DIR`
//! sums up by group, and writes the simulated run's trace in the same form beside them
//! (`SCENARIO/sim`, see `real_swarm/sim_trace.rs`). The simulated figures come from the simulator at run time with the
//! scenario's seed; for scale, the bench also prints the simulated means over
//! [`SIM_REPLICATES`] replicate seeds (which redraw the join times).
//!
//! Needs (Debian): `apt-get install -y python3-libtorrent`; a missing module fails the
//! bench with that instruction.

#[path = "real_swarm/harness.rs"]
mod harness;
#[path = "real_swarm/sim_trace.rs"]
mod sim_trace;

use harness::{Figures, RealRun};
use std::path::{Path, PathBuf};
use std::time::Instant;
use swarmlab::core::Role;
use swarmlab::scenario::{Scenario, replicate_seed};

/// Real runs per scenario when `REAL_SWARM_RUNS` is not set.
const DEFAULT_RUNS: usize = 3;

/// Replicate seeds of the simulation printed for scale.
const SIM_REPLICATES: u32 = 8;

/// What to run.
struct Options {
    runs: usize,
    filters: Vec<String>,
    keep: bool,
    trace: bool,
}

/// Options from the environment and the arguments (cargo bench passes `--bench`).
fn options() -> Result<Options, String> {
    let runs = match std::env::var("REAL_SWARM_RUNS") {
        Err(_) => DEFAULT_RUNS,
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(format!(
                    "REAL_SWARM_RUNS must be a positive count, not {v:?}"
                ));
            }
        },
    };
    let filters = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let keep = std::env::var_os("REAL_SWARM_KEEP").is_some();
    let trace = std::env::var_os("REAL_SWARM_TRACE").is_some();
    Ok(Options {
        runs,
        filters,
        keep: keep || trace,
        trace,
    })
}

/// The scenario files whose names contain one of the filters (all without filters).
fn selected(filters: &[String]) -> Result<Vec<PathBuf>, String> {
    let files: Vec<PathBuf> = harness::scenario_files()?
        .into_iter()
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
        })
        .collect();
    if files.is_empty() {
        return Err(format!(
            "no scenario in {} matches {filters:?}",
            harness::HERE
        ));
    }
    Ok(files)
}

/// A mean in seconds, or a dash.
fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |s| format!("{s:.2}"))
}

/// (sim − real) / real in percent, or a dash.
fn difference(sim: Option<f64>, real: Option<f64>) -> String {
    match (sim, real) {
        (Some(s), Some(r)) if r > 0.0 => format!("{:+.1} %", (s - r) / r * 100.0),
        _ => "-".into(),
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The mean over runs of one figure (runs lacking it are left out).
fn mean_of(runs: &[Figures], figure: impl Fn(&Figures) -> Option<f64>) -> Option<f64> {
    mean(&runs.iter().filter_map(figure).collect::<Vec<_>>())
}

/// The simulated figures over [`SIM_REPLICATES`] replicate seeds, for scale.
fn sim_spread(scenario: &Scenario, seed: u64) -> Vec<Figures> {
    (0..SIM_REPLICATES)
        .map(|k| harness::simulated(scenario, replicate_seed(seed, k)))
        .collect()
}

/// The mean of a figure over runs, with its smallest and largest value.
fn spread(runs: &[Figures], figure: impl Fn(&Figures) -> Option<f64>) -> String {
    let values: Vec<f64> = runs.iter().filter_map(figure).collect();
    match mean(&values) {
        None => "-".into(),
        Some(m) => {
            let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            format!("{m:.2} ({lo:.2}–{hi:.2})")
        }
    }
}

/// Says so when the simulation left leechers incomplete (their group's mean is then
/// over the others only).
fn warn_incomplete(scenario: &Scenario, sim: &Figures) {
    for (g, &done) in scenario.groups.iter().zip(&sim.completed) {
        if g.role != Role::Seed && done < g.count as usize {
            println!(
                "  note: in the simulation only {done} of {} {} completed",
                g.count, g.name
            );
        }
    }
}

/// Prints one scenario's table: a row per leecher group, then the makespan.
fn print_table(scenario: &Scenario, sim: &Figures, replicates: &[Figures], real: &[RealRun]) {
    let real_figures: Vec<Figures> = real.iter().map(|r| r.figures.clone()).collect();
    println!(
        "  {:<10} {:>9} {:>26}   {:<28} {:>9} {:>9}",
        "group",
        "sim (s)",
        format!("sim, {SIM_REPLICATES} seeds: mean (range)"),
        "real runs (s)",
        "real (s)",
        "sim−real"
    );
    let row = |name: &str, figure: &dyn Fn(&Figures) -> Option<f64>| {
        let runs: Vec<String> = real_figures.iter().map(|f| secs(figure(f))).collect();
        let real_mean = mean_of(&real_figures, figure);
        println!(
            "  {:<10} {:>9} {:>26}   {:<28} {:>9} {:>9}",
            name,
            secs(figure(sim)),
            spread(replicates, figure),
            runs.join(" "),
            secs(real_mean),
            difference(figure(sim), real_mean)
        );
    };
    for (gi, g) in scenario.groups.iter().enumerate() {
        if g.role == Role::Seed {
            continue;
        }
        row(&g.name, &|f: &Figures| f.group_means[gi]);
    }
    row("makespan", &|f: &Figures| f.makespan);
    let limits: Vec<String> = scenario
        .groups
        .iter()
        .enumerate()
        .map(|(gi, g)| {
            let worst = |f: fn(&harness::LimitUse) -> f64| {
                real.iter().map(|r| f(&r.limit_use[gi])).fold(0.0, f64::max)
            };
            format!(
                "{} up {:.2} down {:.2} lead {:.1} s",
                g.name,
                worst(|u| u.peak_up),
                worst(|u| u.peak_down),
                worst(|u| u.lead_s)
            )
        })
        .collect();
    println!(
        "  limits (all runs; peak payload rate / limit over {} s, lead over the limit, allowed {} s): {}",
        harness::PEAK_WINDOW_S,
        harness::BURST_ALLOWANCE_S,
        limits.join("; ")
    );
}

/// Simulates and plays one scenario; prints its table. Fails on the first bad run.
fn compare(path: &Path, opts: &Options, dir: &Path) -> Result<(), String> {
    let scenario = harness::load(path)?;
    harness::check_playable(&scenario).map_err(|e| format!("{}: {e}", path.display()))?;
    let seed = scenario.run.seed;
    let started = Instant::now();
    let sim = harness::simulated(&scenario, seed);
    let sim_wall = started.elapsed().as_secs_f64();
    let replicates = sim_spread(&scenario, seed);
    warn_incomplete(&scenario, &sim);
    println!(
        "\n== {} ({}): {} peers, seed {seed}; sim {sim_wall:.2} s wall",
        scenario.name,
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default(),
        scenario.peer_count()
    );
    println!("   {}", scenario.description);
    if opts.trace {
        let sim_dir = dir.join(&scenario.name).join("sim");
        sim_trace::write(&scenario, seed, &sim_dir)
            .map_err(|e| format!("{} simulated trace: {e}", scenario.name))?;
    }
    let mut real = Vec::with_capacity(opts.runs);
    for k in 0..opts.runs {
        let run_dir = dir.join(&scenario.name).join(format!("run-{k}"));
        let started = Instant::now();
        let run = harness::run_real(&scenario, seed, &run_dir, opts.trace)
            .map_err(|e| format!("{} real run {k}: {e}", scenario.name))?;
        println!(
            "  real run {k}: swarm {:.1} s, {:.1} s wall in all (libtorrent {})",
            run.report.wall_s,
            started.elapsed().as_secs_f64(),
            run.report.libtorrent_version
        );
        real.push(run);
    }
    print_table(&scenario, &sim, &replicates, &real);
    Ok(())
}

fn main() {
    let opts = options().unwrap_or_else(|e| {
        eprintln!("real_swarm bench: {e}");
        std::process::exit(2);
    });
    let files = selected(&opts.filters).unwrap_or_else(|e| {
        eprintln!("real_swarm bench: {e}");
        std::process::exit(2);
    });
    let version = harness::libtorrent_version().unwrap_or_else(|e| {
        eprintln!("real_swarm bench: {e}");
        std::process::exit(2);
    });
    println!(
        "real_swarm: libtorrent {version}, {} real run(s) per scenario; sim−real is (sim − mean of real) / mean of real",
        opts.runs
    );
    let dir = tempfile::tempdir().expect("create a temporary folder");
    let mut failed = false;
    for path in &files {
        if let Err(e) = compare(path, &opts, dir.path()) {
            println!("FAILED: {e}");
            failed = true;
        }
    }
    if opts.keep {
        println!("keeping the run folders in {}", dir.path().display());
        let _ = dir.keep();
    }
    if failed {
        std::process::exit(1);
    }
}
