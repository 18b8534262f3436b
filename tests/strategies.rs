//! Choking strategies measured in the simulator through `compare`: small fast-mode
//! swarms (8 MiB, one block per chunk, ≤ 61 peers), several seeds, common random numbers
//! (replicate k of every strategy runs with the same seed). Run with `--release`.
//!
//! Where the literature predicts a direction that our model does not reproduce, the test
//! asserts what is true here and says so; the measured numbers are printed (`--nocapture`).

use swarmlab::compare::{Comparison, Plan, Row, run_all, stats};
use swarmlab::scenario::{ChokerKind, Scenario, SweepPoint};

fn scenario(text: &str) -> Scenario {
    Scenario::from_str_named(text, "test.toml").expect("test scenario parses")
}

fn shipped(name: &str) -> Scenario {
    let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    Scenario::from_file(std::path::Path::new(&path)).expect("shipped scenario parses")
}

/// Runs `chokers` (applied to `group`, or to everyone) with `replicates` runs each.
fn compare(
    s: &Scenario,
    chokers: &[ChokerKind],
    group: Option<&str>,
    replicates: u32,
) -> (Plan, Comparison, tempfile::TempDir) {
    let plan = Plan::new(s, chokers, &[], group, replicates).expect("valid plan");
    let dir = tempfile::tempdir().expect("temp dir");
    let c = run_all(&plan, dir.path(), 2, false, || {}).expect("runs");
    (plan, c, dir)
}

fn row<'c>(c: &'c Comparison, strategy: &str, group: &str) -> &'c Row {
    c.row(strategy, group)
        .unwrap_or_else(|| panic!("no row {strategy}/{group}"))
}

fn mean_dl(c: &Comparison, strategy: &str, group: &str) -> f64 {
    row(c, strategy, group)
        .mean_download_s
        .mean
        .expect("someone completed")
}

/// Per-replicate mean download time of `group` in each run of strategy `label`, read
/// back from the run folders (so paired differences can be taken).
fn per_run_means(dir: &std::path::Path, label: &str, group: &str, replicates: u32) -> Vec<f64> {
    (0..replicates)
        .map(|k| {
            let path = dir
                .join("runs")
                .join(label)
                .join(format!("r{k:02}/peers.csv"));
            let mut r = csv::Reader::from_path(&path).expect("peers.csv");
            let head = r.headers().expect("header").clone();
            let gi = head
                .iter()
                .position(|h| h == "group")
                .expect("group column");
            let di = head
                .iter()
                .position(|h| h == "download_s")
                .expect("download_s");
            let times: Vec<f64> = r
                .records()
                .map(|rec| rec.expect("row"))
                .filter(|rec| &rec[gi] == group && !rec[di].is_empty())
                .map(|rec| rec[di].parse().expect("number"))
                .collect();
            stats::mean(&times).expect("completions")
        })
        .collect()
}

/// `b − a` per replicate: mean and 95 % CI half-width.
fn paired(a: &[f64], b: &[f64]) -> (f64, f64) {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    (
        stats::mean(&d).expect("replicates"),
        stats::ci95_half_width(&d).expect("two or more replicates"),
    )
}

const SLOW_SWARM: &str = r#"
name = "free-riding"
[file]
size = "8 MiB"
chunk_size = "256 KiB"
block_size = "chunk"
[tracker]
peers_per_announce = 40
min_neighbours = 10
max_neighbours = 40
[[group]]
name = "seeds"
count = 1
role = "seed"
upload = "1 Mbit/s"
download = "100 Mbit/s"
[[group]]
name = "contributors"
count = 40
upload = "512 kbit/s"
download = "20 Mbit/s"
join = { uniform = ["0 s", "10 s"] }
[[group]]
name = "free-riders"
count = 10
role = "free-rider"
upload = "512 kbit/s"
download = "20 Mbit/s"
join = { uniform = ["0 s", "10 s"] }
"#;

#[test]
fn free_riders_finish_later_than_contributors_under_tit_for_tat() {
    // Slow links (512 kbit/s) so a download lasts ~30 rechoke rounds: with fast links
    // the whole download is over in a handful of rounds and tit-for-tat barely acts
    // (measured at 2 Mbit/s: free-riders only ~2 % later, inside the noise).
    let s = scenario(SLOW_SWARM);
    let n = 8;
    let (_, c, dir) = compare(&s, &[ChokerKind::TitForTat], None, n);
    let contributors = per_run_means(dir.path(), "tit-for-tat", "contributors", n);
    let free_riders = per_run_means(dir.path(), "tit-for-tat", "free-riders", n);
    let (gap, ci) = paired(&contributors, &free_riders);
    eprintln!(
        "free-riders − contributors: {gap:.1} ± {ci:.1} s (contributors {:.1} s)",
        mean_dl(&c, "tit-for-tat", "contributors")
    );
    assert!(gap > 0.0, "free-riders should be later: {gap:.1} ± {ci:.1}");
    let later = contributors
        .iter()
        .zip(&free_riders)
        .filter(|(c, f)| f > c)
        .count();
    assert!(later >= 6, "later in only {later} of {n} runs");
    // Free-riders never upload; contributors carry the swarm.
    assert_eq!(row(&c, "tit-for-tat", "free-riders").uploaded_bytes, 0.0);
    assert!(row(&c, "tit-for-tat", "contributors").share_ratio.unwrap() > 1.0);
}

