//! A whole scenario over real sockets on loopback: `swarmlab run SCENARIO --backend tcp`.
//!
//! One process, one tokio runtime (current-thread, with a `LocalSet`: the core is not
//! `Send`), and in it:
//!
//! * an HTTP tracker ([`TrackerServer`], on its own thread, on a free 127.0.0.1 port);
//! * a payload of deterministic pseudo-random bytes drawn from the run seed
//!   ([`LabPayload`]) and its torrent (the scenario's chunk size as piece length);
//! * for every member of the drawn population ([`draw_population`], the very draw the
//!   simulator makes for the same seed) a real session ([`session::run_async`]) with its
//!   own listening socket, its own storage, its upload and download capacities as token
//!   buckets, its one-way latency applied to what it receives, and the same `core` peer,
//!   policy and random stream as in the simulator. Members join at their drawn times and
//!   leave after their linger or at their abort time;
//! * one observer loop: every session reports to a channel ([`Observation`]), and the loop
//!   feeds a single [`Recorder`], so the run writes the simulator's result files.
//!
//! # Where the bytes are
//!
//! By default no peer keeps a copy of the payload ([`Storage::lab`](storage::Storage::lab)):
//! a block is made afresh from the run seed when it is sent, and a received piece is
//! SHA-1 checked against the torrent and then only marked held, so a 200-peer swarm of a
//! 64 MiB file costs its connections' buffers and the pieces in flight, not 200 copies.
//! With [`SwarmOptions::keep_data`] every peer writes real files instead (the payload
//! in `payload.bin`, each leecher's download in `peer-<i>/payload.bin`), for a look at
//! them afterwards.
//!
//! # Time scale
//!
//! With `time_scale = X` the swarm runs X times faster than scenario time: capacities are
//! multiplied by X and every duration (latencies, join, linger, abort, the core's timers:
//! announce, rechoke, optimistic unchoke, rate windows) divided by X. This is done in one
//! place: the core's clock reads wall time × X (see `session::Clock`), so the core and
//! every report already speak scenario time. What does *not* scale is the machine: TCP's
//! own behaviour, the kernel, hashing and the event loop's latency, which grow relative to
//! scenario time as X grows; keep the swarm's aggregate wall-clock rate well below what
//! the machine moves (see [`MAX_WALL_RATE`]).
//!
//! # Ending
//!
//! The run ends as the simulator's does: when every leecher completed or left
//! (`stop = "all-complete"`), at the stop time, or when no block moved for an hour of
//! scenario time (or, once every member has joined, for [`STALL_WALL`] of wall time,
//! whichever comes first), or when every session has ended. Peers still
//! present then are not reported as leaving (as in the simulator). A session that fails
//! mid-run is reported as leaving then, aborted if it had not completed.

