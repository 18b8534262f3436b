//! The real-swarm reference: one scenario run by the simulator and by a swarm of real
//! libtorrent peers on loopback, reduced to the same figures (each group's mean download
//! time, the makespan) so the two can be compared. Shared by `benches/real_swarm.rs`,
//! which prints the comparison, and any test that asserts it.
//!
//! The simulated side is computed here at run time from the library
//! ([`swarmlab::run::simulate`]), never stored, so it follows the simulator's model.
//! The real side draws the scenario's population with the same seed
//! ([`draw_population`]), writes a payload and its `.torrent` (the scenario's chunk size
//! as piece length, [`metainfo::create`]), starts swarmlab's tracker on a free
//! 127.0.0.1 port, and hands `libtorrent_swarm.py` (run with Debian's /usr/bin/python3)
//! a JSON spec: every peer's role, upload and download limit, join time, linger and
//! choking policy. The driver runs one libtorrent session per peer and reports when each
//! joined, completed and left, with samples of its payload counters, which are checked
//! against its limits ([`check_limits`]) so that a run where libtorrent ignored them is
//! an error, not a figure.
//!
//! Only what libtorrent can play is accepted ([`check_playable`]): seeds and leechers
//! (no free-riders), tit-for-tat with rarest-first, whole-second choking intervals, and
//! `stop = "all-complete"`. Anything else is an error naming the field.

use serde::Deserialize;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use swarmlab::core::strategy::builtin;
use swarmlab::core::{Policy, Role};
use swarmlab::scenario::population::{Member, draw_population};
use swarmlab::scenario::{Scenario, Stop};
use swarmlab::tcp::metainfo;
use swarmlab::tcp::tracker_http::{TrackerConfig, TrackerServer};
use swarmlab::units::SimDuration;

/// Debian's interpreter, which has the `libtorrent` module (python3-libtorrent).
pub const PYTHON: &str = "/usr/bin/python3";

/// The folder of the driver and the swarm scenarios.
pub const HERE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/real_swarm");

/// The driver's file name in [`HERE`].
const DRIVER: &str = "libtorrent_swarm.py";

/// The payload's file name, and so the torrent's name.
const PAYLOAD: &str = "payload.bin";

/// How far a peer's payload bytes may run ahead of its limit, in seconds of the limit:
/// libtorrent's bandwidth channels bank up to 3 s of quota (bandwidth_limit.cpp), and a
/// second more covers its ticks and the driver's sampling. Unlimited loopback peers
/// run tens of seconds ahead.
pub const BURST_ALLOWANCE_S: f64 = 4.0;

/// A sustained rate may exceed its limit by this factor (measured: 1.01–1.03).
pub const RATE_TOLERANCE: f64 = 1.05;

/// The window of the peak rates reported (long enough to smooth libtorrent's bursts).
pub const PEAK_WINDOW_S: f64 = 5.0;

/// How much longer than the simulated run (from time zero) a real run may take before
/// the driver gives up, and the least it is given.
const WALL_FACTOR: f64 = 4.0;
const MIN_WALL_S: f64 = 60.0;

/// Extra time the driver process gets beyond its own limit to report and shut down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A swarm's figures: each group's mean download time over its completed leechers
/// (`None` for a seed group or one where nobody completed) and the makespan (last
/// leecher completion − first leecher join), in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Mean download time per group, in scenario group order.
    pub group_means: Vec<Option<f64>>,
    /// Leechers that completed, per group.
    pub completed: Vec<usize>,
    /// Last completion − first join over all leechers.
    pub makespan: Option<f64>,
}

/// One leecher's times, in seconds from the start of the run.
#[derive(Clone, Copy, Debug)]
pub struct LeecherTimes {
    /// Its group's index in the scenario.
    pub group: usize,
    /// When it joined.
    pub join: f64,
    /// When it completed, if it did.
    pub complete: Option<f64>,
}

