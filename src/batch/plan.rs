//! Planning a batch: scenario files in, a deterministic list of runs out.
//!
//! The list depends only on the scenario files (their paths, sorted, and contents) and
//! `--replicates`: scenario by scenario, each sweep point in [`Scenario::sweep_points`]
//! order, each replicate `k = 0..R` with seed `replicate_seed(run.seed, k)`. Every
//! shard of a batch, on any machine, computes the same list, which is what lets
//! `--shard` and `merge` work without talking to each other.

use super::BatchError;
use crate::scenario::{Scenario, StrategyTable, SweepPoint, replicate_seed};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One run of a batch.
#[derive(Clone, Debug)]
pub struct PlannedRun {
    /// Position in the run list (0-based); decides the shard and the index row order.
    pub index: usize,
    /// The scenario file it comes from.
    pub source: PathBuf,
    /// The scenario with the point applied (no sweep); shared by the replicates.
    pub scenario: Arc<Scenario>,
    /// The sweep point (empty for a scenario without a sweep).
    pub point: SweepPoint,
    /// Replicate number, `0..R`.
    pub replicate: u32,
    /// The run seed, `replicate_seed(scenario.run.seed, replicate)`.
    pub seed: u64,
    /// The result folder relative to the batch folder, `/`-separated:
    /// `<scenario>/<point slug>/rep-<k>` (or `<scenario>/rep-<k>` without a sweep).
    pub folder: String,
}

/// The runs of a batch and the swept fields they cover.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Every run, in order.
    pub runs: Vec<PlannedRun>,
    /// The swept fields over all scenarios, in order of first appearance: the sweep
    /// columns of `index.csv`.
    pub fields: Vec<String>,
}

/// The scenario files under `paths`: files as given, folders searched recursively for
/// `*.toml` (skipping result folders: batch folders and run folders). The result is sorted and without repeats, so the run list does not depend
/// on argument order or on the order a file system lists a folder.
pub fn find_scenarios(paths: &[PathBuf]) -> Result<Vec<PathBuf>, BatchError> {
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|e| BatchError::Input(format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    found.sort();
    found.dedup();
    if found.is_empty() {
        let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(BatchError::Input(format!(
            "no scenario files (*.toml) found under {}",
            list.join(", ")
        )));
    }
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), BatchError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| BatchError::Input(format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| BatchError::Input(format!("{}: {e}", dir.display())))?;
        let path = entry.path();
        // metadata() follows symlinks, so a linked folder of scenarios is searched too.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            // Result folders hold scenario.toml files too (the resolved scenario of
            // each run); searching them would plan the results as new scenarios.
            if !is_result_folder(&path) {
                walk(&path, found)?;
            }
        } else if path.extension().is_some_and(|e| e == "toml") {
            found.push(path);
        }
    }
    Ok(())
}

/// Whether `dir` is a batch folder (it has `batch.toml`) or a run folder (it has
/// `summary.csv`, or is a `.partial` one).
fn is_result_folder(dir: &Path) -> bool {
    dir.join("batch.toml").is_file()
        || dir.join("summary.csv").is_file()
        || dir.extension().is_some_and(|e| e == "partial")
}

impl Plan {
    /// Reads every scenario file under `paths` (all must be valid before anything runs)
    /// and plans their runs. `replicates` overrides each sweep's `replicates` (and
    /// the single replicate of a scenario without a sweep).
    pub fn from_paths(
        paths: &[PathBuf],
        replicates: Option<u32>,
        strategies: &StrategyTable,
    ) -> Result<Plan, BatchError> {
        let mut scenarios = Vec::new();
        for path in find_scenarios(paths)? {
            let scenario = Scenario::from_file_with(&path, strategies)?;
            scenarios.push((path, scenario));
        }
        Plan::from_scenarios(scenarios, replicates)
    }

