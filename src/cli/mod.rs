//! The command line: parse arguments, call the library, map errors to exit statuses
//! (0 success, 1 failure at run time, 2 bad input). Errors are one line on stderr.

mod batch;
mod compare;
pub mod tcp;

use crate::core::Strategies;
use crate::metrics::bound::bound;
use crate::run::{self, RunReport};
use crate::scenario::population::draw_population;
use crate::scenario::{Scenario, ScenarioError, StrategyTable, SweepPoint};
use crate::sim::Progress;
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// swarmlab: a BitTorrent swarm laboratory.
#[derive(Debug, Parser)]
#[command(name = "swarmlab", version, about)]
struct Cli {
    /// Log what happens (connections and why they are dropped, announces, pieces) to
    /// stderr; `RUST_LOG` (e.g. `RUST_LOG=swarmlab=debug`) chooses finer.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate a scenario and write its result folder.
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Change a field of the scenario for this run, as a sweep would
        /// (`--set file.block_size="16 KiB"`); repeatable. The result folder's
        /// scenario.toml records the changed scenario.
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
        /// Result folder (default results/<scenario>/seed-<seed>, or
        /// results/<scenario>/<settings>/seed-<seed> with --set).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Backend: sim (the simulator) or tcp (real sockets on loopback).
        #[arg(long, default_value = "sim")]
        backend: String,
        /// Skip drawing plots.
        #[arg(long)]
        no_plots: bool,
        /// tcp only: run X times faster than scenario time (capacities ×X, durations
        /// ÷X; results in scenario time). Default: chosen so the run takes about 30 s.
        #[arg(long, value_name = "X")]
        time_scale: Option<f64>,
        /// tcp only: every peer writes real files into DIR, which is kept (the payload in
        /// DIR/payload.bin, leecher i's download in DIR/peer-<i>/payload.bin). Without it
        /// no peer keeps a copy: blocks are made from the run seed when sent, and a
        /// received piece is SHA-1 checked, then only marked held.
        #[arg(long, value_name = "DIR")]
        keep_data: Option<PathBuf>,
    },
    /// Validate scenario files without running them.
    Check {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Print the analytical lower bound on the download time, explained.
    Bound {
        /// The scenario file.
        scenario: PathBuf,
        /// Draw capacities with this seed instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Run scenario files, their sweeps and replicates, and write an index.csv.
    Batch(batch::BatchArgs),
    /// Merge shard folders of a batch into one.
    Merge(batch::MergeArgs),
    /// Redraw the plots of a run folder from its CSVs.
    Plot {
        /// The run folder.
        run_dir: PathBuf,
        /// Where to write the figures (default: the run folder).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compare choking (and piece-selection) strategies over replicates.
    Compare(compare::CompareArgs),
    /// Make or inspect .torrent files.
    #[command(subcommand)]
    Torrent(tcp::TorrentCommand),
    /// Run an HTTP tracker.
    Tracker(tcp::TrackerArgs),
    /// Seed a torrent from local data.
    Seed(tcp::SeedArgs),
    /// Download a torrent.
    Get(tcp::GetArgs),
}

/// Runs the command line with the built-in strategies and returns the process exit
/// status.
pub fn main() -> i32 {
    main_with(Strategies::builtin())
}

/// Runs the command line with `strategies` — the built-in ones plus a user's own — and
/// returns the process exit status. A crate with strategies of its own makes its binary
/// with this (see `examples/custom_choker.rs`): scenario files, `run` (either backend)
/// and `compare --choker` then accept its names.
pub fn main_with(strategies: Strategies) -> i32 {
    let strategies = StrategyTable::new(std::sync::Arc::new(strategies));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    init_logging(cli.verbose);
    // A seed or a swarm holds a descriptor per connection; the usual soft limit (1024)
    // is far below what the hard limit allows.
    crate::tcp::swarm::raise_open_files_limit();
    match cli.command {
        Command::Run {
            scenario,
            seed,
            set,
            out,
            backend,
            no_plots,
            time_scale,
            keep_data,
        } => {
            let run = RunArgs {
                seed,
                settings: set,
                out,
                backend,
                plots: !no_plots,
                time_scale,
                keep_data,
            };
            cmd_run(&scenario, run, &strategies)
        }
        Command::Check { scenarios } => cmd_check(&scenarios, &strategies),
        Command::Bound { scenario, seed } => cmd_bound(&scenario, seed, &strategies),
        Command::Plot { run_dir, out } => cmd_plot(&run_dir, out),
        Command::Batch(args) => batch::batch(args, &strategies),
        Command::Merge(args) => batch::merge(args),
        Command::Compare(args) => compare::compare(args, &strategies),
        Command::Torrent(cmd) => tcp::torrent(cmd),
        Command::Tracker(args) => tcp::tracker(args),
        Command::Seed(args) => tcp::seed(args),
        Command::Get(args) => tcp::get(args),
    }
}

/// Logging to stderr through `tracing`: `RUST_LOG` if set; else swarmlab's debug
/// messages with `--verbose` (or `SWARMLAB_VERBOSE` set and not "0"); else warnings only.
fn init_logging(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let env_verbose = std::env::var("SWARMLAB_VERBOSE").is_ok_and(|v| v != "0");
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ if verbose || env_verbose => EnvFilter::new("swarmlab=debug"),
        _ => EnvFilter::new("warn"),
    };
    // A second call (a test running two commands in one process) keeps the first.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .try_init();
}

fn load(path: &Path, strategies: &StrategyTable) -> Result<Scenario, i32> {
    Scenario::from_file_with(path, strategies).map_err(|e: ScenarioError| {
        eprintln!("{e}");
        2
    })
}

/// `--set FIELD=VALUE` settings as a sweep point, or exit status 2 after saying which
/// one is not of that form.
fn settings_point(command: &str, settings: &[String]) -> Result<SweepPoint, i32> {
    let mut pairs = Vec::new();
    for setting in settings {
        let Some((field, value)) = setting.split_once('=') else {
            eprintln!("swarmlab {command}: --set {setting}: expected FIELD=VALUE");
            return Err(2);
        };
        pairs.push((field.trim(), value.trim()));
    }
    Ok(SweepPoint::new(pairs))
}

/// The scenario with the `--set FIELD=VALUE` changes applied, or exit status 2 after
/// saying which one is wrong.
fn with_settings(command: &str, scenario: Scenario, settings: &[String]) -> Result<Scenario, i32> {
    with_point(scenario, &settings_point(command, settings)?)
}

/// The scenario with `point` applied, or exit status 2 after saying which field is
/// wrong (the scenario's own checks name it).
fn with_point(scenario: Scenario, point: &SweepPoint) -> Result<Scenario, i32> {
    if point.values.is_empty() {
        return Ok(scenario);
    }
    scenario.with_overrides(point).map_err(|e| {
        eprintln!("{e}");
        2
    })
}

/// A progress line on stderr (only on a terminal, so logs stay clean).
fn progress_line() -> impl FnMut(Progress) {
    let tty = std::io::stderr().is_terminal();
    move |p: Progress| {
        if tty {
            eprint!(
                "\r  t = {:>9.1} s   {:>6}/{} leechers done   {:>12} events",
                p.now.as_secs_f64(),
                p.done,
                p.leechers,
                p.events
            );
            let _ = std::io::stderr().flush();
        }
    }
}

/// The options of `swarmlab run`.
struct RunArgs {
    seed: Option<u64>,
    settings: Vec<String>,
    out: Option<PathBuf>,
    backend: String,
    plots: bool,
    time_scale: Option<f64>,
    keep_data: Option<PathBuf>,
}

fn cmd_run(path: &Path, args: RunArgs, strategies: &StrategyTable) -> i32 {
    let RunArgs {
        seed,
        settings,
        out,
        backend,
        plots,
        time_scale,
        keep_data,
    } = args;
    let backend = backend.as_str();
    let point = match settings_point("run", &settings) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let scenario = match load(path, strategies).and_then(|s| with_point(s, &point)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if backend != "sim" && backend != "tcp" {
        eprintln!(
            "{}: --backend {backend}: not a backend (sim or tcp)",
            path.display()
        );
        return 2;
    }
    if keep_data.is_some() && backend != "tcp" {
        eprintln!("--keep-data applies to --backend tcp only");
        return 2;
    }
    if let Some(x) = time_scale {
        if backend != "tcp" {
            eprintln!("--time-scale applies to --backend tcp only");
            return 2;
        }
        if !(x.is_finite() && x >= 1e-3) {
            eprintln!("--time-scale {x}: must be a number of at least 0.001");
            return 2;
        }
    }
    if scenario.sweep.is_some() {
        eprintln!(
            "{}: has a [sweep]; run its grid with `swarmlab batch {}`",
            path.display(),
            path.display()
        );
        return 2;
    }
    let keeping = if keep_data.is_some() {
        crate::tcp::swarm::Keeping::Files
    } else {
        crate::tcp::swarm::Keeping::Nothing
    };
    if backend == "tcp"
        && let Err(e) = crate::tcp::swarm::check(&scenario, keeping)
    {
        eprintln!("{}: {e}", path.display());
        return 2;
    }
    let seed = seed.unwrap_or(scenario.run.seed);
    let folder = out.unwrap_or_else(|| {
        // A changed scenario gets its own folder, so it never overwrites the plain run's.
        let mut folder = PathBuf::from("results").join(&scenario.name);
        if !point.values.is_empty() {
            folder.push(crate::batch::slug(&point));
        }
        folder.join(format!("seed-{seed}"))
    });
    eprintln!(
        "running {} (seed {seed}, {} peers) -> {}",
        scenario.name,
        scenario.peer_count(),
        folder.display()
    );
    if backend == "tcp" {
        return cmd_run_tcp(&scenario, seed, &folder, plots, time_scale, keep_data);
    }
    let mut progress = progress_line();
    let report = run::run_to_folder(&scenario, seed, &folder, plots, &mut progress);
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    match report {
        Ok(report) => {
            print_summary(&report);
            0
        }
        Err(e) => {
            eprintln!("swarmlab: {e}");
            1
        }
    }
}

/// `run --backend tcp` (the scenario passed `tcp::swarm::check`): pick the time scale,
/// run, print the summary.
fn cmd_run_tcp(
    scenario: &Scenario,
    seed: u64,
    folder: &Path,
    plots: bool,
    time_scale: Option<f64>,
    keep_data: Option<PathBuf>,
) -> i32 {
    let scale = match time_scale.map_or_else(|| run::auto_time_scale(scenario, seed), Ok) {
        Ok(scale) => scale,
        Err(e) => {
            eprintln!("swarmlab: {e}");
            return 1;
        }
    };
    eprintln!(
        "  over tcp on 127.0.0.1, {scale:.3} times faster than scenario time{} (results in scenario seconds)",
        if time_scale.is_none() {
            " (chosen; set with --time-scale)"
        } else {
            ""
        }
    );
    let opts = run::TcpOptions {
        time_scale: Some(scale),
        keep_data,
        progress: true,
    };
    match run::run_tcp_to_folder(scenario, seed, folder, plots, &opts) {
        Ok((report, _)) => {
            print_summary(&report);
            0
        }
        Err(e) => {
            eprintln!("swarmlab: {e}");
            1
        }
    }
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |s| format!("{s:.1} s"))
}

fn print_summary(report: &RunReport) {
    let s = &report.result.summary;
    let t = &report.result.timing;
    println!("{}: {}", s.scenario, report.outcome.ending.describe());
    println!("  completed        {} leechers", s.completed);
    println!(
        "  makespan         {}",
        secs(s.makespan.map(|d| d.as_secs_f64()))
    );
    println!(
        "  download time    mean {}   median {}   p95 {}",
        secs(s.mean_download_s),
        secs(s.median_download_s),
        secs(s.p95_download.map(|d| d.as_secs_f64()))
    );
    println!("  lower bound      {:.1} s", s.bound_s);
    println!(
        "  efficiency       {}",
        s.efficiency.map_or("-".to_string(), |e| format!("{e:.3}"))
    );
    println!(
        "  events           {}   wall {:.2} s   {:.0} events/s",
        s.events,
        t.wall.as_secs_f64(),
        t.events_per_sec()
    );
    println!("  results          {}", report.folder.display());
}

fn cmd_check(paths: &[PathBuf], strategies: &StrategyTable) -> i32 {
    let mut status = 0;
    for path in paths {
        match Scenario::from_file_with(path, strategies) {
            Ok(s) => println!(
                "{}: ok ({} groups, {} peers{})",
                path.display(),
                s.groups.len(),
                s.peer_count(),
                if s.sweep.is_some() {
                    format!(", sweep of {} points", s.sweep_points().len())
                } else {
                    String::new()
                }
            ),
            Err(e) => {
                eprintln!("{e}");
                status = 2;
            }
        }
    }
    status
}

fn cmd_bound(path: &Path, seed: Option<u64>, strategies: &StrategyTable) -> i32 {
    let scenario = match load(path, strategies) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = seed.unwrap_or(scenario.run.seed);
    let peers: Vec<_> = draw_population(&scenario, seed)
        .iter()
        .map(|m| (m.role, m.upload, m.download))
        .collect();
    let b = bound(scenario.file.size, &peers);
    println!("{} (capacities as drawn with seed {seed})", scenario.name);
    println!("{}", b.explain());
    0
}

fn cmd_plot(run_dir: &Path, out: Option<PathBuf>) -> i32 {
    let out = out.unwrap_or_else(|| run_dir.to_path_buf());
    match crate::plot::draw_run(run_dir, &out) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            0
        }
        Err(e) => {
            eprintln!("swarmlab: {e}");
            2
        }
    }
}
