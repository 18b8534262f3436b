//! Choking strategies measured in the simulator through `compare`: small fast-mode
//! swarms (8–256 MiB, one block per chunk, ≤ 101 peers), several seeds, common random numbers
//! (replicate k of every strategy runs with the same seed). Run with `--release`.
//!
//! Where the literature predicts a direction that our model does not reproduce
//! (PropShare blunting BitTyrant), the test prints it and says so rather than asserting
//! it; the measured numbers are printed (`--nocapture`).

use swarmlab::compare::{Comparison, Plan, Row, run_all, stats};
use swarmlab::core::StrategyName;
use swarmlab::core::strategy::builtin;
use swarmlab::scenario::{Scenario, SweepPoint};

#[path = "common/replicates.rs"]
mod replicates;
#[path = "common/sign_test.rs"]
mod sign_test;
use replicates::{paired, per_run_means};
use sign_test::sign_test_threshold;

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
    chokers: &[StrategyName],
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

#[test]
fn the_sign_test_thresholds_are_the_binomial_ones() {
    assert_eq!(sign_test_threshold(8), 7);
    assert_eq!(sign_test_threshold(16), 12);
    assert_eq!(sign_test_threshold(24), 17);
}

const SLOW_SWARM: &str = r#"
name = "free-riding"
[file]
size = "16 MiB"
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
upload = "2 Mbit/s"
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

/// Free-riders' paired lead over contributors in `s` over `n` runs: (gap, 95 %
/// half-width, runs in which the free-riders were later), and the comparison.
fn free_rider_gap(s: &Scenario, n: u32) -> (f64, f64, usize, Comparison) {
    let (_, c, dir) = compare(s, &[builtin::TIT_FOR_TAT], None, n);
    let contributors = per_run_means(dir.path(), "tit-for-tat", "contributors", n);
    let free_riders = per_run_means(dir.path(), "tit-for-tat", "free-riders", n);
    let (gap, ci) = paired(&contributors, &free_riders);
    let later = contributors
        .iter()
        .zip(&free_riders)
        .filter(|(c, f)| f > c)
        .count();
    (gap, ci, later, c)
}

#[test]
fn free_riders_finish_later_than_contributors_under_tit_for_tat() {
    // Slow links (512 kbit/s) and 16 MiB so a download lasts ~40 rechoke rounds: with
    // 8 MiB and a 1 Mbit/s seed the gap was 21 ± 27 s, inside the noise. The seed
    // serves free-riders as readily as anyone (seeds do not reciprocate), so a faster
    // seed shrinks the gap too: with a 4 Mbit/s seed it was 60 ± 41 s on ~340 s.
    // 192 paired runs, sized for the sign test's power: once request queues were sized
    // by the rate since the first unchoke the gap is smaller (with 16 KiB blocks 13.4 ±
    // 6.0 s on seeds 1-64 of `swarmlab run`, later in 42 of 64; docs/findings.md, entry
    // 69). With free-riders later in 61 % of runs, 192 runs pass the 5 % sign test with
    // a probability of about 0.92; 64 had about 0.5.
    //
    // The claim is checked on the reference, 16 KiB blocks (192 runs, about 22 CPU s),
    // and fast mode must agree on the sign, its interval excluding zero too. Fast mode's
    // gap is about half of block mode's here (4.9 ± 3.4 s, later in 104 of 192, against
    // 9.9 ± 4.0 s and 115; docs/findings.md, entry 75), too weak for a sign test.
    let n = 192;
    let s = scenario(SLOW_SWARM);
    let blocks = s
        .with_overrides(&SweepPoint::new([("file.block_size", "16 KiB")]))
        .expect("block_size override");
    let (gap, ci, later, c) = free_rider_gap(&blocks, n);
    eprintln!(
        "16 KiB: free-riders − contributors: {gap:.1} ± {ci:.1} s (contributors {:.1} s), later in {later} of {n}",
        mean_dl(&c, "tit-for-tat", "contributors")
    );
    assert!(
        gap - ci > 0.0,
        "free-riders should be later: {gap:.1} ± {ci:.1}"
    );
    assert!(
        later >= sign_test_threshold(n),
        "later in only {later} of {n} runs"
    );
    // Free-riders never upload; contributors carry the swarm.
    assert_eq!(row(&c, "tit-for-tat", "free-riders").uploaded_bytes, 0.0);
    assert!(row(&c, "tit-for-tat", "contributors").share_ratio.unwrap() > 1.0);

    let (fast_gap, fast_ci, fast_later, _) = free_rider_gap(&s, n);
    eprintln!(
        "fast mode: free-riders − contributors: {fast_gap:.1} ± {fast_ci:.1} s, later in {fast_later} of {n}"
    );
    assert!(
        fast_gap - fast_ci > 0.0,
        "fast mode: free-riders should be later: {fast_gap:.1} ± {fast_ci:.1}"
    );
}

