//! The keys that bring a population closer to the Internet — connectability, regions
//! and a locality-aware tracker, super-seeding, arrival traces — as a user meets them:
//! parsed strictly, written back only where they differ from their defaults (so older
//! scenarios keep their exact `scenario.toml`), and sweepable.

use super::*;

/// `BASE` with `line` added to the leechers' group.
fn leechers_with(line: &str) -> String {
    format!("{BASE}{line}\n")
}

#[test]
fn connectable_is_a_group_key_defaulting_to_true() {
    let s = parse(BASE);
    assert!(s.groups.iter().all(|g| g.connectable));
    assert!(
        !s.to_toml().contains("connectable"),
        "defaults are not written"
    );
    let s = parse(&leechers_with("connectable = false"));
    assert!(s.groups[0].connectable);
    assert!(!s.groups[1].connectable);
    let text = s.to_toml();
    assert!(text.contains("connectable = false"), "{text}");
    assert_eq!(parse(&text), s);
    let member = &crate::scenario::population::draw_population(&s, 1)[1];
    assert!(!member.peer_config(&s, crate::core::PeerId(1)).connectable);
}

#[test]
fn connectable_is_strict_and_sweepable() {
    assert_eq!(
        error(&leechers_with("connectable = \"no\"")),
        "bad.toml:16: group.leechers.connectable: \"no\" is a string (expected true or false)"
    );
    let s = parse(&format!(
        "{BASE}\n[sweep]\n\"group.leechers.connectable\" = [true, false]\n"
    ));
    let points = s.sweep_points();
    assert_eq!(points.len(), 2);
    assert!(s.with_overrides(&points[0]).expect("applies").groups[1].connectable);
    assert!(!s.with_overrides(&points[1]).expect("applies").groups[1].connectable);
    assert!(
        error(&format!(
            "{BASE}\n[sweep]\n\"group.leechers.connectable\" = [0]\n"
        ))
        .starts_with("bad.toml:18: sweep.group.leechers.connectable: 0 is an integer")
    );
}

/// `BASE` with the seeds in `eu`, the leechers in `us`, and `rest` appended.
fn two_regions(rest: &str) -> String {
    let text = BASE.replace("role = \"seed\"\n", "role = \"seed\"\nregion = \"eu\"\n");
    format!("{text}region = \"us\"\n{rest}")
}

#[test]
fn regions_and_their_latencies_parse_and_round_trip() {
    let s = parse(BASE);
    assert_eq!(s.regions(), [DEFAULT_REGION]);
    assert!(!s.has_regions());
    let text = s.to_toml();
    assert!(!text.contains("region") && !text.contains("[network]") && !text.contains("bias"));

    let s = parse(&two_regions(
        "[network]\nlatency = { \"us-eu\" = \"80 ms\" }\n[tracker]\nbias = \"locality\"\nexternal = 3\n",
    ));
    assert_eq!(s.regions(), ["eu", "us"]);
    assert_eq!(s.region_of_group(1), 1);
    assert_eq!(s.network.between("eu", "us"), SimDuration::from_millis(80));
    assert_eq!(s.network.between("us", "eu"), SimDuration::from_millis(80));
    assert_eq!(s.network.between("us", "us"), SimDuration::ZERO);
    assert_eq!(s.tracker.bias, BiasKind::Locality);
    assert_eq!(
        s.tracker.bias(),
        crate::core::Bias::Locality { external: 3 }
    );
    let text = s.to_toml();
    assert!(
        text.contains("latency = { \"eu-us\" = \"80 ms\" }"),
        "{text}"
    );
    assert_eq!(parse(&text), s);
    let members = crate::scenario::population::draw_population(&s, 1);
    assert_eq!(members[0].region, 0);
    assert!(members[1..].iter().all(|m| m.region == 1));
}

