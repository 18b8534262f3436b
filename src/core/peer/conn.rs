//! One neighbour as the peer sees it ([`Conn`]), and the table of open connections
//! ([`ConnTable`]), whose slots are the [`ConnId`]s hosts use.

use crate::core::bitfield::Bitfield;
use crate::core::choker;
use crate::core::geometry::BlockRef;
use crate::core::id::{ConnId, PeerId};
use crate::core::rate::RateMeter;
use crate::units::{SimDuration, SimTime};
use std::collections::VecDeque;

/// Which end opened a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// We dialled it.
    Outbound,
    /// It dialled us.
    Inbound,
}

/// One neighbour.
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) peer: PeerId,
    pub(super) direction: Direction,
    pub(super) connected_at: SimTime,
    pub(super) am_choking: bool,
    pub(super) am_interested: bool,
    pub(super) peer_choking: bool,
    pub(super) peer_interested: bool,
    /// When it first unchoked us: request queues are sized by its rate from then, not
    /// from the connection's start ([`Conn::delivery_rate`]).
    pub(super) first_unchoked_at: Option<SimTime>,
    /// Pieces the neighbour has.
    pub(super) remote: Bitfield,
    /// Pieces it has that we lack: we are interested while this is non-zero.
    pub(super) interesting: u32,
    /// Pieces it announced (HAVE) since we connected: its download progress.
    pub(super) announced: u32,
    /// Our outstanding requests to it, in the order it serves them.
    pub(super) requested: Vec<BlockRef>,
    /// Since when the first of `requested` has been on its way: the last delivery, or
    /// the request itself if the connection was idle (fast mode's estimate of how far
    /// the sender has got, for the bytes still on order; see `Peer::run_cap`).
    pub(super) head_since: SimTime,
    /// Requests we withdrew (cancel, choke) whose blocks may still arrive.
    pub(super) withdrawn: VecDeque<BlockRef>,
    /// Its requests to us, served one block at a time.
    pub(super) queued: VecDeque<BlockRef>,
    /// The block we are sending it, if any.
    pub(super) sending: Option<BlockRef>,
    pub(super) from_them: RateMeter,
    pub(super) to_them: RateMeter,
    /// Bytes of the block we are sending that the host reported moved before it
    /// finished (already in `to_them`).
    pub(super) sent_early: u64,
    /// Blocks on their way to us whose bytes the host reported before they landed
    /// (already in `from_them`).
    pub(super) received_early: Vec<(BlockRef, u64)>,
    /// When it last sent us a block (for anti-snubbing and BitTyrant).
    pub(super) last_piece_at: Option<SimTime>,
    /// Our upload share for it, as the choker weighted it (see `Peer::upload_weight`).
    pub(super) upload_weight: u32,
    /// Unchoked by the choker at the last rechoke (rather than to fill a free slot).
    pub(super) chosen: bool,
}

impl Conn {
    /// A fresh connection: choked and uninterested both ways, nothing known of the
    /// neighbour's pieces.
    pub(super) fn new(
        peer: PeerId,
        direction: Direction,
        pieces: u32,
        rate_window: SimDuration,
        now: SimTime,
    ) -> Conn {
        Conn {
            peer,
            direction,
            connected_at: now,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            first_unchoked_at: None,
            remote: Bitfield::new(pieces),
            interesting: 0,
            announced: 0,
            requested: Vec::new(),
            head_since: now,
            withdrawn: VecDeque::new(),
            queued: VecDeque::new(),
            sending: None,
            from_them: RateMeter::new(rate_window, now),
            to_them: RateMeter::new(rate_window, now),
            sent_early: 0,
            received_early: Vec::new(),
            last_piece_at: None,
            upload_weight: choker::EQUAL_WEIGHT,
            chosen: false,
        }
    }

    /// The rate that earns this neighbour a slot: what it sent us while we download,
    /// what we sent it once we are a seed (mainline's two rankings).
    pub(super) fn reciprocation_rate(&mut self, now: SimTime, complete: bool) -> u64 {
        if complete {
            self.to_them.rate(now)
        } else {
            self.from_them.rate(now)
        }
    }

    /// The rate it delivers to us, counted from its first unchoke: what a request queue
    /// is sized by (`Peer::pipeline_depth`, fast mode's budgets). The time it kept us
    /// choked is not slow delivery: a seed that answers the queue it holds at intervals
    /// (transmission-daemon sends what is asked for every 500 ms) delivers at a rate
    /// that follows the depth, and counting the ~10 s before its first rechoke made the
    /// queue, and so the rate, grow by only a third a second (docs/findings.md, 61).
    pub(super) fn delivery_rate(&mut self, now: SimTime) -> u64 {
        let since = self.first_unchoked_at.unwrap_or(now);
        self.from_them.rate_since(now, since)
    }

    /// Bytes per second the neighbour has downloaded since we connected, judged from
    /// its HAVEs.
    pub(super) fn announce_rate(&self, piece_len: u64, now: SimTime) -> u64 {
        let micros = now.0.saturating_sub(self.connected_at.0).max(1);
        let rate =
            u128::from(self.announced) * u128::from(piece_len) * 1_000_000 / u128::from(micros);
        u64::try_from(rate).unwrap_or(u64::MAX)
    }

    /// Whether a block on its way from this neighbour is one we asked it for, or the
    /// start of one (a sender may stop a run early, at a grain boundary), or one whose
    /// tail we cancelled after the sender had got to it.
    pub(super) fn asked_for(&self, block: &BlockRef) -> bool {
        let ours =
            |r: &BlockRef| r.piece == block.piece && r.offset == block.offset && block.len <= r.len;
        self.requested.iter().any(ours)
            || self.withdrawn.iter().any(ours)
            || self.cancelled_tail_of(block).is_some()
    }

