//! A strategy defined outside `src/`: `examples/custom_choker.rs` registers a choker
//! named `debt` and runs swarmlab's command line with it. These tests run that example
//! binary (cargo builds examples for `cargo test`) and check that the name works where a
//! built-in one does — `check`, `run` with either backend, `compare` — and that the
//! plain `swarmlab` binary, which lacks it, refuses it with the valid names.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// A small swarm whose minority runs the custom choker.
const SCENARIO: &str = r#"
name = "debt-minority"
description = "A minority running the example's `debt` choker among tit-for-tat peers."

[file]
size = "4 MiB"
chunk_size = "256 KiB"
block_size = "16 KiB"

[[group]]
name = "seeds"
count = 1
role = "seed"
upload = "8 Mbit/s"
download = "8 Mbit/s"
latency = "5 ms"

[[group]]
name = "majority"
count = 6
upload = { uniform = ["1 Mbit/s", "4 Mbit/s"] }
download = "16 Mbit/s"
latency = "10 ms"
join = { uniform = ["0 s", "1 s"] }

[[group]]
name = "debtors"
count = 3
upload = "2 Mbit/s"
download = "16 Mbit/s"
latency = "10 ms"
join = { uniform = ["0 s", "1 s"] }
choker = "debt"
"#;

/// The example's binary, next to the test binaries' folder.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = profile
        .join("examples")
        .join(format!("custom_choker{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: `cargo test` builds the examples, `cargo test --test custom_strategy` does not (build it with `cargo build --release --example custom_choker`)",
        bin.display()
    );
    bin
}

fn output(bin: &Path, args: &[&str], dir: &Path) -> Output {
    Command::new(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn ok(o: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{what} failed: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn scenario_file(dir: &Path) -> PathBuf {
    let path = dir.join("debt.toml");
    fs::write(&path, SCENARIO).expect("write the scenario");
    path
}

#[test]
fn the_plain_binary_refuses_the_name_and_the_example_accepts_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = scenario_file(dir.path());
    let s = s.to_str().expect("utf-8 path");
    let plain = output(Path::new(common::bin()), &["check", s], dir.path());
    assert_eq!(plain.status.code(), Some(2));
    let err = String::from_utf8_lossy(&plain.stderr);
    assert!(
        err.contains("group.debtors.choker: \"debt\" is not one of tit-for-tat"),
        "{err}"
    );
    let custom = output(&example(), &["check", s], dir.path());
    assert!(ok(&custom, "check").contains("ok (3 groups, 10 peers"));
}

#[test]
fn a_simulated_run_uses_the_custom_choker() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = scenario_file(dir.path());
    let s = s.to_str().expect("utf-8 path");
    let debt = dir.path().join("debt");
    let tft = dir.path().join("tft");
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "run",
            s,
            "--no-plots",
            "--out",
            out.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        ok(&output(&example(), &args, dir.path()), "run");
        fs::read_to_string(out.join("peers.csv")).expect("peers.csv")
    };
    // 8 MiB, so that downloads span a few rechokes, and three seeds: in a swarm this
    // small the two chokers can still pick the same peers at every rechoke (seed 1 did
    // once rates were counted from the first unchoke), so one pair of runs proves
    // nothing either way.
    let pair = |seed: &str| {
        let with_debt = run(&debt, &["--seed", seed, "--set", "file.size=8 MiB"]);
        let with_tft = run(
            &tft,
            &[
                "--seed",
                seed,
                "--set",
                "file.size=8 MiB",
                "--set",
                "group.debtors.choker=tit-for-tat",
            ],
        );
        (with_debt, with_tft)
    };
    let mut changed = 0;
    let mut with_debt = String::new();
    for seed in ["1", "2", "3"] {
        let (d, t) = pair(seed);
        changed += usize::from(d != t);
        with_debt = d;
    }
    let written = fs::read_to_string(debt.join("scenario.toml")).expect("scenario.toml");
    assert!(written.contains("choker = \"debt\""), "{written}");
    // Same seed, same drawn peers: only the debtors' choker differs, and it shows.
    assert!(
        changed > 0,
        "the custom choker changed nothing in three swarms"
    );
    // The recorded scenario reproduces the last run (it names the custom choker and
    // records the seed).
    let again = dir.path().join("again");
    let recorded = debt.join("scenario.toml");
    let args = [
        "run",
        recorded.to_str().expect("utf-8"),
        "--no-plots",
        "--out",
        again.to_str().expect("utf-8"),
    ];
    ok(&output(&example(), &args, dir.path()), "rerun");
    let rerun = fs::read_to_string(again.join("peers.csv")).expect("peers.csv");
    assert_eq!(rerun, with_debt);
}

#[test]
fn compare_puts_the_custom_choker_beside_a_built_in_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = scenario_file(dir.path());
    let out = dir.path().join("cmp");
    let args = [
        "compare",
        s.to_str().expect("utf-8"),
        "--choker",
        "tit-for-tat,debt",
        "--group",
        "debtors",
        "--replicates",
        "2",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    let table = ok(&output(&example(), &args, dir.path()), "compare");
    assert!(table.contains("debt"), "{table}");
    let csv = fs::read_to_string(out.join("compare.csv")).expect("compare.csv");
    assert!(csv.contains("\ndebt,"), "{csv}");
    assert!(csv.contains("\ntit-for-tat,"), "{csv}");
}

#[test]
fn a_tcp_run_uses_the_custom_choker_over_real_sockets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = scenario_file(dir.path());
    let out = dir.path().join("tcp");
    let args = [
        "run",
        s.to_str().expect("utf-8"),
        "--backend",
        "tcp",
        "--time-scale",
        "2",
        "--no-plots",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    let mut cmd = Command::new(example());
    cmd.args(args);
    let (status, _, err) = common::run(cmd, dir.path(), "tcp", Duration::from_secs(120));
    assert!(status.success(), "tcp run failed: {err}");
    let summary = fs::read_to_string(out.join("summary.csv")).expect("summary.csv");
    let row = summary.lines().nth(1).expect("a row");
    // backend tcp, 10 peers, all 9 leechers completed.
    assert!(row.contains(",tcp,10,9,"), "{summary}");
}