#[test]
fn region_and_network_errors_name_file_line_and_field() {
    // Without [network], the missing pair is blamed on the name of the first group in
    // the later region (line 13, after the seeds' added line).
    assert_eq!(
        error(&two_regions("")),
        "bad.toml:13: group.leechers.region: no latency between regions \"eu\" and \"us\" (expected \"eu-us\" = \"80 ms\" in [network] latency)"
    );
    assert_eq!(
        error(&two_regions("[network]\n")),
        "bad.toml:18: network.latency: no latency between regions \"eu\" and \"us\" (expected \"eu-us\" = \"80 ms\" in [network] latency)"
    );
    assert_eq!(
        error(&two_regions(
            "[network]\nlatency = { \"eu-asia\" = \"80 ms\" }\n"
        )),
        "bad.toml:19: network.latency.eu-asia: no group is in region \"asia\" (expected regions among eu, us)"
    );
    assert_eq!(
        error(&two_regions(
            "[network]\nlatency = { \"eu-us\" = \"80 ms\", \"us-eu\" = \"9 ms\" }\n"
        )),
        "bad.toml:19: network.latency.us-eu: the latency between \"eu\" and \"us\" is given twice (expected each pair once, in either order)"
    );
    assert_eq!(
        error(&two_regions(
            "[network]\nlatency = { \"eu-us\" = \"80 mss\" }\n"
        )),
        "bad.toml:19: network.latency.eu-us: \"80 mss\" is not a duration (write a number and one of us ms s min h, e.g. \"10 s\")"
    );
    assert!(
        error(&two_regions(
            "[network]\nlatency = { \"eu-us\" = \"80 ms\" }\njitter = 1\n"
        ))
        .starts_with("bad.toml:20: network.jitter: unknown key")
    );
    assert_eq!(
        error(&leechers_with("region = \"eu-west\"")),
        "bad.toml:16: group.leechers.region: \"eu-west\" is not a usable region name (expected letters, digits and '_')"
    );
    assert_eq!(
        error(&format!("{BASE}[tracker]\nbias = \"local\"\n")),
        "bad.toml:17: tracker.bias: \"local\" is not a tracker bias (expected one of random, locality)"
    );
    assert_eq!(
        error(&format!("{BASE}[tracker]\nexternal = 51\n")),
        "bad.toml:17: tracker.external: 51 is more than peers_per_announce (50) (expected at most peers_per_announce)"
    );
    assert!(
        error(&format!("{BASE}[tracker]\nexternal = -1\n"))
            .starts_with("bad.toml:17: tracker.external: -1 ")
    );
}

#[test]
fn regions_bias_and_latencies_are_sweepable() {
    let s = parse(&two_regions(
        "[network]\nlatency = { \"eu-us\" = \"80 ms\" }\n[sweep]\n\"tracker.bias\" = [\"random\", \"locality\"]\n\"tracker.external\" = [0, 5]\n\"network.latency\" = [{ \"eu-us\" = \"10 ms\" }]\n\"group.leechers.region\" = [\"us\"]\n",
    ));
    let points = s.sweep_points();
    assert_eq!(points.len(), 4);
    let last = s.with_overrides(&points[3]).expect("applies");
    assert_eq!(
        last.tracker.bias(),
        crate::core::Bias::Locality { external: 5 }
    );
    assert_eq!(
        last.network.between("eu", "us"),
        SimDuration::from_millis(10)
    );
    assert_eq!(last.regions(), ["eu", "us"]);
    // A [network] pair must name regions in use, so a region swept away from one is
    // an error, caught when the file is read.
    assert!(
        error(&two_regions(
            "[network]\nlatency = { \"eu-us\" = \"80 ms\" }\n[sweep]\n\"group.leechers.region\" = [\"asia\"]\n"
        ))
        .starts_with("bad.toml:21: sweep.group.leechers.region: with this value, network.latency.eu-us: no group is in region \"us\"")
    );
}

// ------------------------------------------------------------------ arrival traces

/// A scenario file in a temporary folder whose leechers join from `trace` (written as
/// `arrivals.csv` beside it), with `count` if given: the folder and the file's path.
fn traced(trace: &str, count: Option<u32>) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("arrivals.csv"), trace).expect("write trace");
    let count = count.map_or(String::new(), |n| format!("count = {n}\n"));
    let text = BASE.replace("count = 200\n", &count) + "join = { trace = \"arrivals.csv\" }\n";
    let path = dir.path().join("traced.toml");
    std::fs::write(&path, text).expect("write scenario");
    (dir, path)
}

