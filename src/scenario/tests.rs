//! Tests of scenario parsing as a user meets it: whole files in, a [`Scenario`] or one
//! `file:line: field: message` line out; sweeps; the `to_toml` round trip; and every
//! shipped scenario in `scenarios/`.

use super::*;
use crate::core::Pipeline;
use crate::core::strategy::builtin;
use crate::units::{ArrivalRate, Bytes, Rate, SimDuration};
use proptest::prelude::*;

/// A small valid scenario; tests append to it or replace lines of it.
const BASE: &str = r#"[file]
size = "64 MiB"

[[group]]
name = "seeds"
count = 1
role = "seed"
upload = "10 Mbit/s"
download = "100 Mbit/s"

[[group]]
name = "leechers"
count = 200
upload = "2 Mbit/s"
download = "20 Mbit/s"
"#;

fn parse(text: &str) -> Scenario {
    match Scenario::from_str_named(text, "test.toml") {
        Ok(s) => s,
        Err(e) => panic!("{e}\n--- text:\n{text}"),
    }
}

fn error(text: &str) -> String {
    match Scenario::from_str_named(text, "bad.toml") {
        Ok(s) => panic!("expected an error, parsed {s:?}\n--- text:\n{text}"),
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.contains('\n'), "error is not one line: {shown}");
            shown
        }
    }
}

/// BASE with line `n` (1-based) replaced by `line`.
fn base_with(n: usize, line: &str) -> String {
    let mut lines: Vec<&str> = BASE.lines().collect();
    lines[n - 1] = line;
    lines.join("\n") + "\n"
}

mod internet;

// ------------------------------------------------------------------ errors

#[test]
fn the_readme_error() {
    let text = r#"[file]
size = "64 MiB"
[[group]]
name = "leechers"
count = 200
upload = "10 Mbps/s"
download = "20 Mbit/s"
"#;
    assert_eq!(
        error(text),
        r#"bad.toml:6: group.leechers.upload: "10 Mbps/s" is not a rate (try "10 Mbit/s")"#
    );
    let text = "[[group]]\nname = \"leechers\"\nupload = \"10 Mbps/s\"\ncount = 200\ndownload = \"1 Mbit/s\"\n[file]\nsize = \"1 MiB\"\n";
    assert_eq!(
        error(text),
        r#"bad.toml:3: group.leechers.upload: "10 Mbps/s" is not a rate (try "10 Mbit/s")"#
    );
}

#[test]
fn unknown_keys_are_errors_at_every_level() {
    assert_eq!(
        error(&format!("colour = \"red\"\n{BASE}")),
        "bad.toml:1: colour: unknown key (expected one of name, description, file, tracker, policy, group, network, run, sweep)"
    );
    assert_eq!(
        error(&base_with(2, "sise = \"64 MiB\"")),
        "bad.toml:2: file.sise: unknown key (expected one of size, chunk_size, block_size)"
    );
    let e = error(&base_with(14, "uplaod = \"2 Mbit/s\""));
    assert!(
        e.starts_with(
            "bad.toml:14: group.leechers.uplaod: unknown key (expected one of name, count,"
        ),
        "{e}"
    );
    let e = error(&format!("{BASE}[tracker]\npeers = 5\n"));
    assert!(
        e.starts_with("bad.toml:17: tracker.peers: unknown key"),
        "{e}"
    );
    let e = error(&format!("{BASE}[policy]\nchoke = \"random\"\n"));
    assert!(
        e.starts_with("bad.toml:17: policy.choke: unknown key"),
        "{e}"
    );
    let e = error(&format!("{BASE}[run]\nseeds = 5\n"));
    assert!(e.starts_with("bad.toml:17: run.seeds: unknown key"), "{e}");
    // Inside a distribution.
    let e = error(&base_with(
        14,
        "upload = { uniform = [\"1 Mbit/s\", \"2 Mbit/s\"], mean = 3 }",
    ));
    assert_eq!(
        e,
        "bad.toml:14: group.leechers.upload.mean: unknown key (expected one of uniform, choice, weights)"
    );
    let e = error(&format!(
        "{BASE}join = {{ poisson = \"1/s\", burst = 2 }}\n"
    ));
    assert!(
        e.starts_with("bad.toml:16: group.leechers.join.burst: unknown key"),
        "{e}"
    );
    let e = error(&format!(
        "{BASE}linger = {{ exponential = \"1 s\", max = \"2 s\" }}\n"
    ));
    assert!(
        e.starts_with("bad.toml:16: group.leechers.linger.max: unknown key"),
        "{e}"
    );
}

