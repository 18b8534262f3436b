//! Parsing scenario TOML into a resolved [`Scenario`]: defaults filled in, every value
//! checked, and every problem reported as `file:line: field: what is wrong (expected)`.
//!
//! The table and key names here are the contract of docs/design.md ("Scenario files").
//! Distributions (`uniform`, `choice`), arrival processes and stay times are read by
//! [`super::values`]; the `[sweep]` table by [`super::sweep`]; [`super::load`] puts
//! the two together.

use super::error::{ScenarioError, Source};
use super::read::{Field, Table};
use super::values::{self, positive_duration, positive_size};
use super::{
    BiasKind, BlockSize, FileSpec, Group, RunSpec, Scenario, Stay, Stop, StrategyTable,
    TrackerSpec, network,
};
use crate::core::{Corruption, Pipeline, Policy, Role, StrategyKind};
use crate::units::{Bytes, SimDuration};
use std::collections::BTreeMap;
use std::path::Path;
use toml_edit::{Document, Item};

/// Keys of the top level.
const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "file",
    "tracker",
    "policy",
    "group",
    "network",
    "run",
    "sweep",
];
/// Keys of `[file]`.
pub(crate) const FILE_KEYS: &[&str] = &["size", "chunk_size", "block_size"];
/// Keys of `[tracker]`.
pub(crate) const TRACKER_KEYS: &[&str] = &[
    "peers_per_announce",
    "announce_interval",
    "min_neighbours",
    "max_neighbours",
    "bias",
    "external",
];
/// Keys of `[policy]`; each may also appear in a `[[group]]` as an override.
pub(crate) const POLICY_KEYS: &[&str] = &[
    "picker",
    "random_first",
    "endgame",
    "choker",
    "upload_slots",
    "optimistic_slots",
    "rechoke_interval",
    "optimistic_interval",
    "rate_window",
    "seed_choker",
    "pipeline",
];
/// A group's own keys (policy overrides come on top).
pub(crate) const GROUP_KEYS: &[&str] = &[
    "name",
    "count",
    "role",
    "upload",
    "download",
    "latency",
    "join",
    "linger",
    "abort",
    "corrupt",
    "connectable",
    "region",
];
/// Keys of `[run]`.
pub(crate) const RUN_KEYS: &[&str] = &["seed", "stop", "sample_interval"];

/// TOML syntax only: the document with spans, or the parser's complaint on one line.
pub(crate) fn parse_toml(text: &str, origin: &str) -> Result<Document<String>, ScenarioError> {
    let src = Source::new(origin, text);
    if text.trim().is_empty() {
        return Err(src.file_error(
            1,
            "the file is empty (expected a scenario with [file] and [[group]] tables)",
        ));
    }
    Document::parse(text.to_string()).map_err(|e| {
        // The parser's message may span lines (with a caret diagram); keep the gist.
        let message = e
            .message()
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("invalid TOML")
            .to_string();
        src.file_error(src.line_of_span(e.span()), message)
    })
}

/// Builds the resolved scenario from a parsed document (the `[sweep]` table is only
/// checked to be a table here; [`super::sweep::parse`] reads it).
pub(crate) fn build(
    doc: &Document<String>,
    src: &Source,
    strategies: &StrategyTable,
) -> Result<Scenario, ScenarioError> {
    let root = Table::root(src, doc.as_table());
    root.check_keys(TOP_KEYS)?;

    let name = match root.get("name") {
        Some(f) => {
            let name = f.str("a string, e.g. name = \"flash-crowd\"")?;
            // The name becomes a folder name in results/.
            if name.is_empty() || name.contains(['/', '\\']) || name.trim() != name {
                return Err(f.error(format!(
                    "\"{name}\" is not a usable name (expected a non-empty name without slashes or surrounding spaces)"
                )));
            }
            name.to_string()
        }
        None => Path::new(src.origin)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| src.origin.to_string()),
    };
    let description = match root.get("description") {
        Some(f) => f.str("a string")?.to_string(),
        None => String::new(),
    };

    let file = file_spec(&root)?;
    let tracker = tracker_spec(&root)?;
    let mut policy = Policy::default();
    if let Some(t) = root.sub_table("policy")? {
        t.check_keys(POLICY_KEYS)?;
        for key in t.keys() {
            if let Some(f) = t.get(key) {
                policy_key(&mut policy, key, &f, strategies)?;
            }
        }
    }
    let (groups, name_lines) = groups(&root, &policy, strategies)?;
    let network = network::parse(&root, &groups, &name_lines)?;
    if let Some(t) = root.sub_table("tracker")?
        && let Some(f) = t.get("external")
        && tracker.external > tracker.peers_per_announce
    {
        return Err(f.error(format!(
            "{} is more than peers_per_announce ({}) (expected at most peers_per_announce)",
            tracker.external, tracker.peers_per_announce
        )));
    }
    let run = run_spec(&root)?;
    if let Some(f) = root.get("sweep") {
        f.table()?;
    }
    Ok(Scenario {
        name,
        description,
        file,
        tracker,
        policy,
        groups,
        network,
        run,
        sweep: None,
        strategies: strategies.clone(),
    })
}

