//! The four figures of a run, built from [`RunData`] with the chart helpers.

use super::data::RunData;
use super::heatmap::Heatmap;
use super::lines::{Axis, LineChart, PALETTE, Series, cdf_points};
use super::{Detail, Figure, PlotError, save, titled};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// The file stems of the run figures, in the order [`draw`] writes them.
pub const FIGURES: [&str; 4] = ["chunks-heatmap", "replication", "swarm", "downloads"];

/// Draws every run figure of `data` into `out_dir` (created if needed), PNG and SVG;
/// returns the files written.
pub fn draw(data: &RunData, out_dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    std::fs::create_dir_all(out_dir).map_err(|source| PlotError::Output {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let name = |what: &str| format!("{} (seed {}): {what}", data.scenario, data.seed);
    let mut files = save(
        &ChunksFigure {
            data,
            title: name("chunk replication"),
        },
        out_dir,
        FIGURES[0],
    )?;
    let figures = [
        (replication(data), name("replication over time")),
        (swarm(data), name("swarm over time")),
        (downloads(data), name("download times")),
    ];
    for ((chart, title), stem) in figures.into_iter().zip(&FIGURES[1..]) {
        files.extend(save(&ChartFigure { title, chart }, out_dir, stem)?);
    }
    Ok(files)
}

/// A line chart under a title.
struct ChartFigure {
    title: String,
    chart: LineChart,
}

impl Figure for ChartFigure {
    fn draw_on<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        _detail: Detail,
    ) -> Result<(), String> {
        self.chart.draw(&titled(root, &self.title)?)
    }
}

/// Chunk index × time, coloured by the chunk's replicas as a fraction of the peers
/// present: how far each chunk has spread.
struct ChunksFigure<'a> {
    data: &'a RunData,
    title: String,
}

impl Figure for ChunksFigure<'_> {
    fn draw_on<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        detail: Detail,
    ) -> Result<(), String> {
        let area = titled(root, &self.title)?;
        let d = self.data;
        let times: Vec<f64> = d.swarm.iter().map(|p| p.time).collect();
        let present: Vec<f64> = d.swarm.iter().map(|p| p.leechers + p.seeds).collect();
        let value = |s: usize, c: usize| {
            let peers = present[s];
            if peers > 0.0 {
                d.replicas[s * d.chunks + c] as f64 / peers
            } else {
                0.0
            }
        };
        Heatmap {
            x_label: "time (s)".into(),
            y_label: "chunk index".into(),
            scale_label: "replicas / peers present".into(),
            x: &times,
            rows: d.chunks,
            value: &value,
            cell_px: match detail {
                Detail::Raster => 2,
                Detail::Vector => 8,
            },
        }
        .draw(&area)
    }
}

fn line(name: &str, color: RGBColor, axis: Axis, points: Vec<(f64, f64)>) -> Series {
    Series {
        name: name.to_string(),
        points,
        color,
        axis,
    }
}

fn replication(d: &RunData) -> LineChart {
    let pts =
        |f: &dyn Fn(&super::SwarmPoint) -> f64| d.swarm.iter().map(|p| (p.time, f(p))).collect();
    LineChart {
        x_label: "time (s)".into(),
        y_label: "replicas per chunk (copies)".into(),
        y2_label: Some("entropy (normalized, 0-1)".into()),
        series: vec![
            line("min replicas", PALETTE[0], Axis::Left, pts(&|p| p.rep_min)),
            line(
                "mean replicas",
                PALETTE[2],
                Axis::Left,
                pts(&|p| p.rep_mean),
            ),
            line("max replicas", PALETTE[1], Axis::Left, pts(&|p| p.rep_max)),
            line(
                "entropy (right axis)",
                PALETTE[3],
                Axis::Right,
                pts(&|p| p.entropy.unwrap_or(f64::NAN)),
            ),
        ],
        x_range: None,
        y_range: None,
        y2_range: Some(0.0..1.05),
    }
}

fn swarm(d: &RunData) -> LineChart {
    let pts =
        |f: &dyn Fn(&super::SwarmPoint) -> f64| d.swarm.iter().map(|p| (p.time, f(p))).collect();
    let top = d
        .swarm
        .iter()
        .filter_map(|p| p.utilisation)
        .fold(1.0f64, f64::max);
    LineChart {
        x_label: "time (s)".into(),
        y_label: "peers present".into(),
        y2_label: Some("upload utilisation (fraction of capacity)".into()),
        series: vec![
            line("leechers", PALETTE[1], Axis::Left, pts(&|p| p.leechers)),
            line("seeds", PALETTE[0], Axis::Left, pts(&|p| p.seeds)),
            line(
                "upload utilisation (right axis)",
                PALETTE[2],
                Axis::Right,
                pts(&|p| p.utilisation.unwrap_or(f64::NAN)),
            ),
        ],
        x_range: None,
        y_range: None,
        y2_range: Some(0.0..top * 1.05),
    }
}

fn downloads(d: &RunData) -> LineChart {
    let series = d
        .downloads
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let name = format!("{} ({} of {} completed)", g.group, g.times.len(), g.peers);
            line(
                &name,
                PALETTE[i % PALETTE.len()],
                Axis::Left,
                cdf_points(&g.times, g.peers),
            )
        })
        .collect();
    // Download times start at zero: the origin shows how far from instant they are.
    let longest = d
        .downloads
        .iter()
        .flat_map(|g| g.times.iter().copied())
        .fold(0.0f64, f64::max);
    LineChart {
        x_label: "download time (s)".into(),
        y_label: "fraction of the group's leechers".into(),
        y2_label: None,
        series,
        x_range: Some(0.0..if longest > 0.0 { longest * 1.05 } else { 1.0 }),
        y_range: Some(0.0..1.02),
        y2_range: None,
    }
}