#[test]
fn wrong_types_say_what_was_found_and_expected() {
    assert_eq!(
        error(&base_with(13, "count = \"200\"")),
        "bad.toml:13: group.leechers.count: \"200\" is a string (expected a whole number from 1 to 4294967295)"
    );
    assert_eq!(
        error(&base_with(14, "upload = 2")),
        "bad.toml:14: group.leechers.upload: 2 is an integer (expected a rate, e.g. \"10 Mbit/s\", or { uniform = [low, high] }, or { choice = [...], weights = [...] })"
    );
    assert_eq!(
        error(&base_with(2, "size = 64")),
        "bad.toml:2: file.size: 64 is an integer (expected a size, e.g. \"64 MiB\" written as a string with its unit)"
    );
    let e = error(&format!("{BASE}[policy]\nendgame = \"yes\"\n"));
    assert_eq!(
        e,
        "bad.toml:17: policy.endgame: \"yes\" is a string (expected true or false)"
    );
    let e = error(&format!(
        "file = 5\n{}",
        &BASE[BASE.find("[[group]]").unwrap_or(0)..]
    ));
    assert_eq!(e, "bad.toml:1: file: 5 is an integer (expected a table)");
}

#[test]
fn bad_units_are_errors() {
    assert_eq!(
        error(&base_with(2, "size = \"lots MiB\"")),
        "bad.toml:2: file.size: \"lots MiB\" is not a size (write a number and one of B KiB MiB GiB kB MB GB, e.g. \"64 MiB\")"
    );
    let e = error(&format!("{BASE}latency = \"20 msec\"\n"));
    assert!(
        e.starts_with("bad.toml:16: group.leechers.latency: \"20 msec\" is not a duration"),
        "{e}"
    );
    let e = error(&format!("{BASE}join = {{ poisson = \"fast\" }}\n"));
    assert!(
        e.starts_with("bad.toml:16: group.leechers.join.poisson: \"fast\" is not an arrival rate"),
        "{e}"
    );
}

#[test]
fn zero_and_negative_values_are_errors() {
    assert_eq!(
        error(&base_with(13, "count = 0")),
        "bad.toml:13: group.leechers.count: 0 is too small (expected a whole number from 1 to 4294967295)"
    );
    assert_eq!(
        error(&base_with(13, "count = -5")),
        "bad.toml:13: group.leechers.count: -5 is negative (expected a whole number from 1 to 4294967295)"
    );
    assert_eq!(
        error(&base_with(14, "upload = \"0 Mbit/s\"")),
        "bad.toml:14: group.leechers.upload: \"0 Mbit/s\" is zero (expected a rate greater than zero)"
    );
    assert_eq!(
        error(&base_with(2, "size = \"0 B\"")),
        "bad.toml:2: file.size: \"0 B\" is zero (expected a size greater than zero)"
    );
    assert!(
        error(&base_with(2, "size = \"-1 MiB\""))
            .starts_with("bad.toml:2: file.size: \"-1 MiB\" is not a size")
    );
    let e = error(&format!("{BASE}[run]\nseed = -1\n"));
    assert!(
        e.starts_with("bad.toml:17: run.seed: -1 is negative"),
        "{e}"
    );
    let e = error(&format!("{BASE}[run]\nsample_interval = \"0 s\"\n"));
    assert!(
        e.starts_with("bad.toml:17: run.sample_interval: \"0 s\" is zero"),
        "{e}"
    );
    let e = error(&base_with(13, "count = 5000000000"));
    assert!(
        e.contains("group.leechers.count: 5000000000 is too large"),
        "{e}"
    );
}

#[test]
fn file_geometry_is_checked() {
    let e = error(
        "[file]\nsize = \"1 MiB\"\nchunk_size = \"2 MiB\"\n[[group]]\nname = \"a\"\ncount = 1\nupload = \"1 Mbit/s\"\ndownload = \"1 Mbit/s\"\n",
    );
    assert_eq!(
        e,
        "bad.toml:3: file.chunk_size: 2 MiB is larger than the file (1 MiB) (expected at most the file size)"
    );
    // The default chunk size (256 KiB) against a small file: blamed on the size line.
    let e = error(&base_with(2, "size = \"100 KiB\""));
    assert!(
        e.starts_with("bad.toml:2: file.chunk_size: 256 KiB is larger than the file"),
        "{e}"
    );
    let e = error(&base_with(2, "size = \"1 MiB\"\nblock_size = \"512 KiB\""));
    assert_eq!(
        e,
        "bad.toml:3: file.block_size: 512 KiB is larger than chunk_size (256 KiB) (expected a divisor of chunk_size, or \"chunk\")"
    );
    let e = error(&base_with(2, "size = \"1 MiB\"\nblock_size = \"100 KiB\""));
    assert_eq!(
        e,
        "bad.toml:3: file.block_size: 100 KiB does not divide chunk_size (256 KiB) (expected a divisor of chunk_size, or \"chunk\")"
    );
    let s = parse(&base_with(2, "size = \"1 MiB\"\nblock_size = \"chunk\""));
    assert_eq!(s.file.block_size, BlockSize::Chunk);
    assert_eq!(s.file.block_len(), Bytes(256 << 10));
}

#[test]
fn neighbour_bounds_are_checked() {
    let e = error(&format!("{BASE}[tracker]\nmin_neighbours = 90\n"));
    assert_eq!(
        e,
        "bad.toml:17: tracker.min_neighbours: min_neighbours (90) is more than max_neighbours (80) (expected min_neighbours <= max_neighbours)"
    );
    let e = error(&format!("{BASE}[tracker]\nmax_neighbours = 10\n"));
    assert!(
        e.starts_with("bad.toml:17: tracker.max_neighbours: min_neighbours (20) is more"),
        "{e}"
    );
}

