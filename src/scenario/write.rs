//! Writing a resolved [`Scenario`] back as TOML: the `scenario.toml` of a result folder.
//!
//! Every field is written out (no defaults left implicit) with the same names and the
//! canonical unit strings of the `Display` impls, so the text parses back to an equal
//! scenario and the same scenario always gives the same bytes. Group policy keys are
//! written only where the group differs from `[policy]`, as a reader would write them.
//! The `[sweep]` table is left out: a result folder holds one point of it.

use super::{BlockSize, Dist, Group, Join, Scenario, Stay, Stop};
use crate::core::{Pipeline, Policy};
use crate::units::{ArrivalRate, SimDuration};
use std::fmt::{Display, Write};

/// The scenario as TOML text.
pub(super) fn to_toml(s: &Scenario) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(out, "name = {}", quote(&s.name));
    let _ = writeln!(out, "description = {}", quote(&s.description));

    let _ = writeln!(out, "\n[file]");
    let _ = writeln!(out, "size = {}", shown(s.file.size));
    let _ = writeln!(out, "chunk_size = {}", shown(s.file.chunk_size));
    let block = match s.file.block_size {
        BlockSize::Bytes(b) => shown(b),
        BlockSize::Chunk => quote("chunk"),
    };
    let _ = writeln!(out, "block_size = {block}");

    let t = &s.tracker;
    let _ = writeln!(out, "\n[tracker]");
    let _ = writeln!(out, "peers_per_announce = {}", t.peers_per_announce);
    let _ = writeln!(out, "announce_interval = {}", shown(t.announce_interval));
    let _ = writeln!(out, "min_neighbours = {}", t.min_neighbours);
    let _ = writeln!(out, "max_neighbours = {}", t.max_neighbours);
    // Keys added after the first scenario format are written only when they differ
    // from their default, so older results keep their exact scenario.toml.
    let default = super::TrackerSpec::default();
    if (t.bias, t.external) != (default.bias, default.external) {
        let _ = writeln!(out, "bias = {}", quote(t.bias.name()));
        let _ = writeln!(out, "external = {}", t.external);
    }

    let _ = writeln!(out, "\n[policy]");
    for (key, value) in policy_entries(&s.policy) {
        let _ = writeln!(out, "{key} = {value}");
    }

    for g in &s.groups {
        let _ = writeln!(out, "\n[[group]]");
        write_group(&mut out, g, &s.policy);
    }
    if !s.network.latency.is_empty() {
        let pairs: Vec<String> = s
            .network
            .latency
            .iter()
            .map(|((a, b), d)| format!("{} = {}", quote(&format!("{a}-{b}")), shown(d)))
            .collect();
        let _ = writeln!(out, "\n[network]");
        let _ = writeln!(out, "latency = {{ {} }}", pairs.join(", "));
    }

    let _ = writeln!(out, "\n[run]");
    let seed = match i64::try_from(s.run.seed) {
        Ok(seed) => seed.to_string(),
        // Beyond TOML's integers: the parser takes a string of digits.
        Err(_) => quote(&s.run.seed.to_string()),
    };
    let _ = writeln!(out, "seed = {seed}");
    let stop = match s.run.stop {
        Stop::AllComplete => quote("all-complete"),
        Stop::At(d) => shown(d),
    };
    let _ = writeln!(out, "stop = {stop}");
    let _ = writeln!(out, "sample_interval = {}", shown(s.run.sample_interval));
    out
}

fn write_group(out: &mut String, g: &Group, defaults: &Policy) {
    let _ = writeln!(out, "name = {}", quote(&g.name));
    // A trace's length is its count: left out, so that an override of the trace
    // brings its own.
    if !matches!(g.join, Join::Trace(_)) {
        let _ = writeln!(out, "count = {}", g.count);
    }
    let _ = writeln!(out, "role = {}", quote(g.role.name()));
    let _ = writeln!(out, "upload = {}", dist(&g.upload));
    let _ = writeln!(out, "download = {}", dist(&g.download));
    let _ = writeln!(out, "latency = {}", dist(&g.latency));
    let join = match &g.join {
        Join::At(d) => shown(d),
        Join::Uniform(a, b) => format!("{{ uniform = [{}, {}] }}", shown(a), shown(b)),
        Join::Poisson(rate) => format!("{{ poisson = {} }}", quote(&arrival_rate(*rate))),
        Join::Trace(trace) => format!("{{ trace = {} }}", quote(&trace.path.to_string_lossy())),
    };
    let _ = writeln!(out, "join = {join}");
    let _ = writeln!(out, "linger = {}", stay(&g.linger));
    if let Some(abort) = &g.abort {
        let _ = writeln!(out, "abort = {}", stay(abort));
    }
    // Written only for polluters, so an honest scenario's file is what it always was.
    if g.corrupt.corrupts() {
        let _ = writeln!(
            out,
            "corrupt = {}",
            toml_edit::Value::from(g.corrupt.probability())
        );
    }
    // Keys added after the first scenario format are written only when they differ
    // from their default, so older results keep their exact scenario.toml.
    if !g.connectable {
        let _ = writeln!(out, "connectable = false");
    }
    if g.region != super::DEFAULT_REGION {
        let _ = writeln!(out, "region = {}", quote(&g.region));
    }
    let base = policy_entries(defaults);
    for (entry, default) in policy_entries(&g.policy).into_iter().zip(base) {
        if entry != default {
            let _ = writeln!(out, "{} = {}", entry.0, entry.1);
        }
    }
}

