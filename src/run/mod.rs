//! One run: a scenario, a seed and a backend in; a complete result folder out.
//!
//! A run writes into `<folder>.partial` and renames it into place only when every file
//! is written, so a folder that exists is a complete run: an interrupted batch can trust
//! it, and a half-written one is simply redone.

use crate::metrics::{Recorder, RunResult};
use crate::plot;
use crate::scenario::Scenario;
use crate::sim::{Ending, Outcome, Progress, Simulation};
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
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Io(path, e) => write!(f, "{}: {e}", path.display()),
            RunError::Plot(e) => write!(f, "plotting: {e}"),
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
) -> (Outcome, RunResult) {
    let started = Instant::now();
    let recorder = Recorder::new(scenario, seed, "sim");
    let (outcome, recorder) = Simulation::new(scenario, seed, recorder).run(progress);
    let result = recorder.finish(outcome.end, outcome.events, started.elapsed());
    (outcome, result)
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
    let (outcome, result) = simulate(&scenario, seed, progress);
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

/// Where a run writes before it is complete.
pub fn partial_path(folder: &Path) -> PathBuf {
    let mut name = folder.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    folder.with_file_name(name)
}

/// A sentence on how a run ended, for the terminal.
pub fn describe_ending(ending: Ending) -> &'static str {
    match ending {
        Ending::AllComplete => "every leecher completed or left",
        Ending::TimeLimit => "the scenario's stop time was reached",
        Ending::Stalled => "the swarm stalled (no data moved for an hour of simulated time)",
    }
}