    /// Plans the runs of already-read scenarios, in the order given.
    pub fn from_scenarios(
        scenarios: Vec<(PathBuf, Scenario)>,
        replicates: Option<u32>,
    ) -> Result<Plan, BatchError> {
        if replicates == Some(0) {
            return Err(BatchError::Input(
                "--replicates 0: expected at least 1".into(),
            ));
        }
        let mut runs: Vec<PlannedRun> = Vec::new();
        let mut fields: Vec<String> = Vec::new();
        // folder -> source file, to name both files when two runs would collide.
        let mut taken: HashMap<String, PathBuf> = HashMap::new();
        for (source, scenario) in scenarios {
            let reps =
                replicates.unwrap_or_else(|| scenario.sweep.as_ref().map_or(1, |s| s.replicates));
            let points = scenario.sweep_points();
            if points.is_empty() {
                return Err(BatchError::Input(format!(
                    "{}: the sweep has no points (a field has an empty list)",
                    source.display()
                )));
            }
            let base = component(&scenario.name);
            for point in points {
                for (field, _) in &point.values {
                    if !fields.contains(field) {
                        fields.push(field.clone());
                    }
                }
                // Combinations that only fail together surface here, before any run.
                let resolved = Arc::new(scenario.with_overrides(&point)?);
                let dir = if point.values.is_empty() {
                    base.clone()
                } else {
                    format!("{base}/{}", slug(&point))
                };
                for k in 0..reps {
                    let folder = format!("{dir}/rep-{k}");
                    if let Some(other) = taken.get(&folder) {
                        return Err(BatchError::Input(format!(
                            "{} and {} both plan the run folder {folder} (give the scenarios distinct names)",
                            other.display(),
                            source.display()
                        )));
                    }
                    taken.insert(folder.clone(), source.clone());
                    runs.push(PlannedRun {
                        index: runs.len(),
                        source: source.clone(),
                        scenario: Arc::clone(&resolved),
                        point: point.clone(),
                        replicate: k,
                        seed: replicate_seed(resolved.run.seed, k),
                        folder,
                    });
                }
            }
        }
        Ok(Plan { runs, fields })
    }

    /// The runs of one shard, in order.
    pub fn shard(&self, shard: super::Shard) -> impl Iterator<Item = &PlannedRun> {
        self.runs.iter().filter(move |r| shard.contains(r.index))
    }
}

/// Longest slug kept whole; longer ones are cut and given a hash of the full text, so
/// folder names stay well under the usual 255-byte limit and still differ.
const MAX_SLUG: usize = 120;

