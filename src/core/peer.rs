//! The peer state machine: one BitTorrent peer, fed events by its host (the simulator or
//! the tcp loop) and polled for what to do next.
//!
//! Inputs (`handle_*`, each with `now`): tracker responses, connections opened or
//! closed, decoded messages, blocks fully sent, pieces verified, timer ticks. Outputs
//! ([`Output`], drained with [`Peer::poll_output`]): messages to send, connections to
//! open or close, pieces to verify, announces, completion. [`Peer::poll_timeout`] says
//! when it next wants a tick. The peer never touches bytes: the host moves blocks and
//! hashes pieces, then tells the peer what happened.
//!
//! What the peer decides, it decides here, so the simulator and real sockets run the same
//! policy: strict priority (finish started pieces first), the piece picker for new pieces,
//! endgame, request pipelining, interest, the choker for uploads.

use super::bitfield::Bitfield;
use super::choker::{self, Candidate, Choker};
use super::geometry::{BlockRef, Geometry, WIRE_BLOCK_LEN};
use super::message::Message;
use super::picker::{self, PickContext, PiecePicker};
use super::random::Dice;
use super::rate::RateMeter;
use super::tracker::{AnnounceEvent, PeerId};
use crate::scenario::{Policy, Role};
use crate::units::{Rate, SimDuration, SimTime};
use std::collections::VecDeque;

/// A connection, as numbered by the peer that owns it (a slot index, reused after close).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u32);

/// The largest block a peer will serve (BEP 3 clients cut off at 128 KiB).
pub const MAX_REQUEST_LEN: u32 = 128 * 1024;

/// Requests queued from one neighbour beyond which further ones are dropped.
const MAX_QUEUED_REQUESTS: usize = 256;

/// Hash failures a neighbour may contribute to before it is cut off.
const MAX_STRIKES: u32 = 2;

/// A peer below `min_neighbours` re-announces at most this often.
const EARLY_ANNOUNCE_GAP: SimDuration = SimDuration::from_secs(30);

/// At most this many useless neighbours are dropped per announce to make room.
const MAKE_ROOM_MAX: usize = 5;

/// How many peers hold a block request at once in endgame.
const ENDGAME_DUPLICATES: u8 = 2;

/// Static settings of a peer.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// Our own identity (as the tracker knows us).
    pub id: PeerId,
    /// The torrent's shape.
    pub geometry: Geometry,
    /// Picker, choker and their knobs.
    pub policy: Policy,
    /// Seed, leecher or free-rider.
    pub role: Role,
    /// Below this many connections we re-announce early.
    pub min_neighbours: u32,
    /// We keep at most this many connections.
    pub max_neighbours: u32,
    /// Time between regular announces.
    pub announce_interval: SimDuration,
    /// Our upload capacity, when the host knows it (the simulator draws it): chokers
    /// that budget upload (BitTyrant) use it, and estimate it from rates without it.
    pub upload_capacity: Option<Rate>,
}

/// Why the peer closes a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Both ends are seeds: nothing to trade.
    BothComplete,
    /// It broke the protocol (the text says how).
    Protocol(&'static str),
    /// It sent data that failed verification too often.
    BadData,
    /// Neither side wants anything from the other, and we need room for new neighbours.
    Useless,
}

impl CloseReason {
    /// A short explanation for logs.
    pub fn describe(self) -> &'static str {
        match self {
            CloseReason::BothComplete => "both peers are complete",
            CloseReason::Protocol(why) => why,
            CloseReason::BadData => "sent pieces that failed their hash check",
            CloseReason::Useless => "nothing to trade either way; making room",
        }
    }
}

/// Something the host must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send `msg` on `conn` (for `Piece`, read the block and send it, then report
    /// [`Peer::handle_block_sent`]).
    Send {
        /// The connection.
        conn: ConnId,
        /// The message.
        msg: Message,
    },
    /// Open a connection to `peer`, then report [`Peer::handle_connected`] or
    /// [`Peer::handle_connect_failed`].
    Connect {
        /// Whom to connect to.
        peer: PeerId,
    },
    /// Close `conn`; the peer has already forgotten it.
    Disconnect {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
    /// Every block of `piece` has arrived: check it, then report
    /// [`Peer::handle_piece_verified`].
    Verify {
        /// The piece.
        piece: u32,
    },
    /// Announce to the tracker, then report [`Peer::handle_tracker_response`].
    Announce {
        /// Why.
        event: AnnounceEvent,
    },
    /// The last piece verified: the peer is now a seed.
    Completed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockState {
    Missing,
    Requested(u8),
    Received,
}

/// A piece being downloaded.
#[derive(Debug)]
struct Partial {
    piece: u32,
    blocks: Vec<BlockState>,
    received: u32,
    /// Peers that sent blocks of it, blamed if it fails verification.
    senders: Vec<PeerId>,
}

impl Partial {
    fn is_idle(&self) -> bool {
        self.received == 0 && self.blocks.iter().all(|b| *b == BlockState::Missing)
    }
}

/// Which way a block moves on a connection, seen from this peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// We send it.
    Sending,
    /// We receive it.
    Receiving,
}