/// The figures of a swarm from its leechers' times.
pub fn figures(groups: usize, leechers: &[LeecherTimes]) -> Figures {
    let mut sums = vec![0.0; groups];
    let mut completed = vec![0usize; groups];
    for l in leechers {
        if let Some(c) = l.complete {
            sums[l.group] += c - l.join;
            completed[l.group] += 1;
        }
    }
    let group_means = sums
        .iter()
        .zip(&completed)
        .map(|(s, &n)| (n > 0).then(|| s / n as f64))
        .collect();
    let first_join = leechers.iter().map(|l| l.join).reduce(f64::min);
    let last_complete = leechers.iter().filter_map(|l| l.complete).reduce(f64::max);
    let makespan = match (first_join, last_complete) {
        (Some(j), Some(c)) => Some(c - j),
        _ => None,
    };
    Figures {
        group_means,
        completed,
        makespan,
    }
}

/// Refuses what the libtorrent swarm cannot play, naming the field.
pub fn check_playable(scenario: &Scenario) -> Result<(), String> {
    if scenario.sweep.is_some() {
        return Err("a [sweep] cannot be played by one real swarm: remove it".into());
    }
    if scenario.run.stop != Stop::AllComplete {
        return Err("run.stop: only \"all-complete\" is supported by the real swarm".into());
    }
    for g in &scenario.groups {
        if g.role == Role::FreeRider {
            return Err(format!(
                "group.{}.role: libtorrent has no free-riders (an upload limit of 0 means unlimited)",
                g.name
            ));
        }
        check_policy(&g.name, &g.policy)?;
    }
    Ok(())
}

/// libtorrent plays tit-for-tat with rarest-first, on whole-second intervals.
fn check_policy(group: &str, p: &Policy) -> Result<(), String> {
    if p.choker != builtin::TIT_FOR_TAT {
        return Err(format!(
            "group.{group}.choker: libtorrent's choker is tit-for-tat, not {}",
            p.choker
        ));
    }
    if p.picker != builtin::RAREST_FIRST {
        return Err(format!(
            "group.{group}.picker: libtorrent picks rarest-first, not {}",
            p.picker
        ));
    }
    whole_seconds(group, "rechoke_interval", p.rechoke_interval)?;
    whole_seconds(group, "optimistic_interval", p.optimistic_interval)?;
    Ok(())
}

/// `d` in whole seconds (libtorrent's choking intervals are integers), at least one.
fn whole_seconds(group: &str, field: &str, d: SimDuration) -> Result<u64, String> {
    if !d.0.is_multiple_of(1_000_000) || d.0 == 0 {
        return Err(format!(
            "group.{group}.{field}: libtorrent takes whole seconds, not {} s",
            d.as_secs_f64()
        ));
    }
    Ok(d.0 / 1_000_000)
}

/// The simulator's figures for `scenario` with `seed`, computed now.
pub fn simulated(scenario: &Scenario, seed: u64) -> Figures {
    let (_, result) = swarmlab::run::simulate(scenario, seed, |_| {}).expect("built-in strategies");
    let leechers: Vec<LeecherTimes> = result
        .peers
        .iter()
        .filter(|p| p.role != Role::Seed)
        .map(|p| LeecherTimes {
            group: group_index(scenario, &p.group),
            join: p.join.as_secs_f64(),
            complete: p.complete.map(|c| c.as_secs_f64()),
        })
        .collect();
    figures(scenario.groups.len(), &leechers)
}

fn group_index(scenario: &Scenario, name: &str) -> usize {
    scenario
        .groups
        .iter()
        .position(|g| g.name == name)
        .expect("the simulator reports the scenario's own groups")
}

/// The simulated run's length from time zero, which sizes the real run's time limit.
pub fn simulated_span_s(scenario: &Scenario, seed: u64) -> f64 {
    let (outcome, _) =
        swarmlab::run::simulate(scenario, seed, |_| {}).expect("built-in strategies");
    outcome.end.as_secs_f64()
}

