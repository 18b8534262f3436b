//! What a super-seeding seed (BEP 16; [`SuperSeed`](crate::core::super_seed::SuperSeed))
//! says and when: one piece offered per neighbour, a new one once the last was sent in
//! full and has been seen elsewhere.

use super::{Message, Peer};
use crate::core::geometry::BlockRef;
use crate::core::id::ConnId;

/// Rechokes (10 s each by default) an offer waits to be seen elsewhere or asked for.
const OFFER_ROUNDS: u32 = 3;

impl Peer {
    /// Offers the neighbour on `conn` its next piece (a HAVE), if it lacks any.
    pub(super) fn offer_piece(&mut self, conn: ConnId) {
        let Some(seed) = self.super_seed.as_ref() else {
            return;
        };
        let Some(theirs) = self.conns.get(conn).map(|c| &c.remote) else {
            return;
        };
        let mut held = vec![0u32; self.cfg.geometry.pieces() as usize];
        for (id, c) in self.conns.iter() {
            if id != conn {
                for p in c.remote.ones() {
                    held[p as usize] += 1;
                }
            }
        }
        let Some(piece) = seed.choose(theirs, &held) else {
            return;
        };
        let len = u64::from(self.cfg.geometry.piece_size(piece));
        if let Some(seed) = self.super_seed.as_mut() {
            seed.offer(conn, piece, len);
        }
        self.send(conn, Message::Have(piece));
    }

    /// The neighbour on `conn` turned out to hold `piece` (a HAVE or a bitfield): if
    /// it was the piece offered to it, it needs another; others who were sent that
    /// piece in full have passed it on and get their next.
    pub(super) fn super_seed_saw(&mut self, conn: ConnId, piece: u32) {
        let Some(seed) = self.super_seed.as_ref() else {
            return;
        };
        let mut next = seed.passed_on(conn, piece);
        if seed.offered(conn) == Some(piece) {
            next.push(conn);
        }
        for c in next {
            self.offer_piece(c);
        }
    }

    /// The neighbour on `conn` sent its bitfield: if it holds the piece offered to it,
    /// it needs another.
    pub(super) fn super_seed_bitfield(&mut self, conn: ConnId) {
        let offered = self.super_seed.as_ref().and_then(|s| s.offered(conn));
        let held = |p: &u32| self.conns.get(conn).is_some_and(|c| c.remote.get(*p));
        if let Some(piece) = offered.filter(held) {
            self.super_seed_saw(conn, piece);
        }
    }

    /// The neighbour on `conn` is no longer interested: if we did not send it all of
    /// its offered piece, it got the piece elsewhere and wants the next.
    pub(super) fn super_seed_not_interested(&mut self, conn: ConnId) {
        let Some(seed) = self.super_seed.as_ref() else {
            return;
        };
        if seed.offered(conn).is_some() && !seed.delivered(conn) {
            self.offer_piece(conn);
        }
    }

    /// At a rechoke: offers [`OFFER_ROUNDS`] rechokes old, sent in full and never seen
    /// elsewhere or never asked for, make way for the next.
    pub(super) fn super_seed_rechoked(&mut self) {
        let Some(seed) = self.super_seed.as_mut() else {
            return;
        };
        let stale = seed.waited_out(OFFER_ROUNDS);
        for conn in stale {
            self.offer_piece(conn);
        }
    }

    /// `block` went to `conn`: once the offered piece has all gone, the next
    /// offer waits for the piece to be seen elsewhere — unless it already is, or no
    /// other neighbour lacks it.
    pub(super) fn super_seed_sent(&mut self, conn: ConnId, block: &BlockRef) {
        let Some(seed) = self.super_seed.as_mut() else {
            return;
        };
        if !seed.sent(conn, block.piece, u64::from(block.len)) {
            return;
        }
        // It holds the piece now, though it will not say so: it believes we told it
        // because we have it. Without this the piece could be offered to it again.
        if let Some(c) = self.conns.get_mut(conn)
            && c.remote.set(block.piece)
        {
            self.picker.neighbour_has(block.piece);
        }
        // Seen elsewhere already, or nobody else lacks it (nobody will pass it on, so
        // waiting for that would only idle the neighbour).
        let others = || self.conns.iter().filter(|&(id, _)| id != conn);
        let elsewhere = others().any(|(_, c)| c.remote.get(block.piece));
        let wanted = others().any(|(_, c)| !c.remote.get(block.piece));
        if elsewhere || !wanted {
            self.offer_piece(conn);
        }
    }
}
