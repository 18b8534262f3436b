//! The one error type of scenario handling, and the bookkeeping that turns a byte
//! offset in the TOML text into the 1-based line an error names.

use std::fmt;
use std::ops::Range;

/// A scenario that cannot be used: where (file and line) and what is wrong with which field.
///
/// Displays as one line, `file:line: field.path: what is wrong (what is expected)`, e.g.
/// `flash-crowd.toml:14: group.leechers.upload: "10 Mbps/s" is not a rate (try "10 Mbit/s")`.
/// The line and the field are left out when unknown (an unreadable file, a whole-file
/// problem).
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
        write!(f, "{}", OneLine(&self.origin))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {}", OneLine(field))?;
        }
        write!(f, ": {}", OneLine(&self.message))
    }
}

/// Text with control characters escaped (`\n`), so an error stays one line even when
/// it quotes a value or key that holds a newline.
struct OneLine<'a>(&'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// The text being parsed and its name: knows where lines start, so any span the TOML
/// parser reports can be named by line.
pub(crate) struct Source<'a> {
    /// Name used in errors (the path the user typed).
    pub origin: &'a str,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub(super) fn new(origin: &'a str, text: &str) -> Source<'a> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source {
            origin,
            line_starts,
        }
    }

    /// The 1-based line holding byte `offset`.
    pub(super) fn line_of(&self, offset: usize) -> usize {
        // Number of line starts at or before the offset = the 1-based line.
        self.line_starts
            .partition_point(|&start| start <= offset)
            .max(1)
    }

    /// The 1-based line where `span` starts (line 1 when the span is unknown).
    pub(super) fn line_of_span(&self, span: Option<Range<usize>>) -> usize {
        span.map(|s| self.line_of(s.start)).unwrap_or(1)
    }

    /// An error about `field` at `line`.
    pub(super) fn error(
        &self,
        line: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            origin: self.origin.to_string(),
            line: Some(line),
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// An error about the whole file, at `line`.
    pub(super) fn file_error(&self, line: usize, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            origin: self.origin.to_string(),
            line: Some(line),
            field: None,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines() {
        let src = Source::new("x.toml", "a = 1\nb = 2\n\nc = 3");
        assert_eq!(src.line_of(0), 1);
        assert_eq!(src.line_of(5), 1); // the newline itself
        assert_eq!(src.line_of(6), 2);
        assert_eq!(src.line_of(12), 3);
        assert_eq!(src.line_of(13), 4);
        assert_eq!(src.line_of_span(None), 1);
    }

    #[test]
    fn display_is_one_line() {
        let src = Source::new("bad.toml", "");
        let e = src.error(3, "group.leechers.upload", "is wrong (expected right)");
        assert_eq!(
            e.to_string(),
            "bad.toml:3: group.leechers.upload: is wrong (expected right)"
        );
        let e = ScenarioError {
            origin: "gone.toml".into(),
            line: None,
            field: None,
            message: "cannot read".into(),
        };
        assert_eq!(e.to_string(), "gone.toml: cannot read");
        let e = src.error(1, "a\nb", "\"x\ny\" is odd");
        assert_eq!(e.to_string(), "bad.toml:1: a\\nb: \"x\\ny\" is odd");
    }
}
