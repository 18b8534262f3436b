//! A session: one [`core::Peer`](crate::core::Peer) over real sockets, from setting it up
//! to its last announce.
//!
//! Shape (quinn's `ConnectionDriver` is the model: small steps, one per event source):
//! one tokio task per TCP connection does the framing ([`super::connection`]); a single
//! *peer loop* — this module's [`run_async`] — owns the [`Host`] (the core peer, the
//! storage, the connection table) and waits on whichever comes first: an event from a
//! connection task or an announce, a new connection on the listener, the core's timer,
//! the member's departure in a laboratory swarm, or the run's end. Everything runs on one
//! thread (a current-thread runtime): the core is not shared between threads, SHA-1 of a
//! piece takes about a millisecond, and a laboratory peer never needs more.
//!
//! A session may be one member of a laboratory swarm (`swarmlab run --backend tcp`, see
//! [`super::swarm`]): given a [`SwarmMember`], it takes its core configuration and random
//! stream from the scenario's drawn member (built as the simulator builds them), runs on
//! the swarm's shared (possibly sped-up) clock, delays every incoming message by the
//! link's one-way latency, reports what happens to the swarm's observer, and leaves when
//! its linger or abort time comes or the run stops.
//!
//! Logging goes through `tracing` (`--verbose`, `RUST_LOG`); without it a session prints
//! nothing but its progress bar and summary.

use super::clock::Clock;
use super::connection::{Event, Shared};
use super::error::SessionError;
pub use super::host::Summary;
use super::host::{Host, HostSetup, dial_rank};
use super::member::{Observed, SwarmMember, swarm_peer_id};
use super::metainfo::Metainfo;
use super::rate_limit::TokenBucket;
use super::storage::Storage;
use super::tracker_http;
use super::wire;
use crate::core::{AnnounceEvent, Bitfield, Dice, Peer, PeerConfig, PeerId, Role};
use crate::metrics::LeaveReason;
use crate::units::{Rate, SimTime};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// Request block size.
const BLOCK: u32 = wire::BLOCK_SIZE;

/// How long the last (`stopped`) announce may take: a slow tracker must not hold the
/// exit up.
const STOPPED_ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a session is for.
#[derive(Clone)]
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

/// Runs a session to its end: for a leecher without `keep_serving`, until every piece
/// has verified; otherwise until the process is killed. `storage` must have been
/// rechecked (its verified pieces are what the peer starts with).
pub fn run(meta: Metainfo, storage: Storage, cfg: SessionConfig) -> Result<Summary, SessionError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(SessionError::Runtime)?;
    rt.block_on(run_async(meta, storage, cfg))
}

/// [`run`] inside an existing tokio runtime (a swarm runs all its members in one).
pub async fn run_async(
    meta: Metainfo,
    storage: Storage,
    cfg: SessionConfig,
) -> Result<Summary, SessionError> {
    let listener = TcpListener::bind(cfg.bind)
        .await
        .map_err(|source| SessionError::Listen {
            addr: cfg.bind,
            source,
        })?;
    let port = listener
        .local_addr()
        .map_err(|source| SessionError::Listen {
            addr: cfg.bind,
            source,
        })?
        .port();
    if let Some(m) = &cfg.swarm {
        // Other members map the tracker's addresses back to member indices by port.
        m.ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(port, m.info.peer);
    }
    let (events, inbox) = mpsc::channel(1024);
    let mut host = set_up(meta, storage, &cfg, port, events)?;
    debug!(
        "listening on port {port}, peer id {}, {}/{} pieces",
        host.shared.peer_id.escape_ascii(),
        host.pieces_at_start,
        host.pieces()
    );
    if host.announce_request(AnnounceEvent::Started, 0).is_none() {
        // Not an error (peers may still dial us), but a `get` would wait forever.
        eprintln!(
            "swarmlab: warning: the torrent names no http:// tracker; only incoming connections will find us"
        );
    }
    if let Some(m) = &host.member {
        host.observe(Observed::Joined(m.info.clone()));
        if m.info.role == Role::Seed {
            host.completed_at = Some(host.now());
        }
    }
    // A swarm member stays until it leaves (linger, abort) or the run stops.
    let keep_serving = cfg.keep_serving || cfg.swarm.is_some() || cfg.role == Role::Seed;
    let left = if host.core.is_complete() && !keep_serving {
        None
    } else {
        host.core.start(host.now());
        drive(&mut host, &listener, inbox, keep_serving).await
    };
    finish(host, left).await
}

