//! End-to-end runs of the `swarmlab` binary: the shipped scenarios, result files,
//! determinism, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn swarmlab(args: &[&str]) -> Output {
    swarmlab_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// Runs the binary with `dir` as its working directory (where `results/` goes).
fn swarmlab_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swarmlab"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn scenario(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The single data row of a summary.csv, by column name.
fn summary(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join("summary.csv")).expect("summary.csv");
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    head.iter()
        .zip(row)
        .map(|(h, v)| (h.to_string(), v.to_string()))
        .collect()
}

fn num(map: &std::collections::BTreeMap<String, String>, key: &str) -> f64 {
    map[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} = {:?}", map[key]))
}

const SMALL: &str = r#"
name = "small"
[file]
size = "4 MiB"
chunk_size = "256 KiB"
block_size = "16 KiB"
[[group]]
name = "seeds"
count = 1
role = "seed"
upload = "5 Mbit/s"
download = "50 Mbit/s"
latency = "10 ms"
[[group]]
name = "leechers"
count = 30
upload = { uniform = ["1 Mbit/s", "4 Mbit/s"] }
download = "20 Mbit/s"
latency = { choice = ["10 ms", "40 ms"], weights = [3, 1] }
join = { uniform = ["0 s", "5 s"] }
[run]
seed = 7
"#;

fn small_scenario(dir: &Path) -> PathBuf {
    let path = dir.join("small.toml");
    std::fs::write(&path, SMALL).unwrap();
    path
}