#[test]
fn groups_are_checked() {
    let e = error(&base_with(12, "name = \"seeds\""));
    assert_eq!(
        e,
        "bad.toml:12: group.seeds.name: \"seeds\" is already the name of the group on line 5 (expected unique group names)"
    );
    let e = error("[file]\nsize = \"1 MiB\"\n");
    assert_eq!(
        e,
        "bad.toml:1: group: no groups (expected at least one [[group]] table with name, count, upload and download)"
    );
    // Without a name, the group is named by its index.
    let e = error(&base_with(12, ""));
    assert_eq!(
        e,
        "bad.toml:11: group[1].name: missing (expected a unique name, e.g. name = \"leechers\")"
    );
    let e = error(&base_with(12, "name = \"fast peers\""));
    assert!(
        e.starts_with("bad.toml:12: group[1].name: \"fast peers\" is not a usable group name"),
        "{e}"
    );
    let e = error(&base_with(13, ""));
    assert_eq!(
        e,
        "bad.toml:11: group.leechers.count: missing (expected the number of peers, e.g. count = 200)"
    );
    let e = error(&base_with(7, "role = \"server\""));
    assert_eq!(
        e,
        "bad.toml:7: group.seeds.role: \"server\" is not a role (expected one of seed, leecher, free-rider)"
    );
    let e = error(&format!("{BASE}choker = \"bittorrent\"\n"));
    assert!(
        e.starts_with(
            "bad.toml:16: group.leechers.choker: \"bittorrent\" is not one of tit-for-tat"
        ),
        "{e}"
    );
    let e = error(&BASE.replace("[file]\nsize = \"64 MiB\"\n", ""));
    assert!(e.starts_with("bad.toml:1: file: missing"), "{e}");
}

#[test]
fn whole_file_problems() {
    assert_eq!(
        error(""),
        "bad.toml:1: the file is empty (expected a scenario with [file] and [[group]] tables)"
    );
    assert!(error("  \n\n").starts_with("bad.toml:1: the file is empty"));
    let e = error(&format!("{BASE}[run\nseed = 1\n"));
    assert!(e.starts_with("bad.toml:16: "), "{e}");
    let e = error("[file]\nsize = \"1 MiB\"\nsize = \"2 MiB\"\n");
    assert!(e.starts_with("bad.toml:3: "), "{e}");
    let e = error("[file]\nsize = \"1 MiB\n");
    assert!(e.starts_with("bad.toml:2: "), "{e}");
}

#[test]
fn files_are_read_with_their_path_as_origin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("binary.toml");
    std::fs::write(&path, b"[file]\nsize = \"\xff\xfe\"\n").expect("write");
    let e = Scenario::from_file(&path).unwrap_err();
    assert_eq!(e.line, Some(2));
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: the file is not UTF-8 text (expected a TOML scenario)",
            path.display()
        )
    );
    let e = Scenario::from_file(&dir.path().join("missing.toml")).unwrap_err();
    assert!(
        e.to_string().contains("missing.toml: cannot read the file"),
        "{e}"
    );
    let path = dir.path().join("my-swarm.toml");
    std::fs::write(&path, BASE).expect("write");
    let s = Scenario::from_file(&path).expect("parses");
    assert_eq!(s.name, "my-swarm");
}

// ------------------------------------------------------------------ values

#[test]
fn defaults_are_filled_in() {
    let s = parse(BASE);
    assert_eq!(s.name, "test");
    assert_eq!(s.description, "");
    assert_eq!(s.file.chunk_size, Bytes(256 << 10));
    assert_eq!(s.file.block_size, BlockSize::Bytes(Bytes(16 << 10)));
    assert_eq!(s.file.chunks(), 256);
    assert_eq!(
        s.tracker,
        TrackerSpec {
            peers_per_announce: 50,
            announce_interval: SimDuration::from_secs(1800),
            min_neighbours: 20,
            max_neighbours: 80,
            bias: BiasKind::Random,
            external: 2,
        }
    );
    assert_eq!(s.policy, Policy::default());
    assert_eq!(
        s.run,
        RunSpec {
            seed: 1,
            stop: Stop::AllComplete,
            sample_interval: SimDuration::from_secs(1),
        }
    );
    assert_eq!(s.sweep, None);
    let seeds = &s.groups[0];
    assert_eq!(seeds.role, Role::Seed);
    assert_eq!(seeds.linger, Stay::Forever);
    let leechers = &s.groups[1];
    assert_eq!(leechers.role, Role::Leecher);
    assert_eq!(leechers.latency, Dist::Fixed(SimDuration::ZERO));
    assert_eq!(leechers.join, Join::At(SimDuration::ZERO));
    assert_eq!(leechers.linger, Stay::Fixed(SimDuration::ZERO));
    assert_eq!(leechers.abort, None);
    assert_eq!(leechers.upload, Dist::Fixed(Rate::mbit(2)));
    assert_eq!(s.peer_count(), 201);
}

