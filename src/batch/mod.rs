//! Batches: many runs of many scenarios, spread over cores and, through shards, over
//! machines, summarised in one `index.csv`.
//!
//! A batch is planned ([`Plan`]) from scenario files into a deterministic run list —
//! scenarios in path order, sweep points, replicates — and each run writes its own
//! result folder under the batch folder (`<scenario>/<point slug>/rep-<k>/`). Runs go
//! to a rayon pool, one run per task; the index is written at the end in run-list
//! order from the runs' `summary.csv` files, so its bytes do not depend on `--jobs`,
//! on `--resume`, or on whether the batch ran in shards that were [`merge`]d.
//!
//! Merging copies the run folders of every shard into the merged folder (shards are
//! usually written to separate folders, one per cluster job), checks that together
//! they hold every planned run exactly once, and writes the index as an unsharded
//! batch would have.

mod index;
mod plan;
mod shard;

pub use index::{Manifest, PlanRow};
pub use plan::{Plan, PlannedRun, find_scenarios, slug};
pub use shard::Shard;

use crate::run::{self, partial_path};
use crate::scenario::ScenarioError;
use rayon::prelude::*;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

/// Why a batch or a merge could not proceed (individual run failures are not errors:
/// they are reported in [`BatchReport::failures`]).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// A scenario file is invalid.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// The arguments or the folders given do not make a valid batch or merge.
    #[error("{0}")]
    Input(String),
    /// Reading or writing a batch file failed.
    #[error("{}: {}", .0.display(), .1)]
    Io(PathBuf, io::Error),
    /// The worker pool could not be started.
    #[error("starting the worker pool: {0}")]
    Pool(String),
}

impl BatchError {
    /// The exit status for this error: 2 for bad input, 1 for a failure at run time.
    pub fn exit_status(&self) -> i32 {
        match self {
            BatchError::Scenario(_) | BatchError::Input(_) => 2,
            BatchError::Io(..) | BatchError::Pool(_) => 1,
        }
    }
}

/// How to run a batch.
#[derive(Clone, Debug)]
pub struct BatchOptions {
    /// Worker threads; 0 means one per core.
    pub jobs: usize,
    /// The batch folder (`results/batch` on the command line).
    pub out: PathBuf,
    /// The slice of the run list to run.
    pub shard: Shard,
    /// Draw each run's plots.
    pub plots: bool,
    /// Skip runs whose folder already holds their complete results.
    pub resume: bool,
}

/// What happened to one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// Simulated and written.
    Ran,
    /// Already complete (`--resume`).
    Skipped,
    /// Failed; the error in one line.
    Failed(String),
}

/// A run that failed.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Run folder relative to the batch folder.
    pub folder: String,
    /// What went wrong.
    pub error: String,
}

/// The outcome of a batch (or of one shard).
#[derive(Clone, Debug)]
pub struct BatchReport {
    /// Runs in the whole plan.
    pub planned: usize,
    /// Runs in this shard.
    pub selected: usize,
    /// Runs simulated now.
    pub ran: usize,
    /// Runs skipped as already complete.
    pub skipped: usize,
    /// Runs that failed, in run-list order.
    pub failures: Vec<Failure>,
    /// The index written.
    pub index: PathBuf,
}

/// The default batch folder.
pub const DEFAULT_OUT: &str = "results/batch";

