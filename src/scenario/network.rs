//! Regions and the latency between them: the group key `region = "NAME"` and the
//! `[network]` table, `latency = { "eu-us" = "80 ms", … }`, a one-way latency added to
//! every link between two regions (on top of both ends' own latencies). Every pair of
//! regions the groups use must be given, in either order of the names; a pair naming a
//! region no group is in, or given twice, is an error. The tracker's `bias` uses the
//! same regions.

use super::error::ScenarioError;
use super::read::{Field, Table};
use super::{Group, Scenario};
use crate::core::RegionIndex;
use crate::units::SimDuration;
use std::collections::BTreeMap;

/// The region of a group that names none.
pub const DEFAULT_REGION: &str = "default";

/// Keys of `[network]`.
pub(crate) const NETWORK_KEYS: &[&str] = &["latency"];

/// The `[network]` table: latencies between regions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkSpec {
    /// One-way latency between two regions, keyed by the pair's names in order
    /// (`a < b`).
    pub latency: BTreeMap<(String, String), SimDuration>,
}

impl NetworkSpec {
    /// The latency added between regions `a` and `b` (zero within a region).
    pub fn between(&self, a: &str, b: &str) -> SimDuration {
        if a == b {
            return SimDuration::ZERO;
        }
        self.latency
            .get(&ordered(a, b))
            .copied()
            .unwrap_or(SimDuration::ZERO)
    }
}

fn ordered(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

impl Scenario {
    /// The regions its groups are in, in order of first appearance: region `i` of a
    /// run is `regions()[i]`.
    pub fn regions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for g in &self.groups {
            if !out.contains(&g.region.as_str()) {
                out.push(&g.region);
            }
        }
        out
    }

    /// The index in [`Scenario::regions`] of group `group`'s region.
    pub fn region_of_group(&self, group: usize) -> RegionIndex {
        let name = self.groups[group].region.as_str();
        let index = self.regions().iter().position(|&r| r == name);
        // Every group's region is in the list; 0 only for an out-of-range group.
        index.map_or(0, |i| i as RegionIndex)
    }

    /// Whether it uses more than one region (then runs write `regions.csv`).
    pub fn has_regions(&self) -> bool {
        self.regions().len() > 1
    }
}

/// A group's `region`: a name of letters, digits and '_' (the '-' joins the two names
/// of a `[network]` latency key).
pub(super) fn region_name(f: &Field) -> Result<String, ScenarioError> {
    let name = f.str("a region name, e.g. region = \"eu\"")?;
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(f.error(format!(
            "\"{name}\" is not a usable region name (expected letters, digits and '_')"
        )));
    }
    Ok(name.to_string())
}

/// Reads `[network]` and checks it against the groups' regions; `name_lines` are the
/// lines of the groups' names (where a missing pair is reported without a table).
pub(super) fn parse(
    root: &Table,
    groups: &[Group],
    name_lines: &[usize],
) -> Result<NetworkSpec, ScenarioError> {
    // Each region with the first group in it (which brought it in).
    let mut regions: Vec<&str> = Vec::new();
    let mut first_group: Vec<usize> = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        if !regions.contains(&g.region.as_str()) {
            regions.push(&g.region);
            first_group.push(gi);
        }
    }
    let mut spec = NetworkSpec::default();
    let table = root.sub_table("network")?;
    if let Some(t) = &table {
        t.check_keys(NETWORK_KEYS)?;
        if let Some(f) = t.get("latency") {
            let pairs = f.table()?;
            for key in pairs.keys() {
                let Some(value) = pairs.get(key) else {
                    continue;
                };
                let pair = region_pair(&value, key, &regions)?;
                let latency: SimDuration = value.quantity("a duration, e.g. \"80 ms\"")?;
                if spec.latency.insert(pair.clone(), latency).is_some() {
                    return Err(value.error(format!(
                        "the latency between \"{}\" and \"{}\" is given twice (expected each pair once, in either order)",
                        pair.0, pair.1
                    )));
                }
            }
        }
    }
    for (j, b) in regions.iter().enumerate() {
        for a in &regions[..j] {
            if spec.latency.contains_key(&ordered(a, b)) {
                continue;
            }
            let message = format!(
                "no latency between regions \"{a}\" and \"{b}\" (expected \"{a}-{b}\" = \"80 ms\" in [network] latency)"
            );
            return Err(match &table {
                Some(t) => t.error(t.line, "latency", message),
                None => {
                    // The first group in region `b` brought the pair in.
                    let gi = first_group[j];
                    let name = &groups[gi].name;
                    root.error(name_lines[gi], &format!("group.{name}.region"), message)
                }
            });
        }
    }
    Ok(spec)
}

/// The two regions of a `[network]` latency key, `"a-b"`, both used by some group.
fn region_pair(f: &Field, key: &str, regions: &[&str]) -> Result<(String, String), ScenarioError> {
    let expected = format!(
        "two of the groups' regions joined by '-', e.g. \"{}\"",
        regions.first().copied().unwrap_or("eu").to_string()
            + "-"
            + regions.get(1).copied().unwrap_or("us")
    );
    let Some((a, b)) = key.split_once('-') else {
        return Err(f.error(format!(
            "\"{key}\" is not a pair of regions (expected {expected})"
        )));
    };
    for name in [a, b] {
        if !regions.contains(&name) {
            return Err(f.error(format!(
                "no group is in region \"{name}\" (expected regions among {})",
                regions.join(", ")
            )));
        }
    }
    if a == b {
        return Err(f.error(format!(
            "\"{key}\" pairs a region with itself (expected two different regions; a group's own latency applies within one)"
        )));
    }
    Ok(ordered(a, b))
}