/// One neighbour.
#[derive(Debug)]
struct Conn {
    peer: PeerId,
    connected_at: SimTime,
    am_choking: bool,
    am_interested: bool,
    peer_choking: bool,
    peer_interested: bool,
    /// Pieces the neighbour has.
    remote: Bitfield,
    /// Pieces it has that we lack: we are interested while this is non-zero.
    interesting: u32,
    /// Pieces it announced (HAVE) since we connected: its download progress.
    announced: u32,
    /// Our outstanding requests to it.
    requested: Vec<BlockRef>,
    /// Requests we withdrew (cancel, choke) whose blocks may still arrive.
    withdrawn: VecDeque<BlockRef>,
    /// Its requests to us, served one block at a time.
    queued: VecDeque<BlockRef>,
    /// The block we are sending it, if any.
    sending: Option<BlockRef>,
    from_them: RateMeter,
    to_them: RateMeter,
    /// Bytes of the block we are sending that the host reported moved before it
    /// finished (already in `to_them`).
    sent_early: u64,
    /// Blocks on their way to us whose bytes the host reported before they landed
    /// (already in `from_them`).
    received_early: Vec<(BlockRef, u64)>,
    /// When it last sent us a block (for anti-snubbing and BitTyrant).
    last_piece_at: Option<SimTime>,
    /// Our upload share for it, as the choker weighted it (see [`Peer::upload_weight`]).
    upload_weight: u32,
    /// Unchoked by the choker at the last rechoke (rather than to fill a free slot).
    chosen: bool,
}

impl Conn {
    /// The rate that earns this neighbour a slot: what it sent us while we download,
    /// what we sent it once we are a seed (mainline's two rankings).
    fn reciprocation_rate(&mut self, now: SimTime, complete: bool) -> u64 {
        if complete {
            self.to_them.rate(now)
        } else {
            self.from_them.rate(now)
        }
    }
}

/// Bytes per second `c`'s neighbour has downloaded since we connected, from its HAVEs.
fn announce_rate(c: &Conn, piece_len: u64, now: SimTime) -> u64 {
    let micros = now.0.saturating_sub(c.connected_at.0).max(1);
    (u128::from(c.announced) * u128::from(piece_len) * 1_000_000 / u128::from(micros)) as u64
}

/// A BitTorrent peer.
pub struct Peer {
    cfg: PeerConfig,
    dice: Dice,
    have: Bitfield,
    wanted: Bitfield,
    picker: Box<dyn PiecePicker>,
    choker: Box<dyn Choker>,
    seed_choker: Box<dyn Choker>,
    conns: Vec<Option<Conn>>,
    free_slots: Vec<u32>,
    open: u32,
    pending: Vec<PeerId>,
    known: VecDeque<PeerId>,
    partials: Vec<Partial>,
    strikes: Vec<(PeerId, u32)>,
    out: VecDeque<Output>,
    next_rechoke: SimTime,
    next_announce: SimTime,
    last_announce: SimTime,
    started: bool,
    uploaded: u64,
    downloaded: u64,
    scratch_unchoke: Vec<ConnId>,
}

impl Peer {
    /// A peer holding `have`, drawing its random decisions from `dice`.
    pub fn new(cfg: PeerConfig, have: Bitfield, dice: Dice) -> Peer {
        let pieces = cfg.geometry.pieces();
        let mut picker = picker::build(cfg.policy.picker, pieces, cfg.policy.random_first);
        let mut wanted = Bitfield::full(pieces);
        for p in have.ones() {
            wanted.clear(p);
            picker.unwant(p);
        }
        // Rate is bit/s; chokers count bytes.
        let capacity = cfg.upload_capacity.map(|r| r.0 / 8);
        let choker = choker::build(cfg.policy.choker, &cfg.policy, capacity);
        let seed_choker = choker::build_seed(cfg.policy.seed_choker, &cfg.policy);
        Peer {
            cfg,
            dice,
            have,
            wanted,
            picker,
            choker,
            seed_choker,
            conns: Vec::new(),
            free_slots: Vec::new(),
            open: 0,
            pending: Vec::new(),
            known: VecDeque::new(),
            partials: Vec::new(),
            strikes: Vec::new(),
            out: VecDeque::new(),
            next_rechoke: SimTime::NEVER,
            next_announce: SimTime::NEVER,
            last_announce: SimTime::ZERO,
            started: false,
            uploaded: 0,
            downloaded: 0,
            scratch_unchoke: Vec::new(),
        }
    }

    // ------------------------------------------------------------------ queries

    /// Our identity.
    pub fn id(&self) -> PeerId {
        self.cfg.id
    }

