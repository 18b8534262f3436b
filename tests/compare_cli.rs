//! `swarmlab compare` end to end: output files, and exit status 2 with a helpful line on
//! bad input.

use std::process::{Command, Output};

fn swarmlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swarmlab"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run swarmlab")
}

const SCENARIO: &str = "scenarios/bittyrant-minority.toml";

#[test]
fn compare_writes_csv_plot_and_run_folders() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = swarmlab(&[
        "compare",
        SCENARIO,
        "--choker",
        "tit-for-tat,bittyrant",
        "--picker",
        "rarest-first,random",
        "--group",
        "tyrants",
        "--replicates",
        "2",
        "--jobs",
        "2",
        "--out",
        out,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("bittyrant") && stdout.contains('*'),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(dir.path().join("compare.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "choker,picker,group,replicates,mean_download_s,mean_download_s_ci95,median_download_s,p95_download_s,makespan_s,makespan_s_ci95,completed,uploaded_bytes,downloaded_bytes,share_ratio"
    );
    // 2 chokers × 2 pickers × (all + 3 groups).
    assert_eq!(lines.count(), 16);
    assert!(csv.contains("bittyrant,random,tyrants,2,"));
    for f in ["compare.png", "compare.svg"] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    for run in ["tit-for-tat+random/r00", "bittyrant+rarest-first/r01"] {
        assert!(
            dir.path()
                .join("runs")
                .join(run)
                .join("summary.csv")
                .is_file(),
            "{run}"
        );
    }
}

#[test]
fn an_unknown_strategy_lists_the_valid_ones() {
    let o = swarmlab(&["compare", SCENARIO, "--choker", "tit-for-tat,tyranny"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("\"tyranny\" is not one of tit-for-tat, propshare, bittyrant, random, altruistic, anti-snubbing"),
        "{err}"
    );
    let o = swarmlab(&[
        "compare", SCENARIO, "--choker", "random", "--picker", "fastest",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("rarest-first"));
}

#[test]
fn an_unknown_group_names_the_scenarios_groups() {
    let o = swarmlab(&[
        "compare",
        SCENARIO,
        "--choker",
        "bittyrant",
        "--group",
        "tyrant",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no group is named \"tyrant\" (expected one of seeds, majority, tyrants)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn set_changes_the_scenario_for_every_run_and_bad_settings_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = swarmlab(&[
        "compare",
        SCENARIO,
        "--choker",
        "bittyrant",
        "--group",
        "tyrants",
        "--set",
        "policy.choker=propshare",
        "--set",
        "file.block_size=64 KiB",
        "--replicates",
        "1",
        "--out",
        out,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = std::fs::read_to_string(dir.path().join("runs/bittyrant/r00/scenario.toml")).unwrap();
    assert!(run.contains("block_size = \"64 KiB\""), "{run}");
    // The majority's policy changed; the tyrants run the compared strategy.
    assert!(run.contains("choker = \"propshare\""), "{run}");
    assert!(run.contains("choker = \"bittyrant\""), "{run}");

    for (setting, complaint) in [
        (
            "file.block_size",
            "--set file.block_size: expected FIELD=VALUE",
        ),
        ("file.blocks=1", "\"blocks\" is not a field of [file]"),
    ] {
        let o = swarmlab(&["compare", SCENARIO, "--choker", "random", "--set", setting]);
        assert_eq!(o.status.code(), Some(2), "{setting}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(complaint), "{setting}: {err}");
    }
}