/// What the tyrants of `scenario` measured as BitTyrant against the majority's own
/// strategy, in a tit-for-tat and in a PropShare swarm.
struct TyrantGain {
    swarm: &'static str,
    /// Paired gain of BitTyrant (s, positive = faster) and its CI half-width.
    gain: f64,
    ci: f64,
    /// Runs in which BitTyrant was faster.
    faster: usize,
    /// The tyrants' mean download time with the majority's strategy.
    own_download_s: f64,
    /// The same, per replicate.
    own_runs: Vec<f64>,
    own: Row,
    tyrant: Row,
}

/// BitTyrant's gain in `scenario` with the fields `set` changed (as `--set` would).
fn bittyrant_gains(scenario: &str, set: &[(&str, &str)], n: u32) -> Vec<TyrantGain> {
    let base = shipped(scenario)
        .with_overrides(&SweepPoint::new(set.iter().copied()))
        .expect("override");
    let ps_majority = base
        .with_overrides(&SweepPoint::new([("policy.choker", "propshare")]))
        .expect("override");
    let mut gains = Vec::new();
    for (swarm, s, majority) in [
        ("tit-for-tat", &base, builtin::TIT_FOR_TAT),
        ("propshare", &ps_majority, builtin::PROPSHARE),
    ] {
        let chokers = [majority.clone(), builtin::BITTYRANT];
        let (_, c, dir) = compare(s, &chokers, Some("tyrants"), n);
        let own = per_run_means(dir.path(), majority.as_str(), "tyrants", n);
        let tyrant = per_run_means(dir.path(), "bittyrant", "tyrants", n);
        let (gain, ci) = paired(&tyrant, &own);
        let faster = own.iter().zip(&tyrant).filter(|(o, t)| t < o).count();
        let own_row = row(&c, majority.as_str(), "tyrants").clone();
        let tyrant_row = row(&c, "bittyrant", "tyrants").clone();
        let own_download_s = own_row.mean_download_s.mean.expect("completions");
        eprintln!(
            "{scenario}, {swarm} majority: tyrants' download {own_download_s:.1} s as {majority}, {:.1} s as bittyrant; gain {gain:.1} ± {ci:.1} s (faster in {faster}/{n}); share ratio {:.3} -> {:.3}",
            tyrant_row.mean_download_s.mean.unwrap(),
            own_row.share_ratio.unwrap(),
            tyrant_row.share_ratio.unwrap(),
        );
        assert_eq!(tyrant_row.completed, own_row.completed);
        gains.push(TyrantGain {
            swarm,
            gain,
            ci,
            faster,
            own_download_s,
            own_runs: own,
            own: own_row,
            tyrant: tyrant_row,
        });
    }
    gains
}

