//! What the figures need from a run, read from its CSV files ([`RunData::read`]) or
//! taken straight from a [`RunResult`] ([`RunData::from_result`], which spares a run
//! from re-parsing a chunks.csv of millions of rows it has just written).
//!
//! Columns are looked up by name, so files with added columns still plot. Any problem
//! is a [`PlotError`] naming the file (and the line, when there is one).

use super::PlotError;
use crate::core::Role;
use crate::metrics::RunResult;
use csv::{ByteRecord, StringRecord};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// One row of `swarm.csv`, as plotted.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmPoint {
    /// Seconds.
    pub time: f64,
    /// Leechers present.
    pub leechers: f64,
    /// Seeds present.
    pub seeds: f64,
    /// Upload utilisation, if defined.
    pub utilisation: Option<f64>,
    /// Fewest replicas of a chunk.
    pub rep_min: f64,
    /// Mean replicas.
    pub rep_mean: f64,
    /// Most replicas of a chunk.
    pub rep_max: f64,
    /// Entropy, if defined.
    pub entropy: Option<f64>,
}

/// Download times of one group's leechers.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupDownloads {
    /// Group name.
    pub group: String,
    /// Non-seed peers of the group that joined.
    pub peers: usize,
    /// Download times (seconds) of those that completed.
    pub times: Vec<f64>,
}

/// Everything the run figures show.
#[derive(Clone, Debug, PartialEq)]
pub struct RunData {
    /// Scenario name (for titles).
    pub scenario: String,
    /// Run seed (for titles).
    pub seed: String,
    /// The swarm samples.
    pub swarm: Vec<SwarmPoint>,
    /// Chunks in the file.
    pub chunks: usize,
    /// Replicas per sample and chunk, sample-major, aligned with `swarm`.
    pub replicas: Vec<u32>,
    /// Download times per group (groups with leechers only), in order of appearance.
    pub downloads: Vec<GroupDownloads>,
}

impl RunData {
    /// Reads `summary.csv`, `swarm.csv`, `chunks.csv` and `peers.csv` from `dir`.
    pub fn read(dir: &Path) -> Result<RunData, PlotError> {
        let (scenario, seed) = read_summary(&dir.join("summary.csv"))?;
        let swarm = read_swarm(&dir.join("swarm.csv"))?;
        let (chunks, replicas) = read_chunks(&dir.join("chunks.csv"), &swarm)?;
        let downloads = read_peers(&dir.join("peers.csv"))?;
        Ok(RunData {
            scenario,
            seed,
            swarm,
            chunks,
            replicas,
            downloads,
        })
    }

    /// The same data, from a result still in memory.
    pub fn from_result(r: &RunResult) -> RunData {
        let swarm = r
            .samples
            .iter()
            .map(|s| SwarmPoint {
                time: s.time.as_secs_f64(),
                leechers: s.leechers as f64,
                seeds: s.seeds as f64,
                utilisation: s.upload_utilisation.map(as_written),
                rep_min: s.replication_min as f64,
                rep_mean: as_written(s.replication_mean),
                rep_max: s.replication_max as f64,
                entropy: s.entropy.map(as_written),
            })
            .collect();
        let mut groups: Groups = Groups::default();
        for p in &r.peers {
            let dl = p.download_time().map(|d| d.as_secs_f64());
            groups.add(&p.group, p.role != Role::Seed, dl);
        }
        RunData {
            scenario: r.summary.scenario.clone(),
            seed: r.summary.seed.to_string(),
            swarm,
            chunks: r.chunks as usize,
            replicas: r.chunk_replicas.clone(),
            downloads: groups.finish(),
        }
    }
}

/// `v` rounded as the CSV files write it, so that figures drawn from memory are
/// byte-identical to figures redrawn from the files.
fn as_written(v: f64) -> f64 {
    format!("{v:.6}").parse().unwrap_or(v)
}

/// Groups in order of first appearance, with their leechers' download times.
#[derive(Default)]
struct Groups {
    order: Vec<String>,
    by_name: BTreeMap<String, GroupDownloads>,
}

impl Groups {
    fn add(&mut self, group: &str, leecher: bool, download: Option<f64>) {
        if !leecher {
            return;
        }
        let g = self.by_name.entry(group.to_string()).or_insert_with(|| {
            self.order.push(group.to_string());
            GroupDownloads {
                group: group.to_string(),
                peers: 0,
                times: Vec::new(),
            }
        });
        g.peers += 1;
        g.times.extend(download);
    }

    fn finish(mut self) -> Vec<GroupDownloads> {
        self.order
            .iter()
            .filter_map(|name| self.by_name.remove(name))
            .collect()
    }
}

/// An open CSV file and its header, for error messages that name the file and line.
struct Table {
    path: PathBuf,
    reader: csv::Reader<File>,
    header: StringRecord,
}

impl Table {
    fn open(path: &Path) -> Result<Table, PlotError> {
        let file = File::open(path).map_err(|source| PlotError::Missing {
            path: path.to_path_buf(),
            source,
        })?;
        let mut reader = csv::Reader::from_reader(file);
        let header = reader
            .headers()
            .map_err(|e| corrupt(path, 1, e.to_string()))?
            .clone();
        Ok(Table {
            path: path.to_path_buf(),
            reader,
            header,
        })
    }

