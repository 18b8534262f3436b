//! Typed, strict access to a parsed TOML tree: every value read knows its dotted field
//! path and its line, so any type, unit or range problem becomes a [`ScenarioError`]
//! that points at the right place.
//!
//! `toml_edit` keeps the byte span of every key and value when it parses a document;
//! that is why it is used here rather than `toml`'s serde route.

use super::error::{ScenarioError, Source};
use crate::units::UnitError;
use std::str::FromStr;
use toml_edit::{Item, TableLike, Value};

/// What a field holds: a plain value, a table (standard or inline), or something else
/// that no scenario field accepts.
#[derive(Clone, Copy)]
enum Node<'a> {
    Value(&'a Value),
    Table(&'a dyn TableLike),
    Other(&'static str),
}

/// A table being read, with the path that names its fields in errors.
#[derive(Clone)]
pub(crate) struct Table<'a> {
    src: &'a Source<'a>,
    table: &'a dyn TableLike,
    /// Dotted path of the table (empty for the root).
    pub path: String,
    /// Line of the table's header (or of the key that holds an inline table).
    pub line: usize,
}

/// One value being read: where it is (`path`, `line`) and what it holds.
#[derive(Clone)]
pub(crate) struct Field<'a> {
    src: &'a Source<'a>,
    node: Node<'a>,
    /// Dotted path naming the field in errors.
    pub path: String,
    /// 1-based line of the field's key (or of the value, for array elements).
    pub line: usize,
}

/// `parent.key`, or `key` at the top level.
pub(crate) fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl<'a> Table<'a> {
    /// The root table of a document.
    pub(super) fn root(src: &'a Source<'a>, table: &'a dyn TableLike) -> Table<'a> {
        Table {
            src,
            table,
            path: String::new(),
            line: 1,
        }
    }

    /// A table found inside this one (e.g. one of an array of tables).
    pub(super) fn child(
        &self,
        table: &'a dyn TableLike,
        path: String,
        span: Option<std::ops::Range<usize>>,
    ) -> Table<'a> {
        Table {
            src: self.src,
            table,
            path,
            line: span.map(|s| self.src.line_of(s.start)).unwrap_or(self.line),
        }
    }

    /// The same table named differently (a `[[group]]` is named by its `name`).
    pub(super) fn renamed(self, path: String) -> Table<'a> {
        Table { path, ..self }
    }

    /// An error about key `key` of this table, at `line`.
    pub(super) fn error(
        &self,
        line: usize,
        key: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.src.error(line, join_path(&self.path, key), message)
    }

    /// Rejects any key not in `allowed`, naming the first unknown key in file order.
    pub(super) fn check_keys(&self, allowed: &[&str]) -> Result<(), ScenarioError> {
        for (key, _) in self.table.iter() {
            if !allowed.contains(&key) {
                let line = self.key_line(key);
                return Err(self.error(
                    line,
                    key,
                    format!("unknown key (expected one of {})", allowed.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// Keys in file order.
    pub(super) fn keys(&self) -> Vec<&'a str> {
        self.table.iter().map(|(k, _)| k).collect()
    }

    fn key_line(&self, key: &str) -> usize {
        let span = self
            .table
            .get_key_value(key)
            .and_then(|(k, item)| k.span().or_else(|| item.span()));
        span.map(|s| self.src.line_of(s.start)).unwrap_or(self.line)
    }

    /// The field `key`, if present.
    pub(super) fn get(&self, key: &str) -> Option<Field<'a>> {
        let (_, item) = self.table.get_key_value(key)?;
        let line = self.key_line(key);
        let node = match item {
            Item::None => return None,
            Item::Value(Value::InlineTable(t)) => Node::Table(t),
            Item::Value(v) => Node::Value(v),
            Item::Table(t) => Node::Table(t),
            Item::ArrayOfTables(_) => Node::Other("an array of tables"),
        };
        Some(Field {
            src: self.src,
            node,
            path: join_path(&self.path, key),
            line,
        })
    }

    /// The raw item at `key` (for arrays of tables, which [`Field`] does not model).
    pub(super) fn item(&self, key: &str) -> Option<&'a Item> {
        self.table.get(key)
    }

    /// The field `key`, or an error saying it is missing and what it should be.
    pub(super) fn require(&self, key: &str, expected: &str) -> Result<Field<'a>, ScenarioError> {
        self.get(key)
            .ok_or_else(|| self.error(self.line, key, format!("missing (expected {expected})")))
    }

    /// The sub-table `key`, or an empty table if absent.
    pub(super) fn sub_table(&self, key: &str) -> Result<Option<Table<'a>>, ScenarioError> {
        match self.get(key) {
            None => Ok(None),
            Some(f) => f.table().map(Some),
        }
    }
}

impl<'a> Field<'a> {
    /// An error about this field.
    pub(super) fn error(&self, message: impl Into<String>) -> ScenarioError {
        self.src.error(self.line, self.path.clone(), message)
    }

