//! The outputs of a comparison: `compare.csv`, the table printed on the terminal (best
//! value per column marked) and the figure `compare.png/.svg`.

use super::{ALL, Comparison, Estimate, Plan, Row};
use crate::plot::{self, Axis, Bar, BarChart, LineChart, PALETTE, Series, cdf_points};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The columns of `compare.csv`, in order.
pub const COLUMNS: &[&str] = &[
    "choker",
    "picker",
    "group",
    "replicates",
    "mean_download_s",
    "mean_download_s_ci95",
    "median_download_s",
    "p95_download_s",
    "makespan_s",
    "makespan_s_ci95",
    "completed",
    "uploaded_bytes",
    "downloaded_bytes",
    "share_ratio",
];

/// Fixed decimals (deterministic text); empty for what does not exist.
fn cell(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map(|x| format!("{x:.6}"))
        .unwrap_or_default()
}

fn cells(r: &Row) -> Vec<String> {
    vec![
        r.choker.clone(),
        r.picker.clone(),
        r.group.clone(),
        r.replicates.to_string(),
        cell(r.mean_download_s.mean),
        cell(r.mean_download_s.ci95),
        cell(r.median_download_s),
        cell(r.p95_download_s),
        cell(r.makespan_s.mean),
        cell(r.makespan_s.ci95),
        cell(Some(r.completed)),
        cell(Some(r.uploaded_bytes)),
        cell(Some(r.downloaded_bytes)),
        cell(r.share_ratio),
    ]
}

/// Writes `compare.csv`.
pub fn write_csv(rows: &[Row], path: &Path) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(COLUMNS)?;
    for r in rows {
        w.write_record(cells(r))?;
    }
    w.flush()
}

/// Which way is better for a printed column.
#[derive(Clone, Copy)]
enum Better {
    Lower,
    Higher,
    Neither,
}