#[test]
fn distributions_parse() {
    let s = parse(&format!(
        "{BASE}latency = {{ choice = [\"10 ms\", \"100 ms\"], weights = [4, 1] }}\n\
         join = {{ uniform = [\"0 s\", \"10 s\"] }}\n\
         linger = {{ exponential = \"5 min\" }}\n\
         abort = \"2 h\"\n"
    ));
    let g = &s.groups[1];
    assert_eq!(
        g.latency,
        Dist::Choice(
            vec![SimDuration::from_millis(10), SimDuration::from_millis(100)],
            vec![4, 1]
        )
    );
    assert_eq!(
        g.join,
        Join::Uniform(SimDuration::ZERO, SimDuration::from_secs(10))
    );
    assert_eq!(g.linger, Stay::Exponential(SimDuration::from_secs(300)));
    assert_eq!(g.abort, Some(Stay::Fixed(SimDuration::from_secs(7200))));

    let s = parse(&base_with(
        14,
        "upload = { uniform = [\"1 Mbit/s\", \"8 Mbit/s\"] }",
    ));
    assert_eq!(
        s.groups[1].upload,
        Dist::Uniform(Rate::mbit(1), Rate::mbit(8))
    );
    let s = parse(&base_with(
        14,
        "upload = { choice = [\"1 Mbit/s\", \"8 Mbit/s\"] }",
    ));
    assert_eq!(
        s.groups[1].upload,
        Dist::Choice(vec![Rate::mbit(1), Rate::mbit(8)], vec![1, 1])
    );
    let s = parse(&format!(
        "{BASE}join = {{ poisson = \"0.5/s\" }}\nabort = {{ exponential = \"1 h\" }}\n"
    ));
    let rate: ArrivalRate = "0.5/s".parse().unwrap();
    assert_eq!(s.groups[1].join, Join::Poisson(rate));
    assert_eq!(
        s.groups[1].abort,
        Some(Stay::Exponential(SimDuration::from_secs(3600)))
    );
    // "forever" as abort means never giving up.
    let s = parse(&format!("{BASE}abort = \"forever\"\n"));
    assert_eq!(s.groups[1].abort, None);
}

#[test]
fn bad_distributions_are_errors() {
    let e = error(&base_with(
        14,
        "upload = { uniform = [\"8 Mbit/s\", \"1 Mbit/s\"] }",
    ));
    assert_eq!(
        e,
        "bad.toml:14: group.leechers.upload.uniform: the low bound \"8 Mbit/s\" is above the high bound \"1 Mbit/s\" (expected [low, high])"
    );
    let e = error(&base_with(14, "upload = { uniform = [\"8 Mbit/s\"] }"));
    assert!(
        e.starts_with("bad.toml:14: group.leechers.upload.uniform: 1 values are given"),
        "{e}"
    );
    let e = error(&base_with(
        14,
        "upload = { choice = [\"1 Mbit/s\", \"2 Mbit/s\"], weights = [1] }",
    ));
    assert_eq!(
        e,
        "bad.toml:14: group.leechers.upload.weights: 1 weights for 2 choices (expected one weight per choice)"
    );
    let e = error(&base_with(
        14,
        "upload = { choice = [\"1 Mbit/s\", \"2 Mbit/s\"], weights = [1, 0] }",
    ));
    assert!(
        e.starts_with("bad.toml:14: group.leechers.upload.weights[1]: 0 is too small"),
        "{e}"
    );
    let e = error(&base_with(14, "upload = { choice = [] }"));
    assert!(
        e.starts_with("bad.toml:14: group.leechers.upload.choice: the list is empty"),
        "{e}"
    );
    let e = error(&base_with(
        14,
        "upload = { choice = [\"1 Mbit/s\", \"2 Mbps\"] }",
    ));
    assert_eq!(
        e,
        "bad.toml:14: group.leechers.upload.choice[1]: \"2 Mbps\" is not a rate (try \"2 Mbit/s\")"
    );
    let e = error(&base_with(14, "upload = {}"));
    assert!(
        e.starts_with("bad.toml:14: group.leechers.upload: empty distribution"),
        "{e}"
    );
    let e = error(&format!("{BASE}linger = \"sometimes\"\n"));
    assert!(
        e.starts_with("bad.toml:16: group.leechers.linger: \"sometimes\" is not a duration"),
        "{e}"
    );
    let e = error(&format!("{BASE}abort = \"0 s\"\n"));
    assert!(
        e.starts_with("bad.toml:16: group.leechers.abort: \"0 s\" is zero"),
        "{e}"
    );
}

#[test]
fn group_policy_overrides_the_default() {
    let s = parse(&format!(
        "[policy]\npicker = \"random\"\nupload_slots = 3\n{BASE}upload_slots = 8\nendgame = false\n"
    ));
    assert_eq!(s.policy.picker, builtin::RANDOM_PICKER);
    assert_eq!(s.policy.upload_slots, 3);
    let seeds = &s.groups[0].policy;
    assert_eq!(seeds, &s.policy);
    let leechers = &s.groups[1].policy;
    assert_eq!(leechers.picker, builtin::RANDOM_PICKER);
    assert_eq!(leechers.upload_slots, 8);
    assert!(!leechers.endgame);
    assert_eq!(leechers.pipeline, Policy::default().pipeline);
}