/// Runs the shard `options.shard` of `plan` into `options.out` and writes `plan.csv`,
/// `batch.toml`, `index.csv` and `failures.csv` there. `on_done` is called from the
/// worker threads as each run finishes (for a progress bar).
pub fn run_plan(
    plan: &Plan,
    options: &BatchOptions,
    on_done: impl Fn(&PlannedRun, &RunStatus) + Sync,
) -> Result<BatchReport, BatchError> {
    let out = &options.out;
    let plan_csv = index::plan_csv(plan);
    // Two shards of one batch in one folder would overwrite each other's index.csv.
    // (The same shard again is a rerun; another plan is another batch.)
    if let Ok(old) = index::read_manifest(out)
        && (old.shard, old.shards) != (options.shard.k, options.shard.n)
        && std::fs::read(out.join("plan.csv")).is_ok_and(|p| p == plan_csv)
    {
        return Err(BatchError::Input(format!(
            "{} already holds shard {}/{} of this batch; give each shard its own --out (e.g. {})",
            out.display(),
            old.shard,
            old.shards,
            out.join(format!("shard-{}", options.shard.k)).display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| BatchError::Io(out.clone(), e))?;
    // The manifest goes first, so even an interrupted shard says what it was.
    index::write_atomic(&out.join("plan.csv"), &plan_csv)?;
    index::write_manifest(
        out,
        &Manifest {
            shard: options.shard.k,
            shards: options.shard.n,
            runs: plan.runs.len(),
        },
    )?;
    let selected: Vec<&PlannedRun> = plan.shard(options.shard).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs)
        .build()
        .map_err(|e| BatchError::Pool(e.to_string()))?;
    let outcomes: Vec<Result<(RunStatus, Vec<String>), String>> = pool.install(|| {
        selected
            .par_iter()
            // One run per task, so an idle worker can steal any run that has not started.
            .with_max_len(1)
            .map(|r| {
                let outcome = run_one(plan, r, options);
                let status = match &outcome {
                    Ok((status, _)) => status.clone(),
                    Err(e) => RunStatus::Failed(e.clone()),
                };
                on_done(r, &status);
                outcome
            })
            .collect()
    });

    let mut report = BatchReport {
        planned: plan.runs.len(),
        selected: selected.len(),
        ran: 0,
        skipped: 0,
        failures: Vec::new(),
        index: out.join("index.csv"),
    };
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (r, outcome) in selected.iter().zip(outcomes) {
        let row = PlanRow::of(r, &plan.fields);
        match outcome {
            Ok((status, summary)) => {
                if status == RunStatus::Skipped {
                    report.skipped += 1;
                } else {
                    report.ran += 1;
                }
                rows.push((row, summary));
            }
            Err(error) => {
                report.failures.push(Failure {
                    folder: r.folder.clone(),
                    error: error.clone(),
                });
                failed.push((row, error));
            }
        }
    }
    index::write_atomic(&report.index, &index::index_csv(&plan.fields, &rows))?;
    index::write_atomic(
        &out.join("failures.csv"),
        &index::failures_csv(&plan.fields, &failed),
    )?;
    Ok(report)
}

/// Runs (or, resuming, skips) one run and reads its summary back.
fn run_one(
    plan: &Plan,
    r: &PlannedRun,
    options: &BatchOptions,
) -> Result<(RunStatus, Vec<String>), String> {
    let folder = options.out.join(&r.folder);
    let row = PlanRow::of(r, &plan.fields);
    // A run folder only ever appears whole (run_to_folder renames `.partial` into
    // place), so a readable summary means a complete run; its scenario.toml must also
    // be the one planned now, or an edited scenario file would keep stale results.
    if options.resume
        && let Ok(summary) = index::read_summary(&folder, &row)
        && std::fs::read_to_string(folder.join("scenario.toml"))
            .is_ok_and(|t| t == run::resolved(&r.scenario, r.seed).to_toml())
    {
        return Ok((RunStatus::Skipped, summary));
    }
    run::run_to_folder(&r.scenario, r.seed, &folder, options.plots, |_| {})
        .map_err(|e| e.to_string())?;
    // Read back rather than format the in-memory summary: one code path for fresh,
    // resumed and merged runs keeps their index rows byte-identical.
    let summary = index::read_summary(&folder, &row)?;
    Ok((RunStatus::Ran, summary))
}

/// What a merge did.
#[derive(Clone, Debug)]
pub struct MergeReport {
    /// Runs in the merged index.
    pub runs: usize,
    /// Shards merged.
    pub shards: u32,
    /// The index written.
    pub index: PathBuf,
}

/// Merges shard folders of one batch into `out`: checks that they are shards of the
/// same plan, that no shard or run appears twice and none is missing, copies every run
/// folder into `out` (a folder already there is left alone when `out` is that shard's
/// own folder), and writes `plan.csv`, `batch.toml` (as shard 1/1), `index.csv` and an
/// empty `failures.csv` exactly as an unsharded batch would.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<MergeReport, BatchError> {
    let input = |m: String| Err(BatchError::Input(m));
    if dirs.is_empty() {
        return input("merge needs at least one shard folder".into());
    }
    struct ShardDir<'a> {
        dir: &'a Path,
        manifest: Manifest,
        folders: Vec<String>,
    }
    let mut shards: Vec<ShardDir> = Vec::new();
    let mut plan_text: Option<(Vec<u8>, &Path)> = None;
    for dir in dirs {
        let manifest = index::read_manifest(dir)?;
        let plan_path = dir.join("plan.csv");
        let text = std::fs::read(&plan_path).map_err(|e| BatchError::Io(plan_path.clone(), e))?;
        match &plan_text {
            None => plan_text = Some((text, dir)),
            Some((first, first_dir)) if *first != text => {
                return input(format!(
                    "{} and {} are not shards of the same batch (their plan.csv differ)",
                    first_dir.display(),
                    dir.display()
                ));
            }
            Some(_) => {}
        }
        if let Some(other) = shards.iter().find(|s| s.manifest.shard == manifest.shard) {
            return input(format!(
                "{} and {} are both shard {}/{}",
                other.dir.display(),
                dir.display(),
                manifest.shard,
                manifest.shards
            ));
        }
        if let Some(other) = shards.first()
            && other.manifest.shards != manifest.shards
        {
            return input(format!(
                "{} is a shard of {} but {} is a shard of {}",
                other.dir.display(),
                other.manifest.shards,
                dir.display(),
                manifest.shards
            ));
        }
        let folders = index::index_folders(&dir.join("index.csv"))?;
        shards.push(ShardDir {
            dir,
            manifest,
            folders,
        });
    }
    let n = shards[0].manifest.shards;
    let (fields, plan_rows) = index::read_plan(&dirs[0].join("plan.csv"))?;
    if plan_rows.len() != shards[0].manifest.runs {
        return input(format!(
            "{}: batch.toml says {} runs but plan.csv lists {}",
            dirs[0].display(),
            shards[0].manifest.runs,
            plan_rows.len()
        ));
    }

    // Which shard folder holds each run.
    let planned: HashMap<&str, usize> = plan_rows
        .iter()
        .map(|r| (r.folder.as_str(), r.index))
        .collect();
    let mut holder: Vec<Option<usize>> = vec![None; plan_rows.len()];
    for (s, shard) in shards.iter().enumerate() {
        for folder in &shard.folders {
            let Some(&i) = planned.get(folder.as_str()) else {
                return input(format!(
                    "{}: index.csv lists {folder}, which is not in the batch's plan",
                    shard.dir.display()
                ));
            };
            if let Some(other) = holder[i] {
                return input(format!(
                    "run {folder} appears twice: in {} and in {}",
                    shards[other].dir.display(),
                    shard.dir.display()
                ));
            }
            holder[i] = Some(s);
        }
    }
    let missing: Vec<&PlanRow> = plan_rows
        .iter()
        .filter(|r| holder[r.index].is_none())
        .collect();
    if let Some(first) = missing.first() {
        let absent: Vec<String> = (1..=n)
            .filter(|k| !shards.iter().any(|s| s.manifest.shard == *k))
            .map(|k| format!("{k}/{n}"))
            .collect();
        return if absent.is_empty() {
            input(format!(
                "{} of {} runs are missing from the shards' index.csv (failed runs? rerun their shard with --resume), first {} of shard {}/{n}",
                missing.len(),
                plan_rows.len(),
                first.folder,
                Shard::of(first.index, n)
            ))
        } else {
            input(format!(
                "shard{} {} of this batch {} missing ({} of {} runs)",
                if absent.len() > 1 { "s" } else { "" },
                absent.join(", "),
                if absent.len() > 1 { "are" } else { "is" },
                missing.len(),
                plan_rows.len()
            ))
        };
    }

    std::fs::create_dir_all(out).map_err(|e| BatchError::Io(out.to_path_buf(), e))?;
    let mut rows = Vec::with_capacity(plan_rows.len());
    for row in &plan_rows {
        let Some(s) = holder[row.index] else {
            continue;
        };
        let from = shards[s].dir.join(&row.folder);
        let to = out.join(&row.folder);
        copy_run(&from, &to)?;
        let summary = index::read_summary(&to, row).map_err(BatchError::Input)?;
        rows.push((row.clone(), summary));
    }
    index::write_atomic(
        &out.join("plan.csv"),
        &plan_text.map(|(t, _)| t).unwrap_or_default(),
    )?;
    index::write_manifest(
        out,
        &Manifest {
            shard: 1,
            shards: 1,
            runs: plan_rows.len(),
        },
    )?;
    let index_path = out.join("index.csv");
    index::write_atomic(&index_path, &index::index_csv(&fields, &rows))?;
    index::write_atomic(
        &out.join("failures.csv"),
        &index::failures_csv(&fields, &[]),
    )?;
    Ok(MergeReport {
        runs: rows.len(),
        shards: n,
        index: index_path,
    })
}

/// Copies a run folder into place the way a run writes one: into `.partial`, then a
/// rename, so the merged folder too only ever holds complete runs.
fn copy_run(from: &Path, to: &Path) -> Result<(), BatchError> {
    let same = match (from.canonicalize(), to.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Ok(());
    }
    let partial = partial_path(to);
    let err = |p: &Path| {
        let p = p.to_path_buf();
        move |e| BatchError::Io(p, e)
    };
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(err(&partial))?;
    }
    copy_dir(from, &partial)?;
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(err(to))?;
    }
    std::fs::rename(&partial, to).map_err(err(to))
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), BatchError> {
    let err = |p: &Path| {
        let p = p.to_path_buf();
        move |e| BatchError::Io(p, e)
    };
    std::fs::create_dir_all(to).map_err(err(to))?;
    for entry in std::fs::read_dir(from).map_err(err(from))? {
        let entry = entry.map_err(err(from))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(err(&path))?.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target).map_err(err(&path))?;
        }
    }
    Ok(())
}