#[test]
fn bittyrant_minority_against_tit_for_tat_and_propshare_majorities() {
    // The paper (Piatek et al. 2007) finds a BitTyrant client downloads faster than
    // the same client running mainline inside a mainline swarm, and Levin et al. (2008)
    // that PropShare blunts such strategic clients. Measured here (16 paired runs of
    // scenarios/bittyrant-minority.toml; the 12 tyrants' mean download time, ~58 s):
    //   tit-for-tat majority: gain of bittyrant over tit-for-tat  +1.0 ± 3.3 s
    //   propshare majority:   gain of bittyrant over propshare    −1.5 ± 4.5 s
    // (30 runs with the CLI gave −1.9 and −2.8 s): no significant gain in our model, so
    // "smaller under propshare" cannot be told from noise either. Why, as far as we can
    // tell: downloads last only
    // ~6 rechoke rounds, too few for BitTyrant's r = 3 reciprocation rounds to lower
    // prices; most unchokes in this peer are event-driven (free slots are filled at once
    // when a peer becomes interested) so reciprocation is weak for everybody; and the
    // network gives every unchoked flow its weighted share whatever the rest of the
    // sender's active set, so "just enough" upload is not a sharper bid than an equal
    // share. Asserted: no large effect either way, and BitTyrant never pays more upload
    // per byte downloaded than the strategy it replaces (share ratio 0.879 -> 0.877 in
    // the tit-for-tat swarm, 0.925 -> 0.843 in the propshare swarm).
    let base = shipped("bittyrant-minority.toml");
    let ps_majority = base
        .with_overrides(&SweepPoint::new([("policy.choker", "propshare")]))
        .expect("override");
    let n = 16;
    let chokers = |majority: ChokerKind| [majority, ChokerKind::BitTyrant];
    for (swarm, s, majority) in [
        ("tit-for-tat", &base, ChokerKind::TitForTat),
        ("propshare", &ps_majority, ChokerKind::PropShare),
    ] {
        let (_, c, dir) = compare(s, &chokers(majority), Some("tyrants"), n);
        let own = per_run_means(dir.path(), majority.name(), "tyrants", n);
        let tyrant = per_run_means(dir.path(), "bittyrant", "tyrants", n);
        let (gain, ci) = paired(&tyrant, &own);
        let own_row = row(&c, majority.name(), "tyrants");
        let tyrant_row = row(&c, "bittyrant", "tyrants");
        eprintln!(
            "{swarm} majority: tyrants' download {:.1} s as {majority}, {:.1} s as bittyrant; gain {gain:.1} ± {ci:.1} s; share ratio {:.3} -> {:.3}",
            own_row.mean_download_s.mean.unwrap(),
            tyrant_row.mean_download_s.mean.unwrap(),
            own_row.share_ratio.unwrap(),
            tyrant_row.share_ratio.unwrap(),
        );
        // No large effect either way (a tenth of the download time).
        assert!(
            gain.abs() < 0.1 * own_row.mean_download_s.mean.unwrap(),
            "{swarm}: gain {gain:.1} ± {ci:.1}"
        );
        assert_eq!(tyrant_row.completed, own_row.completed);
        assert!(
            tyrant_row.share_ratio.unwrap() <= own_row.share_ratio.unwrap() + 0.01,
            "share ratio {:?} vs {:?}",
            tyrant_row.share_ratio,
            own_row.share_ratio
        );
    }
}

const FAST_SLOW: &str = r#"
name = "fast-slow"
[file]
size = "8 MiB"
chunk_size = "256 KiB"
block_size = "chunk"
[tracker]
peers_per_announce = 40
min_neighbours = 10
max_neighbours = 40
[[group]]
name = "seeds"
count = 1
role = "seed"
upload = "1 Mbit/s"
download = "100 Mbit/s"
[[group]]
name = "fast"
count = 20
upload = "2 Mbit/s"
download = "50 Mbit/s"
join = { uniform = ["0 s", "10 s"] }
[[group]]
name = "slow"
count = 20
upload = "256 kbit/s"
download = "50 Mbit/s"
join = { uniform = ["0 s", "10 s"] }
"#;

