//! `swarmlab batch` and `swarmlab merge`: arguments, a progress bar, and exit statuses
//! over [`crate::batch`].

use crate::batch::{self, BatchOptions, Plan, RunStatus, Shard};
use crate::scenario::StrategyTable;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `swarmlab batch`.
#[derive(Debug, Args)]
pub(super) struct BatchArgs {
    /// Scenario files, or folders searched recursively for *.toml.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Runs at once (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Replicates per sweep point, overriding the sweep's `replicates`.
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u32).range(1..))]
    pub replicates: Option<u32>,
    /// The batch folder.
    #[arg(long, value_name = "DIR", default_value = batch::DEFAULT_OUT)]
    pub out: PathBuf,
    /// Run only the K-th of N slices of the run list (runs K, K+N, K+2N, … counting
    /// from 1); merge the shard folders afterwards with `swarmlab merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Skip drawing plots.
    #[arg(long)]
    pub no_plots: bool,
    /// Skip runs whose folder already holds their complete results.
    #[arg(long)]
    pub resume: bool,
}

/// Arguments of `swarmlab merge`.
#[derive(Debug, Args)]
pub(super) struct MergeArgs {
    /// Shard folders written by `swarmlab batch --shard K/N`.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The merged batch folder (run folders are copied into it).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Runs `swarmlab batch`; returns the exit status.
pub(super) fn batch(args: BatchArgs, strategies: &StrategyTable) -> i32 {
    let shard = match args.shard.as_deref().map(str::parse::<Shard>) {
        None => Shard::WHOLE,
        Some(Ok(shard)) => shard,
        Some(Err(why)) => {
            eprintln!(
                "swarmlab: --shard {}: {why}",
                args.shard.as_deref().unwrap_or_default()
            );
            return 2;
        }
    };
    let plan = match Plan::from_paths(&args.paths, args.replicates, strategies) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("{}", prefixed(&e));
            return e.exit_status();
        }
    };
    let options = BatchOptions {
        jobs: args.jobs.map_or(0, |j| j as usize),
        out: args.out,
        shard,
        plots: !args.no_plots,
        resume: args.resume,
    };
    let selected = plan.shard(shard).count();
    eprintln!(
        "batch: {} runs{} -> {}",
        selected,
        if shard == Shard::WHOLE {
            String::new()
        } else {
            format!(" (shard {shard} of a batch of {})", plan.runs.len())
        },
        options.out.display()
    );
    let bar = progress_bar(selected as u64);
    let result = batch::run_plan(&plan, &options, |run, status| {
        if let RunStatus::Failed(error) = status {
            // println on the bar keeps the message above it instead of tearing it.
            let line = format!("swarmlab: run {} failed: {error}", run.folder);
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
        bar.inc(1);
    });
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            println!(
                "{} runs: {} ran, {} skipped (complete), {} failed; index {}",
                report.selected,
                report.ran,
                report.skipped,
                report.failures.len(),
                report.index.display()
            );
            if report.failures.is_empty() {
                0
            } else {
                eprintln!(
                    "swarmlab: {} runs failed (listed in {})",
                    report.failures.len(),
                    options.out.join("failures.csv").display()
                );
                1
            }
        }
        Err(e) => {
            eprintln!("{}", prefixed(&e));
            e.exit_status()
        }
    }
}

/// Runs `swarmlab merge`; returns the exit status.
pub(super) fn merge(args: MergeArgs) -> i32 {
    match batch::merge(&args.dirs, &args.out) {
        Ok(report) => {
            println!(
                "merged {} runs from {} shards; index {}",
                report.runs,
                report.shards,
                report.index.display()
            );
            0
        }
        Err(e) => {
            eprintln!("{}", prefixed(&e));
            e.exit_status()
        }
    }
}

/// Scenario errors already read `file:line: field: reason`; others get the program name.
fn prefixed(e: &batch::BatchError) -> String {
    match e {
        batch::BatchError::Scenario(e) => e.to_string(),
        other => format!("swarmlab: {other}"),
    }
}

/// A bar over runs with an ETA, drawn only when stderr is a terminal.
fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("  [{elapsed_precise}] {wide_bar} {pos}/{len} runs, ETA {eta}")
    {
        bar.set_style(style);
    }
    bar
}