#[test]
fn every_written_field_is_read() {
    let s = parse(&format!(
        "name = \"n\"\ndescription = \"d\"\n\
         [tracker]\npeers_per_announce = 30\nannounce_interval = \"15 min\"\nmin_neighbours = 5\nmax_neighbours = 40\n\
         [policy]\npicker = \"sequential\"\nrandom_first = 0\nendgame = false\nchoker = \"tit-for-tat\"\n\
         upload_slots = 2\noptimistic_slots = 0\nrechoke_interval = \"5 s\"\noptimistic_interval = \"20 s\"\n\
         rate_window = \"10 s\"\nseed_choker = \"round-robin\"\npipeline = 10\n\
         [run]\nseed = 99\nstop = \"2 h\"\nsample_interval = \"500 ms\"\n{BASE}"
    ));
    assert_eq!((s.name.as_str(), s.description.as_str()), ("n", "d"));
    assert_eq!(s.tracker.peers_per_announce, 30);
    assert_eq!(s.tracker.max_neighbours, 40);
    assert_eq!(s.policy.seed_choker, builtin::ROUND_ROBIN);
    assert_eq!(s.policy.pipeline, Pipeline::Fixed(10));
    assert_eq!(s.policy.optimistic_slots, 0);
    assert_eq!(s.run.seed, 99);
    assert_eq!(s.run.stop, Stop::At(SimDuration::from_secs(7200)));
    assert_eq!(s.run.sample_interval, SimDuration::from_millis(500));
}

#[test]
fn pipeline_is_auto_by_default_or_a_number() {
    assert_eq!(parse(BASE).policy.pipeline, Pipeline::Auto);
    let with = |v: &str| format!("[policy]\npipeline = {v}\n{BASE}");
    assert_eq!(parse(&with("\"auto\"")).policy.pipeline, Pipeline::Auto);
    assert_eq!(parse(&with("32")).policy.pipeline, Pipeline::Fixed(32));
    let expected = "(expected \"auto\" or a whole number of at least 1)";
    assert_eq!(
        error(&with("\"fast\"")),
        format!("bad.toml:2: policy.pipeline: \"fast\" is a string {expected}")
    );
    assert_eq!(
        error(&with("2.5")),
        format!("bad.toml:2: policy.pipeline: 2.5 is a float {expected}")
    );
    assert_eq!(
        error(&with("0")),
        format!("bad.toml:2: policy.pipeline: 0 is out of range {expected}")
    );
    // Written back as read, and a fixed group override survives the round trip.
    for text in [with("\"auto\""), format!("{BASE}pipeline = 4\n")] {
        let s = parse(&text);
        assert_eq!(
            Scenario::from_str_named(&s.to_toml(), "x.toml").expect("parses"),
            s
        );
    }
}

// ------------------------------------------------------------------ sweeps

#[test]
fn sweeps_expand_as_a_cross_product() {
    let s = parse(&format!(
        "{BASE}\n[sweep]\n\"group.leechers.count\" = [50, 100]\n\"policy.picker\" = [\"rarest-first\", \"random\", \"sequential\"]\nreplicates = 3\n"
    ));
    let sweep = s.sweep.as_ref().expect("a sweep");
    assert_eq!(sweep.replicates, 3);
    assert_eq!(sweep.fields.len(), 2);
    let points = s.sweep_points();
    assert_eq!(points.len(), 6);
    assert_eq!(
        points[0].values,
        vec![
            ("group.leechers.count".to_string(), "50".to_string()),
            ("policy.picker".to_string(), "rarest-first".to_string())
        ]
    );
    assert_eq!(points[1].get("policy.picker"), Some("random"));
    assert_eq!(points[1].get("group.leechers.count"), Some("50"));
    assert_eq!(points[3].get("group.leechers.count"), Some("100"));
    assert_eq!(
        points[5].to_string(),
        "group.leechers.count=100, policy.picker=sequential"
    );

    let applied = s.with_overrides(&points[5]).expect("applies");
    assert_eq!(applied.group("leechers").map(|g| g.count), Some(100));
    assert_eq!(applied.policy.picker, builtin::SEQUENTIAL);
    assert_eq!(applied.groups[1].policy.picker, builtin::SEQUENTIAL);
    assert_eq!(applied.sweep, None);
    // Everything else is unchanged.
    let mut expected = s.clone();
    expected.sweep = None;
    expected.groups[1].count = 100;
    expected.policy.picker = builtin::SEQUENTIAL;
    expected.groups[0].policy.picker = builtin::SEQUENTIAL;
    expected.groups[1].policy.picker = builtin::SEQUENTIAL;
    assert_eq!(applied, expected);
}