    /// The pieces we hold.
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// True once every piece has verified.
    pub fn is_complete(&self) -> bool {
        self.have.is_full()
    }

    /// Open connections.
    pub fn connections(&self) -> u32 {
        self.open
    }

    /// Bytes of blocks sent whole.
    pub fn uploaded(&self) -> u64 {
        self.uploaded
    }

    /// Bytes of blocks received whole (including duplicates in endgame).
    pub fn downloaded(&self) -> u64 {
        self.downloaded
    }

    /// The next output for the host, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When the peer next wants [`Peer::handle_timeout`].
    pub fn poll_timeout(&self) -> SimTime {
        self.next_rechoke.min(self.next_announce)
    }

    /// The relative share of our upload capacity the blocks we send on `conn` should
    /// get, as our choker weighted it: a host that can (the simulator's network) gives
    /// each sending connection `capacity · weight / Σ weights`. Mainline chokers weight
    /// every connection equally; PropShare and BitTyrant do not. A host that cannot
    /// weight its uploads ignores this.
    pub fn upload_weight(&self, conn: ConnId) -> u32 {
        self.conn(conn)
            .map_or(choker::EQUAL_WEIGHT, |c| c.upload_weight)
    }

    /// Whether we choke the neighbour on `conn` (a closed connection counts as choked).
    pub fn is_choking(&self, conn: ConnId) -> bool {
        self.conn(conn).is_none_or(|c| c.am_choking)
    }

    /// The neighbour on `conn`.
    pub fn remote_of(&self, conn: ConnId) -> Option<PeerId> {
        self.conn(conn).map(|c| c.peer)
    }

    fn conn(&self, id: ConnId) -> Option<&Conn> {
        self.conns.get(id.0 as usize).and_then(Option::as_ref)
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    fn conn_ids(&self) -> Vec<ConnId> {
        self.conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some())
            .map(|(i, _)| ConnId(i as u32))
            .collect()
    }

    fn uploads(&self) -> bool {
        self.cfg.role != Role::FreeRider
    }

    fn send(&mut self, conn: ConnId, msg: Message) {
        self.out.push_back(Output::Send { conn, msg });
    }

    // ------------------------------------------------------------------ lifecycle

    /// Joins the swarm: announces and starts the timers.
    pub fn start(&mut self, now: SimTime) {
        self.started = true;
        self.announce(now, AnnounceEvent::Started);
        self.next_rechoke = now + self.cfg.policy.rechoke_interval;
    }

    /// Leaves the swarm: tells the tracker, closes every connection.
    pub fn stop(&mut self, now: SimTime) {
        let _ = now;
        self.out.push_back(Output::Announce {
            event: AnnounceEvent::Stopped,
        });
        self.next_announce = SimTime::NEVER;
        self.next_rechoke = SimTime::NEVER;
    }

    fn announce(&mut self, now: SimTime, event: AnnounceEvent) {
        self.out.push_back(Output::Announce { event });
        self.last_announce = now;
        self.next_announce = now + self.cfg.announce_interval;
    }

    /// The tracker answered with these peers.
    pub fn handle_tracker_response(&mut self, now: SimTime, peers: &[PeerId]) {
        for &p in peers {
            if p != self.cfg.id && !self.known.contains(&p) && !self.is_connected_to(p) {
                self.known.push_back(p);
            }
        }
        if self.data_starved() && !self.known.is_empty() {
            self.make_room(now);
        }
        self.connect_more();
    }

    fn is_connected_to(&self, peer: PeerId) -> bool {
        self.conns.iter().flatten().any(|c| c.peer == peer)
    }

    /// True when we are incomplete and no neighbour has anything we lack: the pieces we
    /// need are elsewhere in the swarm (often only at a seed we are not connected to).
    fn data_starved(&self) -> bool {
        !self.is_complete() && self.conns.iter().flatten().all(|c| c.interesting == 0)
    }

    /// Closes a few neighbours that are useless both ways, so a data-starved peer at its
    /// connection limit can reach the new peers the tracker just gave it.
    fn make_room(&mut self, now: SimTime) {
        let want = self.known.len().min(MAKE_ROOM_MAX);
        let free = (self.cfg.max_neighbours as usize)
            .saturating_sub(self.open as usize + self.pending.len());
        if free >= want {
            return;
        }
        let useless: Vec<ConnId> = self
            .conn_ids()
            .into_iter()
            .filter(|&id| {
                self.conn(id)
                    .is_some_and(|c| c.interesting == 0 && !c.peer_interested)
            })
            .take(want - free)
            .collect();
        for id in useless {
            self.close(now, id, CloseReason::Useless);
        }
    }

    fn connect_more(&mut self) {
        while self.open + (self.pending.len() as u32) < self.cfg.max_neighbours {
            let Some(p) = self.known.pop_front() else {
                break;
            };
            if self.pending.contains(&p) || self.is_connected_to(p) {
                continue;
            }
            self.pending.push(p);
            self.out.push_back(Output::Connect { peer: p });
        }
    }

