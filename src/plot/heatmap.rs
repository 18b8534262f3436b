//! Heatmaps: a matrix of values in [0, 1] over (time × row), with a colour bar.
//!
//! A run can have thousands of samples and 4096 chunks: millions of cells, far more
//! than the pixels of the figure. The matrix is first averaged down to a grid of at
//! most one cell per `cell_px` pixels each way, so drawing costs the same for any run
//! and an SVG stays a reasonable size, and every cell shows the mean of the values it
//! covers (a lone rare chunk still shades its row band).

use super::lines::{label_font, tick_font};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A heatmap over `x.len()` columns (samples) and `rows` rows.
pub struct Heatmap<'a> {
    /// Label of the x axis (the sample times), with its unit.
    pub x_label: String,
    /// Label of the y axis (the rows), with its unit.
    pub y_label: String,
    /// What the colour means.
    pub scale_label: String,
    /// Time of each column; a column lasts until the next one's time.
    pub x: &'a [f64],
    /// Number of rows.
    pub rows: usize,
    /// The value at (column, row), expected in [0, 1] (clamped).
    pub value: &'a dyn Fn(usize, usize) -> f64,
    /// Minimum cell size in pixels: 1–2 for bitmaps, larger for SVG.
    pub cell_px: u32,
}

/// The colour of `v` in [0, 1]: viridis (perceptually uniform, colour-blind safe),
/// linearly interpolated between eight of its reference colours.
pub fn viridis(v: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 8] = [
        (68, 1, 84),
        (70, 50, 126),
        (54, 92, 141),
        (39, 127, 142),
        (31, 161, 135),
        (74, 193, 109),
        (160, 218, 57),
        (253, 231, 37),
    ];
    let v = if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = v * (STOPS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Bins `n` items into `bins` contiguous groups: the first item of each bin, plus `n`.
fn edges(n: usize, bins: usize) -> Vec<usize> {
    (0..=bins).map(|j| j * n / bins).collect()
}

impl Heatmap<'_> {
    /// Averages the matrix down to at most `cols × rows` cells: `(col edges, row edges,
    /// means)`, means column-major.
    fn grid(&self, cols: usize, rows: usize) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
        let n = self.x.len();
        let cols = cols.clamp(1, n.max(1));
        let rows = rows.clamp(1, self.rows.max(1));
        let cx = edges(n, cols);
        let cy = edges(self.rows, rows);
        let mut row_bin = Vec::with_capacity(self.rows);
        for i in 0..rows {
            row_bin.extend(std::iter::repeat_n(i, cy[i + 1] - cy[i]));
        }
        let mut sums = vec![0.0f64; cols * rows];
        for j in 0..cols {
            let cell = &mut sums[j * rows..(j + 1) * rows];
            for s in cx[j]..cx[j + 1] {
                for (r, &i) in row_bin.iter().enumerate() {
                    cell[i] += (self.value)(s, r).clamp(0.0, 1.0);
                }
            }
        }
        for j in 0..cols {
            for i in 0..rows {
                let count = (cx[j + 1] - cx[j]) * (cy[i + 1] - cy[i]);
                sums[j * rows + i] /= count.max(1) as f64;
            }
        }
        (cx, cy, sums)
    }

    /// Draws the heatmap and its colour bar filling `area`.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (w, _) = area.dim_in_pixel();
        let (main, bar) = area.split_horizontally(w.saturating_sub(170));
        let n = self.x.len();
        let x0 = self.x.first().copied().unwrap_or(0.0);
        let last = self.x.last().copied().unwrap_or(0.0);
        // The last column lasts as long as the one before it.
        let step = if n >= 2 { last - self.x[n - 2] } else { 1.0 };
        let x_end = last + if step > 0.0 { step } else { 1.0 };
        let rows = self.rows.max(1) as f64;

        let mut chart = ChartBuilder::on(&main)
            .margin(15)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(x0..x_end, 0.0..rows)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .axis_desc_style(label_font())
            .label_style(tick_font())
            .draw()
            .map_err(|e| e.to_string())?;

        if n > 0 && self.rows > 0 {
            let (pw, ph) = chart.plotting_area().dim_in_pixel();
            let px = self.cell_px.max(1);
            let (cx, cy, means) = self.grid((pw / px) as usize, (ph / px) as usize);
            let nrows = cy.len() - 1;
            let x_at = |j: usize| if cx[j] < n { self.x[cx[j]] } else { x_end };
            let cells = (0..cx.len() - 1).flat_map(|j| {
                let (xa, xb) = (x_at(j), x_at(j + 1));
                let (cy, means) = (&cy, &means);
                (0..nrows).map(move |i| {
                    Rectangle::new(
                        [(xa, cy[i] as f64), (xb, cy[i + 1] as f64)],
                        viridis(means[j * nrows + i]).filled(),
                    )
                })
            });
            chart.draw_series(cells).map_err(|e| e.to_string())?;
        }

        // The colour bar, drawn by hand (a plotters mesh puts its labels under the bar):
        // aligned with the plot area, 0 at the bottom, labels to its right.
        let (_, py) = chart.plotting_area().get_pixel_range();
        let base = bar.get_base_pixel();
        let (top, bottom) = (py.start - base.1, py.end - base.1);
        let (left, right) = (20, 50);
        let height = (bottom - top).max(1) as f64;
        const STEPS: i32 = 200;
        let y_at = |v: f64| bottom - (v * height).round() as i32;
        bar.draw(&Rectangle::new([(left, top), (right, bottom)], BLACK))
            .map_err(|e| e.to_string())?;
        for k in 0..STEPS {
            let (a, b) = (k as f64 / STEPS as f64, (k + 1) as f64 / STEPS as f64);
            let color = viridis((a + b) / 2.0).filled();
            bar.draw(&Rectangle::new(
                [(left + 1, y_at(b)), (right - 1, y_at(a))],
                color,
            ))
            .map_err(|e| e.to_string())?;
        }
        let tick = tick_font().pos(Pos::new(HPos::Left, VPos::Center));
        for k in 0..=5 {
            let v = k as f64 / 5.0;
            let y = y_at(v);
            bar.draw(&PathElement::new(vec![(right, y), (right + 5, y)], BLACK))
                .map_err(|e| e.to_string())?;
            bar.draw(&Text::new(format!("{v:.1}"), (right + 9, y), tick.clone()))
                .map_err(|e| e.to_string())?;
        }
        let label = label_font()
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Center, VPos::Center));
        bar.draw(&Text::new(
            self.scale_label.clone(),
            (130, (top + bottom) / 2),
            label,
        ))
        .map_err(|e| e.to_string())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_averages_blocks() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let value = |s: usize, r: usize| if s < 2 && r < 2 { 1.0 } else { 0.0 };
        let h = Heatmap {
            x_label: String::new(),
            y_label: String::new(),
            scale_label: String::new(),
            x: &x,
            rows: 4,
            value: &value,
            cell_px: 1,
        };
        let (cx, cy, m) = h.grid(2, 2);
        assert_eq!((cx, cy), (vec![0, 2, 4], vec![0, 2, 4]));
        assert_eq!(m, [1.0, 0.0, 0.0, 0.0]);
        // Asking for more cells than data keeps one per value.
        assert_eq!(h.grid(100, 100).2.len(), 16);
    }

    #[test]
    fn viridis_ends() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }
}