#[test]
fn scenarios_without_a_sweep_have_one_empty_point() {
    let s = parse(BASE);
    let points = s.sweep_points();
    assert_eq!(points, vec![SweepPoint { values: vec![] }]);
    assert_eq!(s.with_overrides(&points[0]).expect("applies"), s);
}

#[test]
fn sweep_values_of_every_kind_apply() {
    let s = parse(&format!(
        "{BASE}\n[sweep]\n\"file.size\" = [\"16 MiB\"]\n\"group.leechers.upload\" = [{{ uniform = [\"1 Mbit/s\", \"3 Mbit/s\"] }}]\n\"run.seed\" = [7]\n\"group.seeds.choker\" = [\"tit-for-tat\"]\n\"tracker.max_neighbours\" = [40]\n"
    ));
    let points = s.sweep_points();
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].get("file.size"), Some("16 MiB"));
    let applied = s.with_overrides(&points[0]).expect("applies");
    assert_eq!(applied.file.size, Bytes(16 << 20));
    assert_eq!(
        applied.groups[1].upload,
        Dist::Uniform(Rate::mbit(1), Rate::mbit(3))
    );
    assert_eq!(applied.run.seed, 7);
    assert_eq!(applied.tracker.max_neighbours, 40);
}

#[test]
fn bare_dotted_sweep_keys_are_paths_too() {
    let s = parse(&format!(
        "{BASE}\n[sweep]\ngroup.leechers.count = [10, 20]\n"
    ));
    let points = s.sweep_points();
    assert_eq!(points.len(), 2);
    assert_eq!(points[1].get("group.leechers.count"), Some("20"));
}

#[test]
fn bad_sweeps_are_errors() {
    let sweep = |body: &str| error(&format!("{BASE}[sweep]\n{body}\n"));
    assert_eq!(
        sweep("\"group.leechers.cout\" = [1]"),
        "bad.toml:17: sweep.group.leechers.cout: \"cout\" is not a group field that can be swept (expected one of count, role, upload, download, latency, join, linger, abort, corrupt, connectable, region, picker, random_first, endgame, choker, upload_slots, optimistic_slots, rechoke_interval, optimistic_interval, rate_window, seed_choker, pipeline)"
    );
    assert_eq!(
        sweep("\"group.peers.count\" = [1]"),
        "bad.toml:17: sweep.group.peers.count: no group is named \"peers\" (expected one of seeds, leechers)"
    );
    assert_eq!(
        sweep("\"name\" = [\"x\"]"),
        "bad.toml:17: sweep.name: is not a field that can be swept (expected file.<key>, tracker.<key>, policy.<key>, run.<key>, network.<key> or group.<name>.<key>)"
    );
    assert!(
        sweep("\"policy.colour\" = [1]")
            .starts_with("bad.toml:17: sweep.policy.colour: \"colour\" is not a field of [policy]")
    );
    assert!(
        sweep("\"run.seed\" = []").starts_with("bad.toml:17: sweep.run.seed: the list is empty")
    );
    assert!(
        sweep("\"run.seed\" = 5")
            .starts_with("bad.toml:17: sweep.run.seed: 5 is an integer (expected a list of values")
    );
    assert!(sweep("replicates = 0").starts_with("bad.toml:17: sweep.replicates: 0 is too small"));
    // Each value is checked as if written in place, and blamed on its own line.
    assert_eq!(
        sweep("\"group.leechers.count\" = [\n  10,\n  0,\n]"),
        "bad.toml:19: sweep.group.leechers.count: 0 is too small (expected a whole number from 1 to 4294967295)"
    );
    assert_eq!(
        sweep("\"group.leechers.upload\" = [\"10 Mbps/s\"]"),
        "bad.toml:17: sweep.group.leechers.upload: \"10 Mbps/s\" is not a rate (try \"10 Mbit/s\")"
    );
    assert_eq!(
        sweep("\"tracker.max_neighbours\" = [10]"),
        "bad.toml:17: sweep.tracker.max_neighbours: min_neighbours (20) is more than max_neighbours (10) (expected min_neighbours <= max_neighbours)"
    );
    assert!(
        sweep("\"policy.picker\" = [\"random\"]\npolicy.picker = [\"random\"]")
            .starts_with("bad.toml:18: sweep.policy.picker: is swept twice"),
    );
}

#[test]
fn combinations_that_fail_together_fail_in_with_overrides() {
    let s = parse(&format!(
        "{BASE}[sweep]\n\"file.size\" = [\"1 MiB\", \"512 KiB\"]\n\"file.chunk_size\" = [\"64 KiB\", \"1 MiB\"]\n"
    ));
    let points = s.sweep_points();
    assert_eq!(points.len(), 4);
    assert!(s.with_overrides(&points[0]).is_ok());
    let e = s.with_overrides(&points[3]).unwrap_err();
    assert_eq!(e.line, None);
    assert_eq!(
        e.to_string(),
        "test [file.size=512 KiB, file.chunk_size=1 MiB]: file.chunk_size: 1 MiB is larger than the file (512 KiB) (expected at most the file size)"
    );
    // Points built by hand (as `compare --choker` does) are checked the same way.
    let e = s
        .with_overrides(&SweepPoint::new([("policy.choker", "no-such-choker")]))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("policy.choker: \"no-such-choker\" is not one of"),
        "{e}"
    );
    let e = s
        .with_overrides(&SweepPoint::new([("group.nobody.count", "3")]))
        .unwrap_err();
    assert!(
        e.to_string().contains("no group is named \"nobody\""),
        "{e}"
    );
}

