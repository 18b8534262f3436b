//! The event loop that drives one [`core::Peer`](crate::core::Peer) over real sockets.
//!
//! Shape: one tokio task per TCP connection does the framing — it sends our handshake,
//! reads and checks theirs (protocol string, info hash, not ourselves, within 10 s), then
//! decodes messages with the bounded [`wire::Decoder`] and writes what it is told to. A
//! single *peer loop* owns the core peer, the [`Storage`] and the connection table; the
//! connection tasks talk to it over channels ([`Event`] up, [`Cmd`] down). Everything
//! runs on one thread (a current-thread runtime): the core is not `Send`-shared, SHA-1 of
//! a piece takes about a millisecond, and a laboratory peer never needs more.
//!
//! The peer loop translates both ways:
//!
//! * wire → core: a message is checked for what only the host can check (a bitfield's
//!   length and spare bits, a bitfield that is not first, a block outside the torrent),
//!   and a block's bytes are written to storage *before* the core hears of the block, so
//!   when the core asks to verify a piece the bytes are there;
//! * core → wire: `Send` is encoded (a `Piece` is read from storage, and the core hears
//!   `handle_block_sent` only once the connection task has written it), `Connect` dials
//!   the address the tracker gave for that [`PeerId`], `Disconnect` closes, `Verify`
//!   runs SHA-1, `Announce` is an HTTP GET to the tracker, `Completed` ends a `get`.
//!
//! Token buckets for `--upload` / `--download` are shared with the connection tasks
//! (behind a mutex, on the same thread) so a task waits for tokens before it writes a
//! block or after it reads bytes; TCP's own flow control then slows the sender.
//!
//! A session may also be one member of a laboratory swarm (`swarmlab run --backend
//! tcp`, see [`super::swarm`]): given a [`SwarmMember`], it takes its capacities, policy,
//! neighbour limits and random stream from the scenario's drawn member, runs on the
//! swarm's shared (possibly sped-up) clock, delays every incoming message by the link's
//! one-way latency, reports what happens to the swarm's observer, and leaves when its
//! linger or abort time comes or the run stops.
//!
//! Every dropped connection is logged with its reason when logging is on
//! ([`set_verbose`] or the `SWARMLAB_VERBOSE` environment variable); otherwise a session
//! prints nothing but its progress bar and summary.

use super::metainfo::Metainfo;
use super::rate_limit::TokenBucket;
use super::storage::{OpenMode, Storage};
use super::swarm::{Observation, Observed, SwarmMember, index_of_peer_id, swarm_peer_id};
use super::tracker_http::{self, AnnounceRequest};
use super::wire::{self, HANDSHAKE_LEN, Handshake, WireMessage};
use crate::core::population::streams;
use crate::core::{
    AnnounceEvent, Bitfield, BlockRef, ConnId, Dice, Geometry, Message, Output, Peer, PeerConfig,
    PeerId,
};
use crate::metrics::LeaveReason;
use crate::scenario::{Policy, Role};
use crate::units::{Bytes, SimDuration, SimTime};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A connection that has not completed its handshake by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections get a keep-alive this often (BEP 3 suggests two minutes).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(120);
/// A connection that sent nothing (not even a keep-alive) for this long is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(240);
/// Connections allowed beyond the core's `max_neighbours`, for handshakes in flight.
pub const CONNECTION_MARGIN: usize = 5;
/// Requests remembered per connection (the core keeps a few in flight; cancelled ones
/// linger here until they arrive or are pushed out).
const MAX_ASKED: usize = 1024;
/// Two connections to one peer whose handshakes complete within this of each other are
/// crossed dials (both ends dialled); see `Host::handle_event`.
const CROSSED_DIAL_WINDOW: Duration = Duration::from_secs(2);
/// The core's id of swarm member `index`: apart from the odd and even ids given to
/// addresses and inbound connections of other peers.
fn member_peer_id(index: u32) -> PeerId {
    PeerId((1 << 40) | u64::from(index))
}

/// Half of tokio's timer resolution (1 ms).
const TIMER_HALF_TICK: Duration = Duration::from_micros(500);
/// Request block size.
const BLOCK: u32 = wire::BLOCK_SIZE;

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Turns logging of connection events on or off.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Whether logging is on (`set_verbose(true)` or `SWARMLAB_VERBOSE` set and not "0").
pub fn verbose() -> bool {
    static ENV: OnceLock<bool> = OnceLock::new();
    VERBOSE.load(Ordering::Relaxed)
        || *ENV.get_or_init(|| std::env::var("SWARMLAB_VERBOSE").is_ok_and(|v| v != "0"))
}

/// Logs one line to stderr when logging is on.
pub fn log(args: std::fmt::Arguments<'_>) {
    if verbose() {
        eprintln!("swarmlab: {args}");
    }
}

macro_rules! logf {
    ($($t:tt)*) => { log(format_args!($($t)*)) };
}

/// What a session is for.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Seed (starts complete, never writes) or leecher (downloads).
    pub role: Role,
    /// Where to listen for peers (port 0 picks one).
    pub bind: SocketAddr,
    /// Upload limit in bytes per second.
    pub upload: Option<u64>,
    /// Download limit in bytes per second.
    pub download: Option<u64>,
    /// Keep serving once complete (a seed always does).
    pub keep_serving: bool,
    /// Show a progress bar (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Set when the session is one peer of a laboratory swarm: then its rates, policy,
    /// clock and departure come from here (and `upload`/`download` are ignored).
    pub swarm: Option<SwarmMember>,
}

/// What a finished session did.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Bytes of blocks received.
    pub downloaded: u64,
    /// Bytes of blocks sent.
    pub uploaded: u64,
    /// Size of the torrent's content.
    pub total: u64,
    /// Pieces verified at the start (kept from an earlier run, or a seed's data).
    pub pieces_at_start: u32,
    /// Pieces in the torrent.
    pub pieces: u32,
    /// Wall-clock time of the session.
    pub elapsed: Duration,
}

