//! Group values that may vary per peer or over time: distributions of rates and
//! latencies ([`Dist`]), arrival processes ([`Join`]) and stay times ([`Stay`]).
//!
//! Syntax (docs/design.md, "Scenario files"): a plain string is a fixed value; `{ uniform = [low, high] }`
//! draws uniformly; `{ choice = [a, b, ...], weights = [w1, w2, ...] }` picks one
//! (weights default to all 1); `join` also takes `{ poisson = "0.5/s" }`, and
//! `linger`/`abort` take `"forever"` or `{ exponential = "<mean>" }`.

use super::error::ScenarioError;
use super::read::Field;
use super::trace::ArrivalTrace;
use super::{Dist, Join, Stay};
use crate::core::Corruption;
use crate::units::{ArrivalRate, Bytes, Rate, SimDuration};
use toml_edit::Value;

/// A rate or a distribution of rates, all greater than zero.
pub(crate) fn rate_dist(f: &Field) -> Result<Dist<Rate>, ScenarioError> {
    dist(f, "a rate, e.g. \"10 Mbit/s\"", positive_rate)
}

/// A latency or a distribution of latencies (zero allowed).
pub(crate) fn latency_dist(f: &Field) -> Result<Dist<SimDuration>, ScenarioError> {
    dist(f, "a duration, e.g. \"20 ms\"", |f| {
        f.quantity("a duration, e.g. \"20 ms\"")
    })
}

/// `corrupt`: a probability from 0 to 1 (0 and 1 may be written as integers).
pub(crate) fn corruption(f: &Field) -> Result<Corruption, ScenarioError> {
    const EXPECTED: &str = "a probability from 0 to 1, e.g. corrupt = 0.5";
    let p = match f.value() {
        Some(Value::Float(x)) => *x.value(),
        Some(Value::Integer(i)) if (0..=1).contains(i.value()) => {
            if *i.value() == 1 {
                1.0
            } else {
                0.0
            }
        }
        Some(Value::Integer(i)) => {
            return Err(f.error(format!(
                "{} is out of range (expected {EXPECTED})",
                i.value()
            )));
        }
        _ => return Err(f.wrong_type(EXPECTED)),
    };
    Corruption::new(p).ok_or_else(|| f.error(format!("{p} is out of range (expected {EXPECTED})")))
}

fn positive_rate(f: &Field) -> Result<Rate, ScenarioError> {
    let rate: Rate = f.quantity("a rate, e.g. \"10 Mbit/s\"")?;
    if rate.0 == 0 {
        return Err(f.error(format!(
            "\"{}\" is zero (expected a rate greater than zero)",
            f.as_str().unwrap_or_default()
        )));
    }
    Ok(rate)
}

/// `value`, `{ uniform = [low, high] }` or `{ choice = [...], weights = [...] }`.
fn dist<T: PartialOrd>(
    f: &Field,
    what: &str,
    one: impl Fn(&Field) -> Result<T, ScenarioError>,
) -> Result<Dist<T>, ScenarioError> {
    if f.as_str().is_some() {
        return one(f).map(Dist::Fixed);
    }
    if !f.is_table() {
        return Err(f.wrong_type(&format!(
            "{what}, or {{ uniform = [low, high] }}, or {{ choice = [...], weights = [...] }}"
        )));
    }
    let t = f.table()?;
    t.check_keys(&["uniform", "choice", "weights"])?;
    match (t.get("uniform"), t.get("choice"), t.get("weights")) {
        (Some(u), None, None) => {
            let (low, high) = pair(&u, &one)?;
            Ok(Dist::Uniform(low, high))
        }
        (None, Some(c), weights) => {
            let elements =
                c.array("an array of values, e.g. choice = [\"1 Mbit/s\", \"10 Mbit/s\"]")?;
            if elements.is_empty() {
                return Err(c.error("the list is empty (expected at least one value)"));
            }
            let values = elements.iter().map(&one).collect::<Result<Vec<T>, _>>()?;
            let weights = match weights {
                None => vec![1; values.len()],
                Some(w) => {
                    let ws = w
                        .array("an array of whole numbers, e.g. weights = [4, 1]")?
                        .iter()
                        .map(|e| e.u32(1))
                        .collect::<Result<Vec<u32>, _>>()?;
                    if ws.len() != values.len() {
                        return Err(w.error(format!(
                            "{} weights for {} choices (expected one weight per choice)",
                            ws.len(),
                            values.len()
                        )));
                    }
                    ws
                }
            };
            Ok(Dist::Choice(values, weights))
        }
        (Some(u), Some(_), _) => Err(
            u.error("uniform and choice together (expected one distribution: uniform or choice)")
        ),
        (Some(_), None, Some(w)) => {
            Err(w.error("weights belong to choice (expected weights only with choice = [...])"))
        }
        (None, None, _) => Err(f.error(
            "empty distribution (expected { uniform = [low, high] } or { choice = [...] })",
        )),
    }
}