#[test]
fn a_bittyrant_minority_gains_where_downloads_are_long_and_most_peers_slow() {
    // Piatek et al. (NSDI 2007): a BitTyrant client downloads faster than the same
    // client running mainline inside a mainline swarm (70 % on average over 100 live
    // swarms, most of whose peers upload slowly). scenarios/bittyrant-skewed.toml: five
    // 8 Mbit/s tyrants among 95 mostly slow peers, 256 MiB. Measured over 24 paired
    // runs: 116 ± 67 s sooner on ~835 s (19/24; over 32, 140 ± 58 s), and BitTyrant
    // uploads less per byte downloaded (share ratio 2.3 -> 1.8).
    //
    // Levin et al. (SIGCOMM 2008): PropShare gives high-capacity peers faster downloads
    // than tit-for-tat, and blunts BitTyrant. The first holds: with a PropShare majority
    // the tyrants, running PropShare themselves, finish 171 ± 83 s sooner than the same
    // tyrants in a tit-for-tat swarm. The second is NOT reproduced: over 128 runs,
    // BitTyrant gains 86 ± 29 s among PropShare peers against 88 ± 34 s among
    // tit-for-tat peers. Fast mode cannot answer it: a choke waits behind a whole chunk,
    // and making blocks to peers just choked stall instead turns the first figure into
    // −156 ± 36 s. With 16 KiB blocks the gap is 81 ± 50 s over 48 runs but 26 ± 70 s
    // over 48 other seeds, and it reverses with a round-robin seed (−83 ± 84 s, 24 runs).
    // So it is printed, not asserted (README, "Comparing strategies").
    //
    // All of the above was measured with the network model of equal shares per request.
    // With one max-min fair flow per connection the first claim does NOT hold: over the
    // same 24 runs the tyrants gain 33.4 ± 71.4 s (faster in 18/24) with a fixed pipeline
    // of 10, and 48.4 ± 55.1 s (14/24) with `pipeline = "auto"` (docs/findings.md). It
    // was not re-measured since fast mode agrees with block mode here (entry 75), and
    // block mode takes about a minute a run, so the direction is printed, not asserted; what
    // is asserted is that BitTyrant uploads less per byte downloaded. With 16 KiB blocks
    // the PropShare tyrants finish 78.8 ± 49.7 s sooner than tit-for-tat ones (19/24;
    // docs/findings.md, entry 58): Levin et al.'s first claim holds on the reference.
    // Fast mode gave the opposite sign under its takeover rule (59.8 ± 56.2 s later);
    // since its runs are capped at half a sender's budget (entry 75) it gives the
    // reference's, and that is asserted here.
    let n = 24;
    let gains = bittyrant_gains("bittyrant-skewed.toml", &[], n);
    let (tft, ps) = (&gains[0], &gains[1]);
    eprintln!(
        "tit-for-tat swarm: gain {:.1} ± {:.1} s, faster in {}/{n}",
        tft.gain, tft.ci, tft.faster
    );
    assert!(tft.tyrant.share_ratio.unwrap() < tft.own.share_ratio.unwrap());
    let (sooner, ci) = paired(&ps.own_runs, &tft.own_runs);
    eprintln!(
        "propshare tyrants finish {sooner:.1} ± {ci:.1} s sooner than tit-for-tat ones; bittyrant's gain {:.1} ± {:.1} s among propshare peers, {:.1} ± {:.1} s among tit-for-tat peers",
        ps.gain, ps.ci, tft.gain, tft.ci
    );
    // Levin et al. (SIGCOMM 2008): PropShare gives high-capacity peers faster downloads
    // than tit-for-tat (the whole swarm on each choker, the tyrants' mean download).
    assert!(
        sooner - ci > 0.0,
        "propshare tyrants: {sooner:.1} ± {ci:.1} s sooner than tit-for-tat ones"
    );
}

