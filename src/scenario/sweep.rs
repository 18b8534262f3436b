//! `[sweep]`: lists of values for dotted field paths, expanded as a cross product, and
//! replicates with seeds derived from `run.seed`.
//!
//! A point is applied by editing the TOML and parsing it again, so a swept value goes
//! through exactly the checks a written value does. Every value is checked on its own
//! when the file is read (an error names the `[sweep]` line); combinations that only
//! fail together (a swept chunk size above a swept file size) fail in
//! [`Scenario::with_overrides`].

use super::error::{ScenarioError, Source};
use super::network::NETWORK_KEYS;
use super::parse::{self, FILE_KEYS, GROUP_KEYS, POLICY_KEYS, RUN_KEYS, TRACKER_KEYS};
use super::read::{Field, Table, join_path};
use super::{Scenario, StrategyTable, Sweep};
use std::fmt;
use toml_edit::{Document, DocumentMut, Item, Value};

/// One point of a sweep grid: the values chosen for each swept field.
///
/// A value is TOML value syntax (`200`, `{ uniform = ["0 s", "10 s"] }`), except that a
/// string is written bare (`propshare`, `2 Mbit/s`) whenever that is unambiguous, so
/// points read well in `index.csv` and callers such as `compare --choker a,b` can build
/// them from plain words. Text that does not parse as a TOML value is taken as a string.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    /// (field, value as written) in the sweep's field order.
    pub values: Vec<(String, String)>,
}

impl SweepPoint {
    /// A point from (field, value) pairs.
    pub fn new<F: Into<String>, V: Into<String>>(values: impl IntoIterator<Item = (F, V)>) -> Self {
        SweepPoint {
            values: values
                .into_iter()
                .map(|(f, v)| (f.into(), v.into()))
                .collect(),
        }
    }

    /// The value chosen for `field`, if the point sets it.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
    }
}

/// `field=value, field=value` (empty for the point of a scenario without a sweep).
impl fmt::Display for SweepPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, value)) in self.values.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{field}={value}")?;
        }
        Ok(())
    }
}

/// The seed of replicate `k` of a run whose scenario seed is `base`.
///
/// Replicate 0 runs with `base` itself, so a sweep with one replicate reproduces the
/// file's `run.seed`. Replicate k > 0 gets `splitmix64(base + k·γ) >> 1`, where γ is
/// SplitMix64's increment (2^64 / φ) and the finalizer is SplitMix64's (Steele, Lea &
/// Flood 2014): neighbouring k give unrelated seeds, and the rule is written here, not
/// borrowed from a library that might change it. The top bit is dropped so every seed
/// fits a TOML integer and can be written into `scenario.toml`.
pub fn replicate_seed(base: u64, k: u32) -> u64 {
    if k == 0 {
        return base;
    }
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut z = base.wrapping_add(u64::from(k).wrapping_mul(GAMMA));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z >> 1
}

/// Reads and checks the `[sweep]` table of a parsed document (`None` without one).
pub(super) fn parse(
    doc: &Document<String>,
    src: &Source,
    strategies: &StrategyTable,
) -> Result<Option<Sweep>, ScenarioError> {
    let root = Table::root(src, doc.as_table());
    let Some(table) = root.sub_table("sweep")? else {
        return Ok(None);
    };
    let mut base = doc.clone().into_mut();
    base.remove("sweep");
    let group_names = group_names(&base);

    let mut replicates = 1;
    let mut fields: Vec<(String, Vec<toml::Value>)> = Vec::new();
    // Quoted keys ("group.leechers.count" = [...]) are the documented form; bare dotted
    // keys make nested tables, which are flattened back into paths.
    let mut pending: Vec<(Table, String)> = vec![(table, String::new())];
    while let Some((t, prefix)) = pending.pop() {
        for key in t.keys() {
            let Some(field) = t.get(key) else { continue };
            let path = join_path(&prefix, key);
            if prefix.is_empty() && key == "replicates" {
                replicates = field.u32(1)?;
                continue;
            }
            if field.is_table() {
                let mut nested = field.table()?;
                nested.path = field.path.clone();
                pending.push((nested, path));
                continue;
            }
            let sweep_path = format!("sweep.{path}");
            let located = |message: String| src.error(field.line, sweep_path.clone(), message);
            check_path(&path, &group_names).map_err(located)?;
            if fields.iter().any(|(p, _)| *p == path) {
                return Err(located("is swept twice (expected each field once)".into()));
            }
            let values = sweep_values(&field, &path, &base, src, strategies)?;
            fields.push((path, values));
        }
    }
    Ok(Some(Sweep { fields, replicates }))
}