/// Every policy key with its value as TOML, in the order of `[policy]` in docs/design.md.
fn policy_entries(p: &Policy) -> Vec<(&'static str, String)> {
    vec![
        ("picker", quote(p.picker.as_str())),
        ("random_first", p.random_first.to_string()),
        ("endgame", p.endgame.to_string()),
        ("choker", quote(p.choker.as_str())),
        ("upload_slots", p.upload_slots.to_string()),
        ("optimistic_slots", p.optimistic_slots.to_string()),
        ("rechoke_interval", shown(p.rechoke_interval)),
        ("optimistic_interval", shown(p.optimistic_interval)),
        ("rate_window", shown(p.rate_window)),
        ("seed_choker", quote(p.seed_choker.as_str())),
        ("pipeline", pipeline(p.pipeline)),
    ]
}

fn pipeline(p: Pipeline) -> String {
    match p {
        Pipeline::Fixed(n) => n.to_string(),
        Pipeline::Auto => quote("auto"),
    }
}

fn dist<T: Display>(d: &Dist<T>) -> String {
    match d {
        Dist::Fixed(v) => shown(v),
        Dist::Uniform(a, b) => format!("{{ uniform = [{}, {}] }}", shown(a), shown(b)),
        Dist::Choice(values, weights) => {
            let values: Vec<String> = values.iter().map(shown).collect();
            let weights: Vec<String> = weights.iter().map(u32::to_string).collect();
            format!(
                "{{ choice = [{}], weights = [{}] }}",
                values.join(", "),
                weights.join(", ")
            )
        }
    }
}

fn stay(s: &Stay) -> String {
    match s {
        Stay::Forever => quote("forever"),
        Stay::Fixed(d) => shown(d),
        Stay::Exponential(mean) => format!("{{ exponential = {} }}", shown(mean)),
    }
}

/// An arrival rate written so that it parses back to the same (count, period) pair.
///
/// Parsing `"0.5/s"` keeps it exact as 5 arrivals per 10 s; writing inverts that: the
/// period is a unit (s, min, h) times 10^k, and the count is written with k decimals.
/// `ArrivalRate`'s `Display` writes "5/10 s", which the parser would refuse.
pub(crate) fn arrival_rate(rate: ArrivalRate) -> String {
    for (unit, micros) in [
        ("s", 1_000_000u64),
        ("min", 60_000_000),
        ("h", 3_600_000_000),
    ] {
        let mut per = micros;
        for decimals in 0..=9usize {
            if per == rate.per.0 {
                let digits = format!("{:0>width$}", rate.count, width = decimals + 1);
                let (int, frac) = digits.split_at(digits.len() - decimals);
                return if decimals == 0 {
                    format!("{int}/{unit}")
                } else {
                    format!("{int}.{frac}/{unit}")
                };
            }
            match per.checked_mul(10) {
                Some(p) => per = p,
                None => break,
            }
        }
    }
    // Not a rate the parser made: the nearest rate per second with nine decimals.
    let per_s = rate.count as f64 / SimDuration(rate.per.0.max(1)).as_secs_f64();
    let text = format!("{per_s:.9}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}/s")
}

/// A quantity's canonical string, quoted.
fn shown(v: impl Display) -> String {
    let text = v.to_string();
    // A zero duration displays as "0 us"; "0 s" says the same and reads better.
    if text == "0 us" {
        return quote("0 s");
    }
    quote(&text)
}

/// A TOML basic string (escaped by toml_edit, which knows the rules).
fn quote(s: &str) -> String {
    toml_edit::Value::from(s).to_string().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_rates_round_trip_exactly() {
        for text in [
            "0.5/s", "3/h", "12/min", "0.25/s", "0.005/s", "10/s", "1.5/h",
        ] {
            let rate: ArrivalRate = text.parse().unwrap();
            assert_eq!(arrival_rate(rate), text);
            assert_eq!(arrival_rate(rate).parse::<ArrivalRate>(), Ok(rate));
        }
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(quote("plain"), "\"plain\"");
        let q = quote("a \"quoted\" \\ word");
        let back: toml_edit::Value = q.parse().unwrap();
        assert_eq!(back.as_str(), Some("a \"quoted\" \\ word"));
    }
}