/// The folder name of a sweep point: `field=value` pairs joined by `,`, with every
/// byte outside `[A-Za-z0-9._=,+-]` replaced by `_` (`2 Mbit/s` → `2_Mbit_s`).
/// Two points that differ only in replaced characters would collide; the planner
/// refuses that rather than guessing.
pub fn slug(point: &SweepPoint) -> String {
    let text = point
        .values
        .iter()
        .map(|(f, v)| format!("{f}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let safe = sanitize(&text);
    if safe.len() <= MAX_SLUG {
        return safe;
    }
    format!("{}-{:016x}", &safe[..MAX_SLUG - 17], fnv1a(text.as_bytes()))
}

/// A single safe path component from arbitrary text (never empty, `.` or `..`).
pub(super) fn component(text: &str) -> String {
    let safe = sanitize(text);
    if safe.is_empty() || safe.chars().all(|c| c == '.') {
        return format!("_{safe}");
    }
    safe
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._=,+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// FNV-1a, 64 bit: written out here so slugs never change with a library upgrade.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[file]
size = "4 MiB"
chunk_size = "256 KiB"
block_size = "chunk"
[[group]]
name = "seeds"
count = 1
role = "seed"
upload = "5 Mbit/s"
download = "50 Mbit/s"
[[group]]
name = "leechers"
count = 10
upload = "2 Mbit/s"
download = "20 Mbit/s"
[run]
seed = 5
"#;

    fn scenario(name: &str, sweep: &str) -> (PathBuf, Scenario) {
        let text = format!("name = \"{name}\"\n{BASE}\n{sweep}");
        let s = Scenario::from_str_named(&text, name).expect("test scenario parses");
        (PathBuf::from(format!("{name}.toml")), s)
    }

    #[test]
    fn slugs_are_readable_and_safe() {
        let p = SweepPoint::new([
            ("group.leechers.count", "50"),
            ("policy.choker", "tit-for-tat"),
        ]);
        assert_eq!(
            slug(&p),
            "group.leechers.count=50,policy.choker=tit-for-tat"
        );
        let p = SweepPoint::new([("group.leechers.upload", "2 Mbit/s")]);
        assert_eq!(slug(&p), "group.leechers.upload=2_Mbit_s");
        let p = SweepPoint::new([("group.leechers.join", "{ uniform = [\"0 s\", \"10 s\"] }")]);
        assert!(
            slug(&p)
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._=,+-".contains(c))
        );
        assert_eq!(component(".."), "_..");
        assert_eq!(component(""), "_");
        assert_eq!(component("my run/1"), "my_run_1");
    }

    #[test]
    fn long_slugs_are_cut_and_hashed() {
        let a = SweepPoint::new([("policy.choker", "x".repeat(300))]);
        let b = SweepPoint::new([("policy.choker", format!("{}y", "x".repeat(299)))]);
        assert!(slug(&a).len() <= MAX_SLUG);
        assert_ne!(slug(&a), slug(&b));
    }

    #[test]
    fn plans_grid_times_replicates_in_order() {
        let sweep = "[sweep]\n\"group.leechers.count\" = [3, 4]\n\"policy.picker\" = [\"random\", \"rarest-first\"]\nreplicates = 2\n";
        let plan = Plan::from_scenarios(vec![scenario("a", sweep)], None).unwrap();
        assert_eq!(plan.runs.len(), 8);
        assert_eq!(plan.fields, ["group.leechers.count", "policy.picker"]);
        let folders: Vec<&str> = plan.runs.iter().map(|r| r.folder.as_str()).collect();
        assert_eq!(
            folders[0],
            "a/group.leechers.count=3,policy.picker=random/rep-0"
        );
        assert_eq!(
            folders[1],
            "a/group.leechers.count=3,policy.picker=random/rep-1"
        );
        assert_eq!(
            folders[2],
            "a/group.leechers.count=3,policy.picker=rarest-first/rep-0"
        );
        assert_eq!(
            folders[7],
            "a/group.leechers.count=4,policy.picker=rarest-first/rep-1"
        );
        assert_eq!(plan.runs[0].seed, 5);
        assert_eq!(plan.runs[1].seed, replicate_seed(5, 1));
        assert_eq!(plan.runs[7].scenario.group("leechers").unwrap().count, 4);
        assert!(plan.runs.iter().enumerate().all(|(i, r)| r.index == i));
    }

    #[test]
    fn replicates_flag_overrides_and_plain_scenarios_get_rep_folders() {
        let sweep = "[sweep]\n\"policy.picker\" = [\"random\"]\nreplicates = 5\n";
        let plan =
            Plan::from_scenarios(vec![scenario("a", sweep), scenario("b", "")], Some(2)).unwrap();
        let folders: Vec<&str> = plan.runs.iter().map(|r| r.folder.as_str()).collect();
        assert_eq!(
            folders,
            [
                "a/policy.picker=random/rep-0",
                "a/policy.picker=random/rep-1",
                "b/rep-0",
                "b/rep-1"
            ]
        );
        assert_eq!(plan.fields, ["policy.picker"]);
    }

    #[test]
    fn colliding_names_and_zero_replicates_are_refused() {
        let e = Plan::from_scenarios(vec![scenario("a", ""), scenario("a", "")], None).unwrap_err();
        assert!(e.to_string().contains("distinct names"), "{e}");
        let e = Plan::from_scenarios(vec![scenario("a", "")], Some(0)).unwrap_err();
        assert!(e.to_string().contains("--replicates"), "{e}");
    }

    #[test]
    fn shards_deal_runs_round_robin() {
        let sweep = "[sweep]\nreplicates = 7\n";
        let plan = Plan::from_scenarios(vec![scenario("a", sweep)], None).unwrap();
        let s2: Vec<usize> = plan
            .shard(super::super::Shard { k: 2, n: 3 })
            .map(|r| r.index)
            .collect();
        assert_eq!(s2, [1, 4]);
    }
}
