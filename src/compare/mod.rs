//! `compare`: run a scenario under several choking (and piece-selection) strategies,
//! with replicates, and tabulate how each group fared under each.
//!
//! * A strategy is a choker, optionally with a picker. It replaces the scenario's
//!   `[policy]` (every group) or, with a group, only that group's policy
//!   (`group.NAME.choker`), so one can ask "what if this minority ran BitTyrant?".
//! * Common random numbers: replicate k of every strategy runs with the same seed,
//!   [`replicate_seed`]`(run.seed, k)`, so strategies are compared on the same drawn
//!   capacities and arrival times, and differences are not drowned by that noise.
//! * Every run keeps its result folder under `OUT/runs/<strategy>/r<k>`; the comparison
//!   is written to `OUT/compare.csv` (see [`Row`]) and drawn as `OUT/compare.png/.svg`.
//! * Runs go to a rayon pool of `jobs` threads; results are gathered in plan order, so
//!   the output is the same at any `jobs`.

mod report;
pub mod stats;

pub use report::{COLUMNS, draw, format_table, write_csv};

use crate::core::{Role, Strategies, StrategyKind, StrategyName};
use crate::metrics::RunResult;
use crate::run::{self, RunError};
use crate::scenario::{Scenario, SweepPoint, replicate_seed};
use rayon::prelude::*;
use stats::{ci95_half_width, mean};
use std::path::{Path, PathBuf};

/// Why a comparison could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The request does not make sense (unknown strategy or group, …): exit status 2.
    #[error("{0}")]
    BadInput(String),
    /// A run failed to write its folder or plots.
    #[error("{0}")]
    Run(#[from] RunError),
    /// Writing `compare.csv` failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// Drawing the comparison failed.
    #[error("plotting: {0}")]
    Plot(String),
}

impl CompareError {
    /// The process exit status for this error (2 bad input, 1 run time).
    pub fn exit_status(&self) -> i32 {
        match self {
            CompareError::BadInput(_) => 2,
            _ => 1,
        }
    }
}

/// One strategy: a choker, and a picker when pickers are compared too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strategy {
    /// The choker.
    pub choker: StrategyName,
    /// The picker (`None`: the scenario's).
    pub picker: Option<StrategyName>,
}

impl Strategy {
    /// `choker` or `choker+picker`: the name of its runs folder and its plot label.
    pub fn label(&self) -> String {
        match &self.picker {
            Some(p) => format!("{}+{}", self.choker, p),
            None => self.choker.to_string(),
        }
    }
}

/// Parses `--choker a,b` names against `strategies`; the error lists the valid ones.
pub fn parse_chokers(
    names: &[String],
    strategies: &Strategies,
) -> Result<Vec<StrategyName>, CompareError> {
    parse_list(names, "--choker", |n| {
        strategies.lookup(StrategyKind::Choker, n)
    })
}

/// Parses `--picker x,y` names against `strategies`; the error lists the valid ones.
pub fn parse_pickers(
    names: &[String],
    strategies: &Strategies,
) -> Result<Vec<StrategyName>, CompareError> {
    parse_list(names, "--picker", |n| {
        strategies.lookup(StrategyKind::Picker, n)
    })
}

fn parse_list<T: PartialEq, E: std::fmt::Display>(
    names: &[String],
    flag: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, CompareError> {
    let mut out = Vec::new();
    for name in names {
        let kind =
            parse(name.trim()).map_err(|e| CompareError::BadInput(format!("{flag}: {e}")))?;
        if out.contains(&kind) {
            return Err(CompareError::BadInput(format!(
                "{flag}: \"{}\" is listed twice",
                name.trim()
            )));
        }
        out.push(kind);
    }
    Ok(out)
}

/// What to compare: a scenario, strategies, where they apply, and how many replicates.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The base scenario.
    pub scenario: Scenario,
    /// The strategies, chokers outer and pickers inner.
    pub strategies: Vec<Strategy>,
    /// The group the strategies apply to (`None`: every group, via `[policy]`).
    pub group: Option<String>,
    /// Runs per strategy.
    pub replicates: u32,
    /// Each strategy's scenario, in `strategies` order.
    scenarios: Vec<Scenario>,
}

