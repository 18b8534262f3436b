//! Parsing scenario TOML into a [`Scenario`], with errors that name file, line and field.
//! (Placeholder: being written.)

use super::Scenario;
use std::fmt;
use std::path::Path;

/// A scenario that cannot be used: where (file and line) and what is wrong with which field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or other origin) name.
    pub origin: String,
    /// 1-based line, if known.
    pub line: Option<usize>,
    /// Dotted field path (`group.leechers.upload`), if the error concerns one field.
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// One point of a sweep grid: the values chosen for each swept field.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    /// (field, value as written) in the sweep's field order.
    pub values: Vec<(String, String)>,
}

pub(super) fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let _ = path;
    todo!("scenario parsing")
}

pub(super) fn from_str_named(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    let _ = (text, origin);
    todo!("scenario parsing")
}