#[test]
fn a_trace_gives_the_group_its_count_and_each_peer_its_join_time() {
    let (_dir, path) = traced("join_s\n5\n0.5\n30\n", None);
    let s = Scenario::from_file(&path).expect("parses");
    assert_eq!(s.groups[1].count, 3);
    let joins: Vec<u64> = crate::scenario::population::draw_population(&s, 7)[1..]
        .iter()
        .map(|m| m.join.0)
        .collect();
    assert_eq!(joins, vec![5_000_000, 500_000, 30_000_000]);
    // Written back with the trace's absolute path and no count, it reads the same.
    let text = s.to_toml();
    assert!(text.contains("trace = "), "{text}");
    assert_eq!(parse(&text), s);
    let (_dir, path) = traced("join_s\n5\n0.5\n30\n", Some(3));
    assert_eq!(
        Scenario::from_file(&path).expect("parses").groups[1].count,
        3
    );
}

#[test]
fn a_count_that_disagrees_with_the_trace_is_an_error_naming_both() {
    let (_dir, path) = traced("join_s\n5\n0.5\n", Some(3));
    let e = Scenario::from_file(&path).unwrap_err().to_string();
    assert!(e.contains("traced.toml:"), "{e}");
    assert!(e.contains("group.leechers.count"), "{e}");
    assert!(e.contains("has 2 arrivals"), "{e}");
}

#[test]
fn a_bad_trace_row_names_the_trace_file_and_its_line() {
    let (_dir, path) = traced("peer,join_s\na,1\nb,later\n", None);
    let e = Scenario::from_file(&path).unwrap_err().to_string();
    assert!(e.contains("arrivals.csv:3: join_s:"), "{e}");
    let (_dir, path) = traced("join_s\n1\n", None);
    let missing = std::fs::read_to_string(&path)
        .unwrap()
        .replace("arrivals.csv", "missing.csv");
    std::fs::write(&path, missing).unwrap();
    let e = Scenario::from_file(&path).unwrap_err().to_string();
    assert!(
        e.contains("missing.csv") && e.contains("cannot read"),
        "{e}"
    );
    let e = error(&(BASE.to_string() + "join = { trace = \"a.csv\", poisson = \"1/s\" }\n"));
    assert!(e.contains("group.leechers.join.trace"), "{e}");
}

#[test]
fn a_trace_is_sweepable() {
    let (dir, path) = traced("join_s\n5\n0.5\n30\n", None);
    std::fs::write(dir.path().join("other.csv"), "join_s\n1\n2\n").unwrap();
    let s = Scenario::from_file(&path).expect("parses");
    let other = dir.path().join("other.csv").display().to_string();
    let value = format!("{{ trace = \"{other}\" }}");
    let swept = s
        .with_overrides(&SweepPoint::new([("group.leechers.join", value.as_str())]))
        .expect("override");
    assert_eq!(swept.groups[1].count, 2);
}

// ------------------------------------------------------------------ super-seeding

#[test]
fn super_seed_is_a_seed_choker_written_back_and_sweepable() {
    let s = parse(&BASE.replace(
        "role = \"seed\"",
        "role = \"seed\"\nseed_choker = \"super-seed\"",
    ));
    assert_eq!(s.groups[0].policy.seed_choker, builtin::SUPER_SEED);
    assert_eq!(parse(&s.to_toml()), s);
    let e = error(&leechers_with("choker = \"super-seed\""));
    assert!(e.contains("group.leechers.choker"), "{e}");
    let swept = parse(BASE)
        .with_overrides(&SweepPoint::new([("policy.seed_choker", "super-seed")]))
        .expect("override");
    assert!(
        swept
            .groups
            .iter()
            .all(|g| g.policy.seed_choker == builtin::SUPER_SEED)
    );
}