    /// The request `block` starts and the cancelled tail it runs into: the sender had
    /// got past the point where we cut the request before our cancel reached it.
    fn cancelled_tail_of(&self, block: &BlockRef) -> Option<(BlockRef, BlockRef)> {
        let mut lists = self.requested.iter().chain(self.withdrawn.iter());
        let head = *lists
            .find(|r| r.piece == block.piece && r.offset == block.offset && block.len > r.len)?;
        let end = head.offset + head.len;
        let tail = *self.withdrawn.iter().find(|w| {
            w.piece == block.piece && w.offset == end && block.offset + block.len <= end + w.len
        })?;
        Some((head, tail))
    }

    /// Takes `block` off the requests: a request it starts, extended into the cancelled
    /// tail it runs into (see [`Conn::asked_for`]). Whether it was one.
    pub(super) fn take_with_cancelled_tail(&mut self, block: &BlockRef) -> bool {
        let Some((head, tail)) = self.cancelled_tail_of(block) else {
            return false;
        };
        if let Some(i) = self.requested.iter().position(|r| *r == head) {
            self.requested.remove(i);
        } else if let Some(i) = self.withdrawn.iter().position(|r| *r == head) {
            self.withdrawn.remove(i);
        }
        let end = block.offset + block.len;
        if let Some(i) = self.withdrawn.iter().position(|w| *w == tail) {
            if tail.offset + tail.len <= end {
                self.withdrawn.remove(i);
            } else {
                let w = &mut self.withdrawn[i];
                w.len -= end - w.offset;
                w.offset = end;
            }
        }
        true
    }
}

/// The open connections, by slot; a closed connection's slot is reused.
#[derive(Debug, Default)]
pub(super) struct ConnTable {
    slots: Vec<Option<Conn>>,
    /// The neighbour in each slot (`None`: free), kept beside the slots so that finding
    /// a peer's connection (every tracker reply, every dial) reads a few bytes per slot
    /// rather than a whole `Conn`'s cache line.
    peers: Vec<Option<PeerId>>,
    free: Vec<u32>,
    open: u32,
}

impl ConnTable {
    /// Number of open connections.
    pub(super) fn open(&self) -> u32 {
        self.open
    }

    pub(super) fn get(&self, id: ConnId) -> Option<&Conn> {
        self.slots.get(id.index()).and_then(Option::as_ref)
    }

    pub(super) fn get_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.slots.get_mut(id.index()).and_then(Option::as_mut)
    }

    /// Stores `conn` in a free slot.
    pub(super) fn insert(&mut self, conn: Conn) -> ConnId {
        self.open += 1;
        let peer = Some(conn.peer);
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(conn);
                self.peers[slot as usize] = peer;
                ConnId(slot)
            }
            None => {
                self.slots.push(Some(conn));
                self.peers.push(peer);
                ConnId(u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX))
            }
        }
    }

    /// Takes `id` out of the table, freeing its slot.
    pub(super) fn remove(&mut self, id: ConnId) -> Option<Conn> {
        let conn = self.slots.get_mut(id.index()).and_then(Option::take)?;
        self.peers[id.index()] = None;
        self.open -= 1;
        self.free.push(id.0);
        Some(conn)
    }

    /// The open connections' ids, in slot order.
    pub(super) fn ids(&self) -> Vec<ConnId> {
        self.iter().map(|(id, _)| id).collect()
    }

    /// Every slot's id, open or not, in slot order, borrowing nothing: for walking the
    /// table while acting on its connections (each is looked up; a closed one skipped)
    /// without collecting the ids first. Slots opened meanwhile are not visited.
    pub(super) fn slot_ids(&self) -> impl Iterator<Item = ConnId> + use<> {
        (0..self.slots.len()).map(|i| ConnId(slot_id(i)))
    }

    /// The open connections, in slot order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (ConnId, &Conn)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((ConnId(slot_id(i)), c.as_ref()?)))
    }

    /// The open connections, in slot order, mutably.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (ConnId, &mut Conn)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, c)| Some((ConnId(slot_id(i)), c.as_mut()?)))
    }

    /// The connection to `peer`, if any.
    pub(super) fn to_peer(&self, peer: PeerId) -> Option<ConnId> {
        let slot = self.peers.iter().position(|&p| p == Some(peer))?;
        Some(ConnId(slot_id(slot)))
    }
}

/// Slot indices fit a `ConnId`: a peer never holds 2^32 connections.
fn slot_id(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(peer: u64) -> Conn {
        let window = SimDuration::from_secs(20);
        Conn::new(PeerId(peer), Direction::Outbound, 8, window, SimTime::ZERO)
    }

    #[test]
    fn a_peer_is_found_in_its_slot_and_forgotten_with_it() {
        let mut t = ConnTable::default();
        let a = t.insert(conn(7));
        let b = t.insert(conn(9));
        assert_eq!(
            (t.to_peer(PeerId(7)), t.to_peer(PeerId(9))),
            (Some(a), Some(b))
        );
        t.remove(a);
        assert_eq!(t.to_peer(PeerId(7)), None);
        // The freed slot is reused, and the index follows.
        let c = t.insert(conn(11));
        assert_eq!(c, a);
        assert_eq!(t.to_peer(PeerId(11)), Some(c));
        assert_eq!(t.to_peer(PeerId(9)), Some(b));
    }
}