/// The values of one swept field, each checked by parsing the scenario with it.
fn sweep_values(
    field: &Field,
    path: &str,
    base: &DocumentMut,
    src: &Source,
    strategies: &StrategyTable,
) -> Result<Vec<toml::Value>, ScenarioError> {
    let elements = field.array("a list of values, e.g. [50, 100, 200]")?;
    if elements.is_empty() {
        return Err(field.error("the list is empty (expected at least one value)"));
    }
    let raw = match field.value() {
        Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        _ => return Err(field.wrong_type("a list of values")),
    };
    let mut values = Vec::with_capacity(raw.len());
    for (element, value) in elements.iter().zip(raw) {
        let mut value = value.clone();
        value.decor_mut().clear();
        let mut doc = base.clone();
        let located = |e: ScenarioError| {
            let message = match &e.field {
                Some(f) if f == path => e.message,
                Some(f) => format!("with this value, {f}: {}", e.message),
                None => e.message,
            };
            src.error(element.line, format!("sweep.{path}"), message)
        };
        apply(&mut doc, path, value.clone()).map_err(|m| element.error(m))?;
        reparse(&doc, src.origin, strategies).map_err(located)?;
        let converted = value
            .to_string()
            .parse::<toml::Value>()
            .map_err(|e| element.error(format!("unreadable value ({e})")))?;
        values.push(converted);
    }
    Ok(values)
}

/// Prints and parses an edited document again, with every check.
fn reparse(
    doc: &DocumentMut,
    origin: &str,
    strategies: &StrategyTable,
) -> Result<Scenario, ScenarioError> {
    let text = doc.to_string();
    let parsed = parse::parse_toml(&text, origin)?;
    parse::build(&parsed, &Source::new(origin, &text), strategies)
}

/// Group names in file order, from `[[group]]` tables or an array of inline tables.
fn group_names(doc: &DocumentMut) -> Vec<String> {
    let name =
        |t: &dyn toml_edit::TableLike| t.get("name").and_then(Item::as_str).map(str::to_string);
    match doc.get("group") {
        Some(Item::ArrayOfTables(a)) => a.iter().filter_map(|t| name(t)).collect(),
        Some(Item::Value(Value::Array(a))) => a
            .iter()
            .filter_map(Value::as_inline_table)
            .filter_map(|t| name(t))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `path` names a field a sweep may set; the error says what would.
fn check_path(path: &str, groups: &[String]) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let in_table = |keys: &[&str], table: &str, key: &str| {
        if keys.contains(&key) {
            Ok(())
        } else {
            Err(format!(
                "\"{key}\" is not a field of [{table}] (expected one of {})",
                keys.join(", ")
            ))
        }
    };
    match parts.as_slice() {
        ["file", key] => in_table(FILE_KEYS, "file", key),
        ["tracker", key] => in_table(TRACKER_KEYS, "tracker", key),
        ["policy", key] => in_table(POLICY_KEYS, "policy", key),
        ["run", key] => in_table(RUN_KEYS, "run", key),
        ["network", key] => in_table(NETWORK_KEYS, "network", key),
        ["group", name, key] => {
            if !groups.iter().any(|g| g == name) {
                return Err(format!(
                    "no group is named \"{name}\" (expected one of {})",
                    groups.join(", ")
                ));
            }
            let keys: Vec<&str> = GROUP_KEYS
                .iter()
                .chain(POLICY_KEYS)
                .copied()
                .filter(|k| *k != "name")
                .collect();
            if keys.contains(key) {
                Ok(())
            } else {
                Err(format!(
                    "\"{key}\" is not a group field that can be swept (expected one of {})",
                    keys.join(", ")
                ))
            }
        }
        _ => Err(
            "is not a field that can be swept (expected file.<key>, tracker.<key>, policy.<key>, run.<key>, network.<key> or group.<name>.<key>)"
                .to_string(),
        ),
    }
}

/// Sets `path` to `value` in the document, creating the table if needed.
fn apply(doc: &mut DocumentMut, path: &str, value: Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let (table, key): (&mut dyn toml_edit::TableLike, &str) = match parts.as_slice() {
        ["group", name, key] => (find_group(doc, name)?, key),
        [table, key] => {
            let item = doc
                .entry(table)
                .or_insert_with(|| Item::Table(toml_edit::Table::new()));
            let Some(t) = item.as_table_like_mut() else {
                return Err(format!("[{table}] is not a table"));
            };
            (t, key)
        }
        _ => return Err(format!("\"{path}\" is not a field that can be swept")),
    };
    table.insert(key, Item::Value(value));
    Ok(())
}

fn find_group<'d>(
    doc: &'d mut DocumentMut,
    name: &str,
) -> Result<&'d mut dyn toml_edit::TableLike, String> {
    let named = |t: &dyn toml_edit::TableLike| t.get("name").and_then(Item::as_str) == Some(name);
    let found: Option<&mut dyn toml_edit::TableLike> = match doc.get_mut("group") {
        Some(Item::ArrayOfTables(a)) => a
            .iter_mut()
            .find(|t| named(*t))
            .map(|t| t as &mut dyn toml_edit::TableLike),
        Some(Item::Value(Value::Array(a))) => a
            .iter_mut()
            .filter_map(Value::as_inline_table_mut)
            .find(|t| named(*t))
            .map(|t| t as &mut dyn toml_edit::TableLike),
        _ => None,
    };
    found.ok_or_else(|| format!("no group is named \"{name}\""))
}

