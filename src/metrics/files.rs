//! The result of a run ([`RunResult`]) and the writers of its CSV files (docs/design.md,
//! "Result files"): `summary.csv`, `peers.csv`, `swarm.csv`, `chunks.csv`, `timing.csv`,
//! and `regions.csv` when the scenario has several regions.
//!
//! Everything but `timing.csv` is a pure function of the observer calls, so two runs of
//! the same scenario and seed give byte-identical files. To keep them so:
//! * times are integer microseconds, printed exactly as seconds with six decimals;
//! * other floats are printed with a fixed number of decimals (`{:.6}`);
//! * rows come in a defined order (peer index, sample time, chunk index);
//! * a cell that did not happen (a peer that never completed, a mean over nothing) is
//!   empty, never `NaN` or a made-up zero.

use super::bound::Bound;
use crate::core::Role;
use crate::units::{Bytes, Rate, SimDuration, SimTime};
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::Duration;

/// Everything a run produced, ready to be written as the run folder's CSVs.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// The one-row summary.
    pub summary: Summary,
    /// The lower bound the summary's `bound_s` and `efficiency` come from.
    pub bound: Bound,
    /// A record per peer that joined, in peer-index order.
    pub peers: Vec<PeerRecord>,
    /// Bytes per (from, to) region pair, every pair in region order (`regions.csv`);
    /// empty when the scenario has one region.
    pub regions: Vec<RegionBytes>,
    /// The swarm samples, in time order.
    pub samples: Vec<Sample>,
    /// The number of chunks of the file.
    pub chunks: u32,
    /// Replica count of each chunk at each sample: `samples.len() × chunks` values,
    /// sample-major (`chunk_replicas[s * chunks + c]`).
    pub chunk_replicas: Vec<u32>,
    /// Wall-clock timing (the only non-deterministic part).
    pub timing: Timing,
}

/// The columns of `summary.csv`. Times are seconds; `None` means "did not happen".
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Run seed.
    pub seed: u64,
    /// `sim` or `tcp`.
    pub backend: String,
    /// Peers that joined (seeds included).
    pub peers: u64,
    /// Leechers (non-seed peers) that completed.
    pub completed: u64,
    /// Last leecher completion − first leecher join.
    pub makespan: Option<SimDuration>,
    /// Mean download time (complete − join) over completed leechers, in seconds.
    pub mean_download_s: Option<f64>,
    /// Median download time (the mean of the two middle values for an even count).
    pub median_download_s: Option<f64>,
    /// 95th percentile download time by the nearest-rank method: the smallest value
    /// with at least 95 % of the values at or below it (the `⌈0.95·n⌉`-th smallest).
    pub p95_download: Option<SimDuration>,
    /// The Kurose–Ross lower bound in seconds (infinite when there is no seed upload).
    pub bound_s: f64,
    /// `bound_s / makespan_s`.
    pub efficiency: Option<f64>,
    /// Bytes delivered, counted at the uploader.
    pub bytes_uploaded: u64,
    /// Bytes delivered, counted at the downloader.
    pub bytes_downloaded: u64,
    /// Events the backend processed.
    pub events: u64,
    /// Piece checks that failed, over all peers (a piece fetched again counts again).
    pub pieces_failed: u64,
    /// Bytes thrown away with the pieces that failed (each failure: the piece's size).
    pub bytes_discarded: u64,
    /// Bytes delivered between peers of different regions (0 with one region).
    pub inter_region_bytes: u64,
}

/// A row of `regions.csv`: bytes delivered from peers of one region to peers of
/// another (or the same).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionBytes {
    /// The senders' region.
    pub from: String,
    /// The receivers' region.
    pub to: String,
    /// Bytes delivered, counted whole blocks.
    pub bytes: u64,
}

/// A row of `peers.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerRecord {
    /// Peer index.
    pub peer: u32,
    /// Group name.
    pub group: String,
    /// Role.
    pub role: Role,
    /// Upload capacity.
    pub upload: Rate,
    /// Download capacity.
    pub download: Rate,
    /// When it joined.
    pub join: SimTime,
    /// When it completed (never for seeds, which start complete).
    pub complete: Option<SimTime>,
    /// When it left, if it did before the end.
    pub leave: Option<SimTime>,
    /// Bytes it delivered to others.
    pub uploaded: Bytes,
    /// Bytes delivered to it.
    pub downloaded: Bytes,
    /// Pieces it received that failed its check.
    pub pieces_failed: u64,
    /// Peers that banned it (proven twice to have sent them bad data).
    pub banned_by: u64,
}