impl Plan {
    /// The cross product of `chokers` × `pickers` (an empty picker list keeps the
    /// scenario's picker), applied to `group` or to every group, checked up front.
    pub fn new(
        scenario: &Scenario,
        chokers: &[StrategyName],
        pickers: &[StrategyName],
        group: Option<&str>,
        replicates: u32,
    ) -> Result<Plan, CompareError> {
        if chokers.is_empty() {
            return Err(CompareError::BadInput(
                "--choker: give at least one choker".into(),
            ));
        }
        if replicates == 0 {
            return Err(CompareError::BadInput(
                "--replicates: must be at least 1".into(),
            ));
        }
        if scenario.sweep.is_some() {
            return Err(CompareError::BadInput(format!(
                "{}: has a [sweep]; compare runs one scenario (remove the [sweep], or run the grid with `swarmlab batch`)",
                scenario.name
            )));
        }
        if let Some(g) = group
            && scenario.group(g).is_none()
        {
            let names: Vec<&str> = scenario.groups.iter().map(|g| g.name.as_str()).collect();
            return Err(CompareError::BadInput(format!(
                "--group: {}: no group is named \"{g}\" (expected one of {})",
                scenario.name,
                names.join(", ")
            )));
        }
        let pickers: Vec<Option<StrategyName>> = if pickers.is_empty() {
            vec![None]
        } else {
            pickers.iter().cloned().map(Some).collect()
        };
        let strategies: Vec<Strategy> = chokers
            .iter()
            .flat_map(|choker| {
                pickers.iter().map(move |picker| Strategy {
                    choker: choker.clone(),
                    picker: picker.clone(),
                })
            })
            .collect();
        let mut plan = Plan {
            scenario: scenario.clone(),
            strategies,
            group: group.map(str::to_string),
            replicates,
            scenarios: Vec::new(),
        };
        plan.scenarios = plan
            .strategies
            .iter()
            .map(|s| {
                plan.scenario
                    .with_overrides(&plan.point(s))
                    .map_err(|e| CompareError::BadInput(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(plan)
    }

    /// The overrides that make `strategy` (e.g. `group.tyrants.choker=bittyrant`).
    pub fn point(&self, strategy: &Strategy) -> SweepPoint {
        let prefix = match &self.group {
            Some(g) => format!("group.{g}."),
            None => "policy.".to_string(),
        };
        let mut values = vec![(format!("{prefix}choker"), strategy.choker.to_string())];
        if let Some(p) = &strategy.picker {
            values.push((format!("{prefix}picker"), p.to_string()));
        }
        SweepPoint::new(values)
    }

    /// The scenario strategy `i` runs.
    pub fn scenario_of(&self, i: usize) -> &Scenario {
        &self.scenarios[i]
    }

    /// The seed of replicate `k` (the same for every strategy).
    pub fn seed(&self, k: u32) -> u64 {
        replicate_seed(self.scenario.run.seed, k)
    }

    /// Total number of runs.
    pub fn runs(&self) -> usize {
        self.strategies.len() * self.replicates as usize
    }

    /// The picker shown for strategy `i`: its own, or the scenario's for the group.
    fn picker_name(&self, i: usize) -> String {
        let s = &self.scenarios[i];
        let policy = match &self.group {
            Some(g) => s.group(g).map_or(&s.policy, |g| &g.policy),
            None => &s.policy,
        };
        policy.picker.to_string()
    }

    /// The groups a comparison reports on: `all`, then the scenario's, in file order.
    pub fn report_groups(&self) -> Vec<String> {
        std::iter::once(ALL.to_string())
            .chain(self.scenario.groups.iter().map(|g| g.name.clone()))
            .collect()
    }
}

/// The name of the row over every peer.
pub const ALL: &str = "all";

/// One group in one run, reduced to what the comparison needs.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupRun {
    /// Non-seed peers that joined.
    pub leechers: usize,
    /// Download times (s) of those that completed, ascending.
    pub times: Vec<f64>,
    /// Mean download time (s).
    pub mean_download_s: Option<f64>,
    /// Median download time (s; the mean of the two middle values for an even count).
    pub median_download_s: Option<f64>,
    /// 95th percentile download time (s), nearest rank as in `summary.csv`.
    pub p95_download_s: Option<f64>,
    /// Last completion − first join of the group's non-seed peers (s).
    pub makespan_s: Option<f64>,
    /// Non-seed peers that completed.
    pub completed: u64,
    /// Bytes its peers delivered to others.
    pub uploaded: u64,
    /// Bytes delivered to its peers.
    pub downloaded: u64,
}

/// A run reduced per report group (`all` first; see [`Plan::report_groups`]). For
/// `all`, the times and totals are the run's `summary.csv` values.
pub fn reduce(result: &RunResult, groups: &[String]) -> Vec<GroupRun> {
    groups
        .iter()
        .map(|g| {
            let peers: Vec<_> = result
                .peers
                .iter()
                .filter(|p| g == ALL || p.group == *g)
                .collect();
            let leechers: Vec<_> = peers.iter().filter(|p| p.role != Role::Seed).collect();
            let mut times: Vec<f64> = leechers
                .iter()
                .filter_map(|p| p.download_time())
                .map(|d| d.as_secs_f64())
                .collect();
            times.sort_by(f64::total_cmp);
            let first_join = leechers.iter().map(|p| p.join).min();
            let last_done = leechers.iter().filter_map(|p| p.complete).max();
            let mut run = GroupRun {
                leechers: leechers.len(),
                mean_download_s: mean(&times),
                median_download_s: median(&times),
                p95_download_s: p95(&times),
                makespan_s: first_join
                    .zip(last_done)
                    .map(|(j, c)| (c - j).as_secs_f64()),
                completed: times.len() as u64,
                uploaded: peers.iter().map(|p| p.uploaded.0).sum(),
                downloaded: peers.iter().map(|p| p.downloaded.0).sum(),
                times,
            };
            if g == ALL {
                // The summary is the reference for the whole swarm.
                let s = &result.summary;
                run.mean_download_s = s.mean_download_s;
                run.median_download_s = s.median_download_s;
                run.p95_download_s = s.p95_download.map(|d| d.as_secs_f64());
                run.makespan_s = s.makespan.map(|d| d.as_secs_f64());
                run.completed = s.completed;
                run.uploaded = s.bytes_uploaded;
                run.downloaded = s.bytes_downloaded;
            }
            run
        })
        .collect()
}

fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Nearest rank: the ⌈0.95·n⌉-th smallest (as `summary.csv`).
fn p95(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    (n > 0).then(|| sorted[(95 * n).div_ceil(100).max(1) - 1])
}

/// A mean over replicates with the half-width of its 95 % confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Mean over the replicates where the value exists.
    pub mean: Option<f64>,
    /// Half-width of the 95 % CI (Student t); `None` below two values.
    pub ci95: Option<f64>,
}

impl Estimate {
    /// Over the values that exist.
    pub fn of(values: impl IntoIterator<Item = Option<f64>>) -> Estimate {
        let v: Vec<f64> = values.into_iter().flatten().collect();
        Estimate {
            mean: mean(&v),
            ci95: ci95_half_width(&v),
        }
    }
}

/// A row of `compare.csv`: one strategy and one group, over its replicates. Times are
/// means over replicates of each run's value for the group (for `all`, of each run's
/// `summary.csv`); a replicate where nobody in the group completed adds nothing to a
/// time. Byte counts and `completed` are means per run.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Choker name.
    pub choker: String,
    /// Picker name.
    pub picker: String,
    /// Group name, or `all`.
    pub group: String,
    /// Runs.
    pub replicates: u32,
    /// Mean download time (s).
    pub mean_download_s: Estimate,
    /// Median download time (s), mean over replicates.
    pub median_download_s: Option<f64>,
    /// 95th percentile download time (s), mean over replicates.
    pub p95_download_s: Option<f64>,
    /// Makespan (s).
    pub makespan_s: Estimate,
    /// Completed non-seed peers per run.
    pub completed: f64,
    /// Bytes uploaded per run.
    pub uploaded_bytes: f64,
    /// Bytes downloaded per run.
    pub downloaded_bytes: f64,
    /// `uploaded_bytes / downloaded_bytes` (`None` when nothing was downloaded).
    pub share_ratio: Option<f64>,
}

/// The comparison: its rows, and the pooled download times behind the CDFs.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Rows, strategy-major, groups in [`Plan::report_groups`] order.
    pub rows: Vec<Row>,
    /// Strategy labels, in plan order.
    pub labels: Vec<String>,
    /// Per strategy, per report group: every replicate's download times pooled, and
    /// the number of non-seed peers over all replicates.
    pub pooled: Vec<Vec<(Vec<f64>, usize)>>,
}