/// The points of the grid: the cross product of the swept values in file order, the
/// last field varying fastest. Without a sweep: one point that changes nothing.
/// Replicates are not expanded here (see [`replicate_seed`]).
pub(super) fn points(sweep: Option<&Sweep>) -> Vec<SweepPoint> {
    let Some(sweep) = sweep else {
        return vec![SweepPoint { values: Vec::new() }];
    };
    let texts: Vec<(String, Vec<String>)> = sweep
        .fields
        .iter()
        .map(|(path, values)| (path.clone(), values.iter().map(value_text).collect()))
        .collect();
    if texts.iter().any(|(_, v)| v.is_empty()) {
        return Vec::new();
    }
    let mut points = Vec::new();
    // An odometer over the value indices; the last digit turns fastest.
    let mut index = vec![0usize; texts.len()];
    loop {
        points.push(SweepPoint {
            values: texts
                .iter()
                .zip(&index)
                .map(|((path, values), &i)| (path.clone(), values[i].clone()))
                .collect(),
        });
        let mut digit = texts.len();
        loop {
            if digit == 0 {
                return points;
            }
            digit -= 1;
            index[digit] += 1;
            if index[digit] < texts[digit].1.len() {
                break;
            }
            index[digit] = 0;
        }
    }
}

/// A sweep value as point text: bare for an unambiguous string, TOML syntax otherwise.
fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) if !s.is_empty() && s.trim() == s && s.parse::<Value>().is_err() => {
            s.clone()
        }
        other => other.to_string(),
    }
}

/// Point text back to a TOML value (see [`SweepPoint`]).
fn text_value(text: &str) -> Value {
    text.parse::<Value>().unwrap_or_else(|_| Value::from(text))
}

/// The scenario with one sweep point applied (see [`Scenario::with_overrides`]).
pub(super) fn with_overrides(
    scenario: &Scenario,
    point: &SweepPoint,
) -> Result<Scenario, ScenarioError> {
    // The resolved scenario is the base (not the original file): it is all the
    // scenario knows, and it makes overrides work on scenarios built in code too.
    let origin = if point.values.is_empty() {
        scenario.name.clone()
    } else {
        format!("{} [{point}]", scenario.name)
    };
    // Lines in the generated text mean nothing to the user: errors name the field only.
    let unlocated = |mut e: ScenarioError| {
        e.line = None;
        e
    };
    let text = scenario.to_toml();
    let mut doc = parse::parse_toml(&text, &origin)
        .map_err(unlocated)?
        .into_mut();
    let groups: Vec<String> = scenario.groups.iter().map(|g| g.name.clone()).collect();
    for (path, value) in &point.values {
        let fail = |message: String| ScenarioError {
            origin: origin.clone(),
            line: None,
            field: Some(path.clone()),
            message,
        };
        check_path(path, &groups).map_err(fail)?;
        apply(&mut doc, path, text_value(value)).map_err(fail)?;
    }
    let mut result = reparse(&doc, &origin, &scenario.strategies).map_err(unlocated)?;
    result.sweep = None;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicate_zero_is_the_base_seed() {
        assert_eq!(replicate_seed(42, 0), 42);
        assert_eq!(replicate_seed(u64::MAX, 0), u64::MAX);
    }

    #[test]
    fn replicate_seeds_differ_and_fit_toml_integers() {
        let seeds: Vec<u64> = (0..100).map(|k| replicate_seed(1, k)).collect();
        let mut sorted = seeds.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), seeds.len());
        assert!(seeds[1..].iter().all(|&s| s <= i64::MAX as u64));
        // Pinned: the rule must not drift, or old batches stop being reproducible. The
        // values were computed apart from this code, by the rule as the README states it
        // (splitmix64(base + k·0x9E3779B97F4A7C15) >> 1) in a few lines of Python.
        assert_eq!(replicate_seed(1, 1), 5_225_608_189_600_411_232);
        assert_eq!(replicate_seed(1, 2), 6_878_622_605_533_214_259);
        assert_eq!(replicate_seed(42, 7), 2_014_432_356_388_812_462);
        assert_ne!(replicate_seed(1, 1), replicate_seed(2, 1));
    }

    #[test]
    fn point_text_round_trips() {
        for v in [
            toml::Value::Integer(200),
            toml::Value::String("propshare".into()),
            toml::Value::String("2 Mbit/s".into()),
            toml::Value::String("200".into()),
            toml::Value::String("true".into()),
            toml::Value::String("".into()),
            toml::Value::Boolean(false),
        ] {
            let text = value_text(&v);
            let back: toml::Value = text_value(&text).to_string().parse().unwrap();
            assert_eq!(back, v, "{text}");
        }
        assert_eq!(
            value_text(&toml::Value::String("propshare".into())),
            "propshare"
        );
        assert_eq!(value_text(&toml::Value::String("200".into())), "\"200\"");
    }
}
