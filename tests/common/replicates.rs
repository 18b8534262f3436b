//! Paired replicates of a `compare` run, read back from its run folders: per-run group
//! means and the paired difference with its 95 % interval (tests/strategies.rs and
//! tests/fidelity.rs include this file by path).

use swarmlab::compare::stats;

/// Per-replicate mean download time of `group` in each run of strategy `label`, read
/// back from the run folders (so paired differences can be taken).
pub fn per_run_means(dir: &std::path::Path, label: &str, group: &str, replicates: u32) -> Vec<f64> {
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
pub fn paired(a: &[f64], b: &[f64]) -> (f64, f64) {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    (
        stats::mean(&d).expect("replicates"),
        stats::ci95_half_width(&d).expect("two or more replicates"),
    )
}