use super::clock::Clock;
use super::lab_payload::LabPayload;
use super::member::{Observation, Observed, SwarmMember, member_peer_id};
use super::metainfo::{self, Metainfo};
use super::session::{self, SessionConfig};
use super::storage;
use super::tracker_http::{TrackerConfig, TrackerServer};
use crate::core::{Bitfield, Role};
use crate::metrics::{EndWatch, Ending, LeaveReason, Observer, PeerInfo, Recorder, RunResult};
use crate::scenario::population::{Latencies, Member, draw_population, peer_dice};
use crate::scenario::{BlockSize, Scenario, Stop};
use crate::units::SimTime;
use std::collections::HashMap;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The block size the wire protocol uses (16 KiB): the only one a tcp run supports.
pub const TCP_BLOCK: u64 = super::wire::BLOCK_SIZE as u64;
/// File descriptors a peer needs besides one per connection: its listener, its file,
/// an announce in flight, and slack.
pub const FDS_PER_PEER_EXTRA: u64 = super::host::CONNECTION_MARGIN as u64 + 4;
/// Memory one end of a connection may hold in a laboratory swarm: its read buffer and
/// decoder buffer (a frame and a read), a block waiting for upload tokens, one in the
/// latency delay line, and the task's own state.
pub const BYTES_PER_CONNECTION: u64 = 6 * TCP_BLOCK + 8 * 1024;
/// Memory a laboratory peer needs besides its connections and its pieces in flight
/// (its core, its tables, its listener).
pub const BYTES_PER_PEER: u64 = 256 * 1024;
/// The name of a run's payload (its torrent's name, and its file with `keep_data`).
pub const PAYLOAD_NAME: &str = "payload.bin";
/// File descriptors the process needs besides its peers (tracker, runtime, stdio).
pub const FDS_BASE: u64 = 64;
/// No block moving for this long (wall clock) stalls the run, whatever the time scale;
/// besides the simulator's own stall rule ([`crate::metrics::ending`]), in scenario time.
pub const STALL_WALL: Duration = Duration::from_secs(60);
/// The aggregate upload rate (bytes per wall-clock second) the automatic time scale
/// aims below: loopback moves far more, but every byte is also copied, hashed and
/// written by peers sharing one or two cores with everything else.
pub const MAX_WALL_RATE: f64 = 20e6;
/// Wall-clock seconds the automatic time scale aims a run's makespan at.
pub const TARGET_WALL_S: f64 = 30.0;
/// How long stopping sessions get to close before the run writes its files anyway.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A scenario a tcp run cannot run, naming the scenario field at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Infeasible {
    /// The field, as in error messages about scenario files (`file.block_size`).
    pub field: String,
    /// Why, and what would run.
    pub reason: String,
}

impl fmt::Display for Infeasible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// The soft limit on open files of this process, from `/proc/self/limits`
/// (`None` where that file is missing or says "unlimited").
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Memory available to new data, from `/proc/meminfo` (`None` where unknown).
pub fn memory_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Raises this process's soft limit on open files to its hard limit (a swarm opens two
/// descriptors per connection, and the usual soft limit of 1024 holds a dozen peers);
/// returns the soft limit now in force (`None` where it cannot be read).
pub fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(_) => open_files_limit(),
    }
}

/// How a tcp run stores its pieces (see the module doc, "Where the bytes are").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keeping {
    /// No copies: blocks made from the run seed, received pieces only marked held.
    Nothing,
    /// Every peer writes real files.
    Files,
}

/// Checks, before anything starts, that `scenario` can run over tcp on this machine,
/// storing its pieces as `keeping` says (see [`check_with`]). Raises the open-file limit
/// first ([`raise_open_files_limit`]).
pub fn check(scenario: &Scenario, keeping: Keeping) -> Result<(), Infeasible> {
    let fds = raise_open_files_limit();
    check_with(scenario, keeping, fds, memory_available())
}

/// Checks `scenario` against a file-descriptor limit and the memory available: no
/// `[sweep]`, 16 KiB blocks, every peer's connections within the open-file limit, and
/// what the peers hold within the memory available: with [`Keeping::Files`], every
/// peer's copy of the payload (page cache) within half of it; with
/// [`Keeping::Nothing`], every connection's buffers and every peer's pieces in flight
/// at most (see [`lab_memory`]) within all of it.
pub fn check_with(
    scenario: &Scenario,
    keeping: Keeping,
    fd_limit: Option<u64>,
    mem_available: Option<u64>,
) -> Result<(), Infeasible> {
    check_shape(scenario)?;
    let biggest = scenario
        .groups
        .iter()
        .max_by_key(|g| g.count)
        .map_or("count".to_string(), |g| format!("group.{}.count", g.name));
    let bad = |reason: String| Infeasible {
        field: biggest.clone(),
        reason,
    };
    if let Some(limit) = fd_limit {
        check_files(scenario, limit).map_err(bad)?;
    }
    if let Some(mem) = mem_available {
        match keeping {
            Keeping::Files => check_memory(scenario, mem).map_err(bad)?,
            Keeping::Nothing => check_lab_memory(scenario, mem).map_err(bad)?,
        }
    }
    Ok(())
}