    /// The folder of the file the field comes from (where its relative paths start):
    /// empty, the working directory, for text that is not a file's.
    pub(super) fn origin_dir(&self) -> &std::path::Path {
        std::path::Path::new(self.src.origin)
            .parent()
            .unwrap_or(std::path::Path::new(""))
    }

    /// "what was found", for type errors: `5 is an integer`, `a table`…
    fn found(&self) -> String {
        match self.node {
            Node::Value(v) => {
                let kind = match v {
                    Value::String(_) => "a string",
                    Value::Integer(_) => "an integer",
                    Value::Float(_) => "a float",
                    Value::Boolean(_) => "a boolean",
                    Value::Datetime(_) => "a date-time",
                    Value::Array(_) => "an array",
                    Value::InlineTable(_) => "a table",
                };
                // One line, whatever the layout of the value in the file.
                let mut repr = v
                    .to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if repr.chars().count() > 40 {
                    repr = repr.chars().take(37).collect::<String>() + "...";
                }
                format!("{repr} is {kind}")
            }
            Node::Table(_) => "a table is given".to_string(),
            Node::Other(kind) => format!("{kind} is given"),
        }
    }

    /// A type error: what was found and what was expected.
    pub(super) fn wrong_type(&self, expected: &str) -> ScenarioError {
        self.error(format!("{} (expected {expected})", self.found()))
    }

    /// The field as a string.
    pub(super) fn str(&self, expected: &str) -> Result<&'a str, ScenarioError> {
        match self.node {
            Node::Value(Value::String(s)) => Ok(s.value()),
            _ => Err(self.wrong_type(expected)),
        }
    }

    /// The field as a string, if it is one (for fields that take a string or a table).
    pub(super) fn as_str(&self) -> Option<&'a str> {
        match self.node {
            Node::Value(Value::String(s)) => Some(s.value()),
            _ => None,
        }
    }

    /// The field as a boolean.
    pub(super) fn bool(&self) -> Result<bool, ScenarioError> {
        match self.node {
            Node::Value(Value::Boolean(b)) => Ok(*b.value()),
            _ => Err(self.wrong_type("true or false")),
        }
    }

    /// The field as an integer in `min..=max`.
    pub(super) fn int(&self, min: i64, max: i64) -> Result<i64, ScenarioError> {
        let expected = if max == i64::MAX {
            format!("a whole number of at least {min}")
        } else {
            format!("a whole number from {min} to {max}")
        };
        let Node::Value(Value::Integer(i)) = self.node else {
            return Err(self.wrong_type(&expected));
        };
        let v = *i.value();
        if v < min {
            let what = if v < 0 { "is negative" } else { "is too small" };
            return Err(self.error(format!("{v} {what} (expected {expected})")));
        }
        if v > max {
            return Err(self.error(format!("{v} is too large (expected {expected})")));
        }
        Ok(v)
    }

    /// The field as a `u32` of at least `min`.
    pub(super) fn u32(&self, min: u32) -> Result<u32, ScenarioError> {
        let v = self.int(i64::from(min), i64::from(u32::MAX))?;
        // In range by the check above.
        u32::try_from(v).map_err(|_| self.error(format!("{v} is out of range")))
    }

    /// The field as a quantity with a unit (`"64 MiB"`, `"2 Mbit/s"`, `"20 ms"`).
    /// `what` names it in type errors: `a rate, e.g. "10 Mbit/s"`.
    pub(super) fn quantity<T: FromStr<Err = UnitError>>(
        &self,
        what: &str,
    ) -> Result<T, ScenarioError> {
        let text = self.str(&format!("{what} written as a string with its unit"))?;
        text.parse::<T>().map_err(|e| self.error(e.0))
    }

    /// The field as a table.
    pub(super) fn table(&self) -> Result<Table<'a>, ScenarioError> {
        match self.node {
            Node::Table(table) => Ok(Table {
                src: self.src,
                table,
                path: self.path.clone(),
                line: self.line,
            }),
            _ => Err(self.wrong_type("a table")),
        }
    }

    /// Whether the field holds a table (inline or standard).
    pub(super) fn is_table(&self) -> bool {
        matches!(self.node, Node::Table(_))
    }

    /// The field's elements, if it is an array (each named `path[i]`).
    pub(super) fn array(&self, expected: &str) -> Result<Vec<Field<'a>>, ScenarioError> {
        let Node::Value(Value::Array(array)) = self.node else {
            return Err(self.wrong_type(expected));
        };
        Ok(array
            .iter()
            .enumerate()
            .map(|(i, v)| Field {
                src: self.src,
                node: match v {
                    Value::InlineTable(t) => Node::Table(t),
                    v => Node::Value(v),
                },
                path: format!("{}[{i}]", self.path),
                line: v
                    .span()
                    .map(|s| self.src.line_of(s.start))
                    .unwrap_or(self.line),
            })
            .collect())
    }

    /// The plain value, if the field holds one (for copying sweep values).
    pub(super) fn value(&self) -> Option<&'a Value> {
        match self.node {
            Node::Value(v) => Some(v),
            _ => None,
        }
    }
}