#[test]
fn replicate_seeds_follow_the_documented_rule() {
    assert_eq!(replicate_seed(1, 0), 1);
    // splitmix64(1 + γ) >> 1, computed by hand from the published constants.
    let mut z: u64 = 1u64.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    assert_eq!(replicate_seed(1, 1), z >> 1);
}

#[test]
fn corrupt_is_a_probability_read_strictly() {
    let polluted = |value: &str| format!("{BASE}corrupt = {value}\n");
    assert_eq!(parse(BASE).groups[1].corrupt, crate::core::Corruption::NONE);
    for (text, p) in [
        ("0.25", 0.25),
        ("1", 1.0),
        ("0", 0.0),
        ("1.0", 1.0),
        ("0.0", 0.0),
    ] {
        let got = parse(&polluted(text)).groups[1].corrupt.probability();
        assert_eq!(got, p, "{text}");
    }
    let expected = "(expected a probability from 0 to 1, e.g. corrupt = 0.5)";
    for (text, found) in [
        ("1.5", "1.5 is out of range"),
        ("-0.1", "-0.1 is out of range"),
        ("2", "2 is out of range"),
        ("nan", "NaN is out of range"),
        ("inf", "inf is out of range"),
        ("\"0.5\"", "\"0.5\" is a string"),
    ] {
        assert_eq!(
            error(&polluted(text)),
            format!("bad.toml:16: group.leechers.corrupt: {found} {expected}"),
        );
    }
    // Not a [policy] key: it says what a group's peers are, not how they play.
    assert!(error(&format!("[policy]\ncorrupt = 0.5\n{BASE}")).contains("policy.corrupt"));
}

#[test]
fn corrupt_is_written_back_for_polluters_only_and_sweeps() {
    let s = parse(&format!("{BASE}corrupt = 0.1\n"));
    let text = s.to_toml();
    assert_eq!(text.matches("corrupt = 0.1\n").count(), 1, "{text}");
    assert_eq!(
        Scenario::from_str_named(&text, "x.toml").expect("parses"),
        s
    );
    assert!(!parse(BASE).to_toml().contains("corrupt"));
    let swept = parse(&format!(
        "{BASE}[sweep]\n\"group.leechers.corrupt\" = [0, 0.5, 1]\n"
    ));
    let corrupt: Vec<f64> = swept
        .sweep_points()
        .iter()
        .map(|p| {
            swept.with_overrides(p).expect("applies").groups[1]
                .corrupt
                .probability()
        })
        .collect();
    assert_eq!(corrupt, [0.0, 0.5, 1.0]);
    let e = error(&format!(
        "{BASE}[sweep]\n\"group.leechers.corrupt\" = [0.5, 7]\n"
    ));
    assert!(
        e.contains("sweep.group.leechers.corrupt") && e.contains("7 is out of range"),
        "{e}"
    );
}

// ------------------------------------------------------------------ round trip

#[test]
fn to_toml_round_trips_and_is_stable() {
    let s = parse(&format!(
        "name = \"odd \\\"name\\\"\"\ndescription = \"line one\\nline two\"\n[policy]\nchoker = \"tit-for-tat\"\n[run]\nseed = 18446744073709551615\n{BASE}"
    )
    .replace("seed = 18446744073709551615\n", "seed = \"18446744073709551615\"\n"));
    assert_eq!(s.run.seed, u64::MAX);
    let text = s.to_toml();
    let back = Scenario::from_str_named(&text, "scenario.toml").expect("round trip parses");
    assert_eq!(back, s);
    assert_eq!(back.to_toml(), text);
}

#[test]
fn to_toml_writes_group_overrides_only() {
    let s = parse(&format!(
        "{BASE}choker = \"tit-for-tat\"\nupload_slots = 8\n"
    ));
    let text = s.to_toml();
    assert_eq!(text.matches("upload_slots = 8").count(), 1, "{text}");
    assert_eq!(
        text.matches("choker = \"tit-for-tat\"").count(),
        1,
        "{text}"
    );
    assert_eq!(
        Scenario::from_str_named(&text, "x.toml").expect("parses"),
        s
    );
}