/// What a tcp run cannot run whatever the machine: a sweep, blocks other than 16 KiB,
/// pieces larger than a torrent allows.
fn check_shape(scenario: &Scenario) -> Result<(), Infeasible> {
    let bad = |field: &str, reason: String| {
        Err(Infeasible {
            field: field.to_string(),
            reason,
        })
    };
    if scenario.sweep.is_some() {
        return bad(
            "sweep",
            "a tcp run runs one scenario; run the grid with `swarmlab batch` (sim), or pick one point".into(),
        );
    }
    match scenario.file.block_size {
        BlockSize::Chunk => bad(
            "file.block_size",
            "\"chunk\" (one block per chunk) is the simulator's fast mode; tcp uses \"16 KiB\" blocks".into(),
        ),
        BlockSize::Bytes(b) if b.0 != TCP_BLOCK => bad(
            "file.block_size",
            format!("{} bytes: tcp uses 16 KiB (16384-byte) blocks", b.0),
        ),
        BlockSize::Bytes(_) if scenario.file.chunk_size.0 > metainfo::MAX_PIECE_LENGTH => bad(
            "file.chunk_size",
            format!(
                "{} bytes: a torrent's pieces are at most {} bytes",
                scenario.file.chunk_size.0,
                metainfo::MAX_PIECE_LENGTH
            ),
        ),
        BlockSize::Bytes(_) => Ok(()),
    }
}

/// The connections a peer of `scenario` may hold at once.
fn neighbours(scenario: &Scenario) -> u64 {
    u64::from(scenario.tracker.max_neighbours).min(scenario.peer_count().saturating_sub(1))
}

/// Every peer's connections within the open-file limit.
fn check_files(scenario: &Scenario, limit: u64) -> Result<(), String> {
    let peers = scenario.peer_count();
    let neighbours = neighbours(scenario);
    let per_peer = neighbours + FDS_PER_PEER_EXTRA;
    let need = peers * per_peer + FDS_BASE;
    if need <= limit {
        return Ok(());
    }
    let max = limit.saturating_sub(FDS_BASE) / per_peer;
    Err(format!(
        "{peers} peers need about {need} open files (each up to {neighbours} connections \
         plus {FDS_PER_PEER_EXTRA}) but this process may open {limit} (ulimit -n): at \
         most {max} peers with tracker.max_neighbours = {}",
        scenario.tracker.max_neighbours
    ))
}

/// Every leecher's copy of the payload, and the seeds' one, within half the memory
/// available (page cache in the temporary folder).
fn check_memory(scenario: &Scenario, mem: u64) -> Result<(), String> {
    let size = scenario.file.size.0;
    let copies = scenario
        .groups
        .iter()
        .filter(|g| g.role != Role::Seed)
        .map(|g| u64::from(g.count))
        .sum::<u64>()
        + 1;
    let need = size.saturating_mul(copies);
    if need <= mem / 2 {
        return Ok(());
    }
    let max = (mem / 2 / size.max(1)).saturating_sub(1);
    Err(format!(
        "{copies} copies of the {} MiB payload ({} MiB) exceed half the memory \
         available ({} MiB): at most {max} leechers of this file.size",
        size >> 20,
        need >> 20,
        mem >> 20
    ))
}

/// The most memory one peer of a laboratory swarm (no copies kept) holds: its
/// connections' buffers ([`BYTES_PER_CONNECTION`] each, up to `max_neighbours` plus the
/// handshakes in flight), the pieces it may have partly received at once
/// ([`lab_partial_pieces`]), and [`BYTES_PER_PEER`].
pub fn lab_memory(scenario: &Scenario) -> u64 {
    let conns = neighbours(scenario) + super::host::CONNECTION_MARGIN as u64;
    conns * BYTES_PER_CONNECTION
        + lab_partial_pieces(scenario) * scenario.file.chunk_size.0
        + BYTES_PER_PEER
}

/// The pieces a peer may have partly received at once: two per neighbour, as a session
/// allows, and no more than the torrent has.
fn lab_partial_pieces(scenario: &Scenario) -> u64 {
    (2 * neighbours(scenario).max(1)).min(u64::from(scenario.file.chunks()))
}

