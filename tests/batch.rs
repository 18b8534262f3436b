//! End-to-end tests of `swarmlab batch` and `swarmlab merge` with the binary: byte-identical
//! indexes at any `--jobs`, `--resume`, shards merged back, refusals, failures and bad
//! input.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn swarmlab(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swarmlab"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
}

/// A tiny swept scenario: 2 × 2 points × 2 replicates = 8 runs of a few milliseconds.
const TINY: &str = r#"
name = "tiny"
[file]
size = "4 MiB"
chunk_size = "256 KiB"
block_size = "chunk"
[[group]]
name = "seeds"
count = 1
role = "seed"
upload = "5 Mbit/s"
download = "50 Mbit/s"
[[group]]
name = "leechers"
count = 10
upload = { uniform = ["1 Mbit/s", "4 Mbit/s"] }
download = "20 Mbit/s"
join = { uniform = ["0 s", "5 s"] }
[run]
seed = 7
[sweep]
"group.leechers.count" = [5, 12]
"policy.picker" = ["rarest-first", "random"]
replicates = 2
"#;

/// A plain scenario (no sweep), so the index has rows with empty sweep cells.
const PLAIN: &str = r#"
name = "plain"
[file]
size = "4 MiB"
chunk_size = "256 KiB"
block_size = "chunk"
[[group]]
name = "seeds"
count = 1
role = "seed"
upload = "5 Mbit/s"
download = "50 Mbit/s"
[[group]]
name = "leechers"
count = 8
upload = "2 Mbit/s"
download = "20 Mbit/s"
[run]
seed = 3
"#;

/// A temporary folder holding `scenarios/tiny.toml` and `scenarios/more/plain.toml`.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(dir.path().join("scenarios/more")).unwrap();
    fs::write(dir.path().join("scenarios/tiny.toml"), TINY).unwrap();
    fs::write(dir.path().join("scenarios/more/plain.toml"), PLAIN).unwrap();
    dir
}

fn batch(dir: &Path, out: &str, extra: &[&str]) -> Output {
    let mut args = vec!["batch", "scenarios", "--no-plots", "--out", out];
    args.extend_from_slice(extra);
    swarmlab(dir, &args)
}