impl Comparison {
    /// Builds the rows from each strategy's reduced runs (`runs[strategy][replicate]`).
    pub fn new(plan: &Plan, runs: &[Vec<Vec<GroupRun>>]) -> Comparison {
        let groups = plan.report_groups();
        let mut rows = Vec::new();
        let mut pooled = Vec::new();
        for (si, (strategy, reps)) in plan.strategies.iter().zip(runs).enumerate() {
            let mut per_group = Vec::new();
            for (gi, group) in groups.iter().enumerate() {
                let g: Vec<&GroupRun> = reps.iter().map(|r| &r[gi]).collect();
                let per_run =
                    |f: fn(&GroupRun) -> f64| mean(&g.iter().map(|r| f(r)).collect::<Vec<_>>());
                let avg = |f: fn(&GroupRun) -> Option<f64>| {
                    mean(&g.iter().filter_map(|r| f(r)).collect::<Vec<_>>())
                };
                let uploaded = per_run(|r| r.uploaded as f64).unwrap_or(0.0);
                let downloaded = per_run(|r| r.downloaded as f64).unwrap_or(0.0);
                rows.push(Row {
                    choker: strategy.choker.to_string(),
                    picker: plan.picker_name(si),
                    group: group.clone(),
                    replicates: reps.len() as u32,
                    mean_download_s: Estimate::of(g.iter().map(|r| r.mean_download_s)),
                    median_download_s: avg(|r| r.median_download_s),
                    p95_download_s: avg(|r| r.p95_download_s),
                    makespan_s: Estimate::of(g.iter().map(|r| r.makespan_s)),
                    completed: per_run(|r| r.completed as f64).unwrap_or(0.0),
                    uploaded_bytes: uploaded,
                    downloaded_bytes: downloaded,
                    share_ratio: (downloaded > 0.0).then(|| uploaded / downloaded),
                });
                let mut times: Vec<f64> = g.iter().flat_map(|r| r.times.iter().copied()).collect();
                times.sort_by(f64::total_cmp);
                per_group.push((times, g.iter().map(|r| r.leechers).sum()));
            }
            pooled.push(per_group);
        }
        Comparison {
            rows,
            labels: plan.strategies.iter().map(Strategy::label).collect(),
            pooled,
        }
    }

