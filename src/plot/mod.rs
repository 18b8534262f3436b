//! Plots of a run, drawn with plotters from the run folder's CSVs (or straight from a
//! [`RunResult`](crate::metrics::RunResult)): the chunk-replication heatmap,
//! replication over time, swarm size over time and the download-time CDF per group,
//! each as PNG and SVG.
//!
//! Text is rendered with DejaVu Sans compiled into the binary (`assets/fonts/`, under
//! the Bitstream Vera licence) and registered with plotters' `ab_glyph` backend, so
//! figures draw the same on a machine with no fonts installed; SVG keeps text as text.
//!
//! The drawing helpers ([`LineChart`], [`cdf_points`], [`Heatmap`]) are reusable, e.g.
//! by `compare`.

mod bars;
mod data;
mod figures;
mod heatmap;
mod lines;

pub use bars::{Bar, BarChart, compare_chart};
pub use data::{GroupDownloads, RunData, SwarmPoint};
pub use figures::{FIGURES, draw};
pub use heatmap::{Heatmap, viridis};
pub use lines::{Axis, LineChart, PALETTE, Series, cdf_points};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Why plotting failed. Every variant names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// An input file could not be opened.
    #[error("cannot read {}: {source}", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// An input file is not what a run writes.
    #[error("{}:{line}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when the problem is the file as a whole).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The output folder could not be created.
    #[error("cannot create {}: {source}", path.display())]
    Output {
        /// The folder.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// Drawing or writing a figure failed.
    #[error("cannot draw {}: {message}", path.display())]
    Draw {
        /// The figure file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Figure size in pixels (PNG) and user units (SVG).
pub const SIZE: (u32, u32) = (1200, 700);

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font as plotters' "sans-serif" (once per process).
fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        let normal = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
        // Captions and legends may ask for bold; the regular face stands in for it.
        let bold = plotters::style::register_font("sans-serif", FontStyle::Bold, FONT);
        normal.is_ok() && bold.is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the embedded font could not be loaded".to_string())
    }
}

/// How finely a figure may draw: bitmaps can afford a cell per pixel or two, SVG
/// files grow with every element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// For PNG.
    Raster,
    /// For SVG.
    Vector,
}

/// Something drawable on any plotters backend.
pub trait Figure {
    /// Draws the whole figure (title included) onto `root`.
    fn draw_on<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        detail: Detail,
    ) -> Result<(), String>;
}

/// Draws `fig` as `<dir>/<stem>.png` and `<dir>/<stem>.svg` and returns both paths.
pub fn save(fig: &impl Figure, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, PlotError> {
    let draw_err = |path: &Path| {
        let path = path.to_path_buf();
        move |message: String| PlotError::Draw {
            path: path.clone(),
            message,
        }
    };
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    ensure_font().map_err(draw_err(&png))?;
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        fig.draw_on(&root, Detail::Raster)
            .and_then(|()| root.present().map_err(|e| e.to_string()))
            .map_err(draw_err(&png))?;
    }
    {
        let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
        fig.draw_on(&root, Detail::Vector)
            .and_then(|()| root.present().map_err(|e| e.to_string()))
            .map_err(draw_err(&svg))?;
    }
    Ok(vec![png, svg])
}

/// Fills `root` white and draws `title` at its top; returns the area below.
pub fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    root.titled(title, ("sans-serif", 28))
        .map_err(|e| e.to_string())
}

