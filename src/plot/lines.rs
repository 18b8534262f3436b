//! Line charts: any number of named series on a left axis and, optionally, a right
//! axis, with a legend when there is more than one line. A CDF is a line chart of
//! [`cdf_points`]. Reused by the run figures and by `compare`.

use plotters::coord::Shift;
use plotters::prelude::*;
use std::ops::Range;

/// Which y axis a series is drawn against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    /// The left (primary) axis.
    Left,
    /// The right (secondary) axis.
    Right,
}

/// A named line. A point with a non-finite `y` breaks the line (a gap).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
    /// Line colour.
    pub color: RGBColor,
    /// The axis it is read against.
    pub axis: Axis,
}

/// A line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    /// Axis label of x, with its unit.
    pub x_label: String,
    /// Label of the left axis, with its unit.
    pub y_label: String,
    /// Label of the right axis; `None` draws no right axis.
    pub y2_label: Option<String>,
    /// The lines.
    pub series: Vec<Series>,
    /// Fixed x range, or fitted to the data.
    pub x_range: Option<Range<f64>>,
    /// Fixed left range, or 0 to the data's maximum.
    pub y_range: Option<Range<f64>>,
    /// Fixed right range, or 0 to the data's maximum.
    pub y2_range: Option<Range<f64>>,
}

/// Colours distinguishable in print and for most colour-blind readers (Okabe–Ito).
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// The points of an empirical CDF as a step line: after the i-th smallest value the
/// curve is at `i / total`. `total` may exceed `values.len()` (peers that never
/// completed), so the curve then stays below 1.
pub fn cdf_points(values: &[f64], total: usize) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let total = total.max(v.len()).max(1) as f64;
    let mut points = Vec::with_capacity(2 * v.len() + 1);
    if let Some(&first) = v.first() {
        points.push((first, 0.0));
    }
    for (i, &x) in v.iter().enumerate() {
        points.push((x, i as f64 / total));
        points.push((x, (i + 1) as f64 / total));
    }
    points
}

/// Fits a range to finite values, starting at `floor` if given; never empty.
fn fit(values: impl Iterator<Item = f64>, floor: Option<f64>) -> Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if let Some(f) = floor {
        lo = lo.min(f);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return 0.0..1.0;
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    // Headroom so the top line does not sit on the frame.
    if floor.is_some() {
        hi += (hi - lo) * 0.05;
    }
    lo..hi
}

/// The finite runs of a series: it is drawn as one path per run.
fn runs(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![Vec::new()];
    for &(x, y) in points {
        if x.is_finite() && y.is_finite() {
            if let Some(last) = out.last_mut() {
                last.push((x, y));
            }
        } else if out.last().is_some_and(|r| !r.is_empty()) {
            out.push(Vec::new());
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Text styles shared by every figure.
pub(crate) fn label_font() -> TextStyle<'static> {
    ("sans-serif", 20).into_font().into()
}

pub(crate) fn tick_font() -> TextStyle<'static> {
    ("sans-serif", 16).into_font().into()
}

impl LineChart {
    /// Draws the chart filling `area`.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let all = |axis: Axis| {
            self.series
                .iter()
                .filter(move |s| s.axis == axis)
                .flat_map(|s| s.points.iter().copied())
        };
        let x_range = self
            .x_range
            .clone()
            .unwrap_or_else(|| fit(all(Axis::Left).chain(all(Axis::Right)).map(|p| p.0), None));
        let y_range = self
            .y_range
            .clone()
            .unwrap_or_else(|| fit(all(Axis::Left).map(|p| p.1), Some(0.0)));
        let y2_range = self
            .y2_range
            .clone()
            .unwrap_or_else(|| fit(all(Axis::Right).map(|p| p.1), Some(0.0)));

        let mut builder = ChartBuilder::on(area);
        builder
            .margin(15)
            .x_label_area_size(60)
            .y_label_area_size(90);
        if self.y2_label.is_some() {
            builder.right_y_label_area_size(90);
        }
        let mut chart = builder
            .build_cartesian_2d(x_range.clone(), y_range)
            .map_err(|e| e.to_string())?
            .set_secondary_coord(x_range, y2_range);
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .axis_desc_style(label_font())
            .label_style(tick_font())
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| e.to_string())?;
        if let Some(label) = &self.y2_label {
            chart
                .configure_secondary_axes()
                .y_desc(label)
                .axis_desc_style(label_font())
                .label_style(tick_font())
                .draw()
                .map_err(|e| e.to_string())?;
        }
        for s in &self.series {
            let style = s.color.stroke_width(2);
            let mut labelled = false;
            let mut pieces = runs(&s.points);
            if pieces.is_empty() {
                // Still give the legend its entry.
                pieces.push(Vec::new());
            }
            for piece in pieces {
                let line = LineSeries::new(piece, style);
                let anno = match s.axis {
                    Axis::Left => chart.draw_series(line),
                    Axis::Right => chart.draw_secondary_series(line),
                }
                .map_err(|e| e.to_string())?;
                if !labelled {
                    let color = s.color;
                    anno.label(s.name.as_str()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                    });
                    labelled = true;
                }
            }
        }
        if self.series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font(tick_font())
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_steps_up_to_the_completed_fraction() {
        let p = cdf_points(&[3.0, 1.0], 4);
        assert_eq!(
            p,
            [(1.0, 0.0), (1.0, 0.0), (1.0, 0.25), (3.0, 0.25), (3.0, 0.5)]
        );
        assert!(cdf_points(&[], 3).is_empty());
    }

    #[test]
    fn gaps_split_lines() {
        let r = runs(&[(0.0, 1.0), (1.0, f64::NAN), (2.0, 2.0), (3.0, 3.0)]);
        assert_eq!(r, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
    }

    #[test]
    fn ranges_are_never_empty() {
        assert_eq!(fit([2.0, 2.0].into_iter(), None), 2.0..3.0);
        assert_eq!(fit(std::iter::empty(), Some(0.0)), 0.0..1.0);
    }
}