/// The peer loop: waits for whatever comes first and hands it to the host, until the
/// download is done (and not serving on), the member leaves, or the run stops. Returns
/// why a swarm member left on its own (`None` otherwise).
async fn drive(
    host: &mut Host,
    listener: &TcpListener,
    mut inbox: mpsc::Receiver<Event>,
    keep_serving: bool,
) -> Option<LeaveReason> {
    let mut stop = host.member.as_ref().map(|m| m.stop.clone());
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        host.drain();
        if host.completed && !keep_serving {
            return None;
        }
        if stop.as_ref().is_some_and(|s| *s.borrow()) {
            return None;
        }
        let timer = host.core.poll_timeout().map(|t| host.clock.deadline(t));
        let leave = leave_at(host);
        let leave_deadline = leave.map(|(t, _)| host.clock.deadline(t));
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
            _ = sleep_until(leave_deadline) => return leave.map(|(_, why)| why),
            ev = inbox.recv() => {
                if let Some(ev) = ev {
                    host.handle_event(ev);
                }
            }
            acc = listener.accept() => match acc {
                Ok((stream, addr)) => host.accept(stream, addr),
                Err(e) => warn!("accept: {e}"),
            },
            _ = sleep_until(timer) => {
                let now = host.now();
                host.core.handle_timeout(now);
            }
            _ = tick.tick() => {
                host.progress.set_message(format!("peers {}", host.core.connections()));
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending::<()>().await,
    }
}

/// When a swarm member leaves on its own, and why: its linger after completing (a
/// seed's from its start), or its abort time while incomplete.
fn leave_at(host: &Host) -> Option<(SimTime, LeaveReason)> {
    let m = host.member.as_ref()?;
    match host.completed_at {
        Some(done) => m.linger.map(|d| (done + d, LeaveReason::Lingered)),
        None => m.abort_at.map(|t| (t, LeaveReason::Aborted)),
    }
}

/// Ends the session: a member that left says so, the tracker hears `stopped` (if we ever
/// joined), and the summary is made.
async fn finish(mut host: Host, left: Option<LeaveReason>) -> Result<Summary, SessionError> {
    host.progress.finish_and_clear();
    if let Some(why) = left {
        let now = host.now();
        host.core.stop(now);
        host.observe(Observed::Left(why));
    }
    let joined = host.core.uploaded() + host.core.downloaded() > 0 || host.completed;
    if joined && let Some(req) = host.announce_request(AnnounceEvent::Stopped, 0) {
        let _ = tracker_http::announce(&req, STOPPED_ANNOUNCE_TIMEOUT).await;
    }
    let summary = host.summary();
    debug!(
        "session ends: uploaded {} bytes, downloaded {} bytes",
        summary.uploaded, summary.downloaded
    );
    Ok(summary)
}

/// Builds the host: the core peer with its configuration (a swarm member's, or the
/// defaults every standalone `seed` and `get` run with), the rate limits, the shared
/// state of the connection tasks and the progress bar.
fn set_up(
    meta: Metainfo,
    storage: Storage,
    cfg: &SessionConfig,
    port: u16,
    events: mpsc::Sender<Event>,
) -> Result<Host, SessionError> {
    let member = cfg.swarm.clone();
    let clock = member.as_ref().map_or_else(Clock::real, |m| m.clock);
    let pieces = storage.num_pieces();
    let mut have = Bitfield::new(pieces);
    for (i, ok) in (0..pieces).zip(storage.verified()) {
        if *ok {
            have.set(i);
        }
    }
    let pieces_at_start = have.count();
    let total = meta.info.total_length();
    let verified_bytes: u64 = have
        .ones()
        .map(|p| u64::from(storage.piece_len(p).unwrap_or(0)))
        .sum();
    let (peer_id, peer_cfg, dice, limits) = match &member {
        Some(m) => member_identity(m),
        None => standalone_identity(&meta, cfg),
    };
    let strategies = member.as_ref().map(|m| m.strategies.clone());
    let core = match &strategies {
        Some(s) => Peer::new(peer_cfg, have, dice, s)?,
        None => Peer::new(peer_cfg, have, dice, &crate::core::Strategies::builtin())?,
    };
    // Every neighbour may be sending us a different piece (and two in endgame).
    let max_neighbours = core.config().neighbourhood.max_neighbours as usize;
    let storage = storage.with_max_partial_pieces(2 * max_neighbours);
    let shared = Arc::new(Shared {
        info_hash: meta.info_hash,
        peer_id,
        clock,
        upload: Mutex::new(limits.upload),
        download: Mutex::new(limits.download),
        decoder: wire::Decoder::for_torrent(pieces, BLOCK),
        latency: member.as_ref().map(|m| (m.info.peer, m.latencies.clone())),
    });
    let show = cfg.progress && member.is_none() && std::io::stderr().is_terminal();
    let progress = progress_bar(show, total, verified_bytes);
    Ok(Host::new(HostSetup {
        core,
        storage,
        meta,
        clock,
        shared,
        events,
        port,
        left: total - verified_bytes.min(total),
        progress,
        pieces_at_start,
        print_summary: cfg.role != Role::Seed && member.is_none(),
        member,
    }))
}

