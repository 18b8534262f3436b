//! The peer loop's state: the core [`Peer`], the piece [`Storage`], the connection table,
//! and the translation between the two worlds — one method per event from the
//! connection tasks and per kind of wire message, one per [`Output`] of the core.
//!
//! The host decides nothing a peer decides: it frames, stores, hashes, times and names.
//! Naming is its one piece of bookkeeping: the core knows neighbours by [`PeerId`], the
//! wire by address (from the tracker) and by 20-byte peer id (from the handshake), and
//! the [`PeerBook`] keeps the two consistent, so that two connections to one peer look
//! like two connections to one peer to the core, which then settles them.

use super::clock::Clock;
use super::connection::{self, Cmd, Event, Origin, Shared};
use super::error::DropReason;
use super::hasher::Hasher;
use super::member::{Observed, SwarmMember, index_of_peer_id, member_of_peer_id, member_peer_id};
use super::metainfo::Metainfo;
use super::storage::{CheckedPiece, Storage};
use super::tracker_http::{self, AnnounceRequest, AnnounceResponse};
use super::wire::WireMessage;
use crate::core::{
    AnnounceEvent, Bitfield, BlockRef, CloseReason, ConnId, Direction, GrainDigest, Message,
    NewConnection, Output, Peer, PeerId,
};
use crate::units::{Bytes, SimTime};
use indicatif::ProgressBar;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Connections allowed beyond the core's `max_neighbours`, for handshakes in flight.
pub const CONNECTION_MARGIN: usize = 5;

/// How long an announce may take before it counts as failed.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(15);

/// A connection as the peer loop sees it.
struct HostConn {
    /// The core's id, once the handshake is done and the core accepted it.
    core: Option<ConnId>,
    /// Commands to its task (dropping it closes the connection).
    tx: Option<mpsc::UnboundedSender<Cmd>>,
    /// The address (for logs).
    addr: SocketAddr,
    /// For an outbound connection, the peer the core asked us to dial.
    dial: Option<PeerId>,
    /// In a swarm: its index in the run (from its peer id).
    remote_index: Option<u32>,
    /// Ends its task (before the handshake there is no channel to drop).
    task: tokio::task::AbortHandle,
}

impl HostConn {
    /// Whether its handshake is still under way (it holds a slot but is no peer yet).
    fn half_open(&self) -> bool {
        self.tx.is_none()
    }
}

/// Which [`PeerId`] stands for which address and which wire peer id.
#[derive(Default)]
struct PeerBook {
    by_addr: HashMap<SocketAddr, PeerId>,
    addr_of: HashMap<PeerId, SocketAddr>,
    by_wire_id: HashMap<[u8; 20], PeerId>,
    next: u64,
}

impl PeerBook {
    fn fresh(&mut self) -> PeerId {
        self.next += 1;
        PeerId(self.next)
    }

    /// The id of the peer the tracker lists at `addr` (a swarm member's own, if it is
    /// one).
    fn at_address(&mut self, addr: SocketAddr, member: Option<u32>) -> PeerId {
        if let Some(&id) = self.by_addr.get(&addr) {
            return id;
        }
        let id = member.map_or_else(|| self.fresh(), member_peer_id);
        self.by_addr.insert(addr, id);
        self.addr_of.insert(id, addr);
        id
    }

    /// The id of the peer whose handshake carried `wire`: the one it already has if we
    /// met it before (by either direction), else the dialled one, else a new one. Also
    /// returns the dialled id when it turned out to be an old acquaintance under another
    /// id (the dial then failed, as far as the core is concerned).
    fn at_handshake(
        &mut self,
        wire: [u8; 20],
        dialled: Option<PeerId>,
        member: Option<u32>,
    ) -> (PeerId, Option<PeerId>) {
        if let Some(index) = member {
            return (member_peer_id(index), None);
        }
        if let Some(&known) = self.by_wire_id.get(&wire) {
            let stale = dialled.filter(|&d| d != known);
            if let Some(d) = stale
                && let Some(addr) = self.addr_of.get(&d).copied()
            {
                // That address is this peer: name it so from now on.
                self.by_addr.insert(addr, known);
            }
            return (known, stale);
        }
        let id = dialled.unwrap_or_else(|| self.fresh());
        self.by_wire_id.insert(wire, id);
        (id, None)
    }
}