impl PeerRecord {
    /// complete − join, for a non-seed peer that completed.
    pub fn download_time(&self) -> Option<SimDuration> {
        match self.role {
            Role::Seed => None,
            _ => self.complete.map(|c| c - self.join),
        }
    }
}

/// A row of `swarm.csv`: the swarm at one sample time.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Sample time.
    pub time: SimTime,
    /// Peers present that do not hold the whole file.
    pub leechers: u64,
    /// Peers present that hold the whole file (seeds and completed leechers).
    pub seeds: u64,
    /// Upload used over the interval ending at this sample, as a fraction of the
    /// upload capacity present; `None` for the first sample or with no capacity.
    pub upload_utilisation: Option<f64>,
    /// Fewest replicas of any chunk among peers present.
    pub replication_min: u32,
    /// Mean replicas per chunk.
    pub replication_mean: f64,
    /// Most replicas of any chunk.
    pub replication_max: u32,
    /// Normalized Shannon entropy of the replica distribution (see `recorder`);
    /// `None` with fewer than two chunks or no replica at all.
    pub entropy: Option<f64>,
}

/// Wall-clock timing of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// Wall-clock time the run took.
    pub wall: Duration,
    /// Events processed.
    pub events: u64,
    /// Simulated (or real, for tcp) time covered.
    pub sim: SimTime,
}

/// Microseconds as exact seconds with six decimals: deterministic and lossless.
pub(crate) fn secs(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> String) -> String {
    v.map(f).unwrap_or_default()
}

fn float(v: f64) -> String {
    format!("{v:.6}")
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl Summary {
    /// The column names of `summary.csv`, in order (also useful for a batch index).
    pub const COLUMNS: &'static [&'static str] = &[
        "scenario",
        "seed",
        "backend",
        "peers",
        "completed",
        "makespan_s",
        "mean_download_s",
        "median_download_s",
        "p95_download_s",
        "bound_s",
        "efficiency",
        "bytes_uploaded",
        "bytes_downloaded",
        "events",
        "pieces_failed",
        "bytes_discarded",
        "inter_region_bytes",
    ];

    /// The row's cells as written, matching [`Summary::COLUMNS`].
    pub fn values(&self) -> Vec<String> {
        vec![
            self.scenario.clone(),
            self.seed.to_string(),
            self.backend.clone(),
            self.peers.to_string(),
            self.completed.to_string(),
            opt(self.makespan, |d| secs(d.0)),
            opt(self.mean_download_s, float),
            opt(self.median_download_s, float),
            opt(self.p95_download, |d| secs(d.0)),
            opt(finite(self.bound_s), float),
            opt(self.efficiency.and_then(finite), float),
            self.bytes_uploaded.to_string(),
            self.bytes_downloaded.to_string(),
            self.events.to_string(),
            self.pieces_failed.to_string(),
            self.bytes_discarded.to_string(),
            self.inter_region_bytes.to_string(),
        ]
    }
}

impl Timing {
    /// Events per wall-clock second (0 for an instant run).
    pub fn events_per_sec(&self) -> f64 {
        let wall = self.wall.as_secs_f64();
        if wall > 0.0 {
            self.events as f64 / wall
        } else {
            0.0
        }
    }
}