fn file_spec(root: &Table) -> Result<FileSpec, ScenarioError> {
    let Some(t) = root.sub_table("file")? else {
        return Err(root.error(
            1,
            "file",
            "missing (expected a [file] table with at least size = \"64 MiB\")",
        ));
    };
    t.check_keys(FILE_KEYS)?;
    let size_field = t.require("size", "the file size, e.g. size = \"64 MiB\"")?;
    let size = positive_size(&size_field)?;
    let chunk_field = t.get("chunk_size");
    let chunk_size = match &chunk_field {
        Some(f) => positive_size(f)?,
        None => Bytes(256 << 10),
    };
    if chunk_size > size {
        let at = chunk_field.as_ref().unwrap_or(&size_field);
        return Err(t.error(
            at.line,
            "chunk_size",
            format!(
                "{chunk_size} is larger than the file ({size}) (expected at most the file size)"
            ),
        ));
    }
    if size.0.div_ceil(chunk_size.0) > u64::from(u32::MAX) {
        return Err(t.error(
            chunk_field.as_ref().unwrap_or(&size_field).line,
            "chunk_size",
            format!("{chunk_size} makes more than 2^32 chunks (expected larger chunks)"),
        ));
    }
    let block_field = t.get("block_size");
    let block_size = match &block_field {
        None => BlockSize::Bytes(Bytes(16 << 10)),
        Some(f) if f.as_str() == Some("chunk") => BlockSize::Chunk,
        Some(f) => BlockSize::Bytes(positive_size(f)?),
    };
    if let BlockSize::Bytes(block) = block_size {
        let line = block_field
            .as_ref()
            .or(chunk_field.as_ref())
            .unwrap_or(&size_field)
            .line;
        if block > chunk_size {
            return Err(t.error(
                line,
                "block_size",
                format!(
                    "{block} is larger than chunk_size ({chunk_size}) (expected a divisor of chunk_size, or \"chunk\")"
                ),
            ));
        }
        if chunk_size.0 % block.0 != 0 {
            return Err(t.error(
                line,
                "block_size",
                format!(
                    "{block} does not divide chunk_size ({chunk_size}) (expected a divisor of chunk_size, or \"chunk\")"
                ),
            ));
        }
    }
    Ok(FileSpec {
        size,
        chunk_size,
        block_size,
    })
}

fn tracker_spec(root: &Table) -> Result<TrackerSpec, ScenarioError> {
    let mut spec = TrackerSpec::default();
    let Some(t) = root.sub_table("tracker")? else {
        return Ok(spec);
    };
    t.check_keys(TRACKER_KEYS)?;
    if let Some(f) = t.get("peers_per_announce") {
        spec.peers_per_announce = f.u32(1)?;
    }
    if let Some(f) = t.get("announce_interval") {
        spec.announce_interval = positive_duration(&f)?;
    }
    let min = t.get("min_neighbours");
    let max = t.get("max_neighbours");
    if let Some(f) = &min {
        spec.min_neighbours = f.u32(0)?;
    }
    if let Some(f) = &max {
        spec.max_neighbours = f.u32(1)?;
    }
    if let Some(f) = t.get("bias") {
        let text = f.str("one of random, locality")?;
        spec.bias = match BiasKind::ALL.into_iter().find(|b| b.name() == text) {
            Some(bias) => bias,
            None => {
                return Err(f.error(format!(
                    "\"{text}\" is not a tracker bias (expected one of random, locality)"
                )));
            }
        };
    }
    if let Some(f) = t.get("external") {
        spec.external = f.u32(0)?;
    }
    if spec.min_neighbours > spec.max_neighbours {
        // Blame the key the user wrote (if only one was written, the other is a default).
        let (key, line) = match (&min, &max) {
            (Some(f), _) => ("min_neighbours", f.line),
            (None, Some(f)) => ("max_neighbours", f.line),
            (None, None) => ("min_neighbours", t.line),
        };
        return Err(t.error(
            line,
            key,
            format!(
                "min_neighbours ({}) is more than max_neighbours ({}) (expected min_neighbours <= max_neighbours)",
                spec.min_neighbours, spec.max_neighbours
            ),
        ));
    }
    Ok(spec)
}

