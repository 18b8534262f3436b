//! Loading a scenario: a file's bytes to text, the text to a resolved [`Scenario`] with
//! its `[sweep]` table. The fields are read by [`super::parse`], the sweep by
//! [`super::sweep`]; this module only puts the two together, so neither needs the other.

use super::error::{ScenarioError, Source};
use super::{Scenario, StrategyTable, parse, sweep};
use std::path::Path;

/// Reads and validates a scenario file. The origin in errors is the path as given.
pub(super) fn from_file(
    path: &Path,
    strategies: &StrategyTable,
) -> Result<Scenario, ScenarioError> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ScenarioError {
        origin: origin.clone(),
        line: None,
        field: None,
        message: format!("cannot read the file ({e})"),
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            // Point at the line of the first byte that is not UTF-8.
            let valid = e.utf8_error().valid_up_to();
            let line = 1 + e.as_bytes()[..valid]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            return Err(ScenarioError {
                origin,
                line: Some(line),
                field: None,
                message: "the file is not UTF-8 text (expected a TOML scenario)".to_string(),
            });
        }
    };
    from_str(&text, &origin, strategies)
}

/// Parses scenario text; `origin` names it in errors and gives the default name.
pub(super) fn from_str(
    text: &str,
    origin: &str,
    strategies: &StrategyTable,
) -> Result<Scenario, ScenarioError> {
    let doc = parse::parse_toml(text, origin)?;
    let src = Source::new(origin, text);
    let mut scenario = parse::build(&doc, &src, strategies)?;
    scenario.sweep = sweep::parse(&doc, &src, strategies)?;
    Ok(scenario)
}