    /// An outbound connection attempt to `peer` failed.
    pub fn handle_connect_failed(&mut self, now: SimTime, peer: PeerId) {
        let _ = now;
        self.pending.retain(|&p| p != peer);
        self.connect_more();
    }

    /// A connection to `peer` is established (handshake done). Returns its id, or `None`
    /// if the peer refuses it (full, duplicate, itself); the host then closes it.
    pub fn handle_connected(
        &mut self,
        now: SimTime,
        peer: PeerId,
        outbound: bool,
    ) -> Option<ConnId> {
        if outbound {
            self.pending.retain(|&p| p != peer);
        }
        if peer == self.cfg.id || self.is_connected_to(peer) || self.open >= self.cfg.max_neighbours
        {
            return None;
        }
        let conn = Conn {
            peer,
            connected_at: now,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            remote: Bitfield::new(self.cfg.geometry.pieces()),
            interesting: 0,
            announced: 0,
            requested: Vec::new(),
            withdrawn: VecDeque::new(),
            queued: VecDeque::new(),
            sending: None,
            sent_early: 0,
            received_early: Vec::new(),
            from_them: RateMeter::new(self.cfg.policy.rate_window, now),
            to_them: RateMeter::new(self.cfg.policy.rate_window, now),
            last_piece_at: None,
            upload_weight: choker::EQUAL_WEIGHT,
            chosen: false,
        };
        let id = match self.free_slots.pop() {
            Some(slot) => {
                self.conns[slot as usize] = Some(conn);
                ConnId(slot)
            }
            None => {
                self.conns.push(Some(conn));
                ConnId(self.conns.len() as u32 - 1)
            }
        };
        self.open += 1;
        if self.have.count() > 0 {
            self.send(id, Message::Bitfield(self.have.clone()));
        }
        Some(id)
    }

    /// The host lost `conn` (closed by the other end or by the network).
    pub fn handle_disconnected(&mut self, now: SimTime, conn: ConnId) {
        self.drop_conn(now, conn);
        self.connect_more();
    }

    fn close(&mut self, now: SimTime, conn: ConnId, reason: CloseReason) {
        if self.conn(conn).is_some() {
            self.drop_conn(now, conn);
            self.out.push_back(Output::Disconnect { conn, reason });
        }
    }

    fn drop_conn(&mut self, now: SimTime, id: ConnId) {
        let Some(c) = self.conns.get_mut(id.0 as usize).and_then(Option::take) else {
            return;
        };
        self.open -= 1;
        self.free_slots.push(id.0);
        self.picker.neighbour_removed(&c.remote);
        let was_serving = !c.am_choking && c.peer_interested;
        for b in &c.requested {
            self.release(b);
        }
        if !c.requested.is_empty() {
            self.refill_all(now);
        }
        if was_serving {
            self.fill_upload_slots(now);
        }
    }

    // ------------------------------------------------------------------ messages

    /// A message arrived on `conn`.
    pub fn handle_message(&mut self, now: SimTime, conn: ConnId, msg: Message) {
        if self.conn(conn).is_none() {
            return;
        }
        match msg {
            Message::KeepAlive => {}
            Message::Choke => self.on_choke(now, conn),
            Message::Unchoke => {
                if let Some(c) = self.conn_mut(conn) {
                    c.peer_choking = false;
                }
                self.request_more(conn);
            }
            Message::Interested => {
                let mut was_unchoked = false;
                if let Some(c) = self.conn_mut(conn) {
                    was_unchoked = !c.am_choking && !c.peer_interested;
                    c.peer_interested = true;
                }
                if was_unchoked {
                    self.trim_upload_slots(now);
                } else {
                    self.fill_upload_slots(now);
                }
            }
            Message::NotInterested => {
                let mut freed = false;
                if let Some(c) = self.conn_mut(conn) {
                    freed = c.peer_interested && !c.am_choking;
                    c.peer_interested = false;
                }
                if freed {
                    self.fill_upload_slots(now);
                }
            }
            Message::Have(piece) => self.on_have(now, conn, piece),
            Message::Bitfield(field) => self.on_bitfield(now, conn, field),
            Message::Request(block) => self.on_request(now, conn, block),
            Message::Cancel(block) => {
                if let Some(c) = self.conn_mut(conn) {
                    c.queued.retain(|b| *b != block);
                }
            }
            Message::Piece(block) => self.on_piece(now, conn, block),
        }
    }

    fn on_have(&mut self, now: SimTime, conn: ConnId, piece: u32) {
        if piece >= self.cfg.geometry.pieces() {
            return self.close(
                now,
                conn,
                CloseReason::Protocol("HAVE for a piece out of range"),
            );
        }
        let lacking = !self.have.get(piece);
        let Some(c) = self.conn_mut(conn) else { return };
        if !c.remote.set(piece) {
            return;
        }
        c.announced += 1;
        let remote_complete = c.remote.is_full();
        if lacking {
            c.interesting += 1;
        }
        self.picker.neighbour_has(piece);
        if remote_complete && self.is_complete() {
            return self.close(now, conn, CloseReason::BothComplete);
        }
        if lacking {
            self.update_interest(conn);
            self.request_more(conn);
        }
    }