impl RunResult {
    /// Writes the CSV files into `dir` (which must exist), replacing older ones.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        self.write_summary(&dir.join("summary.csv"))?;
        self.write_peers(&dir.join("peers.csv"))?;
        self.write_swarm(&dir.join("swarm.csv"))?;
        self.write_chunks(&dir.join("chunks.csv"))?;
        if !self.regions.is_empty() {
            self.write_regions(&dir.join("regions.csv"))?;
        }
        self.write_timing(&dir.join("timing.csv"))
    }

    fn write_regions(&self, path: &Path) -> io::Result<()> {
        let mut w = writer(path)?;
        w.write_record(["from_region", "to_region", "bytes"])
            .map_err(|e| err(path, e))?;
        for r in &self.regions {
            w.write_record([r.from.as_str(), r.to.as_str(), &r.bytes.to_string()])
                .map_err(|e| err(path, e))?;
        }
        w.flush()
    }

    fn write_summary(&self, path: &Path) -> io::Result<()> {
        let mut w = writer(path)?;
        w.write_record(Summary::COLUMNS).map_err(|e| err(path, e))?;
        w.write_record(self.summary.values())
            .map_err(|e| err(path, e))?;
        w.flush()
    }

    fn write_peers(&self, path: &Path) -> io::Result<()> {
        let mut w = writer(path)?;
        w.write_record([
            "peer",
            "group",
            "role",
            "upload_bps",
            "download_bps",
            "join_s",
            "complete_s",
            "leave_s",
            "download_s",
            "uploaded_bytes",
            "downloaded_bytes",
            "pieces_failed",
            "banned_by",
        ])
        .map_err(|e| err(path, e))?;
        for p in &self.peers {
            w.write_record([
                p.peer.to_string(),
                p.group.clone(),
                p.role.name().to_string(),
                p.upload.0.to_string(),
                p.download.0.to_string(),
                secs(p.join.0),
                opt(p.complete, |t| secs(t.0)),
                opt(p.leave, |t| secs(t.0)),
                opt(p.download_time(), |d| secs(d.0)),
                p.uploaded.0.to_string(),
                p.downloaded.0.to_string(),
                p.pieces_failed.to_string(),
                p.banned_by.to_string(),
            ])
            .map_err(|e| err(path, e))?;
        }
        w.flush()
    }

    fn write_swarm(&self, path: &Path) -> io::Result<()> {
        let mut w = writer(path)?;
        w.write_record([
            "time_s",
            "leechers",
            "seeds",
            "upload_utilisation",
            "replication_min",
            "replication_mean",
            "replication_max",
            "entropy",
        ])
        .map_err(|e| err(path, e))?;
        for s in &self.samples {
            w.write_record([
                secs(s.time.0),
                s.leechers.to_string(),
                s.seeds.to_string(),
                opt(s.upload_utilisation, float),
                s.replication_min.to_string(),
                float(s.replication_mean),
                s.replication_max.to_string(),
                opt(s.entropy, float),
            ])
            .map_err(|e| err(path, e))?;
        }
        w.flush()
    }

    fn write_chunks(&self, path: &Path) -> io::Result<()> {
        let mut w = writer(path)?;
        w.write_record(["time_s", "chunk", "replicas"])
            .map_err(|e| err(path, e))?;
        let per = self.chunks as usize;
        if per == 0 {
            return w.flush();
        }
        // Millions of rows at scale: format each chunk index once and reuse one buffer
        // for the counts instead of allocating per cell.
        let indices: Vec<String> = (0..per).map(|c| c.to_string()).collect();
        let mut count = String::new();
        for (s, row) in self.samples.iter().zip(self.chunk_replicas.chunks(per)) {
            let t = secs(s.time.0);
            for (c, r) in indices.iter().zip(row) {
                count.clear();
                let _ = write!(count, "{r}");
                w.write_record([t.as_str(), c, &count])
                    .map_err(|e| err(path, e))?;
            }
        }
        w.flush()
    }

    fn write_timing(&self, path: &Path) -> io::Result<()> {
        let mut w = writer(path)?;
        w.write_record(["wall_s", "events", "events_per_s", "sim_s"])
            .map_err(|e| err(path, e))?;
        w.write_record([
            float(self.timing.wall.as_secs_f64()),
            self.timing.events.to_string(),
            format!("{:.1}", self.timing.events_per_sec()),
            secs(self.timing.sim.0),
        ])
        .map_err(|e| err(path, e))?;
        w.flush()
    }
}

fn writer(path: &Path) -> io::Result<csv::Writer<std::fs::File>> {
    csv::Writer::from_path(path).map_err(|e| err(path, e))
}

/// An io::Error that names the file, so "disk full" says which file was being written.
fn err(path: &Path, e: csv::Error) -> io::Error {
    let e: io::Error = e.into();
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