/// A session's upload and download token buckets.
struct Limits {
    upload: TokenBucket,
    download: TokenBucket,
}

/// A swarm member's peer id, core configuration, random stream and limits: its drawn
/// capacities, in wall-clock bytes per second, with a small burst.
fn member_identity(m: &SwarmMember) -> ([u8; 20], PeerConfig, Dice, Limits) {
    let peer_id = swarm_peer_id(m.info.peer);
    let mut config = m.config.clone();
    config.dial_rank = dial_rank(&peer_id);
    // The simulator has no burst, so keep it small: two blocks (with headers). Not one: a
    // sender waits for a full block's tokens and wakes up to a timer tick late, and with
    // a one-block bucket the tokens of that lateness would be lost (measured: ~5-10 % of
    // a fast seed's rate at 16 ms per block).
    let burst = 2 * (u64::from(BLOCK) + 13);
    let limits = Limits {
        upload: TokenBucket::new(m.clock.wall_rate(m.info.upload), burst),
        download: TokenBucket::new(m.clock.wall_rate(m.info.download), burst),
    };
    (peer_id, config, m.dice.clone(), limits)
}

/// A standalone `seed` or `get`: the default policy and neighbourhood (the scenario
/// defaults), a random peer id, its `--upload`/`--download` limits.
fn standalone_identity(
    meta: &Metainfo,
    cfg: &SessionConfig,
) -> ([u8; 20], PeerConfig, Dice, Limits) {
    let seed = entropy();
    let peer_id = make_peer_id(seed);
    let geometry = crate::core::Geometry::new(
        crate::units::Bytes(meta.info.total_length()),
        crate::units::Bytes(meta.info.piece_length),
        crate::units::Bytes(u64::from(BLOCK)),
    );
    let mut config = PeerConfig::new(PeerId(u64::MAX), geometry, cfg.role);
    config.dial_rank = dial_rank(&peer_id);
    // Strategies that budget upload (BitTyrant) need it; unlimited is unknown.
    config.upload_capacity = cfg.upload.map(|bytes_per_sec| Rate(bytes_per_sec * 8));
    // A quarter of a second of traffic (at least a block) for interactive use.
    let burst = |r: Option<u64>| (r.unwrap_or(0) / 4).max(u64::from(BLOCK) + 13);
    let limits = Limits {
        upload: TokenBucket::from_rate(cfg.upload, burst(cfg.upload)),
        download: TokenBucket::from_rate(cfg.download, burst(cfg.download)),
    };
    (peer_id, config, Dice::new(seed, 1), limits)
}

fn progress_bar(show: bool, total: u64, done: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg} ETA {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_position(done);
    bar
}

/// A random 20-byte peer id, `-SL0100-` and 12 printable characters.
fn make_peer_id(seed: u64) -> [u8; 20] {
    let mut id = *b"-SL0100-000000000000";
    let mut dice = Dice::new(seed, 7);
    for b in &mut id[8..] {
        let i = usize::try_from(dice.below(36)).unwrap_or(0);
        *b = b"0123456789abcdefghijklmnopqrstuvwxyz"[i];
    }
    id
}

/// A seed from the clock and process id: peers on one machine must differ.
fn entropy() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // The low 64 bits of the time are the ones that differ between two starts.
    let low = u64::try_from(nanos & u128::from(u64::MAX)).unwrap_or(0);
    let mut s = low ^ (u64::from(std::process::id()) << 32);
    crate::core::random::splitmix64(&mut s)
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
}
