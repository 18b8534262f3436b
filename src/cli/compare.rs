//! `swarmlab compare SCENARIO --choker a,b,... [--picker x,y] [--group NAME]
//! [--set FIELD=VALUE]... [--replicates R] [--jobs N] [--out DIR] [--plots]
//! [--backend sim|tcp] [--time-scale X]`:
//! argument handling only; the work
//! is [`crate::compare`].

use crate::compare::{self, Plan};
use crate::scenario::StrategyTable;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `swarmlab compare`.
#[derive(Debug, Args)]
pub(super) struct CompareArgs {
    /// The scenario file.
    scenario: PathBuf,
    /// Chokers to compare, comma-separated (tit-for-tat, propshare, bittyrant, random,
    /// altruistic, anti-snubbing).
    #[arg(long, value_delimiter = ',', required = true)]
    choker: Vec<String>,
    /// Piece pickers to cross with the chokers, comma-separated (default: the
    /// scenario's).
    #[arg(long, value_delimiter = ',')]
    picker: Vec<String>,
    /// Apply the strategies to this group only; the others keep the scenario's policy.
    #[arg(long)]
    group: Option<String>,
    /// Change a field of the scenario for this comparison, as a sweep would
    /// (`--set file.block_size="64 KiB" --set policy.choker=propshare`); repeatable.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// Runs per strategy; replicate k of every strategy uses the same seed.
    #[arg(long, default_value_t = 10)]
    replicates: u32,
    /// Parallel runs (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Output folder (default results/<scenario>/compare).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also draw every run's own figures (slower; `swarmlab plot` can draw them later).
    #[arg(long)]
    plots: bool,
    /// Backend: sim (the simulator) or tcp (real sockets on loopback, one run at a time).
    #[arg(long, default_value = "sim")]
    backend: String,
    /// tcp only: run X times faster than scenario time (default: chosen per run).
    #[arg(long)]
    time_scale: Option<f64>,
}

/// Runs `swarmlab compare`; returns the exit status.
pub(super) fn compare(args: CompareArgs, strategies: &StrategyTable) -> i32 {
    let scenario = match super::load(&args.scenario, strategies)
        .and_then(|s| super::with_settings("compare", s, &args.set))
    {
        Ok(s) => s,
        Err(code) => return code,
    };
    let registry = strategies.strategies();
    let plan = compare::parse_chokers(&args.choker, registry).and_then(|chokers| {
        let pickers = compare::parse_pickers(&args.picker, registry)?;
        Plan::new(
            &scenario,
            &chokers,
            &pickers,
            args.group.as_deref(),
            args.replicates,
        )
    });
    let plan = match plan {
        Ok(p) => p,
        Err(e) => {
            eprintln!("swarmlab compare: {e}");
            return e.exit_status();
        }
    };
    let backend = match (args.backend.as_str(), args.time_scale) {
        ("sim", None) => compare::Backend::Sim,
        ("sim", Some(_)) => {
            eprintln!("swarmlab compare: --time-scale applies to --backend tcp only");
            return 2;
        }
        ("tcp", scale) => {
            if let Some(x) = scale.filter(|x| !(x.is_finite() && *x > 0.0)) {
                eprintln!("swarmlab compare: --time-scale {x}: must be a positive number");
                return 2;
            }
            if let Err(e) =
                crate::tcp::swarm::check(plan.scenario_of(0), crate::tcp::swarm::Keeping::Nothing)
            {
                eprintln!("{}: {e}", args.scenario.display());
                return 2;
            }
            compare::Backend::Tcp { time_scale: scale }
        }
        (other, _) => {
            eprintln!("swarmlab compare: --backend {other}: not a backend (sim or tcp)");
            return 2;
        }
    };
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from("results")
            .join(&scenario.name)
            .join("compare")
    });
    eprintln!(
        "comparing {} strategies × {} replicates of {} -> {}",
        plan.strategies.len(),
        plan.replicates,
        scenario.name,
        out.display()
    );
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(plan.runs() as u64), target);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {elapsed} (eta {eta})")
    {
        bar.set_style(style);
    }
    let jobs = args.jobs.map_or(0, |j| j as usize);
    let result = compare::compare_on(&plan, &out, jobs, args.plots, backend, || bar.inc(1));
    bar.finish_and_clear();
    match result {
        Ok(c) => {
            print!("{}", compare::format_table(&c.rows));
            println!("results  {}", out.join("compare.csv").display());
            0
        }
        Err(e) => {
            eprintln!("swarmlab compare: {e}");
            e.exit_status()
        }
    }
}