impl Summary {
    /// The one-line summary a `get` prints when it completes.
    pub fn line(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-6);
        format!(
            "downloaded {} bytes of {} in {secs:.1} s ({:.2} MB/s), {} of {} pieces were already there",
            self.downloaded,
            self.total,
            self.downloaded as f64 / secs / 1e6,
            self.pieces_at_start,
            self.pieces
        )
    }
}

/// Where a torrent's files live and how they are laid out, for [`Storage::open`].
pub fn layout(meta: &Metainfo) -> Result<Vec<(PathBuf, u64)>, String> {
    meta.info
        .files
        .iter()
        .map(|f| {
            super::storage::safe_relative_path(&f.path)
                .map(|p| (p, f.length))
                .map_err(|e| format!("unsafe path in torrent: {e}"))
        })
        .collect()
}

/// Opens the storage of a seed: `data` is the file or folder given to `torrent create`.
pub fn open_seed_storage(meta: &Metainfo, data: &Path) -> Result<Storage, String> {
    let (root, layout) = if meta.info.multi_file {
        (data.to_path_buf(), layout(meta)?)
    } else {
        let file = data
            .file_name()
            .ok_or_else(|| format!("{}: not a file", data.display()))?;
        let root = data
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        (
            root.to_path_buf(),
            vec![(PathBuf::from(file), meta.info.total_length())],
        )
    };
    Storage::open(
        &root,
        &layout,
        meta.info.piece_length,
        meta.info.pieces.clone(),
        OpenMode::ReadOnly,
    )
    .map_err(|e| format!("{}: {e}", data.display()))
}

/// Opens (creating what is missing) the storage of a download into `out/<name>`.
pub fn open_download_storage(meta: &Metainfo, out: &Path) -> Result<Storage, String> {
    let root = if meta.info.multi_file {
        out.join(&meta.info.name)
    } else {
        out.to_path_buf()
    };
    Storage::open(
        &root,
        &layout(meta)?,
        meta.info.piece_length,
        meta.info.pieces.clone(),
        OpenMode::Create,
    )
    .map_err(|e| format!("{}: {e}", root.display()))
}

/// Runs a session to its end: for a leecher without `keep_serving`, until every piece
/// has verified; otherwise until the process is killed. `storage` must have been
/// rechecked (its verified pieces are what the peer starts with).
pub fn run(meta: Metainfo, storage: Storage, cfg: SessionConfig) -> Result<Summary, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    rt.block_on(run_async(meta, storage, cfg))
}

/// [`run`] inside an existing tokio runtime (a swarm runs all its members in one).
pub async fn run_async(
    meta: Metainfo,
    storage: Storage,
    cfg: SessionConfig,
) -> Result<Summary, String> {
    run_session(meta, storage, cfg).await
}

/// The core's clock: microseconds since `origin` (the session's start, or the swarm's),
/// times `scale` (1 in real time; X when a swarm runs X times faster than scenario time,
/// so that the core's timers and rate estimates stay in scenario units).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub(crate) origin: Instant,
    pub(crate) scale: f64,
}

