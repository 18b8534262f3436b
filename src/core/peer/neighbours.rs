//! Finding, keeping and dropping neighbours: the tracker's peer lists, dialling, the
//! connection limit, crossed dials, making room when data-starved, and closing.

use super::conn::{Conn, Direction};
use super::{CloseReason, Output, Peer};
use crate::core::id::{ConnId, PeerId};
use crate::units::{SimDuration, SimTime};

/// A peer below `min_neighbours` (or data-starved) re-announces at most this often.
pub(super) const EARLY_ANNOUNCE_GAP: SimDuration = SimDuration::from_secs(30);

/// At most this many useless neighbours are dropped per announce to make room.
const MAKE_ROOM_MAX: usize = 5;

/// A neighbour has to have been useless both ways for this long (connected, nothing
/// received) before a newcomer may take its slot: a rechoke period, long enough for a
/// new connection's bitfield and interest to arrive.
pub(super) const USELESS_EVICTION_GRACE: SimDuration = SimDuration::from_secs(10);

/// Two connections to one peer, in opposite directions, opened within this of each
/// other are crossed dials (each end dialled the other); an older connection is kept
/// whatever comes.
pub(super) const CROSSED_DIAL_WINDOW: SimDuration = SimDuration::from_secs(2);

/// A connection whose handshake completed, as the host reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewConnection {
    /// The neighbour (for an outbound connection, the peer the core asked to dial).
    pub peer: PeerId,
    /// Which end dialled.
    pub direction: Direction,
    /// The neighbour's dial rank (see [`PeerConfig::dial_rank`](crate::core::PeerConfig)).
    pub rank: u64,
}

impl Peer {
    /// The tracker answered with these peers; `interval`, when the tracker names one,
    /// replaces the configured announce interval from now on.
    pub fn handle_tracker_response(
        &mut self,
        now: SimTime,
        peers: &[PeerId],
        interval: Option<SimDuration>,
    ) {
        if let Some(interval) = interval.filter(|i| i.0 > 0) {
            self.announce_interval = interval;
            self.timers
                .set(super::Timer::Announce, self.last_announce + interval);
        }
        for &p in peers {
            let fresh = !self.known.contains(&p) && self.conns.to_peer(p).is_none();
            if p != self.cfg.id && fresh && !self.smart_ban.is_banned(p) {
                self.known.push_back(p);
            }
        }
        if self.data_starved() && !self.known.is_empty() {
            self.make_room(now);
        }
        self.connect_more();
    }

    /// True when we are incomplete and no neighbour has anything we lack: the pieces we
    /// need are elsewhere in the swarm (often only at a seed we are not connected to).
    fn data_starved(&self) -> bool {
        !self.is_complete() && self.conns.iter().all(|(_, c)| c.interesting == 0)
    }

    /// True when an incomplete peer should look for more neighbours: too few, or none
    /// with anything it lacks.
    pub(super) fn starving(&self) -> bool {
        let dialling = u32::try_from(self.pending.len()).unwrap_or(u32::MAX);
        !self.is_complete()
            && (self.conns.open().saturating_add(dialling) < self.cfg.neighbourhood.min_neighbours
                || self.data_starved())
    }