/// Every peer's most memory ([`lab_memory`]) within the memory available: a bound,
/// reached only if every peer has every neighbour sending it a different piece.
fn check_lab_memory(scenario: &Scenario, mem: u64) -> Result<(), String> {
    let peers = scenario.peer_count();
    let per_peer = lab_memory(scenario);
    let need = peers.saturating_mul(per_peer);
    if need <= mem {
        return Ok(());
    }
    Err(format!(
        "{peers} peers may hold up to {} MiB (each up to {} KiB: {} connections' buffers \
         and {} pieces of {} KiB in flight) but {} MiB are available: at most {} peers \
         with tracker.max_neighbours = {} and file.chunk_size = {} KiB",
        need >> 20,
        per_peer >> 10,
        neighbours(scenario) + super::host::CONNECTION_MARGIN as u64,
        lab_partial_pieces(scenario),
        scenario.file.chunk_size.0 >> 10,
        mem >> 20,
        mem / per_peer.max(1),
        scenario.tracker.max_neighbours,
        scenario.file.chunk_size.0 >> 10,
    ))
}

/// Settings of a tcp run beyond the scenario.
#[derive(Clone, Debug)]
pub struct SwarmOptions {
    /// Run this many times faster than scenario time (≥ 1e-3).
    pub time_scale: f64,
    /// Write real files here and keep them: the payload (`payload.bin`) and every
    /// leecher's download (`peer-<i>/payload.bin`). Without it no peer keeps a copy
    /// (see the module doc, "Where the bytes are").
    pub keep_data: Option<PathBuf>,
    /// Show a progress line on stderr (only when it is a terminal).
    pub progress: bool,
}

/// A finished tcp run.
#[derive(Clone, Debug)]
pub struct SwarmRun {
    /// What the recorder made of it (scenario time).
    pub result: RunResult,
    /// Why it ended.
    pub ending: Ending,
    /// Scenario time at the end.
    pub end: SimTime,
    /// Observations processed (the `events` of the summary).
    pub events: u64,
}

/// Runs `scenario` (resolved: its seed set) with `seed` over loopback and records it.
/// Run-time failures (the tracker or payload cannot be set up) are `Err`; a member that
/// fails is reported as leaving.
pub fn run_scenario(
    scenario: &Scenario,
    seed: u64,
    opts: &SwarmOptions,
) -> Result<SwarmRun, String> {
    check(scenario, opts.keeping()).map_err(|e| e.to_string())?;
    if !(opts.time_scale.is_finite() && opts.time_scale >= 1e-3) {
        return Err(format!(
            "time scale {} must be a number of at least 0.001",
            opts.time_scale
        ));
    }
    let payload = LabPayload::new(seed, scenario.file.size.0);
    let piece_length = scenario.file.chunk_size.0;
    let hashes = payload
        .piece_hashes(piece_length)
        .map_err(|e| format!("cannot hash the payload: {e}"))?;
    let data = match &opts.keep_data {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let file = dir.join(PAYLOAD_NAME);
            payload
                .write_to(&file)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            Data::Files {
                dir: dir.clone(),
                payload: file,
            }
        }
        None => Data::Lab(payload),
    };
    let tracker = TrackerThread::start(scenario, seed, opts.time_scale)?;
    let torrent = metainfo::create_from_hashes(
        PAYLOAD_NAME,
        payload.len(),
        piece_length,
        &hashes,
        &tracker.url,
    )
    .map_err(|e| format!("cannot make the torrent: {e}"))?;
    let meta = Metainfo::from_bytes(&torrent).map_err(|e| format!("torrent: {e}"))?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    let progress = opts.progress && std::io::stderr().is_terminal();
    let swarm = Swarm {
        scenario,
        seed,
        clock: Clock::scaled(opts.time_scale),
        meta: &meta,
        data: &data,
    };
    let run = rt.block_on(local.run_until(swarm.run(progress)));
    if progress {
        eprintln!();
    }
    drop(tracker);
    Ok(run)
}