/// `[low, high]` with low <= high.
fn pair<T: PartialOrd>(
    f: &Field,
    one: &impl Fn(&Field) -> Result<T, ScenarioError>,
) -> Result<(T, T), ScenarioError> {
    let expected = "two values [low, high], e.g. [\"1 Mbit/s\", \"8 Mbit/s\"]";
    let elements = f.array(expected)?;
    let [low_f, high_f] = elements.as_slice() else {
        return Err(f.error(format!(
            "{} values are given (expected {expected})",
            elements.len()
        )));
    };
    let low = one(low_f)?;
    let high = one(high_f)?;
    if low > high {
        return Err(f.error(format!(
            "the low bound {} is above the high bound {} (expected [low, high])",
            quoted(low_f),
            quoted(high_f)
        )));
    }
    Ok((low, high))
}

fn quoted(f: &Field) -> String {
    format!("\"{}\"", f.as_str().unwrap_or_default())
}

/// `"0 s"`, `{ uniform = ["0 s", "10 s"] }`, `{ poisson = "0.5/s" }` or
/// `{ trace = "arrivals.csv" }` (relative to the scenario file).
pub(crate) fn join(f: &Field) -> Result<Join, ScenarioError> {
    let duration = |f: &Field| f.quantity::<SimDuration>("a duration, e.g. \"10 s\"");
    if f.as_str().is_some() {
        return duration(f).map(Join::At);
    }
    if !f.is_table() {
        return Err(f.wrong_type(
            "a time like \"0 s\", or { uniform = [\"0 s\", \"10 s\"] }, or { poisson = \"0.5/s\" }, or { trace = \"arrivals.csv\" }",
        ));
    }
    let t = f.table()?;
    t.check_keys(&["uniform", "poisson", "trace"])?;
    if let Some(trace) = t.get("trace") {
        if t.keys().len() > 1 {
            return Err(trace.error(
                "a trace with another arrival process (expected { trace = \"arrivals.csv\" } alone)",
            ));
        }
        let path = trace.str("a CSV file with a join_s column, e.g. \"arrivals.csv\"")?;
        return ArrivalTrace::read(trace.origin_dir(), path).map(Join::Trace);
    }
    match (t.get("uniform"), t.get("poisson")) {
        (Some(u), None) => {
            let (a, b) = pair(&u, &duration)?;
            Ok(Join::Uniform(a, b))
        }
        (None, Some(p)) => p
            .quantity::<ArrivalRate>("an arrival rate, e.g. \"0.5/s\"")
            .map(Join::Poisson),
        (Some(u), Some(_)) => Err(u.error(
            "uniform and poisson together (expected one of { uniform = [a, b] } or { poisson = \"0.5/s\" })",
        )),
        (None, None) => Err(f.error(
            "empty join (expected \"0 s\", { uniform = [a, b] } or { poisson = \"0.5/s\" })",
        )),
    }
}

/// `"forever"`, a duration, or `{ exponential = "<mean>" }`. `allow_zero` admits a
/// fixed zero (a leecher that leaves on completion); means must be positive.
pub(crate) fn stay(f: &Field, allow_zero: bool) -> Result<Stay, ScenarioError> {
    match f.as_str() {
        Some("forever") => return Ok(Stay::Forever),
        Some(_) if allow_zero => {
            return f
                .quantity::<SimDuration>("\"forever\" or a duration, e.g. \"5 min\"")
                .map(Stay::Fixed);
        }
        Some(_) => return positive_duration(f).map(Stay::Fixed),
        None => {}
    }
    if !f.is_table() {
        return Err(
            f.wrong_type("\"forever\", a duration like \"5 min\", or { exponential = \"5 min\" }")
        );
    }
    let t = f.table()?;
    t.check_keys(&["exponential"])?;
    let mean = t.require(
        "exponential",
        "a mean duration, e.g. { exponential = \"5 min\" }",
    )?;
    positive_duration(&mean).map(Stay::Exponential)
}

/// A size greater than zero.
pub(crate) fn positive_size(f: &Field) -> Result<Bytes, ScenarioError> {
    let size: Bytes = f.quantity("a size, e.g. \"64 MiB\"")?;
    if size.0 == 0 {
        return Err(f.error(format!(
            "\"{}\" is zero (expected a size greater than zero)",
            f.as_str().unwrap_or_default()
        )));
    }
    Ok(size)
}

/// A duration greater than zero.
pub(crate) fn positive_duration(f: &Field) -> Result<SimDuration, ScenarioError> {
    let d: SimDuration = f.quantity("a duration, e.g. \"10 s\"")?;
    if d.0 == 0 {
        return Err(f.error(format!(
            "\"{}\" is zero (expected a duration greater than zero)",
            f.as_str().unwrap_or_default()
        )));
    }
    Ok(d)
}