/// What the driver reports about one peer.
#[derive(Clone, Debug, Deserialize)]
pub struct RealPeer {
    /// Its index in the population.
    pub index: usize,
    /// `seed` or `leecher`.
    pub role: String,
    /// When its torrent was added (seconds from the start).
    pub join_s: Option<f64>,
    /// When it completed (leechers only).
    pub complete_s: Option<f64>,
    /// When its torrent was removed.
    pub leave_s: Option<f64>,
    /// Payload bytes it received.
    pub downloaded: u64,
    /// Its payload counters while present: (seconds, uploaded, downloaded).
    pub samples: Vec<Sample>,
}

/// A sample of a peer's payload counters: (seconds from the start, uploaded,
/// downloaded bytes).
pub type Sample = (f64, u64, u64);

/// The driver's report of one real run.
#[derive(Clone, Debug, Deserialize)]
pub struct DriverReport {
    /// `lt.__version__`.
    pub libtorrent_version: String,
    /// Wall time of the swarm, seconds.
    pub wall_s: f64,
    /// Every peer, in population order.
    pub peers: Vec<RealPeer>,
}

/// A real run: the driver's report and its figures.
#[derive(Clone, Debug)]
pub struct RealRun {
    /// What the driver reported.
    pub report: DriverReport,
    /// The swarm's figures.
    pub figures: Figures,
    /// Per group, how its peers used their limits.
    pub limit_use: Vec<LimitUse>,
}