/// The HTTP tracker of a run, on its own thread, stopped when dropped.
struct TrackerThread {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl TrackerThread {
    fn start(scenario: &Scenario, seed: u64, scale: f64) -> Result<TrackerThread, String> {
        let interval =
            Duration::from_secs_f64(scenario.tracker.announce_interval.as_secs_f64() / scale);
        let tracker = TrackerServer::bind(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            TrackerConfig {
                // The tracker forgets a peer after two intervals (plus a minute) of silence.
                interval: interval.max(Duration::from_secs(1)),
                seed,
                bias: scenario.tracker.bias(),
                // Members are drawn in this order by every session too.
                regions: draw_population(scenario, seed)
                    .iter()
                    .map(|m| m.region)
                    .collect(),
            },
        )
        .map_err(|e| format!("cannot start the tracker: {e}"))?;
        let addr = tracker
            .local_addr()
            .ok_or("the tracker has no IP address")?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || tracker.run_until(&flag));
        Ok(TrackerThread {
            url: format!("http://{addr}/announce"),
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for TrackerThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl SwarmOptions {
    /// How this run stores its pieces.
    pub fn keeping(&self) -> Keeping {
        if self.keep_data.is_some() {
            Keeping::Files
        } else {
            Keeping::Nothing
        }
    }
}

/// Where a run's members get their pieces.
#[derive(Clone, Debug)]
enum Data {
    /// From the run seed, keeping no copies.
    Lab(LabPayload),
    /// From real files: the seeds serve `payload`, leecher `i` downloads into
    /// `dir/peer-<i>`.
    Files { dir: PathBuf, payload: PathBuf },
}

/// One run's swarm: what every member is started from.
struct Swarm<'a> {
    scenario: &'a Scenario,
    seed: u64,
    clock: Clock,
    meta: &'a Metainfo,
    data: &'a Data,
}

impl Swarm<'_> {
    /// Starts every member, records what they report until the run ends, and lets them
    /// wind down.
    async fn run(self, progress: bool) -> SwarmRun {
        let started = Instant::now();
        let members = draw_population(self.scenario, self.seed);
        let (otx, orx) = mpsc::unbounded_channel::<Observation>();
        let (stop_tx, stop_rx) = watch::channel(false);
        self.spawn_members(&members, &otx, &stop_rx);
        drop(otx);
        let mut record = Record::new(self.scenario, self.seed, &members);
        let (ending, end, mut orx) = record.until_end(orx, self.clock, progress).await;
        let _ = stop_tx.send(true);
        record.wind_down(&mut orx).await;
        let events = record.events;
        let result = record.recorder.finish(end, events, started.elapsed());
        SwarmRun {
            result,
            ending,
            end,
            events,
        }
    }

    fn spawn_members(
        &self,
        members: &[Member],
        observe: &mpsc::UnboundedSender<Observation>,
        stop: &watch::Receiver<bool>,
    ) {
        let latencies = Arc::new(Latencies::new(self.scenario, members));
        let ports = Arc::new(Mutex::new(HashMap::new()));
        let strategies = self.scenario.strategies.shared();
        for (i, m) in (0u32..).zip(members) {
            let member = SwarmMember {
                info: info(i, m),
                config: m.peer_config(self.scenario, member_peer_id(i)),
                dice: peer_dice(self.seed, i),
                strategies: strategies.clone(),
                clock: self.clock,
                latencies: latencies.clone(),
                linger: m.linger,
                abort_at: m.abort_at,
                observe: observe.clone(),
                stop: stop.clone(),
                ports: ports.clone(),
            };
            // The core is not `Send`: members run as local tasks on the one thread.
            tokio::task::spawn_local(member_task(
                member,
                m.clone(),
                self.meta.clone(),
                self.data.clone(),
            ));
        }
    }
}

/// Member `i` as the recorder knows it.
fn info(i: u32, m: &Member) -> PeerInfo {
    PeerInfo {
        peer: i,
        group: m.group,
        role: m.role,
        upload: m.upload,
        download: m.download,
    }
}

/// What the observer loop knows of a member.
#[derive(Clone, Debug, Default)]
struct Seen {
    joined: bool,
    completed: bool,
    left: bool,
    ended: bool,
    held: Option<Bitfield>,
}

impl Seen {
    /// The member joined, holding everything if it is a seed.
    fn join(&mut self, rec: &mut Recorder, at: SimTime, info: &PeerInfo, pieces: u32) {
        self.joined = true;
        self.held = Some(if info.role == Role::Seed {
            Bitfield::full(pieces)
        } else {
            Bitfield::new(pieces)
        });
        rec.peer_joined(at, info);
    }