impl Clock {
    /// A real-time clock starting now.
    fn real() -> Clock {
        Clock {
            origin: Instant::now(),
            scale: 1.0,
        }
    }
    /// The core's (scenario) time now.
    pub(crate) fn now(&self) -> SimTime {
        SimTime((self.micros() as f64 * self.scale) as u64)
    }
    /// Wall-clock microseconds since the origin (token buckets run on these).
    fn micros(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
    /// A scenario duration in wall-clock time.
    pub(crate) fn wall(&self, d: SimDuration) -> Duration {
        Duration::from_micros((d.0 as f64 / self.scale) as u64)
    }
    /// The instant of a core time, capped an hour ahead (`NEVER` must not overflow).
    pub(crate) fn instant(&self, t: SimTime) -> tokio::time::Instant {
        let wall = (t.0 as f64 / self.scale) as u64;
        let cap = self.micros().saturating_add(3_600_000_000);
        tokio::time::Instant::from_std(self.origin + Duration::from_micros(wall.min(cap)))
    }
}

/// What the connection tasks share.
struct Shared {
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    clock: Clock,
    upload: Mutex<TokenBucket>,
    download: Mutex<TokenBucket>,
    decoder: wire::Decoder,
    /// In a swarm: this peer's one-way latency (scenario time) and every member's, by
    /// index, to delay incoming messages by the link latency (the sum of both ends').
    latency: Option<(SimDuration, Arc<Vec<SimDuration>>)>,
}

/// Peer loop → connection task.
#[derive(Debug)]
enum Cmd {
    /// Write these bytes (an encoded message).
    Send(Vec<u8>),
    /// Write this encoded block (after upload tokens), then report `Sent`.
    Piece { block: BlockRef, bytes: Vec<u8> },
}

/// Connection task (or announce task) → peer loop.
#[derive(Debug)]
enum Event {
    /// The handshake completed.
    Up {
        token: u64,
        remote_id: [u8; 20],
        tx: mpsc::UnboundedSender<Cmd>,
    },
    /// A message arrived.
    Msg { token: u64, msg: WireMessage },
    /// A block was written to the socket.
    Sent { token: u64, block: BlockRef },
    /// The connection ended (or never started), for this reason.
    Down { token: u64, why: String },
    /// The tracker answered.
    Announced(Result<tracker_http::AnnounceResponse, String>),
}

/// Waits until `bucket` grants `n` bytes.
async fn throttle(bucket: &Mutex<TokenBucket>, clock: Clock, n: u64) {
    loop {
        let r = bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(clock.micros(), n);
        match r {
            Ok(()) => return,
            Err(wait) => {
                tokio::time::sleep(Duration::from_micros(wait.clamp(1_000, 1_000_000))).await
            }
        }
    }
}

/// One connection: dial (if outbound), handshake, then frame messages both ways.
async fn connection(
    token: u64,
    stream: Option<TcpStream>,
    dial: Option<SocketAddr>,
    sh: Arc<Shared>,
    events: mpsc::Sender<Event>,
) {
    let why = match drive(token, stream, dial, &sh, &events).await {
        Ok(why) | Err(why) => why,
    };
    let _ = events.send(Event::Down { token, why }).await;
}

async fn drive(
    token: u64,
    stream: Option<TcpStream>,
    dial: Option<SocketAddr>,
    sh: &Shared,
    events: &mpsc::Sender<Event>,
) -> Result<String, String> {
    let stream = match (stream, dial) {
        (Some(s), _) => s,
        (None, Some(addr)) => tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connect to {addr} timed out"))?
            .map_err(|e| format!("connect to {addr}: {e}"))?,
        (None, None) => return Err("nothing to connect".into()),
    };
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let io = |e: std::io::Error| format!("socket: {e}");
    wr.write_all(&Handshake::new(sh.info_hash, sh.peer_id).encode())
        .await
        .map_err(io)?;

    let mut buf: Vec<u8> = Vec::with_capacity(HANDSHAKE_LEN);
    let mut scratch = vec![0u8; 64 * 1024];
    let hs = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            if let Some(h) = Handshake::decode(&buf).map_err(|e| format!("handshake: {e}"))? {
                return Ok::<_, String>(h);
            }
            let n = rd
                .read(&mut scratch[..HANDSHAKE_LEN - buf.len()])
                .await
                .map_err(io)?;
            if n == 0 {
                return Err("closed during the handshake".to_string());
            }
            buf.extend_from_slice(&scratch[..n]);
        }
    })
    .await
    .map_err(|_| format!("no handshake within {HANDSHAKE_TIMEOUT:?}"))??;
    if hs.info_hash != sh.info_hash {
        return Err(format!(
            "handshake for another torrent (info hash {})",
            super::metainfo::hex(&hs.info_hash)
        ));
    }
    if hs.peer_id == sh.peer_id {
        return Err("connected to ourselves".into());
    }
    buf.clear();
    // A swarm member delays what it receives by the link latency (scaled to wall time):
    // a delay line task holds each message until its arrival time, in order.
    let delayed = match &sh.latency {
        Some((own, all)) => {
            let remote = index_of_peer_id(&hs.peer_id)
                .and_then(|i| all.get(i as usize).copied())
                .unwrap_or(SimDuration::ZERO);
            let delay = sh.clock.wall(*own + remote);
            (!delay.is_zero()).then(|| {
                let (dtx, mut drx) =
                    mpsc::unbounded_channel::<(tokio::time::Instant, WireMessage)>();
                let events = events.clone();
                tokio::spawn(async move {
                    while let Some((at, msg)) = drx.recv().await {
                        // Tokio's timers fire on the first millisecond tick at or after
                        // the deadline; aiming half a tick early makes the delay right on
                        // average instead of half a millisecond long (which, sped up X
                        // times, is X/2 ms of scenario latency).
                        let early = at.checked_sub(TIMER_HALF_TICK).unwrap_or(at);
                        tokio::time::sleep_until(early).await;
                        if events.send(Event::Msg { token, msg }).await.is_err() {
                            break;
                        }
                    }
                });
                (dtx, delay)
            })
        }
        None => None,
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    events
        .send(Event::Up {
            token,
            remote_id: hs.peer_id,
            tx,
        })
        .await
        .map_err(|_| "session ended".to_string())?;

    let (limit_down, read_max) = {
        let bucket = sh.download.lock().unwrap_or_else(|e| e.into_inner());
        // A limited read takes at most half the bucket: a read that needs the whole
        // bucket waits for it to be full, and the tokens of a late wake-up are lost.
        let half = usize::try_from(bucket.burst() / 2).unwrap_or(usize::MAX);
        (!bucket.is_unlimited(), scratch.len().min(half.max(1)))
    };
    let read_max = if limit_down { read_max } else { scratch.len() };
    // Reading and writing run side by side, so a block waiting for upload tokens (or a
    // slow write) never stops us reading; whichever ends first ends the connection.
    let reading = async {
        loop {
            let n = tokio::time::timeout(IDLE_TIMEOUT, rd.read(&mut scratch[..read_max]))
                .await
                .map_err(|_| format!("silent for {IDLE_TIMEOUT:?}"))?
                .map_err(io)?;
            if n == 0 {
                return Ok::<String, String>("closed by the peer".into());
            }
            if limit_down {
                throttle(&sh.download, sh.clock, n as u64).await;
            }
            buf.extend_from_slice(&scratch[..n]);
            // The decoder refuses an oversize length prefix before its body is
            // buffered, so `buf` stays under one frame plus one read.
            while let Some(msg) = sh
                .decoder
                .decode(&mut buf)
                .map_err(|e| format!("bad message: {e}"))?
            {
                match &delayed {
                    Some((dtx, delay)) => dtx
                        .send((tokio::time::Instant::now() + *delay, msg))
                        .map_err(|_| "session ended".to_string())?,
                    None => events
                        .send(Event::Msg { token, msg })
                        .await
                        .map_err(|_| "session ended".to_string())?,
                }
            }
        }
    };
    let writing = async {
        // Blocks wait here for upload tokens while control messages (requests, haves,
        // chokes) go out at once: a request must not wait behind a block we are slow to
        // send (in the simulator, control messages do not queue behind data either).
        let mut pieces: VecDeque<(BlockRef, Vec<u8>)> = VecDeque::new();
        loop {
            let front_len = pieces.front().map(|(_, b)| b.len() as u64);
            let tokens = async move {
                match front_len {
                    Some(n) => throttle(&sh.upload, sh.clock, n).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                biased;
                cmd = tokio::time::timeout(KEEPALIVE_INTERVAL, rx.recv()) => match cmd {
                    Err(_) => wr.write_all(&[0, 0, 0, 0]).await.map_err(io)?,
                    Ok(None) => return Ok::<String, String>("closed by us".into()),
                    Ok(Some(Cmd::Send(bytes))) => wr.write_all(&bytes).await.map_err(io)?,
                    Ok(Some(Cmd::Piece { block, bytes })) => pieces.push_back((block, bytes)),
                },
                () = tokens => {
                    // `throttle` took the tokens only as it completed: a cancelled wait
                    // (a control message came first) took none.
                    if let Some((block, bytes)) = pieces.pop_front() {
                        wr.write_all(&bytes).await.map_err(io)?;
                        events
                            .send(Event::Sent { token, block })
                            .await
                            .map_err(|_| "session ended".to_string())?;
                    }
                }
            }
        }
    };
    tokio::select! {
        r = reading => r,
        w = writing => w,
    }
}

/// A connection as the peer loop sees it.
struct HostConn {
    /// The core's id, once the handshake is done and the core accepted it.
    core: Option<ConnId>,
    /// Commands to its task (dropping it closes the connection).
    tx: Option<mpsc::UnboundedSender<Cmd>>,
    /// The address (for logs).
    addr: SocketAddr,
    /// For an outbound connection, the peer the core asked us to connect to.
    dial: Option<PeerId>,
    /// Its peer id, from its handshake.
    remote_id: Option<[u8; 20]>,
    /// Blocks we requested from it (cancelled ones included: they may still come),
    /// newest last, at most [`MAX_ASKED`].
    asked: VecDeque<BlockRef>,
    /// The pieces it announced (by bitfield or `have`), once it announced any.
    remote: Option<Bitfield>,
    /// In a swarm: its index in the run (from its peer id).
    remote_index: Option<u32>,
    /// When its handshake completed.
    up_at: Option<Instant>,
}

/// The peer loop's state.
struct Host {
    core: Peer,
    storage: Storage,
    meta: Metainfo,
    clock: Clock,
    shared: Arc<Shared>,
    events: mpsc::Sender<Event>,
    conns: HashMap<u64, HostConn>,
    by_core: HashMap<ConnId, u64>,
    next_token: u64,
    addr_of: HashMap<PeerId, SocketAddr>,
    peer_at: HashMap<SocketAddr, PeerId>,
    next_peer: u64,
    max_conns: usize,
    port: u16,
    left: u64,
    completed: bool,
    progress: ProgressBar,
    /// Live connections by the remote's peer id, to refuse a second one to the same peer
    /// (both ends dialling each other).
    by_remote_id: HashMap<[u8; 20], u64>,
    /// Blocks (piece, offset) in the storage's piece buffers: what has been written
    /// since the piece's buffer was last emptied.
    written: BTreeSet<(u32, u32)>,
    /// Pieces verified when the session started.
    pieces_at_start: u32,
    /// Whether to print the summary line on completion (a leecher).
    print_summary: bool,
    /// Peers asked of the tracker per announce.
    numwant: u32,
    /// In a swarm: this member, whom observations go to.
    member: Option<SwarmMember>,
    /// When the core completed (a seed: when it started).
    completed_at: Option<SimTime>,
}

/// A random 20-byte peer id, `-SL0100-` and 12 printable characters.
fn make_peer_id(seed: u64) -> [u8; 20] {
    let mut id = *b"-SL0100-000000000000";
    let mut dice = Dice::new(seed, 7);
    for b in &mut id[8..] {
        *b = b"0123456789abcdefghijklmnopqrstuvwxyz"[dice.below(36) as usize];
    }
    id
}

/// A seed from the clock and process id: peers on one machine must differ.
fn entropy() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut s = t ^ (u64::from(std::process::id()) << 32);
    crate::core::random::splitmix64(&mut s)
}

