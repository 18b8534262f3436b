//! Bar charts with error bars (one bar per category, e.g. per choker), and the
//! two-panel comparison figure `compare` draws: bars of a summary metric beside the
//! CDFs of download times.

use super::lines::{LineChart, PALETTE, label_font, tick_font};
use super::{Detail, Figure, PlotError, save, titled};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// One bar: a value (e.g. a mean over replicates) and its error interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// Category label, under the bar.
    pub label: String,
    /// Height of the bar.
    pub value: f64,
    /// Lower end of the error bar (e.g. mean − standard deviation, or the minimum).
    pub low: f64,
    /// Upper end of the error bar.
    pub high: f64,
}

/// A bar chart with error bars.
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    /// Label of the y axis, with its unit.
    pub y_label: String,
    /// Label of the x axis (what the categories are).
    pub x_label: String,
    /// The bars, left to right.
    pub bars: Vec<Bar>,
}

impl BarChart {
    /// Draws the chart filling `area`. Non-finite values draw no bar.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let n = self.bars.len().max(1);
        let top = self
            .bars
            .iter()
            .flat_map(|b| [b.value, b.high])
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.1 } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .margin(15)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d((0..n).into_segmented(), 0.0..top)
            .map_err(|e| e.to_string())?;
        let labels: Vec<&str> = self.bars.iter().map(|b| b.label.as_str()).collect();
        let name = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => labels.get(*i).copied().unwrap_or("").to_string(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n + 1)
            .x_label_formatter(&name)
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .axis_desc_style(label_font())
            .label_style(tick_font())
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| e.to_string())?;
        let finite: Vec<(usize, &Bar)> = self
            .bars
            .iter()
            .enumerate()
            .filter(|(_, b)| b.value.is_finite())
            .collect();
        chart
            .draw_series(finite.iter().map(|&(i, b)| {
                let color = PALETTE[i % PALETTE.len()];
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), b.value),
                    ],
                    color.mix(0.8).filled(),
                );
                // Leave gaps between neighbouring bars.
                bar.set_margin(0, 0, 18, 18);
                bar
            }))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                finite
                    .iter()
                    .filter(|(_, b)| b.low.is_finite() && b.high.is_finite())
                    .map(|&(i, b)| {
                        ErrorBar::new_vertical(
                            SegmentValue::CenterOf(i),
                            b.low,
                            b.value,
                            b.high,
                            BLACK.stroke_width(2),
                            16,
                        )
                    }),
            )
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Bars on the left, CDFs on the right, under one title.
struct CompareFigure<'a> {
    title: &'a str,
    bars: &'a BarChart,
    cdfs: &'a LineChart,
}

impl Figure for CompareFigure<'_> {
    fn draw_on<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        _detail: Detail,
    ) -> Result<(), String> {
        let area = titled(root, self.title)?;
        let (w, _) = area.dim_in_pixel();
        let (left, right) = area.split_horizontally(w * 2 / 5);
        self.bars.draw(&left)?;
        self.cdfs.draw(&right)
    }
}

/// Draws the comparison figure (`<stem>.png` and `.svg` in `dir`): `bars` (e.g. mean
/// makespan per policy with its spread over replicates) beside `cdfs` (e.g. download
/// time CDFs per policy, from [`cdf_points`](super::cdf_points)).
pub fn compare_chart(
    title: &str,
    bars: &BarChart,
    cdfs: &LineChart,
    dir: &Path,
    stem: &str,
) -> Result<Vec<PathBuf>, PlotError> {
    std::fs::create_dir_all(dir).map_err(|source| PlotError::Output {
        path: dir.to_path_buf(),
        source,
    })?;
    save(&CompareFigure { title, bars, cdfs }, dir, stem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::{Axis, Series, cdf_points};

    #[test]
    fn compare_chart_draws_bars_and_cdfs() {
        let bars = BarChart {
            y_label: "makespan (s)".into(),
            x_label: "choker".into(),
            bars: vec![
                Bar {
                    label: "tit-for-tat".into(),
                    value: 300.0,
                    low: 280.0,
                    high: 320.0,
                },
                Bar {
                    label: "propshare".into(),
                    value: 270.0,
                    low: 265.0,
                    high: 290.0,
                },
                Bar {
                    label: "random".into(),
                    value: f64::NAN,
                    low: 0.0,
                    high: 0.0,
                },
            ],
        };
        let cdfs = LineChart {
            x_label: "download time (s)".into(),
            y_label: "fraction of leechers".into(),
            y2_label: None,
            series: vec![
                Series {
                    name: "tit-for-tat".into(),
                    points: cdf_points(&[200.0, 250.0, 300.0], 3),
                    color: crate::plot::PALETTE[0],
                    axis: Axis::Left,
                },
                Series {
                    name: "propshare".into(),
                    points: cdf_points(&[180.0, 240.0, 270.0], 3),
                    color: crate::plot::PALETTE[1],
                    axis: Axis::Left,
                },
            ],
            x_range: None,
            y_range: Some(0.0..1.02),
            y2_range: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let files =
            compare_chart("flash-crowd: chokers", &bars, &cdfs, dir.path(), "compare").unwrap();
        assert_eq!(files.len(), 2);
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        assert!(svg.contains("propshare") && svg.contains("makespan (s)"));
        let png = std::fs::read(&files[0]).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        if std::env::var_os("SWARMLAB_PLOT_PREVIEW").is_some() {
            let keep = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/plot-preview");
            std::fs::create_dir_all(&keep).unwrap();
            std::fs::copy(&files[0], keep.join("compare.png")).unwrap();
        }
    }
}