    /// Closes a few neighbours that are useless both ways, so a data-starved peer at its
    /// connection limit can reach the new peers the tracker just gave it.
    fn make_room(&mut self, now: SimTime) {
        let want = self.known.len().min(MAKE_ROOM_MAX);
        let used = self.conns.open() as usize + self.pending.len();
        let free = (self.cfg.neighbourhood.max_neighbours as usize).saturating_sub(used);
        if free >= want {
            return;
        }
        let useless: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.interesting == 0 && !c.peer_interested)
            .map(|(id, _)| id)
            .take(want - free)
            .collect();
        for id in useless {
            self.close(now, id, CloseReason::Useless);
        }
    }

    /// A newcomer's handshake completed while this peer holds `max_neighbours`
    /// connections: closes the one that has been useless both ways the longest (neither
    /// side interested, no block from it for [`USELESS_EVICTION_GRACE`] since it opened
    /// or last sent one), so that idle connections cannot hold every slot; the newcomer
    /// is then offered with [`Peer::handle_connected`]. Returns whether one was closed
    /// (an [`Output::Disconnect`] with [`CloseReason::Useless`]). A host calls it only
    /// for newcomers it must not turn away (the tcp host, against peers that sit on
    /// connections); the simulator's peers never need it.
    pub fn make_room_for_newcomer(&mut self, now: SimTime) -> bool {
        if self.conns.open() < self.cfg.neighbourhood.max_neighbours {
            return false;
        }
        let idle_since = |c: &Conn| {
            c.last_piece_at
                .unwrap_or(c.connected_at)
                .max(c.connected_at)
        };
        let victim = self
            .conns
            .iter()
            .filter(|(_, c)| c.interesting == 0 && !c.peer_interested)
            .filter(|(_, c)| idle_since(c) + USELESS_EVICTION_GRACE <= now)
            // Ties go to the lower id: a choice that does not depend on table order.
            .min_by_key(|(id, c)| (idle_since(c), *id))
            .map(|(id, _)| id);
        match victim {
            Some(id) => {
                self.close(now, id, CloseReason::Useless);
                true
            }
            None => false,
        }
    }

    /// Dials known peers while below `max_neighbours` (dials in flight count).
    pub(super) fn connect_more(&mut self) {
        let max = self.cfg.neighbourhood.max_neighbours as usize;
        while self.conns.open() as usize + self.pending.len() < max {
            let Some(p) = self.known.pop_front() else {
                break;
            };
            if self.pending.contains(&p) || self.conns.to_peer(p).is_some() {
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

    /// Whether we take inbound connections at all: a host whose peer is not connectable
    /// ([`PeerConfig::connectable`](crate::core::PeerConfig)) refuses them before any
    /// handshake, as a NAT would; [`Peer::handle_connected`] refuses them too.
    pub fn accepts_inbound(&self) -> bool {
        self.cfg.connectable
    }

    /// A connection's handshake completed. Returns its id, or `None` if the peer refuses
    /// it (itself, a peer it banned, full, inbound to a peer that is not connectable, or a
    /// second connection to the same peer); the host then closes it.
    ///
    /// When two peers dial each other at once, each sees the other's connection second;
    /// refusing the second at both ends would kill both. Both ends keep the connection
    /// dialled by the peer with the smaller dial rank: if that is this new one, the older
    /// one is closed (an [`Output::Disconnect`] with [`CloseReason::CrossedDial`]). An
    /// older connection that has been up for [`CROSSED_DIAL_WINDOW`] is kept whatever
    /// comes.
    pub fn handle_connected(&mut self, now: SimTime, new: NewConnection) -> Option<ConnId> {
        if new.direction == Direction::Outbound {
            self.pending.retain(|&p| p != new.peer);
        }
        if new.peer == self.cfg.id
            || self.smart_ban.is_banned(new.peer)
            || (new.direction == Direction::Inbound && !self.accepts_inbound())
        {
            return None;
        }
        if let Some(old) = self.conns.to_peer(new.peer) {
            if !self.new_one_wins_crossing(now, old, new) {
                return None;
            }
            self.close(now, old, CloseReason::CrossedDial);
        }
        if self.conns.open() >= self.cfg.neighbourhood.max_neighbours {
            return None;
        }
        let conn = Conn::new(
            new.peer,
            new.direction,
            self.cfg.geometry.pieces(),
            self.cfg.policy.rate_window,
            now,
        );
        let id = self.conns.insert(conn);
        if self.super_seed.is_some() {
            // BEP 16: no bitfield; one piece at a time, announced by HAVE.
            self.offer_piece(id);
        } else if self.have.count() > 0 {
            self.send(id, super::Message::Bitfield(self.have.clone()));
        }
        Some(id)
    }

    /// Whether `new`, a second connection to the peer on `old`, is the one of a crossed
    /// pair that both ends keep.
    fn new_one_wins_crossing(&self, now: SimTime, old: ConnId, new: NewConnection) -> bool {
        let Some(o) = self.conns.get(old) else {
            return true;
        };
        let crossed = o.direction != new.direction && now < o.connected_at + CROSSED_DIAL_WINDOW;
        // The connection dialled by the smaller rank survives: ours if we dialled it.
        let dialled_by_smaller = match new.direction {
            Direction::Outbound => self.cfg.dial_rank < new.rank,
            Direction::Inbound => new.rank < self.cfg.dial_rank,
        };
        crossed && dialled_by_smaller
    }

    /// The host lost `conn` (closed by the other end or by the network).
    pub fn handle_disconnected(&mut self, now: SimTime, conn: ConnId) {
        self.drop_conn(now, conn);
        self.connect_more();
    }

    /// Closes `conn` on our own initiative and tells the host.
    pub(super) fn close(&mut self, now: SimTime, conn: ConnId, reason: CloseReason) {
        if self.conns.get(conn).is_some() {
            self.drop_conn(now, conn);
            self.out.push_back(Output::Disconnect { conn, reason });
        }
    }

    /// Forgets `id`: its pieces leave the availability counts, its requests go back to
    /// the pool, and the upload slot it held is offered to someone else.
    fn drop_conn(&mut self, now: SimTime, id: ConnId) {
        let Some(c) = self.conns.remove(id) else {
            return;
        };
        if let Some(seed) = self.super_seed.as_mut() {
            seed.forget(id);
        }
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
}