async fn run_session(
    meta: Metainfo,
    storage: Storage,
    cfg: SessionConfig,
) -> Result<Summary, String> {
    let clock = cfg.swarm.as_ref().map_or_else(Clock::real, |m| m.clock);
    let listener = TcpListener::bind(cfg.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.bind))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("listener: {e}"))?
        .port();
    let seed = entropy();
    let member = cfg.swarm.clone();
    if let Some(m) = &member {
        // Other members map the tracker's addresses back to member indices by port.
        m.ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(port, m.info.peer);
    }
    let pieces = storage.num_pieces();
    let mut have = Bitfield::new(pieces);
    for (i, ok) in storage.verified().iter().enumerate() {
        if *ok {
            have.set(i as u32);
        }
    }
    let pieces_at_start = have.count();
    let total = meta.info.total_length();
    let verified_bytes: u64 = (0..pieces)
        .filter(|p| have.get(*p))
        .map(|p| u64::from(storage.piece_len(p).unwrap_or(0)))
        .sum();
    let geometry = Geometry::new(
        Bytes(total),
        Bytes(meta.info.piece_length),
        Bytes(u64::from(BLOCK)),
    );
    let mut peer_cfg = PeerConfig {
        id: PeerId(u64::MAX),
        geometry,
        policy: Policy::default(),
        role: cfg.role,
        min_neighbours: 20,
        max_neighbours: 50,
        // The core has no input for the tracker's interval; a minute keeps us on the
        // list of any tracker asking for two minutes or more.
        announce_interval: SimDuration::from_secs(60),
        // Strategies that budget upload (BitTyrant) need it; unlimited is unknown.
        upload_capacity: cfg
            .upload
            .map(|bytes_per_sec| crate::units::Rate(bytes_per_sec * 8)),
    };
    // A swarm member draws from the same random stream as its simulated twin.
    let mut dice = Dice::new(seed, 1);
    let mut peer_id = make_peer_id(seed);
    let mut numwant = tracker_http::PEERS_PER_ANNOUNCE;
    let (mut upload, mut download, mut burst_of) = (
        cfg.upload,
        cfg.download,
        // A quarter of a second of traffic (at least a block) for interactive use.
        (|r: u64| (r / 4).max(u64::from(BLOCK) + 13)) as fn(u64) -> u64,
    );
    if let Some(m) = &member {
        peer_cfg.policy = m.policy.clone();
        peer_cfg.role = m.info.role;
        peer_cfg.min_neighbours = m.min_neighbours;
        peer_cfg.max_neighbours = m.max_neighbours;
        peer_cfg.announce_interval = m.announce_interval;
        dice = Dice::new(m.run_seed, streams::PEER_BASE + u64::from(m.info.peer));
        peer_id = swarm_peer_id(m.info.peer);
        peer_cfg.id = member_peer_id(m.info.peer);
        numwant = m.peers_per_announce;
        // Capacities are bit/s of scenario time; the buckets run on wall time.
        let wall_rate = |r: crate::units::Rate| ((r.0 as f64 / 8.0) * clock.scale).max(1.0) as u64;
        upload = Some(wall_rate(m.info.upload));
        download = Some(wall_rate(m.info.download));
        // The simulator has no burst, so keep it small: two blocks (with headers). Not
        // one: a sender waits for a full block's tokens and wakes up to a timer tick
        // late, and with a one-block bucket the tokens of that lateness would be lost
        // (measured: ~5-10 % of a fast seed's rate at 16 ms per block).
        burst_of = |_| 2 * (u64::from(BLOCK) + 13);
    }
    let max_neighbours = peer_cfg.max_neighbours;
    let core = Peer::new(peer_cfg, have, dice);
    // Every neighbour may be sending us a different piece (and two in endgame).
    let storage = storage.with_max_partial_pieces(2 * max_neighbours as usize);
    let shared = Arc::new(Shared {
        info_hash: meta.info_hash,
        peer_id,
        clock,
        upload: Mutex::new(TokenBucket::from_rate(
            upload,
            burst_of(upload.unwrap_or(0)),
        )),
        download: Mutex::new(TokenBucket::from_rate(
            download,
            burst_of(download.unwrap_or(0)),
        )),
        decoder: wire::Decoder::for_torrent(pieces, BLOCK),
        latency: member.as_ref().map(|m| (m.latency, m.latencies.clone())),
    });
    let progress = if cfg.progress && member.is_none() && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg} ETA {eta}",
        ) {
            bar.set_style(style);
        }
        bar.set_position(verified_bytes);
        bar
    } else {
        ProgressBar::hidden()
    };
    let (events, mut inbox) = mpsc::channel(1024);
    let mut host = Host {
        core,
        storage,
        meta,
        clock,
        shared,
        events,
        conns: HashMap::new(),
        by_core: HashMap::new(),
        next_token: 0,
        addr_of: HashMap::new(),
        peer_at: HashMap::new(),
        next_peer: 0,
        max_conns: max_neighbours as usize + CONNECTION_MARGIN,
        port,
        left: total - verified_bytes.min(total),
        completed: false,
        progress,
        by_remote_id: HashMap::new(),
        written: BTreeSet::new(),
        pieces_at_start,
        print_summary: cfg.role != Role::Seed && member.is_none(),
        numwant,
        member,
        completed_at: None,
    };
    logf!(
        "listening on port {port}, peer id {}, {pieces_at_start}/{pieces} pieces",
        host.shared.peer_id.escape_ascii()
    );
    if host.announce_request(AnnounceEvent::Started).is_none() {
        // Not an error (peers may still dial us), but a `get` would wait forever.
        eprintln!(
            "swarmlab: warning: the torrent names no http:// tracker; only incoming connections will find us"
        );
    }
    // A swarm member stays until it leaves (linger, abort) or the run stops.
    let keep_serving = cfg.keep_serving || host.member.is_some();
    let finished = |h: &Host| h.core.is_complete() && !keep_serving && cfg.role != Role::Seed;
    let mut stop = host.member.as_ref().map(|m| m.stop.clone());
    if let Some(m) = &host.member {
        host.observe(Observed::Joined(m.info.clone()));
        if m.info.role == Role::Seed {
            host.completed_at = Some(clock.now());
        }
    }
    // Why a swarm member left on its own (none when the run stopped it).
    let mut left: Option<LeaveReason> = None;
    if !finished(&host) {
        host.core.start(clock.now());
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            host.drain();
            if host.completed && finished(&host) {
                break;
            }
            if stop.as_ref().is_some_and(|s| *s.borrow()) {
                break;
            }
            let deadline = clock.instant(host.core.poll_timeout());
            let leave = host.leave_at();
            let leave_deadline = clock.instant(leave.map_or(SimTime::NEVER, |(t, _)| t));
            let stopped = async {
                match stop.as_mut() {
                    // A dropped sender stops the run too.
                    Some(s) => {
                        let _ = s.changed().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = stopped => {}
                _ = tokio::time::sleep_until(leave_deadline), if leave.is_some() => {
                    left = leave.map(|(_, why)| why);
                    break;
                }
                ev = inbox.recv() => {
                    if let Some(ev) = ev {
                        host.handle_event(ev);
                    }
                }
                acc = listener.accept() => {
                    match acc {
                        Ok((stream, addr)) => host.accept(stream, addr),
                        Err(e) => logf!("accept: {e}"),
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    host.core.handle_timeout(clock.now());
                }
                _ = tick.tick() => {
                    host.progress.set_message(format!("peers {}", host.core.connections()));
                }
            }
        }
    }
    host.progress.finish_and_clear();
    if let Some(why) = left {
        let now = clock.now();
        host.core.stop(now);
        host.observe(Observed::Left(why));
    }
    // Tell the tracker we leave (if we ever joined); a slow tracker must not hold the
    // exit up.
    let joined = host.core.uploaded() + host.core.downloaded() > 0 || host.completed;
    if joined && let Some(req) = host.announce_request(AnnounceEvent::Stopped) {
        let _ = tracker_http::announce(&req, Duration::from_secs(2)).await;
    }
    let summary = host.summary();
    logf!(
        "session ends: uploaded {} bytes, downloaded {} bytes",
        summary.uploaded,
        summary.downloaded
    );
    Ok(summary)
}

impl Host {
    fn now(&self) -> SimTime {
        self.clock.now()
    }

    /// Reports to the swarm's observer (a no-op outside a swarm).
    fn observe(&self, what: Observed) {
        if let Some(m) = &self.member {
            // The run may have ended and dropped its receiver: nothing to tell then.
            let _ = m.observe.send(Observation {
                at: self.now(),
                peer: m.info.peer,
                what,
            });
        }
    }

    /// When a swarm member leaves on its own, and why: its linger after completing (a
    /// seed's from its start), or its abort time while incomplete.
    fn leave_at(&self) -> Option<(SimTime, LeaveReason)> {
        let m = self.member.as_ref()?;
        match self.completed_at {
            Some(done) => m.linger.map(|d| (done + d, LeaveReason::Lingered)),
            None => m.abort_at.map(|t| (t, LeaveReason::Aborted)),
        }
    }

    fn summary(&self) -> Summary {
        Summary {
            downloaded: self.core.downloaded(),
            uploaded: self.core.uploaded(),
            total: self.meta.info.total_length(),
            pieces_at_start: self.pieces_at_start,
            pieces: self.storage.num_pieces(),
            elapsed: self.clock.origin.elapsed(),
        }
    }

    fn spawn_connection(
        &mut self,
        stream: Option<TcpStream>,
        addr: SocketAddr,
        dial: Option<PeerId>,
    ) {
        let token = self.next_token;
        self.next_token += 1;
        self.conns.insert(
            token,
            HostConn {
                core: None,
                tx: None,
                addr,
                dial,
                remote: None,
                asked: VecDeque::new(),
                remote_id: None,
                remote_index: None,
                up_at: None,
            },
        );
        let target = dial.map(|_| addr);
        tokio::spawn(connection(
            token,
            stream,
            target,
            self.shared.clone(),
            self.events.clone(),
        ));
    }

    fn accept(&mut self, stream: TcpStream, addr: SocketAddr) {
        if self.conns.len() >= self.max_conns {
            logf!("{addr}: refused: {} connections already", self.conns.len());
            return;
        }
        self.spawn_connection(Some(stream), addr, None);
    }

    fn forget_remote(&mut self, token: u64, c: &HostConn) {
        if let Some(id) = c.remote_id
            && self.by_remote_id.get(&id) == Some(&token)
        {
            self.by_remote_id.remove(&id);
        }
    }

    /// Closes a connection on the host's initiative and tells the core.
    fn drop_conn(&mut self, token: u64, why: &str) {
        let Some(c) = self.conns.remove(&token) else {
            return;
        };
        logf!("{}: dropped: {why}", c.addr);
        self.forget_remote(token, &c);
        let now = self.now();
        if let Some(cid) = c.core {
            self.by_core.remove(&cid);
            self.core.handle_disconnected(now, cid);
        } else if let Some(peer) = c.dial {
            self.core.handle_connect_failed(now, peer);
        }
    }

    fn handle_event(&mut self, ev: Event) {
        let now = self.now();
        match ev {
            Event::Up {
                token,
                remote_id,
                tx,
            } => {
                let Some(c) = self.conns.get_mut(&token) else {
                    return;
                };
                let member_id = self
                    .member
                    .as_ref()
                    .and(index_of_peer_id(&remote_id))
                    .map(member_peer_id);
                let (peer, outbound) = match (c.dial, member_id) {
                    (Some(p), _) => (p, true),
                    // A swarm member is known by its index whichever way it connected,
                    // as in the simulator, so the core knows whom it is connected to.
                    (None, Some(id)) => (id, false),
                    (None, None) => {
                        self.next_peer += 1;
                        (PeerId(self.next_peer << 1), false)
                    }
                };
                logf!(
                    "{}: handshake ok ({}, {})",
                    c.addr,
                    remote_id.escape_ascii(),
                    if outbound { "outbound" } else { "inbound" }
                );
                c.tx = Some(tx);
                c.remote_id = Some(remote_id);
                if self.member.is_some() {
                    c.remote_index = index_of_peer_id(&remote_id);
                }
                c.up_at = Some(Instant::now());
                if let Some(&old) = self.by_remote_id.get(&remote_id) {
                    // Two peers that dial each other at once each see the other's
                    // connection second; dropping the second at both ends would kill
                    // both. Both ends keep the one dialled by the smaller peer id. A
                    // connection up for longer than the window is kept whatever comes.
                    let (old_outbound, old_young) =
                        self.conns.get(&old).map_or((false, false), |o| {
                            (
                                o.dial.is_some(),
                                o.up_at.is_some_and(|t| t.elapsed() < CROSSED_DIAL_WINDOW),
                            )
                        });
                    let ours_wins = self.shared.peer_id < remote_id;
                    let keep_new = old_outbound != outbound && old_young && outbound == ours_wins;
                    if keep_new {
                        self.drop_conn(old, "crossed dials: both ends keep the other connection");
                    } else {
                        if let Some(c) = self.conns.get_mut(&token) {
                            c.dial = None;
                        }
                        if outbound {
                            self.core.handle_connect_failed(now, peer);
                        }
                        return self.drop_conn(token, "a second connection to the same peer");
                    }
                }
                let Some(c) = self.conns.get_mut(&token) else {
                    return;
                };
                self.by_remote_id.insert(remote_id, token);
                match self.core.handle_connected(now, peer, outbound) {
                    Some(cid) => {
                        c.core = Some(cid);
                        self.by_core.insert(cid, token);
                    }
                    None => {
                        c.dial = None;
                        self.drop_conn(
                            token,
                            "refused: max_neighbours reached or already connected",
                        );
                    }
                }
            }
            Event::Msg { token, msg } => self.on_message(token, msg),
            Event::Sent { token, block } => {
                if let Some(c) = self.conns.get(&token)
                    && let Some(cid) = c.core
                {
                    // A swarm's upload utilisation: the block occupied our upload link
                    // at its capacity for its length, ending now (the token bucket
                    // spaces blocks so).
                    if let (Some(m), Some(to)) = (&self.member, c.remote_index) {
                        let rate = m.info.upload;
                        if let Some(us) = (u64::from(block.len) * 8 * 1_000_000).checked_div(rate.0)
                        {
                            self.observe(Observed::Flow {
                                to,
                                start: SimTime(now.0.saturating_sub(us)),
                                rate,
                            });
                        }
                    }
                    self.core.handle_block_sent(now, cid, block);
                }
            }
            Event::Down { token, why } => self.drop_conn(token, &why),
            Event::Announced(Ok(resp)) => {
                logf!("tracker: {} peers", resp.peers.len());
                let mut ids = Vec::with_capacity(resp.peers.len());
                for addr in resp.peers {
                    let member = self.member.as_ref().and_then(|m| {
                        m.ports
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get(&addr.port())
                            .copied()
                    });
                    let id = match self.peer_at.get(&addr) {
                        Some(id) => *id,
                        None if member.is_some() => {
                            let id = member_peer_id(member.unwrap_or_default());
                            self.peer_at.insert(addr, id);
                            self.addr_of.insert(id, addr);
                            id
                        }
                        None => {
                            self.next_peer += 1;
                            // Odd ids for dialable addresses, even for inbound ones.
                            let id = PeerId((self.next_peer << 1) | 1);
                            self.peer_at.insert(addr, id);
                            self.addr_of.insert(id, addr);
                            id
                        }
                    };
                    ids.push(id);
                }
                self.core.handle_tracker_response(now, &ids);
            }
            Event::Announced(Err(e)) => logf!("announce failed: {e}"),
        }
    }

    fn on_message(&mut self, token: u64, msg: WireMessage) {
        let now = self.now();
        let pieces = self.storage.num_pieces();
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        let Some(cid) = c.core else { return };
        let block = |index: u32, begin: u32, length: u32| BlockRef {
            piece: index,
            offset: begin,
            len: length,
        };
        let m = match msg {
            WireMessage::KeepAlive => Message::KeepAlive,
            WireMessage::Choke => Message::Choke,
            WireMessage::Unchoke => Message::Unchoke,
            WireMessage::Interested => Message::Interested,
            WireMessage::NotInterested => Message::NotInterested,
            WireMessage::Have(i) => {
                if i < pieces {
                    c.remote.get_or_insert_with(|| Bitfield::new(pieces)).set(i);
                }
                Message::Have(i)
            }
            WireMessage::Bitfield(bytes) => {
                let field = match Bitfield::from_bytes(&bytes, pieces) {
                    Ok(b) => b,
                    Err(e) => return self.drop_conn(token, &format!("bad bitfield: {}", e.0)),
                };
                match c.remote.as_mut() {
                    None => {
                        c.remote = Some(field.clone());
                        Message::Bitfield(field)
                    }
                    Some(known) => {
                        // BEP 3 wants one bitfield, first; aria2 sends it again as it
                        // progresses. A later one only tells us of new pieces: pass them
                        // on as `have`s (a cleared bit is ignored: pieces are not lost).
                        let new: Vec<u32> = field.ones().filter(|p| !known.get(*p)).collect();
                        for p in &new {
                            known.set(*p);
                        }
                        for p in new {
                            self.core.handle_message(now, cid, Message::Have(p));
                        }
                        return;
                    }
                }
            }
            WireMessage::Request {
                index,
                begin,
                length,
            } => Message::Request(block(index, begin, length)),
            WireMessage::Cancel {
                index,
                begin,
                length,
            } => Message::Cancel(block(index, begin, length)),
            WireMessage::Piece { index, begin, data } => {
                let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
                let b = block(index, begin, len);
                // Only a block we asked this connection for reaches storage: an
                // unrequested one could overwrite good bytes of a piece in progress
                // (the core then closes the connection, so the bytes are not needed).
                if let Some(at) = c.asked.iter().position(|x| *x == b) {
                    c.asked.remove(at);
                    if let (Some(m), Some(from)) = (&self.member, c.remote_index) {
                        let _ = m.observe.send(Observation {
                            at: now,
                            peer: m.info.peer,
                            what: Observed::Block {
                                from,
                                bytes: Bytes(u64::from(len)),
                            },
                        });
                    }
                    // First copy wins: a later one (an endgame duplicate, or a block
                    // sent after our cancel) is one the core ignores and does not blame
                    // its sender for, so it must not replace bytes already buffered.
                    if self.written.insert((index, begin)) {
                        // Bytes first, so that when the core asks to verify, they are there.
                        if let Err(e) = self.storage.write_block(index, begin, &data) {
                            self.written.remove(&(index, begin));
                            return self.drop_conn(token, &format!("bad piece: {e}"));
                        }
                    }
                }
                Message::Piece(b)
            }
            WireMessage::Port(_) | WireMessage::Unknown { .. } => return,
        };
        self.core.handle_message(now, cid, m);
    }

    fn send(&mut self, cid: ConnId, cmd: Cmd) {
        let tx = self
            .by_core
            .get(&cid)
            .and_then(|t| self.conns.get(t))
            .and_then(|c| c.tx.as_ref());
        if let Some(tx) = tx {
            // A closed task reports `Down` on its own.
            let _ = tx.send(cmd);
        }
    }

    fn announce_request(&self, event: AnnounceEvent) -> Option<AnnounceRequest> {
        // The first HTTP tracker: `announce`, then the tiers of `announce-list` (UDP
        // trackers, BEP 15, are not spoken here).
        let url = self
            .meta
            .announce
            .iter()
            .chain(self.meta.announce_list.iter().flatten())
            .find(|u| u.starts_with("http://"))
            .cloned()?;
        Some(AnnounceRequest {
            url,
            info_hash: self.meta.info_hash,
            peer_id: self.shared.peer_id,
            port: self.port,
            uploaded: self.core.uploaded(),
            downloaded: self.core.downloaded(),
            left: self.left,
            event,
            numwant: self.numwant,
        })
    }

    /// Carries out everything the core asked for, until it has nothing more.
    fn drain(&mut self) {
        while let Some(out) = self.core.poll_output() {
            let now = self.now();
            match out {
                Output::Send { conn, msg } => {
                    let wire = match msg {
                        Message::Piece(b) => {
                            match self.storage.read_block(b.piece, b.offset, b.len) {
                                Ok(data) => {
                                    let m = WireMessage::Piece {
                                        index: b.piece,
                                        begin: b.offset,
                                        data,
                                    };
                                    match m.to_bytes() {
                                        Ok(bytes) => {
                                            self.send(conn, Cmd::Piece { block: b, bytes })
                                        }
                                        Err(e) => logf!("encode piece: {e}"),
                                    }
                                }
                                Err(e) => {
                                    if let Some(t) = self.by_core.get(&conn).copied() {
                                        self.drop_conn(
                                            t,
                                            &format!("cannot serve its request: {e}"),
                                        );
                                    }
                                }
                            }
                            continue;
                        }
                        Message::KeepAlive => WireMessage::KeepAlive,
                        Message::Choke => WireMessage::Choke,
                        Message::Unchoke => WireMessage::Unchoke,
                        Message::Interested => WireMessage::Interested,
                        Message::NotInterested => WireMessage::NotInterested,
                        Message::Have(p) => WireMessage::Have(p),
                        Message::Bitfield(b) => WireMessage::Bitfield(b.to_bytes()),
                        Message::Request(b) => {
                            if let Some(c) =
                                self.by_core.get(&conn).and_then(|t| self.conns.get_mut(t))
                            {
                                if c.asked.len() >= MAX_ASKED {
                                    c.asked.pop_front();
                                }
                                c.asked.push_back(b);
                            }
                            WireMessage::Request {
                                index: b.piece,
                                begin: b.offset,
                                length: b.len,
                            }
                        }
                        Message::Cancel(b) => WireMessage::Cancel {
                            index: b.piece,
                            begin: b.offset,
                            length: b.len,
                        },
                    };
                    match wire.to_bytes() {
                        Ok(bytes) => self.send(conn, Cmd::Send(bytes)),
                        Err(e) => logf!("encode {}: {e}", wire.name()),
                    }
                }
                Output::Connect { peer } => match self.addr_of.get(&peer).copied() {
                    Some(addr) if self.conns.len() < self.max_conns => {
                        logf!("{addr}: connecting");
                        self.spawn_connection(None, addr, Some(peer));
                    }
                    _ => self.core.handle_connect_failed(now, peer),
                },
                Output::Disconnect { conn, reason } => {
                    if let Some(token) = self.by_core.remove(&conn)
                        && let Some(c) = self.conns.remove(&token)
                    {
                        // Dropping `c.tx` ends its task.
                        logf!("{}: dropped: {}", c.addr, reason.describe());
                        self.forget_remote(token, &c);
                    }
                }
                Output::Verify { piece } => {
                    let ok = match self.storage.verify(piece) {
                        Ok(ok) => ok,
                        Err(e) => {
                            logf!("piece {piece}: {e}");
                            false
                        }
                    };
                    // Verification empties the piece's buffer either way.
                    self.written.retain(|(p, _)| *p != piece);
                    if ok {
                        logf!("piece {piece} verified ok");
                        self.observe(Observed::Verified(piece));
                        let len = u64::from(self.storage.piece_len(piece).unwrap_or(0));
                        self.left = self.left.saturating_sub(len);
                        self.progress.inc(len);
                    } else {
                        logf!("piece {piece} failed its hash check");
                        self.storage.discard(piece);
                    }
                    self.core.handle_piece_verified(now, piece, ok);
                }
                Output::Announce { event } => {
                    if let Some(req) = self.announce_request(event) {
                        let events = self.events.clone();
                        tokio::spawn(async move {
                            let r = tracker_http::announce(&req, Duration::from_secs(15)).await;
                            let _ = events.send(Event::Announced(r)).await;
                        });
                    }
                }
                Output::Completed => {
                    logf!("complete");
                    self.completed = true;
                    if self.completed_at.is_none() {
                        self.completed_at = Some(now);
                        self.observe(Observed::Completed);
                    }
                    self.progress.finish_and_clear();
                    if self.print_summary {
                        println!("{}", self.summary().line());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_are_printable_and_differ_by_seed() {
        let a = make_peer_id(1);
        let b = make_peer_id(2);
        assert!(a.starts_with(b"-SL0100-"));
        assert!(a.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-'));
        assert_ne!(a, b);
    }

    #[test]
    fn never_is_an_hour_away_not_an_overflow() {
        let clock = Clock::real();
        let at = clock.instant(SimTime::NEVER);
        let ahead = at - tokio::time::Instant::now();
        assert!(ahead <= Duration::from_secs(3601));
        assert!(ahead >= Duration::from_secs(3500));
    }

    #[test]
    fn summary_line_names_bytes_time_and_rate() {
        let s = Summary {
            downloaded: 2_000_000,
            uploaded: 0,
            total: 2_000_000,
            pieces_at_start: 1,
            pieces: 8,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(
            s.line(),
            "downloaded 2000000 bytes of 2000000 in 2.0 s (1.00 MB/s), 1 of 8 pieces were already there"
        );
    }

    #[test]
    fn single_file_seed_storage_reads_the_given_path() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.bin");
        std::fs::write(&f, vec![5u8; 40_000]).unwrap();
        let t = super::super::metainfo::create(&f, "", 16_384).unwrap();
        let meta = Metainfo::from_bytes(&t).unwrap();
        let mut s = open_seed_storage(&meta, &f).unwrap();
        assert!(s.recheck().unwrap().iter().all(|ok| *ok));
        // Relative paths without a folder work too (the parent is "").
        let cwd = std::env::current_dir().unwrap();
        assert!(open_seed_storage(&meta, Path::new("no-such-file.bin")).is_err());
        assert_eq!(cwd, std::env::current_dir().unwrap());
    }
}