    /// The member left (recorded once, with the pieces it held).
    fn leave(&mut self, rec: &mut Recorder, at: SimTime, p: u32, why: LeaveReason) {
        if self.joined && !self.left {
            self.left = true;
            let held: Vec<u32> = self
                .held
                .as_ref()
                .map(|h| h.ones().collect())
                .unwrap_or_default();
            rec.peer_left(at, p, &held, why);
        }
    }

    fn done(&self) -> bool {
        self.completed || self.left
    }
}

/// The observer loop's state: the recorder and what it knows of every member.
struct Record {
    recorder: Recorder,
    seen: Vec<Seen>,
    infos: Vec<PeerInfo>,
    joins: Vec<SimTime>,
    pieces: u32,
    watch: EndWatch,
    stop_at: Option<SimTime>,
    all_complete: bool,
    events: u64,
    /// The latest observation time (the recorder wants them in order).
    last: SimTime,
    /// When (wall clock) the last block moved or a member joined.
    last_block: Instant,
}

impl Record {
    fn new(scenario: &Scenario, seed: u64, members: &[Member]) -> Record {
        let leechers = members.iter().filter(|m| m.role != Role::Seed).count() as u64;
        Record {
            recorder: Recorder::new(scenario, seed, "tcp"),
            seen: vec![Seen::default(); members.len()],
            infos: (0u32..).zip(members).map(|(i, m)| info(i, m)).collect(),
            joins: members.iter().map(|m| m.join).collect(),
            pieces: scenario.file.chunks(),
            watch: EndWatch::new(leechers),
            stop_at: match scenario.run.stop {
                Stop::At(t) => Some(SimTime::ZERO + t),
                Stop::AllComplete => None,
            },
            all_complete: scenario.run.stop == Stop::AllComplete,
            events: 0,
            last: SimTime::ZERO,
            last_block: Instant::now(),
        }
    }

    /// Records observations until the run ends (see the module doc, "Ending"); returns
    /// how, when, and the channel, for the members' last words.
    async fn until_end(
        &mut self,
        mut orx: mpsc::UnboundedReceiver<Observation>,
        clock: Clock,
        progress: bool,
    ) -> (Ending, SimTime, mpsc::UnboundedReceiver<Observation>) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let limit = self.stop_at.map(|t| clock.deadline(t));
        let ending = loop {
            if self.all_complete && self.watch.all_done() {
                break Ending::AllComplete;
            }
            tokio::select! {
                obs = orx.recv() => match obs {
                    Some(o) => self.apply(o),
                    // Every session ended on its own.
                    None => break Ending::Stalled,
                },
                _ = sleep_until(limit) => {
                    self.last = self.last.max(self.stop_at.unwrap_or(self.last));
                    break Ending::TimeLimit;
                }
                _ = tick.tick() => {
                    let now = clock.now();
                    if progress {
                        self.show_progress(now);
                    }
                    if self.stalled(now) {
                        self.last = self.last.max(now);
                        break Ending::Stalled;
                    }
                }
            }
        };
        (ending, self.last, orx)
    }

    fn show_progress(&self, now: SimTime) {
        eprint!(
            "\r  t = {:>9.1} s   {:>6}/{} leechers done",
            now.as_secs_f64(),
            self.watch.done(),
            self.watch.leechers()
        );
        let _ = std::io::stderr().flush();
    }

    /// The simulator's stall rule in scenario time, or no block for [`STALL_WALL`] of
    /// wall time once everyone has joined (a seed may be due later in the scenario).
    fn stalled(&self, now: SimTime) -> bool {
        let all_joined = self.joins.iter().all(|&j| j <= now);
        self.watch.stalled(now)
            || (!self.watch.all_done() && all_joined && self.last_block.elapsed() > STALL_WALL)
    }