    fn on_bitfield(&mut self, now: SimTime, conn: ConnId, field: Bitfield) {
        if field.len() != self.cfg.geometry.pieces() {
            return self.close(
                now,
                conn,
                CloseReason::Protocol("bitfield of the wrong length"),
            );
        }
        let interesting = field.count_missing_from(&self.have);
        if self.conn(conn).is_some_and(|c| c.remote.count() > 0) {
            return self.close(now, conn, CloseReason::Protocol("second bitfield"));
        }
        self.picker.neighbour_added(&field);
        let Some(c) = self.conn_mut(conn) else { return };
        let complete = field.is_full();
        c.remote = field;
        c.interesting = interesting;
        if complete && self.is_complete() {
            return self.close(now, conn, CloseReason::BothComplete);
        }
        self.update_interest(conn);
        self.request_more(conn);
    }

    fn update_interest(&mut self, conn: ConnId) {
        let complete = self.is_complete();
        let Some(c) = self.conn_mut(conn) else { return };
        let want = c.interesting > 0 && !complete;
        if want != c.am_interested {
            c.am_interested = want;
            let msg = if want {
                Message::Interested
            } else {
                Message::NotInterested
            };
            self.send(conn, msg);
        }
    }

    fn on_choke(&mut self, now: SimTime, conn: ConnId) {
        let Some(c) = self.conn_mut(conn) else { return };
        c.peer_choking = true;
        // The remote drops our requests; blocks already on the way may still arrive.
        let dropped: Vec<BlockRef> = c.requested.drain(..).collect();
        for b in &dropped {
            c.withdrawn.push_back(*b);
        }
        while c.withdrawn.len() > 4 * MAX_QUEUED_REQUESTS {
            c.withdrawn.pop_front();
        }
        for b in &dropped {
            self.release(b);
        }
        if !dropped.is_empty() {
            self.refill_all(now);
        }
    }

    fn on_request(&mut self, now: SimTime, conn: ConnId, block: BlockRef) {
        // Real clients cut off at 128 KiB; the simulator's fast mode asks for whole chunks.
        let limit = MAX_REQUEST_LEN.max(self.cfg.geometry.block_len());
        if !self.cfg.geometry.is_valid_request(&block, limit) {
            return self.close(
                now,
                conn,
                CloseReason::Protocol("request outside the torrent"),
            );
        }
        if !self.have.get(block.piece) {
            return self.close(
                now,
                conn,
                CloseReason::Protocol("request for a piece we lack"),
            );
        }
        let Some(c) = self.conn_mut(conn) else { return };
        if c.am_choking || c.queued.len() >= MAX_QUEUED_REQUESTS || c.queued.contains(&block) {
            return;
        }
        c.queued.push_back(block);
        self.serve_next(conn);
    }

    fn serve_next(&mut self, conn: ConnId) {
        let Some(c) = self.conn_mut(conn) else { return };
        if c.sending.is_some() || c.am_choking {
            return;
        }
        if let Some(b) = c.queued.pop_front() {
            c.sending = Some(b);
            self.send(conn, Message::Piece(b));
        }
    }

    /// The host reports that `bytes` more of `block` moved on `conn` (which way: `way`)
    /// before the block finished. Optional: a host that moves small blocks need not;
    /// the simulator's fast mode moves whole chunks, and without it a slow partner's
    /// chunk would count only when it lands, perhaps after the rate window, and read
    /// as nothing meanwhile. The block's completion counts only the rest.
    pub fn handle_progress(
        &mut self,
        now: SimTime,
        conn: ConnId,
        block: BlockRef,
        way: Way,
        bytes: u64,
    ) {
        let Some(c) = self.conn_mut(conn) else { return };
        match way {
            Way::Sending => {
                c.to_them.record(now, bytes);
                c.sent_early += bytes;
            }
            Way::Receiving => {
                c.from_them.record(now, bytes);
                match c.received_early.iter_mut().find(|(b, _)| *b == block) {
                    Some((_, n)) => *n += bytes,
                    None => c.received_early.push((block, bytes)),
                }
            }
        }
    }

    /// The host finished sending `block` on `conn`.
    pub fn handle_block_sent(&mut self, now: SimTime, conn: ConnId, block: BlockRef) {
        self.uploaded += block.len as u64;
        let Some(c) = self.conn_mut(conn) else { return };
        let early = std::mem::take(&mut c.sent_early);
        c.to_them
            .record(now, (block.len as u64).saturating_sub(early));
        if c.sending == Some(block) {
            c.sending = None;
        }
        self.serve_next(conn);
    }

