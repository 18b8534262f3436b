//! One run: a scenario, a seed and a backend in; a complete result folder out. The
//! folder is written by [`write_folder`] for both backends ([`run_to_folder`] simulates,
//! [`run_tcp_to_folder`] runs real sockets on loopback).
//!
//! A run writes into `<folder>.partial` and renames it into place only when every file
//! is written, so a folder that exists is a complete run: an interrupted batch can trust
//! it, and a half-written one is simply redone.

use crate::core::{Role, UnknownStrategy};
use crate::metrics::{Recorder, RunResult};
use crate::plot;
use crate::scenario::Scenario;
use crate::scenario::population::draw_population;
use crate::sim::{Outcome, Progress, Simulation};
use crate::tcp;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A run that could not be completed or written.
#[derive(Debug)]
pub enum RunError {
    /// Writing the result folder failed.
    Io(PathBuf, io::Error),
    /// Drawing the plots failed.
    Plot(String),
    /// The backend failed at run time (a tcp run could not set up its swarm).
    Backend(String),
    /// The scenario names a strategy its registry lacks (a scenario built in code).
    Strategy(UnknownStrategy),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Io(path, e) => write!(f, "{}: {e}", path.display()),
            RunError::Plot(e) => write!(f, "plotting: {e}"),
            RunError::Backend(e) => write!(f, "{e}"),
            RunError::Strategy(e) => write!(f, "{}: {e}", e.kind.key()),
        }
    }
}

impl std::error::Error for RunError {}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The recorded results (also written to the folder).
    pub result: RunResult,
    /// How the simulation ended.
    pub outcome: Outcome,
    /// The folder written.
    pub folder: PathBuf,
}

/// The scenario exactly as run: the seed set, the sweep removed. Its `to_toml` reproduces
/// the run.
pub fn resolved(scenario: &Scenario, seed: u64) -> Scenario {
    let mut s = scenario.clone();
    s.run.seed = seed;
    s.sweep = None;
    s
}

/// Simulates `scenario` with `seed` and returns the recorded results.
pub fn simulate(
    scenario: &Scenario,
    seed: u64,
    progress: impl FnMut(Progress),
) -> Result<(Outcome, RunResult), RunError> {
    let started = Instant::now();
    let recorder = Recorder::new(scenario, seed, "sim");
    let simulation = Simulation::new(scenario, seed, recorder).map_err(RunError::Strategy)?;
    let (outcome, recorder) = simulation.run(progress);
    let result = recorder.finish(outcome.end, outcome.events, started.elapsed());
    Ok((outcome, result))
}

/// Simulates and writes the result folder `folder` (replacing an older one).
pub fn run_to_folder(
    scenario: &Scenario,
    seed: u64,
    folder: &Path,
    plots: bool,
    progress: impl FnMut(Progress),
) -> Result<RunReport, RunError> {
    let scenario = resolved(scenario, seed);
    let (outcome, result) = simulate(&scenario, seed, progress)?;
    write_folder(&scenario, &result, folder, plots)?;
    Ok(RunReport {
        result,
        outcome,
        folder: folder.to_path_buf(),
    })
}

/// Writes a run's result folder (scenario.toml, the CSVs, the plots) through
/// `<folder>.partial`, replacing an older folder. Shared by both backends, so a sim run
/// and a tcp run write the same files. `scenario` should be [`resolved`].
pub fn write_folder(
    scenario: &Scenario,
    result: &RunResult,
    folder: &Path,
    plots: bool,
) -> Result<(), RunError> {
    let partial = partial_path(folder);
    let io_err = |p: &Path| {
        let p = p.to_path_buf();
        move |e| RunError::Io(p, e)
    };
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io_err(&partial))?;
    }
    std::fs::create_dir_all(&partial).map_err(io_err(&partial))?;
    std::fs::write(partial.join("scenario.toml"), scenario.to_toml()).map_err(io_err(&partial))?;
    result.write(&partial).map_err(io_err(&partial))?;
    if plots {
        plot::draw(&plot::RunData::from_result(result), &partial)
            .map_err(|e| RunError::Plot(e.to_string()))?;
    }
    if folder.exists() {
        std::fs::remove_dir_all(folder).map_err(io_err(folder))?;
    }
    std::fs::rename(&partial, folder).map_err(io_err(folder))?;
    Ok(())
}

/// Settings of a tcp run (`run --backend tcp`).
#[derive(Clone, Debug, Default)]
pub struct TcpOptions {
    /// Run this many times faster than scenario time; `None` picks one with
    /// [`auto_time_scale`].
    pub time_scale: Option<f64>,
    /// Keep the payload and the peers' downloads in this folder.
    pub keep_data: Option<PathBuf>,
    /// Show a progress line on stderr (only when it is a terminal).
    pub progress: bool,
}

/// The time scale a tcp run uses when none is given: fast enough that the simulated
/// makespan takes about [`tcp::swarm::TARGET_WALL_S`] of wall time, never slower than
/// real time, and slow enough that the swarm's aggregate upload capacity stays under
/// [`tcp::swarm::MAX_WALL_RATE`] bytes per wall-clock second. Simulating first is cheap
/// next to the tcp run (and a scenario the simulator cannot finish gets real time).
pub fn auto_time_scale(scenario: &Scenario, seed: u64) -> Result<f64, RunError> {
    // The simulated run's length, from time zero (joins included).
    let (outcome, _) = simulate(scenario, seed, |_| {})?;
    let span = outcome.end.as_secs_f64();
    let upload: f64 = draw_population(scenario, seed)
        .iter()
        .filter(|m| m.role != Role::FreeRider)
        .map(|m| m.upload.0 as f64 / 8.0)
        .sum();
    let fast = span / tcp::swarm::TARGET_WALL_S;
    let cap = if upload > 0.0 {
        tcp::swarm::MAX_WALL_RATE / upload
    } else {
        f64::INFINITY
    };
    Ok(fast.min(cap).max(1.0))
}

/// Runs `scenario` over real sockets on loopback and writes the same result folder as
/// the simulator (`backend = tcp` in its summary). The scenario should have passed
/// [`tcp::swarm::check`]; a run-time failure is [`RunError::Backend`].
pub fn run_tcp_to_folder(
    scenario: &Scenario,
    seed: u64,
    folder: &Path,
    plots: bool,
    opts: &TcpOptions,
) -> Result<(RunReport, f64), RunError> {
    let scenario = resolved(scenario, seed);
    let scale = match opts.time_scale {
        Some(scale) => scale,
        None => auto_time_scale(&scenario, seed)?,
    };
    let run = tcp::swarm::run_scenario(
        &scenario,
        seed,
        &tcp::swarm::SwarmOptions {
            time_scale: scale,
            keep_data: opts.keep_data.clone(),
            progress: opts.progress,
        },
    )
    .map_err(RunError::Backend)?;
    write_folder(&scenario, &run.result, folder, plots)?;
    let ending = run.ending;
    Ok((
        RunReport {
            result: run.result,
            outcome: Outcome {
                end: run.end,
                events: run.events,
                ending,
                work: Default::default(),
            },
            folder: folder.to_path_buf(),
        },
        scale,
    ))
}

/// Where a run writes before it is complete.
pub fn partial_path(folder: &Path) -> PathBuf {
    let mut name = folder.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    folder.with_file_name(name)
}