#[test]
fn fast_and_slow_uploaders_under_tit_for_tat() {
    // Expected from the incentive literature (Cohen 2003; Legout et al. 2007,
    // "clustering and sharing incentives"): fast uploaders reciprocate among themselves
    // and finish first. NOT what our model gives: over 8 paired runs the slow group
    // finished 4.2 ± 10.5 s earlier (no significant difference; fast ≈ 226 s).
    // The fast peers do upload several times as much, so the incentive is there, but
    // it does not buy them download speed here: with one block per 256 KiB chunk a
    // fast peer's request to a slow peer ties a chunk up for 40 s, and this 8 MiB file
    // has only 32 chunks, so interest (and with it the unchoke set) churns. Asserted:
    // fast peers carry the swarm, and download times differ by less than a tenth.
    // Revisit (and flip) when the model shows clustering.
    let s = scenario(FAST_SLOW);
    let n = 8;
    let (_, c, dir) = compare(&s, &[ChokerKind::TitForTat], None, n);
    let fast = per_run_means(dir.path(), "tit-for-tat", "fast", n);
    let slow = per_run_means(dir.path(), "tit-for-tat", "slow", n);
    let (gap, ci) = paired(&fast, &slow);
    eprintln!("slow − fast: {gap:.1} ± {ci:.1} s");
    let f = row(&c, "tit-for-tat", "fast");
    let sl = row(&c, "tit-for-tat", "slow");
    assert!(f.share_ratio.unwrap() > 2.0 * sl.share_ratio.unwrap());
    assert!(gap.abs() < 0.1 * f.mean_download_s.mean.unwrap(), "{gap}");
}

#[test]
fn the_confidence_interval_shrinks_as_replicates_grow() {
    let s = shipped("bittyrant-minority.toml");
    let widths: Vec<f64> = [3, 6, 24]
        .iter()
        .map(|&n| {
            let (_, c, _dir) = compare(&s, &[ChokerKind::TitForTat], None, n);
            let r = row(&c, "tit-for-tat", "all");
            assert_eq!(r.replicates, n);
            r.mean_download_s.ci95.expect("n ≥ 2")
        })
        .collect();
    eprintln!("CI half-widths at 3, 6, 24 replicates: {widths:?}");
    assert!(widths[0] > widths[1] && widths[1] > widths[2], "{widths:?}");
}

#[test]
fn compare_numbers_are_the_means_of_the_runs_summaries() {
    let s = shipped("bittyrant-minority.toml");
    let n = 4;
    let chokers = [ChokerKind::TitForTat, ChokerKind::PropShare];
    let (plan, c, dir) = compare(&s, &chokers, Some("tyrants"), n);
    for strategy in &plan.strategies {
        let label = strategy.label();
        let mut cols: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        for k in 0..n {
            let path = dir
                .path()
                .join("runs")
                .join(&label)
                .join(format!("r{k:02}/summary.csv"));
            let mut r = csv::Reader::from_path(&path).expect("summary.csv");
            let head = r.headers().expect("header").clone();
            let rec = r.records().next().expect("one row").expect("row");
            for (h, v) in head.iter().zip(rec.iter()) {
                if let Ok(x) = v.parse::<f64>() {
                    cols.entry(h.to_string()).or_default().push(x);
                }
            }
            // Common random numbers: the same seed for every strategy's replicate k.
            let si = head.iter().position(|h| h == "seed").expect("seed column");
            assert_eq!(
                rec[si].parse::<u64>().expect("seed"),
                swarmlab::scenario::replicate_seed(s.run.seed, k)
            );
        }
        let m = |col: &str| stats::mean(&cols[col]).expect("values");
        let r = row(&c, &label, "all");
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6 * b.abs().max(1.0);
        assert!(close(r.mean_download_s.mean.unwrap(), m("mean_download_s")));
        assert!(close(
            r.mean_download_s.ci95.unwrap(),
            stats::ci95_half_width(&cols["mean_download_s"]).unwrap()
        ));
        assert!(close(r.median_download_s.unwrap(), m("median_download_s")));
        assert!(close(r.p95_download_s.unwrap(), m("p95_download_s")));
        assert!(close(r.makespan_s.mean.unwrap(), m("makespan_s")));
        assert!(close(r.completed, m("completed")));
        assert!(close(r.uploaded_bytes, m("bytes_uploaded")));
        assert!(close(r.downloaded_bytes, m("bytes_downloaded")));
    }
}

#[test]
fn compare_output_is_the_same_at_any_jobs() {
    let s = shipped("bittyrant-minority.toml");
    let plan = Plan::new(
        &s,
        &[
            ChokerKind::TitForTat,
            ChokerKind::BitTyrant,
            ChokerKind::Random,
        ],
        &[],
        Some("tyrants"),
        3,
    )
    .expect("plan");
    let csv_at = |jobs: usize| {
        let dir = tempfile::tempdir().expect("temp dir");
        swarmlab::compare::compare(&plan, dir.path(), jobs, false, || {}).expect("compare");
        std::fs::read(dir.path().join("compare.csv")).expect("compare.csv")
    };
    assert_eq!(csv_at(1), csv_at(2));
}