    fn on_piece(&mut self, now: SimTime, conn: ConnId, block: BlockRef) {
        let Some(c) = self.conn_mut(conn) else { return };
        let peer = c.peer;
        if let Some(i) = c.requested.iter().position(|b| *b == block) {
            c.requested.swap_remove(i);
        } else if let Some(i) = c.withdrawn.iter().position(|b| *b == block) {
            c.withdrawn.remove(i);
        } else {
            return self.close(
                now,
                conn,
                CloseReason::Protocol("sent a block nobody requested"),
            );
        }
        let early = match c.received_early.iter().position(|(b, _)| *b == block) {
            Some(i) => c.received_early.swap_remove(i).1,
            None => 0,
        };
        c.from_them
            .record(now, (block.len as u64).saturating_sub(early));
        c.last_piece_at = Some(now);
        self.downloaded += block.len as u64;

        let Some(pi) = self.partials.iter().position(|p| p.piece == block.piece) else {
            // Already complete (an endgame duplicate) or abandoned meanwhile.
            return self.request_more(conn);
        };
        let Some(bi) = self.cfg.geometry.block_index(&block) else {
            return self.close(now, conn, CloseReason::Protocol("block off the block grid"));
        };
        let partial = &mut self.partials[pi];
        if partial.blocks[bi as usize] == BlockState::Received {
            return self.request_more(conn);
        }
        partial.blocks[bi as usize] = BlockState::Received;
        partial.received += 1;
        if !partial.senders.contains(&peer) {
            partial.senders.push(peer);
        }
        let done = partial.received as usize == partial.blocks.len();
        self.cancel_duplicates(conn, block);
        if done {
            self.out.push_back(Output::Verify { piece: block.piece });
        }
        self.request_more(conn);
    }

    /// In endgame other neighbours may have the same block on order: cancel it there.
    fn cancel_duplicates(&mut self, except: ConnId, block: BlockRef) {
        for id in 0..self.conns.len() {
            if id == except.0 as usize {
                continue;
            }
            let Some(c) = self.conns[id].as_mut() else {
                continue;
            };
            if let Some(i) = c.requested.iter().position(|b| *b == block) {
                c.requested.swap_remove(i);
                c.withdrawn.push_back(block);
                self.out.push_back(Output::Send {
                    conn: ConnId(id as u32),
                    msg: Message::Cancel(block),
                });
                self.request_more(ConnId(id as u32));
            }
        }
    }

    // ------------------------------------------------------------------ verification

    /// The host checked `piece`: `ok` if its hash matched.
    pub fn handle_piece_verified(&mut self, now: SimTime, piece: u32, ok: bool) {
        let Some(pi) = self.partials.iter().position(|p| p.piece == piece) else {
            return;
        };
        let partial = self.partials.swap_remove(pi);
        if !ok {
            self.wanted.set(piece);
            self.picker.want(piece);
            for peer in partial.senders {
                self.strike(now, peer);
            }
            self.refill_all(now);
            return;
        }
        self.have.set(piece);
        for id in self.conn_ids() {
            let Some(c) = self.conn_mut(id) else { continue };
            if c.remote.get(piece) {
                c.interesting -= 1;
                if c.interesting == 0 {
                    self.update_interest(id);
                }
            } else {
                // Peers that already have the piece do not need to hear about it.
                self.send(id, Message::Have(piece));
            }
        }
        if self.is_complete() {
            self.become_seed(now);
        }
    }

    fn strike(&mut self, now: SimTime, peer: PeerId) {
        let count = match self.strikes.iter_mut().find(|(p, _)| *p == peer) {
            Some(entry) => {
                entry.1 += 1;
                entry.1
            }
            None => {
                self.strikes.push((peer, 1));
                1
            }
        };
        if count >= MAX_STRIKES {
            let bad: Vec<ConnId> = self
                .conn_ids()
                .into_iter()
                .filter(|&id| self.remote_of(id) == Some(peer))
                .collect();
            for id in bad {
                self.close(now, id, CloseReason::BadData);
            }
        }
    }

    fn become_seed(&mut self, now: SimTime) {
        self.out.push_back(Output::Completed);
        self.announce(now, AnnounceEvent::Completed);
        for id in self.conn_ids() {
            self.update_interest(id);
            if self.conn(id).is_some_and(|c| c.remote.is_full()) {
                self.close(now, id, CloseReason::BothComplete);
            }
        }
        self.rechoke(now);
    }

    // ------------------------------------------------------------------ requests

    fn refill_all(&mut self, _now: SimTime) {
        for id in self.conn_ids() {
            self.request_more(id);
        }
    }