    /// The row of `strategy` (by label) and `group`.
    pub fn row(&self, strategy: &str, group: &str) -> Option<&Row> {
        let i = self.labels.iter().position(|l| l == strategy)?;
        let per = self.rows.len() / self.labels.len().max(1);
        self.rows[i * per..(i + 1) * per]
            .iter()
            .find(|r| r.group == group)
    }
}

/// Where run `k` of strategy `s` keeps its folder.
pub fn run_folder(out: &Path, plan: &Plan, s: usize, k: u32) -> PathBuf {
    out.join("runs")
        .join(plan.strategies[s].label())
        .join(format!("r{k:02}"))
}

/// Which backend runs the comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backend {
    /// The simulator (runs in parallel on the pool).
    Sim,
    /// Real sockets on loopback, one run at a time: concurrent real-time runs would
    /// compete for the cores and distort each other's timing.
    Tcp {
        /// Run this much faster than scenario time (`None`: chosen per run).
        time_scale: Option<f64>,
    },
}

/// Runs every strategy × replicate on a pool of `jobs` threads (0: one per core),
/// keeping each run's folder under `out/runs/` (with its plots if `plots`), and calls
/// `done` after each run. Returns the comparison; writes nothing else (see
/// [`write_csv`] and [`draw`], or [`compare`] for everything).
pub fn run_all(
    plan: &Plan,
    out: &Path,
    jobs: usize,
    plots: bool,
    done: impl Fn() + Sync,
) -> Result<Comparison, CompareError> {
    run_all_on(plan, out, jobs, plots, Backend::Sim, done)
}