fn files_except_timing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "timing.csv")
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_flash_crowd_completes_within_a_quarter_of_its_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = swarmlab(&[
        "run",
        &scenario("flash-crowd.toml"),
        "--out",
        out.to_str().unwrap(),
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&out);
    assert_eq!(num(&s, "completed"), 200.0);
    let (makespan, bound) = (num(&s, "makespan_s"), num(&s, "bound_s"));
    assert!((261.0..263.0).contains(&bound), "bound {bound}");
    assert!(
        makespan >= bound,
        "makespan {makespan} below the bound {bound}"
    );
    assert!(
        makespan <= 1.25 * bound,
        "makespan {makespan}, bound {bound}"
    );
    assert!(num(&s, "efficiency") >= 0.8);
    // Conservation: every byte uploaded was downloaded by someone.
    assert_eq!(s["bytes_uploaded"], s["bytes_downloaded"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    for word in [
        "makespan",
        "median",
        "p95",
        "lower bound",
        "efficiency",
        "events/s",
    ] {
        assert!(stdout.contains(word), "summary lacks {word}: {stdout}");
    }
}

#[test]
fn same_seed_same_bytes_and_another_seed_differs() {
    let tmp = tempfile::tempdir().unwrap();
    let path = small_scenario(tmp.path());
    let run = |name: &str, seed: &str| {
        let out = tmp.path().join(name);
        let o = swarmlab(&[
            "run",
            path.to_str().unwrap(),
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        files_except_timing(&out)
    };
    let a = run("a", "3");
    let b = run("b", "3");
    let c = run("c", "4");
    let names: Vec<&str> = a.iter().map(|f| f.0.as_str()).collect();
    for expected in [
        "scenario.toml",
        "summary.csv",
        "peers.csv",
        "swarm.csv",
        "chunks.csv",
        "chunks-heatmap.png",
        "replication.svg",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert_eq!(
        a, b,
        "same scenario and seed must give byte-identical files"
    );
    let differing: Vec<&str> = a
        .iter()
        .zip(&c)
        .filter(|(x, y)| x.1 != y.1)
        .map(|(x, _)| x.0.as_str())
        .collect();
    assert!(
        differing.contains(&"peers.csv") && differing.contains(&"summary.csv"),
        "{differing:?}"
    );
}

#[test]
fn the_written_scenario_reproduces_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let path = small_scenario(tmp.path());
    let first = tmp.path().join("first");
    assert!(
        swarmlab(&[
            "run",
            path.to_str().unwrap(),
            "--seed",
            "11",
            "--out",
            first.to_str().unwrap(),
            "--no-plots"
        ])
        .status
        .success()
    );
    let again = tmp.path().join("again");
    let resolved = first.join("scenario.toml");
    assert!(
        swarmlab(&[
            "run",
            resolved.to_str().unwrap(),
            "--out",
            again.to_str().unwrap(),
            "--no-plots"
        ])
        .status
        .success()
    );
    assert_eq!(files_except_timing(&first), files_except_timing(&again));
}

#[test]
fn run_set_changes_the_scenario_records_it_and_rejects_bad_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let path = small_scenario(tmp.path());
    let path = path.to_str().unwrap();
    let run = |args: &[&str]| swarmlab_in(tmp.path(), &[&["run", path], args].concat());
    let o = run(&["--set", "file.block_size=64 KiB", "--no-plots"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Its own folder, named by the settings, beside where the plain run would go.
    let changed = tmp
        .path()
        .join("results/small/file.block_size=64_KiB/seed-7");
    let written = std::fs::read_to_string(changed.join("scenario.toml")).unwrap();
    assert!(written.contains("block_size = \"64 KiB\""), "{written}");
    // The recorded scenario reproduces the run.
    let again = tmp.path().join("again");
    let o = swarmlab(&[
        "run",
        changed.join("scenario.toml").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(files_except_timing(&changed), files_except_timing(&again));

    for (setting, complaint) in [
        (
            "file.block_size",
            "--set file.block_size: expected FIELD=VALUE",
        ),
        ("file.blocks=1", "\"blocks\" is not a field of [file]"),
        ("file.block_size=3 KiB", "file.block_size"),
    ] {
        let o = run(&["--set", setting, "--no-plots"]);
        assert_eq!(o.status.code(), Some(2), "{setting}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(complaint), "{setting}: {err}");
        assert_eq!(err.lines().count(), 1, "{setting}: {err}");
    }
}

#[test]
fn every_shipped_scenario_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut args = vec!["check".to_string()];
    // Scenario files; scenarios/traces holds the arrival traces they read.
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            args.push(path.to_string_lossy().into_owned());
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = swarmlab(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn trace_replay_joins_each_leecher_at_a_time_of_its_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("trace");
    let o = swarmlab(&[
        "run",
        &scenario("trace-replay.toml"),
        "--out",
        out.to_str().unwrap(),
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let column = |text: &str, name: &str| -> Vec<String> {
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().unwrap().split(',').collect();
        let i = head.iter().position(|h| *h == name).unwrap();
        lines
            .map(|l| l.split(',').nth(i).unwrap().to_string())
            .collect()
    };
    let trace = std::fs::read_to_string(scenario("traces/decaying-crowd.csv")).unwrap();
    let mut want: Vec<f64> = column(&trace, "join_s")
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    let peers = std::fs::read_to_string(out.join("peers.csv")).unwrap();
    let groups = column(&peers, "group");
    let mut got: Vec<f64> = column(&peers, "join_s")
        .iter()
        .zip(&groups)
        .filter(|(_, g)| *g == "leechers")
        .map(|(t, _)| t.parse().unwrap())
        .collect();
    want.sort_by(f64::total_cmp);
    got.sort_by(f64::total_cmp);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-6, "joined at {g} s, trace says {w} s");
    }
    assert_eq!(num(&summary(&out), "completed"), want.len() as f64);
}

#[test]
fn bound_explains_the_flash_crowd() {
    let o = swarmlab(&["bound", &scenario("flash-crowd.toml")]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("261.9"), "{text}");
}

/// Each malformed scenario: exit 2, one line naming file, line and field.
#[test]
fn bad_scenarios_are_rejected_with_file_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let base = SMALL.to_string();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "syntax.toml",
            base.replace("count = 30", "count = = 30"),
            "syntax.toml:",
        ),
        (
            "unknown.toml",
            base.replace("count = 30", "count = 30\ncolour = \"red\""),
            "group.leechers.colour",
        ),
        (
            "type.toml",
            base.replace("count = 30", "count = \"thirty\""),
            "group.leechers.count",
        ),
        (
            "unit.toml",
            base.replace("download = \"20 Mbit/s\"", "download = \"10 Mbps/s\""),
            "try \"10 Mbit/s\"",
        ),
        (
            "lots.toml",
            base.replace("size = \"4 MiB\"", "size = \"lots MiB\""),
            "file.size",
        ),
        (
            "zero.toml",
            base.replace("upload = \"5 Mbit/s\"", "upload = \"0 Mbit/s\""),
            "group.seeds.upload",
        ),
        (
            "negative.toml",
            base.replace("count = 30", "count = -3"),
            "group.leechers.count",
        ),
        (
            "chunk.toml",
            base.replace("chunk_size = \"256 KiB\"", "chunk_size = \"8 MiB\""),
            "file.chunk_size",
        ),
        ("empty.toml", String::new(), "empty.toml"),
    ];
    for (name, text, needle) in cases {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        for cmd in ["check", "run"] {
            let o = swarmlab(
                &[cmd, path.to_str().unwrap(), "--no-plots"]
                    .iter()
                    .copied()
                    .filter(|a| cmd == "run" || *a != "--no-plots")
                    .collect::<Vec<_>>(),
            );
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{cmd} {name}: {err}");
            assert!(err.contains(needle), "{cmd} {name}: {err}");
            assert!(!err.contains("panicked"), "{err}");
            let first = err.lines().next().unwrap_or("");
            assert!(first.contains(name), "{cmd} {name}: {first}");
        }
    }
    // A binary file.
    let bin = tmp.path().join("binary.toml");
    std::fs::write(&bin, [0xff, 0xfe, 0x00, 0x9f, 0x80]).unwrap();
    let o = swarmlab(&["check", bin.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("binary.toml"));
}

#[test]
fn plot_redraws_a_run_and_complains_about_a_corrupt_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let path = small_scenario(tmp.path());
    let run = tmp.path().join("run");
    assert!(
        swarmlab(&[
            "run",
            path.to_str().unwrap(),
            "--out",
            run.to_str().unwrap()
        ])
        .status
        .success()
    );
    let redrawn = tmp.path().join("redrawn");
    let o = swarmlab(&[
        "plot",
        run.to_str().unwrap(),
        "--out",
        redrawn.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for fig in ["chunks-heatmap", "replication", "swarm", "downloads"] {
        for ext in ["png", "svg"] {
            let name = format!("{fig}.{ext}");
            assert_eq!(
                std::fs::read(run.join(&name)).unwrap(),
                std::fs::read(redrawn.join(&name)).unwrap(),
                "{name}"
            );
        }
    }
    std::fs::write(run.join("swarm.csv"), "time_s,leechers\nabc,def\n").unwrap();
    let o = swarmlab(&["plot", run.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("swarm.csv"));
}