    /// How many requests to keep outstanding on a connection. `pipeline` counts
    /// wire-sized (16 KiB) blocks, so a simulation with bigger blocks keeps the same
    /// bytes in flight: ten 256 KiB chunks asked for at once would all be picked while
    /// rare and arrive a minute later, long after others fetched them, and a seed would
    /// send the same chunks over and over. Never fewer than two (unless `pipeline` says
    /// so), so the next block is asked for while one is arriving.
    fn pipeline_depth(&self) -> usize {
        let pipeline = self.cfg.policy.pipeline as u64;
        let block = u64::from(self.cfg.geometry.block_len().max(1));
        let by_bytes = pipeline * u64::from(WIRE_BLOCK_LEN) / block;
        by_bytes.max(2).min(pipeline) as usize
    }

    /// Keeps up to [`Self::pipeline_depth`] requests outstanding on `conn`.
    fn request_more(&mut self, conn: ConnId) {
        let pipeline = self.pipeline_depth();
        loop {
            let Some(c) = self.conn(conn) else { return };
            if c.peer_choking || !c.am_interested || c.requested.len() >= pipeline {
                return;
            }
            let Some(block) = self.next_block(conn) else {
                return;
            };
            if let Some(c) = self.conn_mut(conn) {
                c.requested.push(block);
            }
            self.send(conn, Message::Request(block));
        }
    }

    /// The next block to ask `conn` for: a missing block of a started piece first (strict
    /// priority), else the first block of a new piece from the picker, else (endgame) a
    /// block already requested elsewhere.
    fn next_block(&mut self, conn: ConnId) -> Option<BlockRef> {
        let geometry = self.cfg.geometry;
        let c = self.conns[conn.0 as usize].as_ref()?;
        for partial in self.partials.iter_mut() {
            if !c.remote.get(partial.piece) {
                continue;
            }
            if let Some(i) = partial
                .blocks
                .iter()
                .position(|b| *b == BlockState::Missing)
            {
                partial.blocks[i] = BlockState::Requested(1);
                return Some(geometry.block(partial.piece, i as u32));
            }
        }
        let ctx = PickContext {
            remote: &c.remote,
            wanted: &self.wanted,
            have_count: self.have.count(),
        };
        if let Some(piece) = self.picker.pick(&ctx, &mut self.dice) {
            self.wanted.clear(piece);
            self.picker.unwant(piece);
            let mut blocks = vec![BlockState::Missing; geometry.blocks_in(piece) as usize];
            blocks[0] = BlockState::Requested(1);
            self.partials.push(Partial {
                piece,
                blocks,
                received: 0,
                senders: Vec::new(),
            });
            return Some(geometry.block(piece, 0));
        }
        if !self.cfg.policy.endgame || self.wanted.count() > 0 {
            return None;
        }
        for partial in self.partials.iter_mut() {
            if !c.remote.get(partial.piece) {
                continue;
            }
            for (i, state) in partial.blocks.iter_mut().enumerate() {
                if let BlockState::Requested(n) = *state {
                    let block = geometry.block(partial.piece, i as u32);
                    if n < ENDGAME_DUPLICATES && !c.requested.contains(&block) {
                        *state = BlockState::Requested(n + 1);
                        return Some(block);
                    }
                }
            }
        }
        None
    }

    /// A request for `b` is no longer outstanding (choke, disconnect).
    fn release(&mut self, b: &BlockRef) {
        let Some(pi) = self.partials.iter().position(|p| p.piece == b.piece) else {
            return;
        };
        let Some(bi) = self.cfg.geometry.block_index(b) else {
            return;
        };
        let partial = &mut self.partials[pi];
        if let BlockState::Requested(n) = partial.blocks[bi as usize] {
            partial.blocks[bi as usize] = if n > 1 {
                BlockState::Requested(n - 1)
            } else {
                BlockState::Missing
            };
        }
        if partial.is_idle() {
            self.partials.swap_remove(pi);
            self.wanted.set(b.piece);
            self.picker.want(b.piece);
        }
    }

    // ------------------------------------------------------------------ choking

    /// Unchokes newly interested peers at once while slots are free, so a swarm does not
    /// wait for the next rechoke to start trading. How many slots there are is the
    /// choker's call ([`Choker::slots`]; the policy's by default).
    fn fill_upload_slots(&mut self, now: SimTime) {
        if !self.uploads() {
            return;
        }
        let slots = self.slot_count();
        let busy = self
            .conns
            .iter()
            .flatten()
            .filter(|c| !c.am_choking && c.peer_interested)
            .count();
        if busy >= slots {
            return;
        }
        // Like mainline's event-driven rechoke: the free slots go to the waiting peers
        // that gave us data fastest (a seed: that we sent data to fastest), ties at
        // random — not to random peers, which would undo tit-for-tat between rechokes.
        let complete = self.is_complete();
        let mut waiting: Vec<(ConnId, u64)> = Vec::new();
        for (i, slot) in self.conns.iter_mut().enumerate() {
            let Some(c) = slot.as_mut() else { continue };
            if c.am_choking && c.peer_interested {
                let rate = c.reciprocation_rate(now, complete);
                waiting.push((ConnId(i as u32), rate));
            }
        }
        self.dice.shuffle(&mut waiting);
        waiting.sort_by_key(|&(_, rate)| std::cmp::Reverse(rate));
        for (id, _) in waiting.into_iter().take(slots - busy) {
            self.set_choking(id, false);
            if let Some(c) = self.conn_mut(id) {
                c.chosen = false;
            }
            let w = self.active_choker().weight(id);
            if let Some(c) = self.conn_mut(id) {
                c.upload_weight = w;
            }
        }
    }