/// Applies one `[policy]` key (or a group's override of it).
fn policy_key(
    policy: &mut Policy,
    key: &str,
    f: &Field,
    strategies: &StrategyTable,
) -> Result<(), ScenarioError> {
    let named = |kind| strategy(f, kind, strategies);
    match key {
        "picker" => policy.picker = named(StrategyKind::Picker)?,
        "random_first" => policy.random_first = f.u32(0)?,
        "endgame" => policy.endgame = f.bool()?,
        "choker" => policy.choker = named(StrategyKind::Choker)?,
        "upload_slots" => policy.upload_slots = f.u32(1)?,
        "optimistic_slots" => policy.optimistic_slots = f.u32(0)?,
        "rechoke_interval" => policy.rechoke_interval = positive_duration(f)?,
        "optimistic_interval" => policy.optimistic_interval = positive_duration(f)?,
        "rate_window" => policy.rate_window = positive_duration(f)?,
        "seed_choker" => policy.seed_choker = named(StrategyKind::SeedChoker)?,
        "pipeline" => policy.pipeline = pipeline(f)?,
        // Callers check keys against POLICY_KEYS first.
        _ => return Err(f.error("unknown policy key")),
    }
    Ok(())
}

/// `pipeline`: `"auto"` (sized to the connection's rate) or a fixed number of requests.
fn pipeline(f: &Field) -> Result<Pipeline, ScenarioError> {
    const EXPECTED: &str = "\"auto\" or a whole number of at least 1";
    match f.value() {
        Some(v) if v.as_str() == Some("auto") => Ok(Pipeline::Auto),
        Some(v) if let Some(n) = v.as_integer() => match u32::try_from(n) {
            Ok(n) if n >= 1 => Ok(Pipeline::Fixed(n)),
            _ => Err(f.error(format!("{n} is out of range (expected {EXPECTED})"))),
        },
        _ => Err(f.wrong_type(EXPECTED)),
    }
}

/// A string naming one of the registry's strategies of `kind`.
fn strategy(
    f: &Field,
    kind: StrategyKind,
    strategies: &StrategyTable,
) -> Result<crate::core::StrategyName, ScenarioError> {
    let names = strategies.strategies().names(kind);
    let text = f.str(&format!("one of {}", names.join(", ")))?;
    strategies
        .strategies()
        .lookup(kind, text)
        .map_err(|e| f.error(e.to_string()))
}

