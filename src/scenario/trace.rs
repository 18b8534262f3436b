//! Arrival traces: a group's join times read from a CSV file (`join = { trace = "…" }`),
//! one row per peer, in seconds from the start of the run in a `join_s` column.
//!
//! A trace replays a measured swarm's arrivals (a tracker log turned into join times;
//! README, "Arrival traces"). Its path is relative to the scenario file; the resolved
//! scenario keeps it absolute, so the copy a run writes into its results folder reads
//! the same file wherever it is parsed from. Errors name the trace file and its line.

use super::ScenarioError;
use crate::units::SimDuration;
use std::path::{Path, PathBuf};

/// The column holding each arrival's time, in seconds.
pub const JOIN_COLUMN: &str = "join_s";

/// A group's arrivals, as read from its trace file.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrivalTrace {
    /// The trace file, absolute.
    pub path: PathBuf,
    /// Each peer's join time, in file order.
    pub times: Vec<SimDuration>,
}

impl ArrivalTrace {
    /// Reads the trace at `path` (relative to `base`, the scenario file's folder).
    pub fn read(base: &Path, path: &str) -> Result<ArrivalTrace, ScenarioError> {
        let joined = base.join(path);
        let fail = |line: Option<usize>, field: Option<&str>, message: String| ScenarioError {
            origin: joined.display().to_string(),
            line,
            field: field.map(str::to_string),
            message,
        };
        let absolute = std::fs::canonicalize(&joined)
            .map_err(|e| fail(None, None, format!("cannot read the arrival trace ({e})")))?;
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(&absolute)
            .map_err(|e| fail(None, None, format!("cannot read the arrival trace ({e})")))?;
        let headers = reader
            .headers()
            .map_err(|e| fail(Some(1), None, format!("not a CSV header ({e})")))?;
        let column = headers
            .iter()
            .position(|h| h == JOIN_COLUMN)
            .ok_or_else(|| {
                fail(
                    Some(1),
                    None,
                    format!(
                        "no {JOIN_COLUMN} column (expected a header such as \"{JOIN_COLUMN}\")"
                    ),
                )
            })?;
        let mut times = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map(|p| p.line() as usize);
                fail(line, None, format!("not a CSV row ({e})"))
            })?;
            let line = record.position().map(|p| p.line() as usize);
            let text = record.get(column).unwrap_or_default();
            let secs: f64 = text.parse().map_err(|_| {
                let message = format!("\"{text}\" is not a number of seconds (expected e.g. 12.5)");
                fail(line, Some(JOIN_COLUMN), message)
            })?;
            if !secs.is_finite() || secs < 0.0 {
                let message = format!("{text} is not a time in the run (expected 0 or more)");
                return Err(fail(line, Some(JOIN_COLUMN), message));
            }
            times.push(SimDuration((secs * 1e6).round() as u64));
        }
        if times.is_empty() {
            let message = "no arrivals (expected one row per peer)".to_string();
            return Err(fail(Some(1), None, message));
        }
        Ok(ArrivalTrace {
            path: absolute,
            times,
        })
    }

    /// The number of peers it brings.
    pub fn count(&self) -> u32 {
        u32::try_from(self.times.len()).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(text: &str) -> Result<ArrivalTrace, ScenarioError> {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("arrivals.csv"), text).expect("write");
        ArrivalTrace::read(dir.path(), "arrivals.csv")
    }

    #[test]
    fn reads_the_join_column_in_file_order() {
        let t = trace("peer,join_s\na,0\nb, 12.5\nc,3\n").expect("reads");
        let secs: Vec<f64> = t.times.iter().map(|d| d.0 as f64 / 1e6).collect();
        assert_eq!(secs, vec![0.0, 12.5, 3.0]);
        assert_eq!(t.count(), 3);
        assert!(t.path.is_absolute());
    }

    #[test]
    fn a_bad_row_names_the_file_line_and_column() {
        let e = trace("join_s\n1\nsoon\n").unwrap_err();
        assert!(e.origin.ends_with("arrivals.csv"), "{e}");
        assert_eq!(e.line, Some(3));
        assert_eq!(e.field.as_deref(), Some(JOIN_COLUMN));
        let e = trace("join_s\n-4\n").unwrap_err();
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn a_missing_column_file_or_row_is_an_error() {
        assert!(
            trace("time\n1\n")
                .unwrap_err()
                .message
                .contains("no join_s column")
        );
        assert!(
            trace("join_s\n")
                .unwrap_err()
                .message
                .contains("no arrivals")
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let e = ArrivalTrace::read(dir.path(), "missing.csv").unwrap_err();
        assert!(e.message.contains("cannot read"), "{e}");
    }
}