/// Every file under `root` except timing.csv, as (relative path, bytes), sorted.
fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.file_name().unwrap() != "timing.csv" {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.push((rel, fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn jobs_1_and_jobs_2_write_identical_files() {
    let dir = setup();
    assert_ok(&batch(dir.path(), "j1", &["--jobs", "1"]));
    assert_ok(&batch(dir.path(), "j2", &["--jobs", "2"]));
    let (a, b) = (tree(&dir.path().join("j1")), tree(&dir.path().join("j2")));
    assert_eq!(a.len(), b.len());
    for ((pa, ba), (pb, bb)) in a.iter().zip(&b) {
        assert_eq!(pa, pb);
        assert!(ba == bb, "{} differs between --jobs 1 and 2", pa.display());
    }

    let index = read(&dir.path().join("j1/index.csv"));
    let lines: Vec<&str> = index.lines().collect();
    assert_eq!(lines.len(), 1 + 8 + 1, "{index}");
    assert!(
        lines[0].starts_with(
            "folder,scenario,group.leechers.count,policy.picker,replicate,seed,backend,"
        ),
        "{}",
        lines[0]
    );
    // Sorted paths: scenarios/more/plain.toml comes before scenarios/tiny.toml.
    assert!(
        lines[1].starts_with("plain/rep-0,plain,,,0,3,sim,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with(
            "\"tiny/group.leechers.count=5,policy.picker=rarest-first/rep-0\",tiny,5,rarest-first,0,7,"
        ),
        "{}",
        lines[2]
    );
    assert!(dir.path().join("j1/plain/rep-0/summary.csv").is_file());
    assert_eq!(read(&dir.path().join("j1/failures.csv")).lines().count(), 1);
}

#[test]
fn searching_a_folder_skips_result_folders() {
    let dir = setup();
    assert_ok(&batch(dir.path(), "out", &[]));
    let o = swarmlab(
        dir.path(),
        &["run", "scenarios/more/plain.toml", "--no-plots"],
    );
    assert_ok(&o);
    // The batch folder and results/plain/seed-3 hold scenario.toml files: not scenarios.
    let o = swarmlab(dir.path(), &["batch", ".", "--no-plots", "--out", "again"]);
    assert_ok(&o);
    assert_eq!(
        fs::read(dir.path().join("out/index.csv")).unwrap(),
        fs::read(dir.path().join("again/index.csv")).unwrap()
    );
}

#[test]
fn replicates_flag_overrides_the_sweep() {
    let dir = setup();
    assert_ok(&batch(dir.path(), "out", &["--replicates", "1"]));
    let index = read(&dir.path().join("out/index.csv"));
    assert_eq!(index.lines().count(), 1 + 1 + 4, "{index}");
    assert!(!index.contains("rep-1"));
}

#[test]
fn resume_skips_complete_runs_and_redoes_partial_ones() {
    let dir = setup();
    let out = dir.path().join("out");
    assert_ok(&batch(dir.path(), "out", &[]));
    let before = fs::read(out.join("index.csv")).unwrap();

    // A marker inside a complete run survives only if the run is skipped.
    let kept = out.join("plain/rep-0");
    fs::write(kept.join("marker"), "x").unwrap();
    // An interrupted run: only its `.partial` folder is left.
    let redo = out.join("tiny/group.leechers.count=12,policy.picker=random/rep-1");
    let partial = out.join("tiny/group.leechers.count=12,policy.picker=random/rep-1.partial");
    fs::rename(&redo, &partial).unwrap();
    fs::remove_file(partial.join("summary.csv")).unwrap();

    let o = batch(dir.path(), "out", &["--resume"]);
    assert_ok(&o);
    assert!(stdout(&o).contains("1 ran, 8 skipped"), "{}", stdout(&o));
    assert!(kept.join("marker").exists(), "a complete run was redone");
    assert!(
        redo.join("summary.csv").is_file(),
        "the interrupted run was not redone"
    );
    assert!(!partial.exists(), "the .partial folder was left behind");
    assert_eq!(fs::read(out.join("index.csv")).unwrap(), before);

    // An edited scenario is redone even though its folder is complete.
    let tiny = dir.path().join("scenarios/tiny.toml");
    fs::write(
        &tiny,
        TINY.replace("join = { uniform = [\"0 s\", \"5 s\"] }", "join = \"1 s\""),
    )
    .unwrap();
    let o = batch(dir.path(), "out", &["--resume"]);
    assert_ok(&o);
    assert!(stdout(&o).contains("8 ran, 1 skipped"), "{}", stdout(&o));
    fs::write(&tiny, TINY).unwrap();

    // Without --resume every run is redone.
    let o = batch(dir.path(), "out", &[]);
    assert_ok(&o);
    assert!(stdout(&o).contains("9 ran, 0 skipped"), "{}", stdout(&o));
    assert!(!kept.join("marker").exists());
}

#[test]
fn shards_merged_equal_the_unsharded_batch() {
    let dir = setup();
    assert_ok(&batch(dir.path(), "whole", &[]));
    for k in 1..=3 {
        let shard = format!("{k}/3");
        assert_ok(&batch(dir.path(), &format!("s{k}"), &["--shard", &shard]));
    }
    // Round-robin: shard 1 of 3 holds runs 0, 3, 6 of 9.
    assert_eq!(
        read(&dir.path().join("s1/index.csv")).lines().count(),
        1 + 3
    );
    assert!(read(&dir.path().join("s2/batch.toml")).contains("shard = 2"));

    let o = swarmlab(dir.path(), &["merge", "s3", "s1", "s2", "--out", "merged"]);
    assert_ok(&o);
    let whole = dir.path().join("whole");
    let merged = dir.path().join("merged");
    for f in ["index.csv", "plan.csv", "batch.toml", "failures.csv"] {
        assert!(
            fs::read(whole.join(f)).unwrap() == fs::read(merged.join(f)).unwrap(),
            "merged {f} differs from the unsharded one"
        );
    }
    assert_eq!(tree(&whole), tree(&merged));
}

#[test]
fn merge_refuses_missing_and_duplicate_shards_and_runs() {
    let dir = setup();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        assert_ok(&batch(dir.path(), &format!("s{k}"), &["--shard", &shard]));
    }
    let o = swarmlab(dir.path(), &["merge", "s1", "s3", "--out", "m"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("shard 2/3 of this batch is missing"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("m/index.csv").exists());

    // Two shards sharing one folder would overwrite each other's index.
    let o = batch(dir.path(), "s1", &["--shard", "2/3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("already holds shard 1/3"),
        "{}",
        stderr(&o)
    );
    assert_ok(&batch(dir.path(), "s1", &["--shard", "1/3", "--resume"]));

    // The same shard twice, under another name.
    fs::create_dir_all(dir.path().join("copy")).unwrap();
    for f in ["batch.toml", "plan.csv", "index.csv"] {
        fs::copy(
            dir.path().join("s1").join(f),
            dir.path().join("copy").join(f),
        )
        .unwrap();
    }
    let o = swarmlab(
        dir.path(),
        &["merge", "s1", "s2", "s3", "copy", "--out", "m"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("are both shard 1/3"), "{}", stderr(&o));

    // One run listed by two shards.
    let s1_index = read(&dir.path().join("s1/index.csv"));
    let row = s1_index.lines().nth(1).unwrap();
    let mut s2_index = read(&dir.path().join("s2/index.csv"));
    s2_index.push_str(row);
    s2_index.push('\n');
    fs::write(dir.path().join("s2/index.csv"), s2_index).unwrap();
    let o = swarmlab(dir.path(), &["merge", "s1", "s2", "s3", "--out", "m"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("appears twice"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));

    // A folder that is not a batch.
    let o = swarmlab(dir.path(), &["merge", "scenarios", "--out", "m"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a batch folder"), "{}", stderr(&o));
}

#[test]
fn a_failing_run_is_reported_and_the_others_finish() {
    let dir = setup();
    // A file where a sweep point's folder should go makes that point's two runs fail.
    let point = "tiny/group.leechers.count=5,policy.picker=random";
    fs::create_dir_all(dir.path().join("out/tiny")).unwrap();
    fs::write(dir.path().join("out").join(point), "in the way").unwrap();
    let o = batch(dir.path(), "out", &["--jobs", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("run {point}/rep-0 failed")), "{err}");
    assert!(err.contains("2 runs failed"), "{err}");
    let index = read(&dir.path().join("out/index.csv"));
    assert_eq!(index.lines().count(), 1 + 7, "{index}");
    assert!(!index.contains(point));
    let failures = read(&dir.path().join("out/failures.csv"));
    assert_eq!(failures.lines().count(), 1 + 2, "{failures}");
    assert!(failures.lines().next().unwrap().ends_with(",error"));
    assert!(failures.contains(&format!("{point}/rep-1")));
}

fn write_scenario(dir: &Path, name: &str, sweep: &str) {
    let text = TINY.replace(
        "[sweep]\n\"group.leechers.count\" = [5, 12]\n\"policy.picker\" = [\"rarest-first\", \"random\"]",
        &format!("[sweep]\n{sweep}"),
    );
    assert_ne!(text, TINY);
    fs::write(dir.join(name), text).unwrap();
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_scenario(d, "unknown.toml", "\"policy.chokerr\" = [\"random\"]");
    write_scenario(d, "empty.toml", "\"policy.choker\" = []");
    fs::create_dir(d.join("nothing")).unwrap();
    fs::write(d.join("nothing/readme.txt"), "no scenarios here").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["batch", "unknown.toml"], "policy.chokerr"),
        (&["batch", "empty.toml"], "empty"),
        (&["batch", "nothing"], "no scenario files"),
        (&["batch", "missing.toml"], "missing.toml"),
        (&["batch", "empty.toml", "--shard", "3/2"], "--shard 3/2"),
        (&["batch", "empty.toml", "--shard", "0/4"], "--shard 0/4"),
        (&["batch", "empty.toml", "--shard", "a/b"], "--shard a/b"),
    ];
    for (args, needle) in cases {
        let o = swarmlab(d, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // Nothing was run or written for bad input.
    assert!(!d.join("results").exists());
}

#[test]
fn run_on_a_sweep_points_to_batch() {
    let dir = setup();
    let o = swarmlab(dir.path(), &["run", "scenarios/tiny.toml", "--no-plots"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("swarmlab batch"), "{}", stderr(&o));
}