/// Fails with the apt-get line unless /usr/bin/python3 can import libtorrent; returns
/// its version.
pub fn libtorrent_version() -> Result<String, String> {
    let out = Command::new(PYTHON)
        .args(["-c", "import libtorrent as lt; print(lt.__version__)"])
        .output()
        .map_err(|e| format!("cannot run {PYTHON}: {e} (apt-get install -y python3-libtorrent)"))?;
    if !out.status.success() {
        return Err(
            "python3-libtorrent is not installed: run `apt-get update && apt-get install -y python3-libtorrent`"
                .into(),
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs the scenario's swarm once with real libtorrent peers in `dir` (created; left
/// with the spec, the driver's report and log, the payload and downloads removed);
/// with `trace`, the driver also writes `trace.jsonl` there (every connection every
/// 2 s: who chokes whom, rates).
pub fn run_real(
    scenario: &Scenario,
    seed: u64,
    dir: &Path,
    trace: bool,
) -> Result<RealRun, String> {
    check_playable(scenario)?;
    let population = draw_population(scenario, seed);
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let seed_dir = dir.join("seed");
    let work_dir = dir.join("peers");
    for d in [&seed_dir, &work_dir] {
        fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let payload = seed_dir.join(PAYLOAD);
    write_payload(&payload, scenario.file.size.0, seed)
        .map_err(|e| format!("{}: {e}", payload.display()))?;
    let tracker = Tracker::start(scenario)?;
    let torrent = dir.join("swarm.torrent");
    let bytes = metainfo::create(&payload, &tracker.url, scenario.file.chunk_size.0)
        .map_err(|e| format!("creating the torrent: {e}"))?;
    fs::write(&torrent, bytes).map_err(|e| format!("{}: {e}", torrent.display()))?;
    let limit_s = (simulated_span_s(scenario, seed) * WALL_FACTOR).max(MIN_WALL_S);
    let folders = Folders {
        torrent: &torrent,
        seed_dir: &seed_dir,
        work_dir: &work_dir,
        trace: trace.then(|| dir.join("trace.jsonl")),
    };
    let spec = spec_json(scenario, &population, &folders, limit_s)?;
    let spec_path = dir.join("spec.json");
    fs::write(&spec_path, spec).map_err(|e| format!("{}: {e}", spec_path.display()))?;
    let report = run_driver(
        &spec_path,
        dir,
        Duration::from_secs_f64(limit_s) + SHUTDOWN_GRACE,
    );
    tracker.stop();
    // The downloads are not needed once the driver is done (a run writes MiBs per peer).
    let _ = fs::remove_dir_all(&work_dir);
    let _ = fs::remove_file(&payload);
    let report = report?;
    check_report(scenario, &population, &report)?;
    let limit_use = check_limits(scenario, &population, &report)?;
    let figures = real_figures(scenario, &population, &report);
    Ok(RealRun {
        report,
        figures,
        limit_use,
    })
}

/// Where a real run's files are.
struct Folders<'a> {
    torrent: &'a Path,
    seed_dir: &'a Path,
    work_dir: &'a Path,
    trace: Option<PathBuf>,
}

/// The driver's input: the torrent, the folders, the time limit and every peer.
fn spec_json(
    scenario: &Scenario,
    population: &[Member],
    folders: &Folders,
    limit_s: f64,
) -> Result<String, String> {
    let mut peers = Vec::with_capacity(population.len());
    for m in population {
        let g = &scenario.groups[m.group];
        let p = &g.policy;
        peers.push(serde_json::json!({
            "group": g.name,
            "role": if m.role == Role::Seed { "seed" } else { "leecher" },
            "upload_bytes_per_s": m.upload.0 / 8,
            "download_bytes_per_s": m.download.0 / 8,
            "join_s": m.join.as_secs_f64(),
            "linger_s": m.linger.map(|d| d.as_secs_f64()),
            "abort_s": m.abort_at.map(|t| t.as_secs_f64()),
            "upload_slots": p.upload_slots,
            "optimistic_slots": p.optimistic_slots,
            "rechoke_interval_s": whole_seconds(&g.name, "rechoke_interval", p.rechoke_interval)?,
            "optimistic_interval_s":
                whole_seconds(&g.name, "optimistic_interval", p.optimistic_interval)?,
            "seed_choker": p.seed_choker.as_str(),
            "max_connections": scenario.tracker.max_neighbours,
        }));
    }
    let mut spec = serde_json::json!({
        "torrent": path_str(folders.torrent)?,
        "seed_dir": path_str(folders.seed_dir)?,
        "work_dir": path_str(folders.work_dir)?,
        "time_limit_s": limit_s,
        "peers": peers,
    });
    if let Some(trace) = &folders.trace {
        spec["trace_path"] = path_str(trace)?.into();
    }
    serde_json::to_string_pretty(&spec).map_err(|e| format!("writing the spec: {e}"))
}

fn path_str(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("{}: the driver needs UTF-8 paths", p.display()))
}

/// Runs the driver on `spec` (stdout and stderr into `dir`), at most `limit`; its report.
fn run_driver(spec: &Path, dir: &Path, limit: Duration) -> Result<DriverReport, String> {
    let out_path = dir.join("driver.out");
    let err_path = dir.join("driver.err");
    let file = |p: &Path| File::create(p).map_err(|e| format!("{}: {e}", p.display()));
    let child = Command::new(PYTHON)
        .arg(Path::new(HERE).join(DRIVER))
        .arg(spec)
        .stdin(Stdio::null())
        .stdout(file(&out_path)?)
        .stderr(file(&err_path)?)
        .spawn()
        .map_err(|e| format!("cannot start {PYTHON} {DRIVER}: {e}"))?;
    let mut driver = KillOnDrop(child);
    let status = driver.wait(limit).map_err(|e| {
        format!(
            "{e}; the driver's stderr:\n{}",
            tail(&fs::read_to_string(&err_path).unwrap_or_default())
        )
    })?;
    let stderr = fs::read_to_string(&err_path).unwrap_or_default();
    if !status.success() {
        return Err(format!("{DRIVER} failed ({status}):\n{}", tail(&stderr)));
    }
    let stdout =
        fs::read_to_string(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
    serde_json::from_str(&stdout).map_err(|e| {
        format!(
            "{DRIVER} printed no report ({e}); its stdout:\n{}\nstderr:\n{}",
            tail(&stdout),
            tail(&stderr)
        )
    })
}

/// A child process killed, by its PID, if it is dropped before it exits.
struct KillOnDrop(Child);

impl KillOnDrop {
    /// Waits for it to exit, at most `limit`; kills it if it does not.
    fn wait(&mut self, limit: Duration) -> Result<std::process::ExitStatus, String> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().map_err(|e| format!("waiting: {e}"))? {
                return Ok(status);
            }
            if start.elapsed() > limit {
                self.kill();
                return Err(format!("{DRIVER} did not finish within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// The last lines of a log, for error messages.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The report covers the population, every leecher completed, and each received at
/// least the whole file.
fn check_report(
    scenario: &Scenario,
    population: &[Member],
    report: &DriverReport,
) -> Result<(), String> {
    if report.peers.len() != population.len() {
        return Err(format!(
            "the driver reported {} peers for a population of {}",
            report.peers.len(),
            population.len()
        ));
    }
    let incomplete: Vec<usize> = report
        .peers
        .iter()
        .filter(|p| p.role == "leecher" && p.complete_s.is_none() && p.leave_s.is_none())
        .map(|p| p.index)
        .collect();
    if !incomplete.is_empty() {
        return Err(format!(
            "leechers {incomplete:?} did not complete within the wall-clock limit (see driver.err)"
        ));
    }
    let size = scenario.file.size.0;
    if let Some(p) = report
        .peers
        .iter()
        .find(|p| p.complete_s.is_some() && p.role == "leecher" && p.downloaded < size)
    {
        return Err(format!(
            "peer {} completed after receiving {} of the {size} bytes",
            p.index, p.downloaded
        ));
    }
    Ok(())
}

/// How a group's peers used their limits in a run (the largest value over its peers).
#[derive(Clone, Copy, Debug, Default)]
pub struct LimitUse {
    /// The highest upload payload rate over [`PEAK_WINDOW_S`], as a fraction of the limit.
    pub peak_up: f64,
    /// The same for download.
    pub peak_down: f64,
    /// How far a payload counter ran ahead of its limit, in seconds of the limit.
    pub lead_s: f64,
}

/// No peer's payload bytes ran ahead of its limits by more than [`BURST_ALLOWANCE_S`]
/// (at [`RATE_TOLERANCE`] times the limit); returns how each group used its limits
/// (peak rates near 1 also show that the binding limits were reached).
pub fn check_limits(
    scenario: &Scenario,
    population: &[Member],
    report: &DriverReport,
) -> Result<Vec<LimitUse>, String> {
    let mut use_per_group = vec![LimitUse::default(); scenario.groups.len()];
    let mut broken = Vec::new();
    let uploaded = |s: &Sample| s.1;
    let downloaded = |s: &Sample| s.2;
    for (m, p) in population.iter().zip(&report.peers) {
        let up_limit = m.upload.0 as f64 / 8.0;
        let down_limit = m.download.0 as f64 / 8.0;
        let up_burst = burst_s(&p.samples, uploaded, up_limit);
        let down_burst = burst_s(&p.samples, downloaded, down_limit);
        if up_burst > BURST_ALLOWANCE_S || down_burst > BURST_ALLOWANCE_S {
            broken.push(format!(
                "peer {} ({}): upload {up_burst:.1} s and download {down_burst:.1} s ahead of its limits",
                p.index, scenario.groups[m.group].name
            ));
        }
        let u = &mut use_per_group[m.group];
        u.peak_up = u.peak_up.max(peak_rate(&p.samples, uploaded) / up_limit);
        u.peak_down = u
            .peak_down
            .max(peak_rate(&p.samples, downloaded) / down_limit);
        u.lead_s = u.lead_s.max(up_burst).max(down_burst);
    }
    if broken.is_empty() {
        Ok(use_per_group)
    } else {
        Err(format!(
            "libtorrent exceeded the rate limits (allowed: {BURST_ALLOWANCE_S} s ahead), so loopback peers are not limited:\n{}",
            broken.join("\n")
        ))
    }
}

/// How far the counter `bytes` ran ahead of `limit` (bytes/s, times
/// [`RATE_TOLERANCE`]) between any two samples, in seconds of the limit.
fn burst_s(samples: &[Sample], bytes: impl Fn(&Sample) -> u64, limit: f64) -> f64 {
    let mut worst = 0.0f64;
    for (i, a) in samples.iter().enumerate() {
        for b in &samples[i + 1..] {
            let sent = bytes(b).saturating_sub(bytes(a)) as f64;
            let allowed = limit * RATE_TOLERANCE * (b.0 - a.0);
            worst = worst.max((sent - allowed) / limit);
        }
    }
    worst
}

/// The highest rate of the counter `bytes` over windows of at least [`PEAK_WINDOW_S`]
/// between samples, bytes/s (0 for a peer present for less than a window).
fn peak_rate(samples: &[Sample], bytes: impl Fn(&Sample) -> u64) -> f64 {
    let mut peak = 0.0f64;
    for (i, a) in samples.iter().enumerate() {
        if let Some(b) = samples[i..].iter().find(|b| b.0 - a.0 >= PEAK_WINDOW_S) {
            let rate = bytes(b).saturating_sub(bytes(a)) as f64 / (b.0 - a.0);
            peak = peak.max(rate);
        }
    }
    peak
}

/// The real run's figures, the groups taken from the population.
fn real_figures(scenario: &Scenario, population: &[Member], report: &DriverReport) -> Figures {
    let leechers: Vec<LeecherTimes> = population
        .iter()
        .zip(&report.peers)
        .filter(|(m, _)| m.role != Role::Seed)
        .map(|(m, p)| LeecherTimes {
            group: m.group,
            join: p.join_s.unwrap_or(m.join.as_secs_f64()),
            complete: p.complete_s,
        })
        .collect();
    figures(scenario.groups.len(), &leechers)
}

/// swarmlab's HTTP tracker on a free loopback port, served from a thread until stopped.
struct Tracker {
    url: String,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<std::io::Result<()>>,
}

impl Tracker {
    /// Starts it with the scenario's announce interval.
    fn start(scenario: &Scenario) -> Result<Tracker, String> {
        let cfg = TrackerConfig {
            interval: Duration::from_micros(scenario.tracker.announce_interval.0),
            seed: scenario.run.seed,
            ..TrackerConfig::default()
        };
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
        let server =
            TrackerServer::bind(addr, cfg).map_err(|e| format!("starting the tracker: {e}"))?;
        let bound = server
            .local_addr()
            .ok_or("the tracker has no local address")?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || server.run_until(&flag));
        Ok(Tracker {
            url: format!("http://{bound}/announce"),
            stop,
            thread,
        })
    }

    /// Stops it (within its 100 ms poll).
    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// Writes `len` pseudo-random bytes (xorshift from `seed`) to `path`.
fn write_payload(path: &Path, len: u64, seed: u64) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut left = len;
    while left > 0 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let bytes = state.to_le_bytes();
        let n = left.min(8) as usize;
        out.write_all(&bytes[..n])?;
        left -= n as u64;
    }
    out.flush()
}

/// The scenario files of [`HERE`], sorted by name.
pub fn scenario_files() -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = fs::read_dir(HERE)
        .map_err(|e| format!("{HERE}: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Reads one of them, with the reason if it is not a valid scenario.
pub fn load(path: &Path) -> Result<Scenario, String> {
    Scenario::from_file(path).map_err(|e| e.to_string())
}