fn shipped() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn shipped_scenarios_parse_and_round_trip() {
    let files = shipped();
    for name in [
        "flash-crowd.toml",
        "steady-state.toml",
        "heterogeneous.toml",
        "free-riders.toml",
        "sweep-example.toml",
    ] {
        assert!(files.iter().any(|p| p.ends_with(name)), "{name} is shipped");
    }
    for path in files {
        let s = Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            s.peer_count() <= 300,
            "{}: keep shipped scenarios small",
            path.display()
        );
        // Quick to run: in fast mode (one block per chunk) a file costs a sixteenth of
        // the events, so it may be bigger.
        let limit = match s.file.block_size {
            BlockSize::Chunk => Bytes(256 << 20),
            BlockSize::Bytes(_) => Bytes(64 << 20),
        };
        assert!(s.file.size <= limit, "{}", path.display());
        assert!(!s.description.is_empty(), "{}", path.display());
        let mut expected = s.clone();
        expected.sweep = None;
        let back = Scenario::from_str_named(&s.to_toml(), "x.toml")
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(back, expected, "{}", path.display());
        for point in s.sweep_points() {
            s.with_overrides(&point)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn the_flash_crowd_is_as_described() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/flash-crowd.toml");
    let s = Scenario::from_file(&path).expect("parses");
    assert_eq!(s.name, "flash-crowd");
    assert_eq!(s.file.size, Bytes(64 << 20));
    let seeds = s.group("seeds").expect("seeds");
    assert_eq!(
        (seeds.count, seeds.role, seeds.linger.clone()),
        (1, Role::Seed, Stay::Forever)
    );
    assert_eq!(seeds.upload, Dist::Fixed(Rate::mbit(10)));
    let leechers = s.group("leechers").expect("leechers");
    assert_eq!(leechers.count, 200);
    assert_eq!(leechers.latency, Dist::Fixed(SimDuration::from_millis(50)));
    assert_eq!(
        leechers.join,
        Join::Uniform(SimDuration::ZERO, SimDuration::from_secs(10))
    );
    let sweep = Scenario::from_file(&path.with_file_name("sweep-example.toml")).expect("parses");
    assert_eq!(sweep.sweep_points().len(), 6);
    assert_eq!(sweep.sweep.map(|s| s.replicates), Some(3));
}

// ------------------------------------------------------------------ properties

proptest! {
    /// No input makes the parser panic; every error is one line naming the origin.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        if let Err(e) = Scenario::from_str_named(&text, "fuzz.toml") {
            let shown = e.to_string();
            prop_assert!(shown.starts_with("fuzz.toml"));
            prop_assert!(!shown.contains('\n'));
        }
    }

    /// Control characters in values or keys never break the one-line error.
    #[test]
    fn errors_stay_on_one_line(value in "[a-z \n\t\r]{0,20}", key in "[a-z\n]{1,8}") {
        for text in [
            base_with(14, &format!("upload = {:?}", value)),
            base_with(14, &format!("{:?} = 1", key)),
            base_with(14, &format!("upload = [\n  1,\n  {:?},\n]", value)),
        ] {
            if let Err(e) = Scenario::from_str_named(&text, "fuzz.toml") {
                prop_assert!(!e.to_string().contains(['\n', '\r']), "{}", e);
            }
        }
    }

    /// Mutating one line of a valid file never panics either.
    #[test]
    fn mutated_lines_never_panic(line in 1usize..16, junk in "[a-z_ =\"\\[\\]{}0-9./,-]{0,30}") {
        let text = base_with(line, &junk);
        if let Err(e) = Scenario::from_str_named(&text, "fuzz.toml") {
            prop_assert!(!e.to_string().contains('\n'));
        }
    }

    /// Resolved scenarios with arbitrary capacities and counts round-trip through TOML.
    #[test]
    fn generated_scenarios_round_trip(
        count in 1u32..5000,
        up in 1u64..10_000_000_000,
        lat in 0u64..10_000_000,
        seed in any::<u64>(),
        per_s in 1u64..1000,
    ) {
        let mut s = parse(BASE);
        s.groups[1].count = count;
        s.groups[1].upload = Dist::Uniform(Rate(up), Rate(up.saturating_mul(2)));
        s.groups[1].latency = Dist::Choice(vec![SimDuration(lat)], vec![3]);
        s.groups[1].join = Join::Poisson(ArrivalRate { count: per_s, per: SimDuration::from_secs(1) });
        s.run.seed = seed;
        let back = Scenario::from_str_named(&s.to_toml(), "x.toml");
        prop_assert_eq!(back, Ok(s));
    }
}

#[test]
fn inline_tables_work_like_standard_ones() {
    let s = parse(
        "file = { size = \"1 MiB\" }\n\
         group = [\n  { name = \"seeds\", count = 1, role = \"seed\", upload = \"1 Mbit/s\", download = \"1 Mbit/s\" },\n  { name = \"leechers\", count = 5, upload = \"1 Mbit/s\", download = \"1 Mbit/s\" },\n]\n\
         [sweep]\n\"group.leechers.count\" = [6, 7]\n",
    );
    assert_eq!(s.groups.len(), 2);
    assert_eq!(s.file.size, Bytes(1 << 20));
    let applied = s.with_overrides(&s.sweep_points()[1]).expect("applies");
    assert_eq!(applied.groups[1].count, 7);
    let e = error("file = { size = \"1 MiB\" }\ngroup = [\n  { name = \"a\", count = 0 },\n]\n");
    assert!(
        e.starts_with("bad.toml:3: group.a.count: 0 is too small"),
        "{e}"
    );
}
