//! The files a batch writes beside its run folders:
//!
//! * `plan.csv` — every planned run of the whole batch (all shards): `run, folder,
//!   scenario, <swept fields…>, replicate, seed`. Identical in every shard, so `merge`
//!   can tell which runs are missing and that shards belong together.
//! * `batch.toml` — which shard this folder holds: `shard`, `shards`, `runs` (the
//!   total planned).
//! * `index.csv` — a row per successful run of this folder: `folder, scenario, <swept
//!   fields…>, replicate, seed`, then the columns of `summary.csv` except `scenario`
//!   and `seed` (already there). Values are read back from each run's `summary.csv`, so
//!   resumed and merged runs produce the same bytes as fresh ones.
//! * `failures.csv` — the failed runs: the plan columns and `error`.

use super::BatchError;
use super::plan::{Plan, PlannedRun};
use crate::metrics::Summary;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Summary columns that the index already has in its leading columns.
const REPEATED: [&str; 2] = ["scenario", "seed"];

/// The plan columns of one run, as text: what `plan.csv` holds and `index.csv` starts
/// with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanRow {
    /// Position in the run list.
    pub index: usize,
    /// Run folder relative to the batch folder.
    pub folder: String,
    /// Scenario name.
    pub scenario: String,
    /// One value per swept field of the batch (empty where the run's scenario does
    /// not sweep that field).
    pub values: Vec<String>,
    /// Replicate number.
    pub replicate: u32,
    /// Run seed.
    pub seed: u64,
}

impl PlanRow {
    /// The row of a planned run, with cells for the batch's `fields`.
    pub fn of(run: &PlannedRun, fields: &[String]) -> PlanRow {
        PlanRow {
            index: run.index,
            folder: run.folder.clone(),
            scenario: run.scenario.name.clone(),
            values: fields
                .iter()
                .map(|f| run.point.get(f).unwrap_or_default().to_string())
                .collect(),
            replicate: run.replicate,
            seed: run.seed,
        }
    }
}

/// The `batch.toml` manifest of a batch folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// This folder's shard number (1-based).
    pub shard: u32,
    /// Number of shards the batch was dealt into.
    pub shards: u32,
    /// Runs planned in the whole batch.
    pub runs: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BatchError + '_ {
    move |e| BatchError::Io(path.to_path_buf(), e)
}

fn csv_io(path: &Path) -> impl Fn(csv::Error) -> BatchError + '_ {
    move |e| BatchError::Io(path.to_path_buf(), std::io::Error::other(e))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never
/// sees half a file.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BatchError> {
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes).map_err(io(path))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn csv_bytes(rows: impl IntoIterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        // Writing to memory cannot fail.
        let _ = w.write_record(&row);
    }
    w.into_inner().unwrap_or_default()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `plan.csv` of a plan.
pub(super) fn plan_csv(plan: &Plan) -> Vec<u8> {
    let mut header = strings(&["run", "folder", "scenario"]);
    header.extend(plan.fields.iter().cloned());
    header.extend(strings(&["replicate", "seed"]));
    let rows = plan.runs.iter().map(|r| {
        let row = PlanRow::of(r, &plan.fields);
        let mut cells = vec![row.index.to_string()];
        cells.extend(leading_cells(&row));
        cells
    });
    csv_bytes(std::iter::once(header).chain(rows))
}

/// Reads a `plan.csv` back: the swept fields and the rows.
pub(super) fn read_plan(path: &Path) -> Result<(Vec<String>, Vec<PlanRow>), BatchError> {
    let bad = |why: &str| BatchError::Input(format!("{}: {why}", path.display()));
    let mut r = csv::Reader::from_path(path).map_err(csv_io(path))?;
    let header: Vec<String> = r
        .headers()
        .map_err(csv_io(path))?
        .iter()
        .map(str::to_string)
        .collect();
    let n = header.len();
    if n < 5
        || header[..3] != ["run", "folder", "scenario"]
        || header[n - 2..] != ["replicate", "seed"]
    {
        return Err(bad("not a batch plan (unexpected columns)"));
    }
    let fields = header[3..n - 2].to_vec();
    let mut rows = Vec::new();
    for record in r.records() {
        let record = record.map_err(csv_io(path))?;
        let cell = |i: usize| record.get(i).unwrap_or_default();
        let number = |i: usize| {
            cell(i)
                .parse::<u64>()
                .map_err(|_| bad(&format!("\"{}\" is not a number", cell(i))))
        };
        rows.push(PlanRow {
            index: number(0)? as usize,
            folder: cell(1).to_string(),
            scenario: cell(2).to_string(),
            values: (3..n - 2).map(|i| cell(i).to_string()).collect(),
            replicate: number(n - 2)? as u32,
            seed: number(n - 1)?,
        });
    }
    if rows.iter().enumerate().any(|(i, r)| r.index != i) {
        return Err(bad("runs are not numbered 0, 1, 2, … in order"));
    }
    Ok((fields, rows))
}

fn leading_cells(row: &PlanRow) -> Vec<String> {
    let mut cells = vec![row.folder.clone(), row.scenario.clone()];
    cells.extend(row.values.iter().cloned());
    cells.push(row.replicate.to_string());
    cells.push(row.seed.to_string());
    cells
}