/// [`run_all`] on a chosen backend.
pub fn run_all_on(
    plan: &Plan,
    out: &Path,
    jobs: usize,
    plots: bool,
    backend: Backend,
    done: impl Fn() + Sync,
) -> Result<Comparison, CompareError> {
    let jobs = match backend {
        Backend::Sim => jobs,
        Backend::Tcp { .. } => 1,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| CompareError::BadInput(format!("--jobs: {e}")))?;
    let groups = plan.report_groups();
    let tasks: Vec<(usize, u32)> = (0..plan.strategies.len())
        .flat_map(|s| (0..plan.replicates).map(move |k| (s, k)))
        .collect();
    let run_one = |s: usize, k: u32| -> Result<run::RunReport, RunError> {
        let folder = run_folder(out, plan, s, k);
        match backend {
            Backend::Sim => {
                run::run_to_folder(plan.scenario_of(s), plan.seed(k), &folder, plots, |_| {})
            }
            Backend::Tcp { time_scale } => {
                let opts = run::TcpOptions {
                    time_scale,
                    keep_data: None,
                    progress: false,
                };
                run::run_tcp_to_folder(plan.scenario_of(s), plan.seed(k), &folder, plots, &opts)
                    .map(|(report, _scale)| report)
            }
        }
    };
    // Collected in task order whatever the pool's schedule: identical output at any
    // --jobs.
    let reduced: Vec<Result<Vec<GroupRun>, RunError>> = pool.install(|| {
        tasks
            .par_iter()
            .map(|&(s, k)| {
                let report = run_one(s, k);
                done();
                report.map(|r| reduce(&r.result, &groups))
            })
            .collect()
    });
    let mut runs: Vec<Vec<Vec<GroupRun>>> = vec![Vec::new(); plan.strategies.len()];
    for (&(s, _), r) in tasks.iter().zip(reduced) {
        runs[s].push(r?);
    }
    Ok(Comparison::new(plan, &runs))
}

/// Runs the plan and writes `out/compare.csv` and `out/compare.png/.svg`.
pub fn compare(
    plan: &Plan,
    out: &Path,
    jobs: usize,
    plots: bool,
    done: impl Fn() + Sync,
) -> Result<Comparison, CompareError> {
    compare_on(plan, out, jobs, plots, Backend::Sim, done)
}

/// [`compare`] on a chosen backend.
pub fn compare_on(
    plan: &Plan,
    out: &Path,
    jobs: usize,
    plots: bool,
    backend: Backend,
    done: impl Fn() + Sync,
) -> Result<Comparison, CompareError> {
    std::fs::create_dir_all(out).map_err(|source| CompareError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let comparison = run_all_on(plan, out, jobs, plots, backend, done)?;
    let csv = out.join("compare.csv");
    write_csv(&comparison.rows, &csv).map_err(|source| CompareError::Io { path: csv, source })?;
    draw(plan, &comparison, out).map_err(|e| CompareError::Plot(e.to_string()))?;
    Ok(comparison)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p95_follow_the_summary_rules() {
        assert_eq!(median(&[1.0, 2.0, 3.0, 10.0]), Some(2.5));
        assert_eq!(median(&[1.0, 2.0, 30.0]), Some(2.0));
        assert_eq!(median(&[]), None);
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(p95(&v), Some(19.0));
        assert_eq!(p95(&[5.0]), Some(5.0));
        let v: Vec<f64> = (1..=21).map(f64::from).collect();
        assert_eq!(p95(&v), Some(20.0));
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let builtin = Strategies::builtin();
        let e = parse_chokers(&["tit-for-tat".into(), "tyrant".into()], &builtin).unwrap_err();
        assert_eq!(e.exit_status(), 2);
        let msg = e.to_string();
        assert!(
            msg.starts_with("--choker: \"tyrant\" is not one of tit-for-tat, propshare, bittyrant"),
            "{msg}"
        );
        assert!(parse_pickers(&["rarest-first".into(), "random".into()], &builtin).is_ok());
        assert!(parse_chokers(&["random".into(), "random".into()], &builtin).is_err());
    }
}