/// Redraws every figure of the run in `run_dir` from its CSVs into `out_dir` (created
/// if needed); returns the files written.
pub fn draw_run(run_dir: &Path, out_dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let data = RunData::read(run_dir)?;
    draw(&data, out_dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::testing::fake_run;

    /// Width and height from a PNG's IHDR chunk, after checking the signature.
    fn png_size(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&bytes[12..16], b"IHDR");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        (be(&bytes[16..20]), be(&bytes[20..24]))
    }

    fn run_dir(leechers: u32, chunks: u32) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fake_run(leechers, chunks).write(dir.path()).unwrap();
        dir
    }

    #[test]
    fn draws_every_figure_as_png_and_svg() {
        let run = run_dir(40, 64);
        let out = run.path().join("plots");
        let files = draw_run(run.path(), &out).unwrap();
        assert_eq!(files.len(), 2 * FIGURES.len());
        for stem in FIGURES {
            let png = std::fs::read(out.join(format!("{stem}.png"))).unwrap();
            let (w, h) = png_size(&png);
            assert!(w >= 1000 && h >= 600, "{stem}: {w}x{h}");
            let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
            assert!(
                svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
                "{stem}"
            );
            // Text stays text, and the title names scenario and seed.
            assert!(svg.contains("<text"), "{stem}");
            assert!(svg.contains("fake-swarm (seed 7)"), "{stem}");
        }
    }

    /// The font is compiled in and nothing is looked up on the machine, so text renders
    /// with no fonts installed. Check that it really is rasterised: a title drawn into
    /// a bitmap in memory leaves dark pixels in the title band.
    #[test]
    fn text_renders_with_the_embedded_font() {
        ensure_font().unwrap();
        let mut buf = vec![255u8; (SIZE.0 * SIZE.1 * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
            titled(&root, "fake-swarm (seed 7): download times").unwrap();
            root.present().unwrap();
        }
        let band = &buf[..50 * SIZE.0 as usize * 3];
        let dark = band
            .chunks(3)
            .filter(|p| p.iter().all(|&c| c < 100))
            .count();
        assert!(dark > 200, "title not drawn ({dark} dark pixels)");
    }

    #[test]
    fn replotting_gives_identical_files() {
        let run = run_dir(20, 32);
        let (a, b) = (run.path().join("a"), run.path().join("b"));
        draw_run(run.path(), &a).unwrap();
        draw_run(run.path(), &b).unwrap();
        for stem in FIGURES {
            for ext in ["png", "svg"] {
                let f = format!("{stem}.{ext}");
                assert!(
                    std::fs::read(a.join(&f)).unwrap() == std::fs::read(b.join(&f)).unwrap(),
                    "{f} differs"
                );
            }
        }
    }

    #[test]
    fn in_memory_and_csv_data_agree() {
        let result = fake_run(10, 16);
        let dir = tempfile::tempdir().unwrap();
        result.write(dir.path()).unwrap();
        assert_eq!(
            RunData::read(dir.path()).unwrap(),
            RunData::from_result(&result)
        );
    }

    #[test]
    fn corrupt_or_missing_csv_names_the_file() {
        let run = run_dir(6, 8);
        let swarm = run.path().join("swarm.csv");
        let text = std::fs::read_to_string(&swarm).unwrap();
        let broken = text.replacen(",1.000000", ",lots", 1);
        assert_ne!(broken, text);
        std::fs::write(&swarm, broken).unwrap();
        let err = draw_run(run.path(), &run.path().join("p"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("swarm.csv:"), "{err}");
        assert!(err.contains("\"lots\""), "{err}");

        std::fs::write(&swarm, "time_s,leechers\n0.0,1\n").unwrap();
        let err = draw_run(run.path(), &run.path().join("p"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("swarm.csv:1: no column \"seeds\""), "{err}");

        std::fs::write(&swarm, text).unwrap();
        let chunks = run.path().join("chunks.csv");
        let mut rows: Vec<String> = std::fs::read_to_string(&chunks)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        rows.remove(5);
        std::fs::write(&chunks, rows.join("\n")).unwrap();
        let err = draw_run(run.path(), &run.path().join("p"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("chunks.csv:"), "{err}");

        std::fs::remove_file(run.path().join("peers.csv")).unwrap();
        std::fs::remove_file(&chunks).unwrap();
        let err = draw_run(run.path(), &run.path().join("p"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot read") && err.contains("chunks.csv"),
            "{err}"
        );
    }
}