/// The header of `index.csv` for a batch sweeping `fields`.
pub(super) fn index_header(fields: &[String]) -> Vec<String> {
    let mut header = strings(&["folder", "scenario"]);
    header.extend(fields.iter().cloned());
    header.extend(strings(&["replicate", "seed"]));
    header.extend(
        Summary::COLUMNS
            .iter()
            .filter(|c| !REPEATED.contains(c))
            .map(|c| c.to_string()),
    );
    header
}

/// `index.csv` bytes: the header and a row per (plan row, summary cells) in order.
pub(super) fn index_csv(fields: &[String], rows: &[(PlanRow, Vec<String>)]) -> Vec<u8> {
    let body = rows.iter().map(|(row, summary)| {
        let mut cells = leading_cells(row);
        cells.extend(
            Summary::COLUMNS
                .iter()
                .zip(summary)
                .filter(|(c, _)| !REPEATED.contains(c))
                .map(|(_, v)| v.clone()),
        );
        cells
    });
    csv_bytes(std::iter::once(index_header(fields)).chain(body))
}

/// `failures.csv` bytes: the plan columns and the error of each failed run.
pub(super) fn failures_csv(fields: &[String], rows: &[(PlanRow, String)]) -> Vec<u8> {
    let mut header = strings(&["folder", "scenario"]);
    header.extend(fields.iter().cloned());
    header.extend(strings(&["replicate", "seed", "error"]));
    let body = rows.iter().map(|(row, error)| {
        let mut cells = leading_cells(row);
        cells.push(error.clone());
        cells
    });
    csv_bytes(std::iter::once(header).chain(body))
}

/// Reads the rows of an `index.csv`: the folder (first column) of each.
pub(super) fn index_folders(path: &Path) -> Result<Vec<String>, BatchError> {
    let mut r = csv::Reader::from_path(path).map_err(csv_io(path))?;
    let mut folders = Vec::new();
    for record in r.records() {
        let record = record.map_err(csv_io(path))?;
        folders.push(record.get(0).unwrap_or_default().to_string());
    }
    Ok(folders)
}

/// The cells of a run folder's `summary.csv`, matching [`Summary::COLUMNS`], checked to
/// belong to `row` (same scenario and seed). The error says why the folder does not hold
/// that run's complete results.
pub(super) fn read_summary(folder: &Path, row: &PlanRow) -> Result<Vec<String>, String> {
    let path = folder.join("summary.csv");
    let mut r = csv::Reader::from_path(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let header = r
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    if !header.iter().eq(Summary::COLUMNS.iter().copied()) {
        return Err(format!(
            "{}: columns differ from this version's summary.csv",
            path.display()
        ));
    }
    let record = match r.records().next() {
        Some(Ok(record)) => record,
        Some(Err(e)) => return Err(format!("{}: {e}", path.display())),
        None => return Err(format!("{}: has no row", path.display())),
    };
    let cells: Vec<String> = record.iter().map(str::to_string).collect();
    let get = |name: &str| {
        Summary::COLUMNS
            .iter()
            .position(|c| *c == name)
            .and_then(|i| cells.get(i))
            .map(String::as_str)
            .unwrap_or_default()
    };
    if get("scenario") != row.scenario || get("seed") != row.seed.to_string() {
        return Err(format!(
            "{}: holds scenario {} seed {}, not {} seed {}",
            path.display(),
            get("scenario"),
            get("seed"),
            row.scenario,
            row.seed
        ));
    }
    Ok(cells)
}

/// Writes `batch.toml`.
pub(super) fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), BatchError> {
    let text = format!(
        "# swarmlab batch: this folder holds shard {} of {} of a batch of {} runs\n# (plan.csv lists them all).\n{}",
        manifest.shard,
        manifest.shards,
        manifest.runs,
        toml::to_string(manifest).unwrap_or_default()
    );
    write_atomic(&dir.join("batch.toml"), text.as_bytes())
}

/// Reads `batch.toml`; a folder without one is not a batch folder.
pub(super) fn read_manifest(dir: &Path) -> Result<Manifest, BatchError> {
    let path = dir.join("batch.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        BatchError::Input(format!(
            "{}: not a batch folder ({}: {e})",
            dir.display(),
            path.display()
        ))
    })?;
    toml::from_str(&text).map_err(|e| {
        BatchError::Input(format!(
            "{}: {}",
            path.display(),
            e.message().replace('\n', " ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_header_has_plan_then_summary_columns_once() {
        let h = index_header(&["policy.choker".to_string()]);
        assert_eq!(
            h[..5],
            ["folder", "scenario", "policy.choker", "replicate", "seed"]
        );
        assert_eq!(h.iter().filter(|c| *c == "seed").count(), 1);
        assert_eq!(h.len(), 5 + Summary::COLUMNS.len() - REPEATED.len());
    }

    #[test]
    fn manifest_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest {
            shard: 2,
            shards: 3,
            runs: 17,
        };
        write_manifest(dir.path(), &m).unwrap();
        assert_eq!(read_manifest(dir.path()).unwrap(), m);
    }
}