    fn column(&self, name: &str) -> Result<usize, PlotError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| corrupt(&self.path, 1, format!("no column \"{name}\"")))
    }

    /// The next record, or `None` at the end; a malformed record is an error.
    fn next(&mut self, rec: &mut ByteRecord) -> Result<bool, PlotError> {
        self.reader.read_byte_record(rec).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            corrupt(&self.path, line, e.to_string())
        })
    }

    fn field<T: FromStr>(&self, rec: &ByteRecord, col: usize) -> Result<T, PlotError> {
        self.opt_field(rec, col)?.ok_or_else(|| {
            let name = self.header.get(col).unwrap_or("?");
            corrupt(&self.path, line(rec), format!("{name}: empty"))
        })
    }

    fn opt_field<T: FromStr>(&self, rec: &ByteRecord, col: usize) -> Result<Option<T>, PlotError> {
        let name = self.header.get(col).unwrap_or("?");
        let raw = rec
            .get(col)
            .ok_or_else(|| corrupt(&self.path, line(rec), format!("{name}: missing")))?;
        let text = std::str::from_utf8(raw)
            .map_err(|_| corrupt(&self.path, line(rec), format!("{name}: not UTF-8")))?;
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| {
            corrupt(
                &self.path,
                line(rec),
                format!("{name}: \"{text}\" is not a valid value"),
            )
        })
    }
}

fn line(rec: &ByteRecord) -> u64 {
    rec.position().map_or(0, |p| p.line())
}

fn corrupt(path: &Path, line: u64, message: String) -> PlotError {
    PlotError::Corrupt {
        path: path.to_path_buf(),
        line,
        message,
    }
}

fn read_summary(path: &Path) -> Result<(String, String), PlotError> {
    let mut t = Table::open(path)?;
    let (scenario, seed) = (t.column("scenario")?, t.column("seed")?);
    let mut rec = ByteRecord::new();
    if !t.next(&mut rec)? {
        return Err(corrupt(path, 2, "no summary row".into()));
    }
    Ok((t.field(&rec, scenario)?, t.field(&rec, seed)?))
}

fn read_swarm(path: &Path) -> Result<Vec<SwarmPoint>, PlotError> {
    let mut t = Table::open(path)?;
    let cols = [
        "time_s",
        "leechers",
        "seeds",
        "upload_utilisation",
        "replication_min",
        "replication_mean",
        "replication_max",
        "entropy",
    ]
    .map(|c| t.column(c));
    let [time, leechers, seeds, util, rmin, rmean, rmax, entropy] = {
        let mut out = [0; 8];
        for (o, c) in out.iter_mut().zip(cols) {
            *o = c?;
        }
        out
    };
    let mut rows = Vec::new();
    let mut rec = ByteRecord::new();
    while t.next(&mut rec)? {
        let point = SwarmPoint {
            time: t.field(&rec, time)?,
            leechers: t.field(&rec, leechers)?,
            seeds: t.field(&rec, seeds)?,
            utilisation: t.opt_field(&rec, util)?,
            rep_min: t.field(&rec, rmin)?,
            rep_mean: t.field(&rec, rmean)?,
            rep_max: t.field(&rec, rmax)?,
            entropy: t.opt_field(&rec, entropy)?,
        };
        if rows
            .last()
            .is_some_and(|p: &SwarmPoint| p.time > point.time)
        {
            return Err(corrupt(path, line(&rec), "time_s goes backwards".into()));
        }
        rows.push(point);
    }
    Ok(rows)
}

/// Reads the chunk matrix, checking it has, for each sample of swarm.csv in order, the
/// rows `chunk = 0, 1, …, C−1`.
fn read_chunks(path: &Path, swarm: &[SwarmPoint]) -> Result<(usize, Vec<u32>), PlotError> {
    let mut t = Table::open(path)?;
    let (time, chunk, replicas) = (
        t.column("time_s")?,
        t.column("chunk")?,
        t.column("replicas")?,
    );
    let mut values: Vec<u32> = Vec::new();
    let mut chunks: Option<usize> = None;
    let mut sample = 0usize;
    let mut expect_chunk = 0usize;
    let mut rec = ByteRecord::new();
    while t.next(&mut rec)? {
        let c: usize = t.field(&rec, chunk)?;
        if c == 0 && expect_chunk > 0 {
            // A new sample starts: the first one fixes the chunk count.
            if chunks.is_some_and(|n| n != expect_chunk) {
                return Err(corrupt(path, line(&rec), "chunk rows missing".into()));
            }
            chunks = Some(expect_chunk);
            sample += 1;
            expect_chunk = 0;
        }
        if c != expect_chunk || chunks.is_some_and(|n| c >= n) {
            return Err(corrupt(
                path,
                line(&rec),
                format!("expected chunk {expect_chunk}, found {c}"),
            ));
        }
        let tm: f64 = t.field(&rec, time)?;
        match swarm.get(sample) {
            Some(p) if (p.time - tm).abs() < 1e-9 => {}
            _ => {
                return Err(corrupt(
                    path,
                    line(&rec),
                    format!("time_s {tm} is not sample {sample} of swarm.csv"),
                ));
            }
        }
        values.push(t.field(&rec, replicas)?);
        expect_chunk += 1;
    }
    let chunks = chunks.unwrap_or(expect_chunk);
    if expect_chunk != chunks || (chunks > 0 && values.len() != swarm.len() * chunks) {
        return Err(corrupt(
            path,
            0,
            format!(
                "{} rows do not cover {} samples of swarm.csv × {chunks} chunks",
                values.len(),
                swarm.len()
            ),
        ));
    }
    Ok((chunks, values))
}

fn read_peers(path: &Path) -> Result<Vec<GroupDownloads>, PlotError> {
    let mut t = Table::open(path)?;
    let (group, role, download) = (
        t.column("group")?,
        t.column("role")?,
        t.column("download_s")?,
    );
    let mut groups = Groups::default();
    let mut rec = ByteRecord::new();
    while t.next(&mut rec)? {
        let g: String = t.field(&rec, group)?;
        let r: String = t.field(&rec, role)?;
        groups.add(&g, r != Role::Seed.name(), t.opt_field(&rec, download)?);
    }
    Ok(groups.finish())
}