    /// Applies one observation to the recorder and to what is known of its peer.
    fn apply(&mut self, o: Observation) {
        // One loop on one thread, so arrival order is creation order; the max only
        // guards the recorder's contract against a clock read racing it.
        let at = o.at.max(self.last);
        self.last = at;
        self.events += 1;
        if matches!(o.what, Observed::Block { .. } | Observed::Joined(_)) {
            self.watch.progress(at);
            self.last_block = Instant::now();
        }
        let p = o.peer;
        let Some(s) = self.seen.get_mut(p as usize) else {
            return;
        };
        let was_done = s.done();
        let rec = &mut self.recorder;
        match o.what {
            Observed::Joined(info) => s.join(rec, at, &info, self.pieces),
            Observed::Verified(piece) => {
                if let Some(h) = s.held.as_mut() {
                    h.set(piece);
                }
                rec.piece_verified(at, p, piece);
            }
            Observed::Completed => {
                s.completed = true;
                rec.peer_completed(at, p);
            }
            Observed::Left(why) => s.leave(rec, at, p, why),
            Observed::Flow { to, start, rate } => rec.flow(p, to, start.min(at), at, rate),
            Observed::Block { from, bytes } => rec.block_delivered(at, from, p, bytes),
            Observed::Failed { piece, bytes } => rec.piece_failed(at, p, piece, bytes),
            Observed::Banned(whom) => rec.peer_banned(at, p, whom),
            Observed::Ended(error) => {
                ended(s, rec, &self.infos[p as usize], self.pieces, at, error)
            }
        }
        let leecher = self.infos[p as usize].role != Role::Seed;
        if leecher && !was_done && s.done() {
            self.watch.leecher_done(at);
        }
    }