#[test]
fn in_short_downloads_among_similar_peers_bittyrant_gains_nothing() {
    // scenarios/bittyrant-minority.toml: 12 tyrants among 60 leechers whose uploads
    // are spread evenly over 1–8 Mbit/s, 8 MiB (~4 rechoke rounds). Measured (the
    // tyrants' mean download time, ~37 s):
    //   16 runs (this test):  gain over tit-for-tat −2.9 ± 2.9 s, over propshare −1.3 ± 2.7 s
    //   30 runs (`swarmlab compare … --replicates 30`): −2.1 ± 2.1 s and −1.0 ± 2.4 s
    // BitTyrant's prices fall only 10 % per three reciprocated rounds, and with
    // similar partners there is no cheap reciprocation to buy. Also tried here without
    // a gain: bigger files (up to 128 MiB), 16 KiB blocks, a well-fed seed, and
    // starting u_p at the typical rate of peers that unchoke us (the paper's "just
    // above the step") instead of our equal split — that grew the tyrants' active sets
    // to 10–40 peers but cost 5.1 ± 1.2 s with a well-fed seed and gained nothing
    // significant in the skewed swarm either, so it was left out. Asserted: no gain
    // worth the name, and BitTyrant never pays more upload per byte downloaded than
    // the strategy it replaces (share ratio 0.93 -> 0.89 and 0.90 -> 0.81).
    for g in bittyrant_gains("bittyrant-minority.toml", &[], 16) {
        assert!(
            g.gain < 0.1 * g.own_download_s,
            "{}: gain {:.1} ± {:.1}",
            g.swarm,
            g.gain,
            g.ci
        );
        assert!(
            g.tyrant.share_ratio.unwrap() <= g.own.share_ratio.unwrap() + 0.01,
            "share ratio {:?} vs {:?}",
            g.tyrant.share_ratio,
            g.own.share_ratio
        );
    }
}

/// Legout et al.'s setting in small: 20 fast (2 Mbit/s) and 20 slow (256 kbit/s)
/// leechers, and a seed that can feed them (twice a fast peer's upload).
const FAST_SLOW: &str = r#"
name = "fast-slow"
[file]
size = "32 MiB"
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
upload = "4 Mbit/s"
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

/// Over `n` paired replicates of `chokers` on `s`: per strategy, how much later the slow
/// group finished than the fast one (mean, CI half-width, runs where slow was later).
fn slow_minus_fast(s: &Scenario, chokers: &[StrategyName], n: u32) -> Vec<(f64, f64, usize, f64)> {
    let (_, c, dir) = compare(s, chokers, None, n);
    chokers
        .iter()
        .map(|choker| {
            let fast = per_run_means(dir.path(), choker.as_str(), "fast", n);
            let slow = per_run_means(dir.path(), choker.as_str(), "slow", n);
            let (gap, ci) = paired(&fast, &slow);
            let later = fast.iter().zip(&slow).filter(|(f, s)| s > f).count();
            let fast_mean = mean_dl(&c, choker.as_str(), "fast");
            eprintln!(
                "{choker}: slow − fast {gap:.1} ± {ci:.1} s (fast {fast_mean:.1} s; slow later in {later}/{n})"
            );
            (gap, ci, later, fast_mean)
        })
        .collect()
}