/// The number both ends of a crossed dial compare (see `PeerConfig::dial_rank`): FNV-1a
/// of the 20-byte peer id, which both ends know of each other.
pub fn dial_rank(peer_id: &[u8; 20]) -> u64 {
    peer_id.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
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

/// The peer loop's state.
pub(super) struct Host {
    pub(super) core: Peer,
    storage: Storage,
    meta: Metainfo,
    pub(super) clock: Clock,
    pub(super) shared: Arc<Shared>,
    events: mpsc::Sender<Event>,
    conns: HashMap<u64, HostConn>,
    by_core: HashMap<ConnId, u64>,
    next_token: u64,
    book: PeerBook,
    max_conns: usize,
    port: u16,
    /// Bytes still missing.
    left: u64,
    /// The core reported `Completed` (or started complete).
    pub(super) completed: bool,
    pub(super) progress: ProgressBar,
    /// Pieces verified when the session started.
    pub(super) pieces_at_start: u32,
    /// Whether to print the summary line on completion (a leecher).
    print_summary: bool,
    /// In a swarm: this member, whom observations go to.
    pub(super) member: Option<SwarmMember>,
    /// When the core completed (a seed: when it started).
    pub(super) completed_at: Option<SimTime>,
    /// Hashes received pieces off the loop (`None`: on it, as swarm members do).
    hasher: Option<Hasher>,
    /// Pieces handed to the hasher, not answered yet.
    hashing: BTreeSet<u32>,
}

/// What a host is built from.
pub(super) struct HostSetup {
    pub(super) core: Peer,
    pub(super) storage: Storage,
    pub(super) meta: Metainfo,
    pub(super) clock: Clock,
    pub(super) shared: Arc<Shared>,
    pub(super) events: mpsc::Sender<Event>,
    pub(super) port: u16,
    pub(super) left: u64,
    pub(super) progress: ProgressBar,
    pub(super) pieces_at_start: u32,
    pub(super) print_summary: bool,
    pub(super) member: Option<SwarmMember>,
}

impl Host {
    pub(super) fn new(s: HostSetup) -> Host {
        // A swarm's members hash on their loop (see the `hasher` module doc).
        let hasher = match s.member {
            None => Hasher::start(s.events.clone()),
            Some(_) => None,
        };
        let max_conns = s.core.config().neighbourhood.max_neighbours as usize + CONNECTION_MARGIN;
        Host {
            core: s.core,
            storage: s.storage,
            meta: s.meta,
            clock: s.clock,
            shared: s.shared,
            events: s.events,
            conns: HashMap::new(),
            by_core: HashMap::new(),
            next_token: 0,
            book: PeerBook::default(),
            max_conns,
            port: s.port,
            left: s.left,
            completed: false,
            progress: s.progress,
            pieces_at_start: s.pieces_at_start,
            print_summary: s.print_summary,
            member: s.member,
            completed_at: None,
            hasher,
            hashing: BTreeSet::new(),
        }
    }

    pub(super) fn now(&self) -> SimTime {
        self.clock.now()
    }

    /// Reports to the swarm's observer (a no-op outside a swarm).
    pub(super) fn observe(&self, what: Observed) {
        if let Some(m) = &self.member {
            m.report(self.now(), what);
        }
    }

    /// Pieces in the torrent.
    pub(super) fn pieces(&self) -> u32 {
        self.storage.num_pieces()
    }

    // ------------------------------------------------------------------ connections

    fn spawn_connection(&mut self, origin: Origin, addr: SocketAddr, dial: Option<PeerId>) {
        let token = self.next_token;
        self.next_token += 1;
        let task = connection::connection(token, origin, self.shared.clone(), self.events.clone());
        let task = tokio::spawn(task).abort_handle();
        let conn = HostConn {
            core: None,
            tx: None,
            addr,
            dial,
            remote_index: None,
            task,
        };
        self.conns.insert(token, conn);
    }

    /// A peer dialled us. At the connection cap its slot is the oldest half-open
    /// connection's that was dialled to us (tokens count up, so the smallest is the
    /// oldest): connections that
    /// never finish their handshake cannot keep a real peer out, as each newcomer pushes
    /// the oldest of them out, and they also time out soon
    /// ([`connection::HALF_OPEN_TIMEOUT`]).
    pub(super) fn accept(&mut self, stream: TcpStream, addr: SocketAddr) {
        if !self.core.accepts_inbound() {
            // Closing the stream unread is what a NAT's refusal looks like from here.
            debug!("{addr}: dropped: {}", DropReason::NotConnectable);
            return;
        }
        if self.conns.len() >= self.max_conns {
            // Only connections others opened to us: our own dials are no siege. Not
            // among a laboratory swarm's members, whose simulated twins turn a newcomer
            // away at the cap (and whose dials at a flash crowd's start would push
            // each other out).
            let in_swarm = self.member.is_some();
            let oldest = self
                .conns
                .iter()
                .filter(|(_, c)| !in_swarm && c.half_open() && c.dial.is_none())
                .map(|(t, _)| *t)
                .min();
            match oldest {
                Some(token) => self.drop_conn(token, &DropReason::Evicted),
                None => {
                    debug!("{addr}: dropped: {}", DropReason::Full(self.conns.len()));
                    return;
                }
            }
        }
        self.spawn_connection(Origin::Accepted(stream), addr, None);
    }

    /// Forgets a connection that ended or that we refuse, and tells the core.
    fn drop_conn(&mut self, token: u64, why: &DropReason) {
        let Some(c) = self.conns.remove(&token) else {
            return;
        };
        // A task that reported `Down` has ended already; one we drop must end now.
        c.task.abort();
        debug!("{}: dropped: {why}", c.addr);
        let now = self.now();
        if let Some(cid) = c.core {
            self.by_core.remove(&cid);
            self.core.handle_disconnected(now, cid);
        } else if let Some(peer) = c.dial {
            self.core.handle_connect_failed(now, peer);
        }
    }

    /// Handles one event from a connection task or an announce.
    pub(super) fn handle_event(&mut self, ev: Event) {
        match ev {
            Event::Up {
                token,
                remote_id,
                tx,
            } => self.on_up(token, remote_id, tx),
            Event::Msg { token, msg } => self.on_message(token, msg),
            Event::Sent { token, block } => self.on_sent(token, block),
            Event::Down { token, why } => self.drop_conn(token, &why),
            Event::Announced(Ok(resp)) => self.on_announced(resp),
            Event::Announced(Err(e)) => info!("announce failed: {e}"),
            Event::Hashed(checked) => {
                if self.hashing.remove(&checked.piece()) {
                    self.on_hashed(&checked);
                }
            }
        }
    }

    /// A handshake completed: the core hears of the connection under the id the book
    /// gives the peer, and keeps or refuses it.
    fn on_up(&mut self, token: u64, remote_id: [u8; 20], tx: mpsc::UnboundedSender<Cmd>) {
        let now = self.now();
        let in_swarm = self.member.is_some();
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        let member = index_of_peer_id(&remote_id).filter(|_| in_swarm);
        let (peer, stale) = self.book.at_handshake(remote_id, c.dial, member);
        let direction = if c.dial.is_some() {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        debug!(
            "{}: handshake ok ({}, {direction:?})",
            c.addr,
            remote_id.escape_ascii()
        );
        c.tx = Some(tx);
        c.remote_index = member;
        c.dial = None;
        if let Some(d) = stale {
            self.core.handle_connect_failed(now, d);
        }
        // At the limit, a neighbour that has long had nothing to trade either way gives
        // up its slot, so that idle connections cannot keep real peers out. Not among a
        // laboratory swarm's members, who are all real peers, and whose simulated twins
        // refuse a newcomer at the limit.
        if !in_swarm {
            self.core.make_room_for_newcomer(now);
        }
        let new = NewConnection {
            peer,
            direction,
            rank: dial_rank(&remote_id),
        };
        match self.core.handle_connected(now, new) {
            Some(cid) => {
                if let Some(c) = self.conns.get_mut(&token) {
                    c.core = Some(cid);
                }
                self.by_core.insert(cid, token);
            }
            None => self.drop_conn(token, &DropReason::Refused),
        }
    }

    /// A block went out whole.
    fn on_sent(&mut self, token: u64, block: BlockRef) {
        let now = self.now();
        let Some(c) = self.conns.get(&token) else {
            return;
        };
        let Some(cid) = c.core else {
            return;
        };
        // A swarm's upload utilisation: the block occupied our upload link at its
        // capacity for its length, ending now (the token bucket spaces blocks so).
        if let (Some(m), Some(to)) = (&self.member, c.remote_index) {
            let rate = m.info.upload;
            let bits = u64::from(block.len) * 8 * 1_000_000;
            if let Some(us) = bits.checked_div(rate.0) {
                let start = SimTime(now.0.saturating_sub(us));
                m.report(now, Observed::Flow { to, start, rate });
            }
        }
        self.core.handle_block_sent(now, cid, block);
    }

    /// The tracker answered: its addresses become peer ids for the core.
    fn on_announced(&mut self, resp: AnnounceResponse) {
        debug!("tracker: {} peers", resp.peers.len());
        let now = self.now();
        let ids: Vec<PeerId> = resp
            .peers
            .iter()
            .map(|&addr| {
                let member = self.member.as_ref().and_then(|m| m.member_at(addr.port()));
                self.book.at_address(addr, member)
            })
            .collect();
        // The tracker's interval is wall time; the core's is scenario time.
        let interval = resp
            .interval
            .map(|s| self.clock.scenario(Duration::from_secs(s)));
        self.core.handle_tracker_response(now, &ids, interval);
    }

    // ------------------------------------------------------------------ wire → core

    /// A message arrived: translated for the core, after what only the host can do
    /// (decoding a bitfield's bytes, storing a block's).
    fn on_message(&mut self, token: u64, msg: WireMessage) {
        let now = self.now();
        let Some(cid) = self.conns.get(&token).and_then(|c| c.core) else {
            return;
        };
        let block = |piece: u32, offset: u32, len: u32| BlockRef { piece, offset, len };
        let m = match msg {
            WireMessage::KeepAlive => Message::KeepAlive,
            WireMessage::Choke => Message::Choke,
            WireMessage::Unchoke => Message::Unchoke,
            WireMessage::Interested => Message::Interested,
            WireMessage::NotInterested => Message::NotInterested,
            WireMessage::Have(i) => Message::Have(i),
            WireMessage::Bitfield(bytes) => match Bitfield::from_bytes(&bytes, self.pieces()) {
                Ok(field) => Message::Bitfield(field),
                Err(e) => return self.drop_conn(token, &DropReason::BadBitfield(e.0)),
            },
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
                if let Err(why) = self.store_block(token, cid, b, &data) {
                    return self.drop_conn(token, &why);
                }
                Message::Piece(b)
            }
            WireMessage::Port(_) | WireMessage::Unknown { .. } => return,
        };
        self.core.handle_message(now, cid, m);
    }

    /// Stores a block's bytes if the core wants them — before the core hears of the
    /// block, so that the piece can be verified the moment its last block arrives.
    fn store_block(
        &mut self,
        token: u64,
        cid: ConnId,
        b: BlockRef,
        data: &[u8],
    ) -> Result<(), DropReason> {
        if !self.core.wants_block(cid, &b) {
            // Unrequested, a duplicate, or of a piece given up: the core decides what
            // that means; the bytes must not touch a piece being assembled.
            return Ok(());
        }
        if let (Some(m), Some(from)) = (
            &self.member,
            self.conns.get(&token).and_then(|c| c.remote_index),
        ) {
            let bytes = Bytes(u64::from(b.len));
            m.report(self.clock.now(), Observed::Block { from, bytes });
        }
        self.storage
            .write_block(b.piece, b.offset, data)
            .map(|_| ())
            .map_err(DropReason::BadPiece)
    }

    // ------------------------------------------------------------------ core → world

    /// Carries out everything the core asked for, until it has nothing more.
    pub(super) fn drain(&mut self) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Send {
                    conn,
                    msg: Message::Piece(b),
                } => self.send_block(conn, b),
                Output::Send { conn, msg } => self.send_message(conn, msg),
                Output::SendCorrupted {
                    conn,
                    block,
                    grains,
                } => self.send_corrupted(conn, block, &grains),
                Output::Connect { peer } => self.connect(peer),
                // Blocks go out 16 KiB at a time: the one under way finishes, and a
                // choke or cancel has already dropped the requests not yet served.
                Output::Cut { .. } => {}
                Output::Disconnect { conn, reason } => self.disconnect(conn, reason),
                Output::Verify { piece } => self.verify(piece),
                Output::Announce { event, numwant } => self.announce(event, numwant),
                Output::Completed => self.completed(),
                Output::Banned { peer } => {
                    info!("banned peer {}: it sent bad data twice", peer.0);
                    if let Some(index) = member_of_peer_id(peer) {
                        self.observe(Observed::Banned(index));
                    }
                }
            }
        }
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

    fn send_message(&mut self, conn: ConnId, msg: Message) {
        let wire = match msg {
            Message::KeepAlive => WireMessage::KeepAlive,
            Message::Choke => WireMessage::Choke,
            Message::Unchoke => WireMessage::Unchoke,
            Message::Interested => WireMessage::Interested,
            Message::NotInterested => WireMessage::NotInterested,
            Message::Have(p) => WireMessage::Have(p),
            Message::Bitfield(b) => WireMessage::Bitfield(b.to_bytes()),
            Message::Request(b) => WireMessage::Request {
                index: b.piece,
                begin: b.offset,
                length: b.len,
            },
            Message::Cancel(b) => WireMessage::Cancel {
                index: b.piece,
                begin: b.offset,
                length: b.len,
            },
            Message::Piece(b) => return self.send_block(conn, b),
        };
        match wire.to_bytes() {
            Ok(bytes) => self.send(conn, Cmd::Send(bytes)),
            Err(e) => warn!("encode {}: {e}", wire.name()),
        }
    }

    /// Reads a requested block and hands it to its connection.
    fn send_block(&mut self, conn: ConnId, b: BlockRef) {
        self.send_corrupted(conn, b, &[]);
    }

    /// Reads a requested block, alters one byte of each of its `grains` (indices in the
    /// piece, as the core's polluter drew them), and hands it to its connection.
    fn send_corrupted(&mut self, conn: ConnId, b: BlockRef, grains: &[u32]) {
        let data = match self.storage.read_block(b.piece, b.offset, b.len) {
            Ok(data) => data,
            Err(e) => {
                if let Some(t) = self.by_core.get(&conn).copied() {
                    self.drop_conn(t, &DropReason::CannotServe(e));
                }
                return;
            }
        };
        let mut data = data;
        let grain = self.core.config().geometry.grain_len();
        for &g in grains {
            // The grain's first byte inside the block.
            let at = (g * grain).max(b.offset) - b.offset;
            if let Some(byte) = data.get_mut(at as usize) {
                *byte ^= 0xff;
            }
        }
        let m = WireMessage::Piece {
            index: b.piece,
            begin: b.offset,
            data,
        };
        match m.to_bytes() {
            Ok(bytes) => self.send(conn, Cmd::Piece { block: b, bytes }),
            Err(e) => warn!("encode piece: {e}"),
        }
    }

    fn connect(&mut self, peer: PeerId) {
        let now = self.now();
        match self.book.addr_of.get(&peer).copied() {
            Some(addr) if self.conns.len() < self.max_conns => {
                debug!("{addr}: connecting");
                self.spawn_connection(Origin::Dial(addr), addr, Some(peer));
            }
            _ => self.core.handle_connect_failed(now, peer),
        }
    }

    fn disconnect(&mut self, conn: ConnId, reason: CloseReason) {
        if let Some(token) = self.by_core.remove(&conn)
            && let Some(c) = self.conns.remove(&token)
        {
            // Dropping `c.tx` ends its task.
            debug!("{}: dropped: {}", c.addr, DropReason::Core(reason));
        }
    }

    /// Checks a piece whose blocks have all arrived: on the hashing thread if there is
    /// one (the answer comes back as [`Event::Hashed`]), else here.
    fn verify(&mut self, piece: u32) {
        if self.hashing.contains(&piece) {
            return;
        }
        let grain = self.core.config().geometry.grain_len();
        let on_pass = self.core.grain_digests_wanted(piece);
        let to_check = match self.storage.take_complete(piece) {
            Ok(to_check) => to_check,
            Err(_) if self.storage.is_verified(piece) => return self.verified(piece, true, &[]),
            Err(e) => {
                warn!("piece {piece}: {e}");
                return self.verified(piece, false, &[]);
            }
        };
        let to_check = match &self.hasher {
            Some(hasher) => match hasher.submit(to_check, grain, on_pass) {
                Ok(()) => {
                    self.hashing.insert(piece);
                    return;
                }
                // The thread is gone: hash here.
                Err(to_check) => to_check,
            },
            None => to_check,
        };
        self.on_hashed(&to_check.check(grain, on_pass));
    }

    /// A piece was hashed: its bytes are written if they matched, and the core told.
    fn on_hashed(&mut self, checked: &CheckedPiece) {
        let piece = checked.piece();
        let ok = match self.storage.commit_checked(checked) {
            Ok(ok) => ok,
            Err(e) => {
                warn!("piece {piece}: {e}");
                false
            }
        };
        self.verified(piece, ok, checked.grains());
    }

    /// Tells the core how `piece`'s check came out — with the SHA-1 of each grain as
    /// received when it failed (or when the core asked), so it can find who sent the
    /// bad ones — and the swarm's observer and the progress bar.
    fn verified(&mut self, piece: u32, ok: bool, grains: &[[u8; 20]]) {
        let now = self.now();
        let digests: Vec<GrainDigest> = grains.iter().copied().map(GrainDigest).collect();
        if ok {
            debug!("piece {piece} verified ok");
            self.observe(Observed::Verified(piece));
            let len = u64::from(self.storage.piece_len(piece).unwrap_or(0));
            self.left = self.left.saturating_sub(len);
            self.progress.inc(len);
        } else {
            info!("piece {piece} failed its hash check");
            self.storage.discard(piece);
            let bytes = Bytes(u64::from(self.storage.piece_len(piece).unwrap_or(0)));
            self.observe(Observed::Failed { piece, bytes });
        }
        self.core.handle_piece_verified(now, piece, ok, &digests);
    }

    /// What an announce of `event` tells the tracker (`None`: the torrent names no
    /// http:// tracker).
    pub(super) fn announce_request(
        &self,
        event: AnnounceEvent,
        numwant: u32,
    ) -> Option<AnnounceRequest> {
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
            numwant,
        })
    }

    fn announce(&mut self, event: AnnounceEvent, numwant: u32) {
        if event == AnnounceEvent::Stopped {
            // Sent by the session as it ends, where it can wait for the answer.
            return;
        }
        if let Some(req) = self.announce_request(event, numwant) {
            let events = self.events.clone();
            tokio::spawn(async move {
                let r = tracker_http::announce(&req, ANNOUNCE_TIMEOUT).await;
                let _ = events.send(Event::Announced(r)).await;
            });
        }
    }

    fn completed(&mut self) {
        info!("complete");
        self.completed = true;
        if self.completed_at.is_none() {
            self.completed_at = Some(self.now());
            self.observe(Observed::Completed);
        }
        self.progress.finish_and_clear();
        if self.print_summary {
            println!("{}", self.summary().line());
        }
    }

    /// What the session did so far.
    pub(super) fn summary(&self) -> Summary {
        Summary {
            downloaded: self.core.downloaded(),
            uploaded: self.core.uploaded(),
            total: self.meta.info.total_length(),
            pieces_at_start: self.pieces_at_start,
            pieces: self.storage.num_pieces(),
            elapsed: self.clock.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_met_both_ways_keeps_one_id() {
        let mut book = PeerBook::default();
        let addr: SocketAddr = "127.0.0.1:7000".parse().expect("an address");
        let dialled = book.at_address(addr, None);
        assert_eq!(book.at_address(addr, None), dialled);
        let wire = *b"-XX0000-abcdefghijkl";
        // It dialled us first: a new id for its handshake.
        let (inbound, stale) = book.at_handshake(wire, None, None);
        assert_ne!(inbound, dialled);
        assert_eq!(stale, None);
        // Our dial reaches the same peer: it is the peer we know, the dial id is stale,
        // and its address now names that peer.
        let (outbound, stale) = book.at_handshake(wire, Some(dialled), None);
        assert_eq!(outbound, inbound);
        assert_eq!(stale, Some(dialled));
        assert_eq!(book.at_address(addr, None), inbound);
    }

    #[test]
    fn dial_ranks_differ_and_agree_at_both_ends() {
        let a = dial_rank(b"-SL0100-000000000001");
        let b = dial_rank(b"-SL0100-000000000002");
        assert_ne!(a, b);
        assert_eq!(a, dial_rank(b"-SL0100-000000000001"));
    }
}