/// The table for the terminal: a line per row, values rounded for reading, the best
/// value of each column within each group marked with `*` (lowest times, most
/// completed) when more than one strategy is compared.
pub fn format_table(rows: &[Row]) -> String {
    type Col = (
        &'static str,
        Better,
        fn(&Row) -> Option<f64>,
        fn(&Row) -> String,
    );
    fn est(e: &Estimate) -> String {
        match (e.mean, e.ci95) {
            (Some(m), Some(h)) => format!("{m:.1} ± {h:.1}"),
            (Some(m), None) => format!("{m:.1}"),
            _ => "-".into(),
        }
    }
    fn one(v: Option<f64>) -> String {
        v.map_or("-".into(), |v| format!("{v:.1}"))
    }
    let columns: [Col; 8] = [
        (
            "mean download s",
            Better::Lower,
            |r| r.mean_download_s.mean,
            |r| est(&r.mean_download_s),
        ),
        (
            "median s",
            Better::Lower,
            |r| r.median_download_s,
            |r| one(r.median_download_s),
        ),
        (
            "p95 s",
            Better::Lower,
            |r| r.p95_download_s,
            |r| one(r.p95_download_s),
        ),
        (
            "makespan s",
            Better::Lower,
            |r| r.makespan_s.mean,
            |r| est(&r.makespan_s),
        ),
        (
            "completed",
            Better::Higher,
            |r| Some(r.completed),
            |r| format!("{:.1}", r.completed),
        ),
        (
            "up MiB",
            Better::Neither,
            |r| Some(r.uploaded_bytes),
            |r| format!("{:.1}", r.uploaded_bytes / 1048576.0),
        ),
        (
            "down MiB",
            Better::Neither,
            |r| Some(r.downloaded_bytes),
            |r| format!("{:.1}", r.downloaded_bytes / 1048576.0),
        ),
        (
            "share",
            Better::Neither,
            |r| r.share_ratio,
            |r| r.share_ratio.map_or("-".into(), |v| format!("{v:.2}")),
        ),
    ];
    let strategies = rows
        .iter()
        .map(|r| (&r.choker, &r.picker))
        .fold(Vec::new(), |mut v, s| {
            if !v.contains(&s) {
                v.push(s);
            }
            v
        })
        .len();
    let best = |r: &Row, (_, better, key, _): &Col| -> bool {
        let Some(v) = key(r) else { return false };
        let same_group = rows.iter().filter(|o| o.group == r.group).filter_map(key);
        // A tie between every strategy (e.g. all completed) marks nothing.
        let all_equal = same_group.clone().all(|o| o == v);
        strategies > 1
            && !all_equal
            && match better {
                Better::Lower => same_group.fold(f64::INFINITY, f64::min) == v,
                Better::Higher => same_group.fold(f64::NEG_INFINITY, f64::max) == v,
                Better::Neither => false,
            }
    };
    let mut table: Vec<Vec<String>> = vec![
        ["choker", "picker", "group"]
            .iter()
            .map(|s| s.to_string())
            .chain(columns.iter().map(|c| c.0.to_string()))
            .collect(),
    ];
    for r in rows {
        let mut line = vec![r.choker.clone(), r.picker.clone(), r.group.clone()];
        for c in &columns {
            let mark = if best(r, c) { "*" } else { "" };
            line.push(format!("{}{mark}", (c.3)(r)));
        }
        table.push(line);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|i| {
            table
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &table {
        for (i, (text, w)) in line.iter().zip(&widths).enumerate() {
            let pad = w - text.chars().count();
            if i < 3 {
                let _ = write!(out, "{text}{}  ", " ".repeat(pad));
            } else {
                let _ = write!(out, "{}{text}  ", " ".repeat(pad));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    if strategies > 1 {
        out.push_str("* best in its group (lowest time, most completed); ± is the 95 % CI half-width over replicates\n");
    }
    out
}

/// Draws `compare.png/.svg` in `dir`: mean download time per strategy with 95 % CI
/// error bars, beside the download-time CDF of each strategy (every replicate pooled),
/// both for the compared group (`--group`), or for every peer when the strategies apply
/// to all. Other groups are in `compare.csv` (one bar per strategy keeps labels legible).
pub fn draw(plan: &Plan, c: &Comparison, dir: &Path) -> Result<Vec<PathBuf>, plot::PlotError> {
    let groups = plan.report_groups();
    let focus = plan
        .group
        .as_ref()
        .and_then(|g| groups.iter().position(|x| x == g))
        .unwrap_or(0);
    let per = groups.len();
    let bars = c
        .labels
        .iter()
        .enumerate()
        .map(|(si, label)| {
            let row = &c.rows[si * per + focus];
            let value = row.mean_download_s.mean.unwrap_or(f64::NAN);
            let half = row.mean_download_s.ci95.unwrap_or(0.0);
            Bar {
                label: label.clone(),
                value,
                low: value - half,
                high: value + half,
            }
        })
        .collect();
    let series = c
        .labels
        .iter()
        .enumerate()
        .map(|(si, label)| {
            let (times, total) = &c.pooled[si][focus];
            Series {
                name: label.clone(),
                points: cdf_points(times, *total),
                color: PALETTE[si % PALETTE.len()],
                axis: Axis::Left,
            }
        })
        .collect();
    let who = if focus == 0 { ALL } else { &groups[focus] };
    let bar_chart = BarChart {
        y_label: format!("mean download time (s), group {who}, 95 % CI"),
        x_label: "strategy".into(),
        bars,
    };
    let cdfs = LineChart {
        x_label: format!("download time (s), group {who}"),
        y_label: "fraction of leechers".into(),
        y2_label: None,
        series,
        x_range: None,
        y_range: Some(0.0..1.02),
        y2_range: None,
    };
    let scope = match &plan.group {
        Some(g) => format!("strategies for group {g}"),
        None => "strategies".to_string(),
    };
    let title = format!(
        "{}: {scope}, {} replicates",
        plan.scenario.name, plan.replicates
    );
    plot::compare_chart(&title, &bar_chart, &cdfs, dir, "compare")
}