    /// Lets the sessions close their connections and tell the tracker; what they report
    /// now is after the end and not recorded.
    async fn wind_down(&mut self, orx: &mut mpsc::UnboundedReceiver<Observation>) {
        let grace = tokio::time::Instant::now() + STOP_GRACE;
        while self.seen.iter().any(|s| !s.ended) {
            match tokio::time::timeout_at(grace, orx.recv()).await {
                Ok(Some(o)) => {
                    if let (Observed::Ended(_), Some(s)) =
                        (&o.what, self.seen.get_mut(o.peer as usize))
                    {
                        s.ended = true;
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
}

/// A member's session ended: a session that failed before it could join (its storage,
/// its socket) joined and left at once, so that peers.csv still has a row for it; one
/// that ended without leaving died, and left now.
fn ended(
    s: &mut Seen,
    rec: &mut Recorder,
    info: &PeerInfo,
    pieces: u32,
    at: SimTime,
    error: Option<String>,
) {
    let p = info.peer;
    s.ended = true;
    if let Some(e) = &error {
        eprintln!("swarmlab: peer {p}: {e}");
    }
    if !s.joined && error.is_some() {
        s.join(rec, at, info, pieces);
    }
    let why = if s.completed {
        LeaveReason::Lingered
    } else {
        LeaveReason::Aborted
    };
    s.leave(rec, at, p, why);
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending::<()>().await,
    }
}

/// One member: waits for its join time, opens its storage, runs its session, and
/// reports when the session ends.
async fn member_task(member: SwarmMember, drawn: Member, meta: Metainfo, data: Data) {
    let index = member.info.peer;
    let clock = member.clock;
    let mut stop = member.stop.clone();
    let reporter = member.clone();
    let joined = tokio::select! {
        _ = tokio::time::sleep_until(clock.deadline(drawn.join)) => true,
        _ = stop.wait_for(|s| *s) => false,
    };
    let result = if joined {
        match open_storage(&drawn, index, &meta, &data) {
            Ok(storage) => {
                let cfg = SessionConfig {
                    role: drawn.role,
                    bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                    upload: None,
                    download: None,
                    keep_serving: true,
                    progress: false,
                    swarm: Some(member),
                };
                session::run_async(meta, storage, cfg)
                    .await
                    .err()
                    .map(|e| e.to_string())
            }
            Err(e) => Some(e),
        }
    } else {
        None
    };
    reporter.report(clock.now(), Observed::Ended(result));
}

/// Member `index`'s storage. A seed serves the payload (checked against its torrent); a
/// leecher starts with nothing, downloading into its own folder if files are kept.
fn open_storage(
    drawn: &Member,
    index: u32,
    meta: &Metainfo,
    data: &Data,
) -> Result<storage::Storage, String> {
    let seed = drawn.role == Role::Seed;
    let mut s = match data {
        Data::Lab(payload) => {
            let hashes = meta.info.pieces.clone();
            storage::Storage::lab(*payload, meta.info.piece_length, hashes, seed)
                .map_err(|e| e.to_string())?
        }
        Data::Files { dir, .. } if !seed => {
            return storage::open_download_storage(meta, &dir.join(format!("peer-{index}")))
                .map_err(|e| e.to_string());
        }
        Data::Files { payload, .. } => {
            storage::open_seed_storage(meta, payload).map_err(|e| e.to_string())?
        }
    };
    if !seed {
        return Ok(s);
    }
    let ok = s.recheck().map_err(|e| format!("payload: {e}"))?;
    if ok.iter().all(|v| *v) {
        Ok(s)
    } else {
        Err("the payload does not match its torrent".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            "[file]\nsize = \"8 MiB\"\nchunk_size = \"256 KiB\"\n{extra}\n\
             [[group]]\nname = \"seeds\"\ncount = 1\nrole = \"seed\"\nupload = \"4 Mbit/s\"\n\
             download = \"4 Mbit/s\"\n\
             [[group]]\nname = \"leechers\"\ncount = 20\nupload = \"2 Mbit/s\"\ndownload = \"8 Mbit/s\"\n"
        );
        Scenario::from_str_named(&text, "t.toml").unwrap()
    }

    #[test]
    fn chunk_blocks_and_other_sizes_are_refused() {
        let s = scenario("block_size = \"chunk\"");
        assert_eq!(
            check_with(&s, Keeping::Nothing, None, None)
                .unwrap_err()
                .field,
            "file.block_size"
        );
        let s = scenario("block_size = \"32 KiB\"");
        assert_eq!(
            check_with(&s, Keeping::Nothing, None, None)
                .unwrap_err()
                .field,
            "file.block_size"
        );
        let s = scenario("block_size = \"16 KiB\"");
        for keeping in [Keeping::Nothing, Keeping::Files] {
            assert!(check_with(&s, keeping, Some(1 << 20), Some(1 << 40)).is_ok());
        }
    }

    #[test]
    fn too_few_file_descriptors_name_the_count_and_the_maximum() {
        let s = scenario("block_size = \"16 KiB\"");
        // 21 peers, 20 neighbours each + extras: far more than 200.
        let e = check_with(&s, Keeping::Nothing, Some(200), None).unwrap_err();
        assert_eq!(e.field, "group.leechers.count");
        let per = 20 + FDS_PER_PEER_EXTRA;
        assert!(
            e.reason
                .contains(&format!("at most {} peers", (200 - FDS_BASE) / per)),
            "{e}"
        );
    }

    #[test]
    fn too_little_memory_is_refused() {
        let s = scenario("block_size = \"16 KiB\"");
        // Files: 21 copies of 8 MiB against half of 64 MiB.
        let e = check_with(&s, Keeping::Files, None, Some(64 << 20)).unwrap_err();
        assert_eq!(e.field, "group.leechers.count");
        assert!(e.reason.contains("at most 3 leechers"), "{e}");
        // No copies: 21 peers of at most `lab_memory` each.
        let per_peer = lab_memory(&s);
        let enough = 21 * per_peer;
        assert!(check_with(&s, Keeping::Nothing, None, Some(enough)).is_ok());
        let e = check_with(&s, Keeping::Nothing, None, Some(enough - 1)).unwrap_err();
        assert_eq!(e.field, "group.leechers.count");
        assert!(e.reason.contains("at most 20 peers"), "{e}");
        // 20 neighbours each: 25 connections' buffers, and at most 32 pieces of 256 KiB
        // in flight (two per neighbour would be 40, but the torrent has 32).
        assert_eq!(
            per_peer,
            25 * BYTES_PER_CONNECTION + 32 * (256 << 10) + BYTES_PER_PEER
        );
    }
}