#[test]
fn fast_uploaders_finish_first_under_tit_for_tat_but_not_under_random_unchoking() {
    // Legout, Liogkas, Kohler & Zhang, "Clustering and sharing incentives in BitTorrent
    // systems" (SIGMETRICS 2007): under tit-for-tat similar-capacity peers cluster, so
    // fast uploaders download faster. Random unchoking, which ignores what a peer gave,
    // is the control: the same swarm, no incentive, no gap.
    //
    // The effect is small in this swarm, and fast mode used to overstate it (73 ± 37 s
    // on ~255 s over 16 runs, a piece coming from one sender), where 16 KiB blocks gave
    // 12 ± 10 s. Since fast mode spreads a piece over senders as blocks do
    // (docs/findings.md, entries 57-58), it shows less than blocks do: over 48 runs, blocks
    // +6.8 ± 3.7 s (slow later in 30/48, one short of a sign test at 5 %), fast mode
    // +2.2 ± 2.6 s (26/48); random −3.0 ± 1.6 s and −3.2 ± 1.3 s. So the claim is
    // checked on the reference, 16 KiB blocks — its interval excludes zero — and fast
    // mode is held to the fidelity issue's rule: the same sign where block mode's
    // interval excludes zero.
    let n = 48;
    let chokers = [builtin::TIT_FOR_TAT, builtin::RANDOM_CHOKER];
    let blocks = scenario(FAST_SLOW)
        .with_overrides(&SweepPoint::new([("file.block_size", "16 KiB")]))
        .expect("override");
    let measured = slow_minus_fast(&blocks, &chokers, n);
    let (tft_gap, tft_ci, _, fast_dl) = measured[0];
    let (random_gap, random_ci, _, _) = measured[1];
    assert!(
        tft_gap - tft_ci > 0.0,
        "16 KiB blocks, tit-for-tat: slow − fast {tft_gap:.1} ± {tft_ci:.1} s"
    );
    // No gap without an incentive: the whole 95 % interval within ±5 % of the download
    // time (an equivalence margin).
    assert!(
        random_gap.abs() + random_ci < 0.05 * fast_dl,
        "random unchoking: slow − fast {random_gap:.1} ± {random_ci:.1} s"
    );
    let (fast_mode_gap, _, _, _) = slow_minus_fast(&scenario(FAST_SLOW), &chokers[..1], n)[0];
    assert!(
        fast_mode_gap > 0.0,
        "fast mode, tit-for-tat: slow − fast {fast_mode_gap:.1} s, against blocks' {tft_gap:.1} s"
    );
}

#[test]
fn an_underprovisioned_seed_erases_the_advantage_of_fast_uploaders() {
    // Legout et al. (2007) again: when the initial seed uploads slower than the fast
    // peers, everybody waits for the seed's new pieces and clustering disappears.
    // On an 8 MiB file the slow peers even finish first (−3.1 ± 1.1 s, 8/8 runs), which
    // had first been taken for a failure of the model.
    let s = scenario(FAST_SLOW)
        .with_overrides(&SweepPoint::new([("group.seeds.upload", "1 Mbit/s")]))
        .expect("override");
    let n = 8;
    let (gap, ci, _, fast_dl) = slow_minus_fast(&s, &[builtin::TIT_FOR_TAT], n)[0];
    // The same equivalence margin as for random unchoking: the interval within ±5 %.
    assert!(
        gap.abs() + ci < 0.05 * fast_dl,
        "slow − fast {gap:.1} ± {ci:.1} s"
    );
}

#[test]
fn the_confidence_interval_shrinks_as_replicates_grow() {
    let s = shipped("bittyrant-minority.toml");
    let widths: Vec<f64> = [3, 6, 24]
        .iter()
        .map(|&n| {
            let (_, c, _dir) = compare(&s, &[builtin::TIT_FOR_TAT], None, n);
            let r = row(&c, "tit-for-tat", "all");
            assert_eq!(r.replicates, n);
            r.mean_download_s.ci95.expect("n ≥ 2")
        })
        .collect();
    eprintln!("CI half-widths at 3, 6, 24 replicates: {widths:?}");
    // 24 replicates give a narrower interval than 3 or 6. Not 6 against 3: a correct
    // interval from 3 replicates is no wider than from the first 6 about one time in
    // ten (t·s/√n with s from 2 degrees of freedom; a Monte Carlo of nested normal
    // samples gives 10.6 %), against 1.7 % (6 vs 24) and 2.7 % (3 vs 24). It happened
    // when the default pipeline became "auto": 3.10, 4.32, 1.87 s.
    assert!(widths[2] < widths[0] && widths[2] < widths[1], "{widths:?}");
}

#[test]
fn compare_numbers_are_the_means_of_the_runs_summaries() {
    let s = shipped("bittyrant-minority.toml");
    let n = 4;
    let chokers = [builtin::TIT_FOR_TAT, builtin::PROPSHARE];
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
            builtin::TIT_FOR_TAT,
            builtin::BITTYRANT,
            builtin::RANDOM_CHOKER,
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