/// The groups, with the line of each one's name.
fn groups(
    root: &Table,
    defaults: &Policy,
    strategies: &StrategyTable,
) -> Result<(Vec<Group>, Vec<usize>), ScenarioError> {
    // `[[group]]` tables, or an array of inline tables `group = [{ ... }, { ... }]`;
    // each is named `group[i]` until its name is known.
    let tables: Vec<Table> = match (root.item("group"), root.get("group")) {
        (Some(Item::ArrayOfTables(array)), _) => array
            .iter()
            .enumerate()
            .map(|(i, table)| root.child(table, format!("group[{i}]"), table.span()))
            .collect(),
        (_, Some(field)) => {
            let mut out = Vec::new();
            for element in field.array("[[group]] tables, one per group of peers")? {
                out.push(element.table()?);
            }
            out
        }
        (_, None) => Vec::new(),
    };
    if tables.is_empty() {
        return Err(root.error(
            1,
            "group",
            "no groups (expected at least one [[group]] table with name, count, upload and download)",
        ));
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups = Vec::with_capacity(tables.len());
    let mut lines = Vec::with_capacity(tables.len());
    for t in tables {
        let (group, name_line) = group(t, defaults, strategies)?;
        if let Some(first) = seen.get(&group.name) {
            return Err(root.error(
                name_line,
                &format!("group.{}.name", group.name),
                format!(
                    "\"{}\" is already the name of the group on line {first} (expected unique group names)",
                    group.name
                ),
            ));
        }
        seen.insert(group.name.clone(), name_line);
        groups.push(group);
        lines.push(name_line);
    }
    Ok((groups, lines))
}

/// Reads one group; also returns the line of its name (for duplicate-name errors).
fn group(
    t: Table,
    defaults: &Policy,
    strategies: &StrategyTable,
) -> Result<(Group, usize), ScenarioError> {
    let name_field = t.require("name", "a unique name, e.g. name = \"leechers\"")?;
    let name = name_field.str("a string, e.g. name = \"leechers\"")?;
    // Names appear in dotted sweep paths (group.<name>.count) and CSV files.
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(name_field.error(format!(
            "\"{name}\" is not a usable group name (expected letters, digits, '-' and '_')"
        )));
    }
    let t = t.renamed(format!("group.{name}"));
    let allowed: Vec<&str> = GROUP_KEYS.iter().chain(POLICY_KEYS).copied().collect();
    t.check_keys(&allowed)?;

    // A trace brings its own count: one peer per row.
    let join = match t.get("join") {
        Some(f) => values::join(&f)?,
        None => super::Join::At(SimDuration::ZERO),
    };
    let count = match (&join, t.get("count")) {
        (super::Join::Trace(trace), None) => trace.count(),
        (super::Join::Trace(trace), Some(f)) => {
            let count = f.u32(1)?;
            if count != trace.count() {
                return Err(f.error(format!(
                    "count = {count} but the trace {} has {} arrivals (expected the two to agree, or no count)",
                    trace.path.display(),
                    trace.count()
                )));
            }
            count
        }
        (_, _) => t
            .require("count", "the number of peers, e.g. count = 200")?
            .u32(1)?,
    };
    let role = match t.get("role") {
        None => Role::Leecher,
        Some(f) => {
            let text = f.str("one of seed, leecher, free-rider")?;
            match Role::ALL.into_iter().find(|r| r.name() == text) {
                Some(role) => role,
                None => {
                    return Err(f.error(format!(
                        "\"{text}\" is not a role (expected one of seed, leecher, free-rider)"
                    )));
                }
            }
        }
    };
    let upload =
        values::rate_dist(&t.require("upload", "an upload capacity, e.g. upload = \"2 Mbit/s\"")?)?;
    let download = values::rate_dist(&t.require(
        "download",
        "a download capacity, e.g. download = \"20 Mbit/s\"",
    )?)?;
    let latency = match t.get("latency") {
        Some(f) => values::latency_dist(&f)?,
        None => super::Dist::Fixed(SimDuration::ZERO),
    };
    let linger = match t.get("linger") {
        Some(f) => values::stay(&f, true)?,
        // Seeds are the origin of the file: they stay unless told otherwise.
        None if role == Role::Seed => Stay::Forever,
        None => Stay::Fixed(SimDuration::ZERO),
    };
    let abort = match t.get("abort") {
        Some(f) => match values::stay(&f, false)? {
            Stay::Forever => None,
            stay => Some(stay),
        },
        None => None,
    };
    let corrupt = match t.get("corrupt") {
        Some(f) => values::corruption(&f)?,
        None => Corruption::NONE,
    };
    let connectable = match t.get("connectable") {
        Some(f) => f.bool()?,
        None => true,
    };
    let region = match t.get("region") {
        Some(f) => network::region_name(&f)?,
        None => network::DEFAULT_REGION.to_string(),
    };
    let mut policy = defaults.clone();
    for key in t.keys() {
        if POLICY_KEYS.contains(&key)
            && let Some(f) = t.get(key)
        {
            policy_key(&mut policy, key, &f, strategies)?;
        }
    }
    let group = Group {
        name: name.to_string(),
        count,
        role,
        upload,
        download,
        latency,
        join,
        linger,
        abort,
        connectable,
        region,
        policy,
        corrupt,
    };
    Ok((group, name_field.line))
}

fn run_spec(root: &Table) -> Result<RunSpec, ScenarioError> {
    let mut spec = RunSpec {
        seed: 1,
        stop: Stop::AllComplete,
        sample_interval: SimDuration::from_secs(1),
    };
    let Some(t) = root.sub_table("run")? else {
        return Ok(spec);
    };
    t.check_keys(RUN_KEYS)?;
    if let Some(f) = t.get("seed") {
        spec.seed = seed(&f)?;
    }
    if let Some(f) = t.get("stop") {
        spec.stop = match f.as_str() {
            Some("all-complete") => Stop::AllComplete,
            Some(_) => Stop::At(positive_duration(&f)?),
            None => {
                return Err(f.wrong_type("\"all-complete\" or a duration, e.g. \"2 h\""));
            }
        };
    }
    if let Some(f) = t.get("sample_interval") {
        spec.sample_interval = positive_duration(&f)?;
    }
    Ok(spec)
}

/// A run seed: a non-negative integer. TOML integers stop at 2^63 - 1, so larger seeds
/// (which only a program writes) are accepted as a string of digits.
fn seed(f: &Field) -> Result<u64, ScenarioError> {
    if let Some(text) = f.as_str() {
        return text.parse::<u64>().map_err(|_| {
            f.error(format!(
                "\"{text}\" is not a seed (expected a whole number from 0 to 2^64 - 1)"
            ))
        });
    }
    let v = f.int(0, i64::MAX)?;
    u64::try_from(v).map_err(|_| f.error(format!("{v} is negative")))
}