    /// An unchoked peer that was not interested (so did not hold a slot) became
    /// interested again: if that oversubscribes the slots, choke the slowest of the
    /// peers that only filled a free slot, so slots do not pile up between rechokes
    /// (which would turn tit-for-tat into serving everyone). Peers the choker chose keep
    /// their place until the next rechoke.
    fn trim_upload_slots(&mut self, now: SimTime) {
        let slots = self.slot_count();
        let complete = self.is_complete();
        let mut busy = 0usize;
        let mut fillers: Vec<(ConnId, u64)> = Vec::new();
        for (i, slot) in self.conns.iter_mut().enumerate() {
            let Some(c) = slot.as_mut() else { continue };
            if c.am_choking || !c.peer_interested {
                continue;
            }
            busy += 1;
            if !c.chosen {
                let rate = c.reciprocation_rate(now, complete);
                fillers.push((ConnId(i as u32), rate));
            }
        }
        fillers.sort_by_key(|&(id, rate)| (rate, id));
        for (id, _) in fillers.into_iter().take(busy.saturating_sub(slots)) {
            self.set_choking(id, true);
        }
    }

    /// How many interested peers may hold an upload slot at once: the choker's say
    /// ([`Choker::slots`]), else the policy's regular plus optimistic slots.
    fn slot_count(&self) -> usize {
        if !self.uploads() {
            return 0;
        }
        let default = (self.cfg.policy.upload_slots + self.cfg.policy.optimistic_slots) as usize;
        self.active_choker().slots().unwrap_or(default)
    }

    /// The choker in charge: the seed's once we are complete.
    fn active_choker(&self) -> &dyn Choker {
        if self.is_complete() {
            self.seed_choker.as_ref()
        } else {
            self.choker.as_ref()
        }
    }

    fn set_choking(&mut self, id: ConnId, choke: bool) {
        let Some(c) = self.conn_mut(id) else { return };
        if c.am_choking == choke {
            return;
        }
        c.am_choking = choke;
        if choke {
            // BEP 3: a choke discards the requests not yet served.
            c.queued.clear();
            self.send(id, Message::Choke);
        } else {
            self.send(id, Message::Unchoke);
        }
    }

    fn rechoke(&mut self, now: SimTime) {
        let piece_len = u64::from(self.cfg.geometry.piece_len());
        let mut candidates = Vec::with_capacity(self.open as usize);
        for (i, slot) in self.conns.iter_mut().enumerate() {
            let Some(c) = slot.as_mut() else { continue };
            candidates.push(Candidate {
                conn: ConnId(i as u32),
                interested: c.peer_interested,
                unchoked: !c.am_choking,
                download_rate: c.from_them.rate(now),
                upload_rate: c.to_them.rate(now),
                connected_at: c.connected_at,
                last_piece_at: c.last_piece_at,
                unchokes_us: !c.peer_choking,
                announce_rate: announce_rate(c, piece_len, now),
            });
        }
        let mut unchoke = std::mem::take(&mut self.scratch_unchoke);
        unchoke.clear();
        if self.uploads() {
            let choker = if self.is_complete() {
                &mut self.seed_choker
            } else {
                &mut self.choker
            };
            choker.rechoke(now, &candidates, &mut self.dice, &mut unchoke);
        }
        for cand in &candidates {
            let weight = self.active_choker().weight(cand.conn);
            let chosen = unchoke.contains(&cand.conn);
            if let Some(c) = self.conn_mut(cand.conn) {
                c.upload_weight = weight;
                c.chosen = chosen;
            }
            self.set_choking(cand.conn, !chosen);
        }
        self.scratch_unchoke = unchoke;
    }

    // ------------------------------------------------------------------ timers

    /// Time has reached `now`: rechoke, announce, as due.
    pub fn handle_timeout(&mut self, now: SimTime) {
        if !self.started {
            return;
        }
        if now >= self.next_rechoke {
            self.rechoke(now);
            self.next_rechoke = now + self.cfg.policy.rechoke_interval;
        }
        let starving = !self.is_complete()
            && (self.open + (self.pending.len() as u32) < self.cfg.min_neighbours
                || self.data_starved());
        if now >= self.next_announce || (starving && now >= self.last_announce + EARLY_ANNOUNCE_GAP)
        {
            self.announce(now, AnnounceEvent::Periodic);
        }
    }
}

#[cfg(test)]
mod tests;
