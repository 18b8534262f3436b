//! What each message from a neighbour does to the peer: interest and choking state, the
//! neighbour's pieces (HAVE and bitfields, a later bitfield included), its requests and
//! cancels. Blocks (`Piece`) are handled with the pieces in progress, in `requests`.

use super::{CloseReason, Message, Peer};
use crate::core::bitfield::Bitfield;
use crate::core::geometry::BlockRef;
use crate::core::id::ConnId;
use crate::units::SimTime;

/// Requests queued from one neighbour beyond which further ones are dropped.
pub(super) const MAX_QUEUED_REQUESTS: usize = 256;

/// Withdrawn requests remembered per connection (their blocks may still arrive).
pub(super) const MAX_WITHDRAWN: usize = 4 * MAX_QUEUED_REQUESTS;

impl Peer {
    /// A message arrived on `conn`.
    pub fn handle_message(&mut self, now: SimTime, conn: ConnId, msg: Message) {
        if self.conns.get(conn).is_none() {
            return;
        }
        match msg {
            Message::KeepAlive => {}
            Message::Choke => self.on_choke(now, conn),
            Message::Unchoke => self.on_unchoke(now, conn),
            Message::Interested => self.on_interested(now, conn),
            Message::NotInterested => self.on_not_interested(now, conn),
            Message::Have(piece) => self.on_have(now, conn, piece),
            Message::Bitfield(field) => self.on_bitfield(now, conn, field),
            Message::Request(block) => self.on_request(now, conn, block),
            Message::Cancel(block) => self.on_cancel(conn, block),
            Message::Piece(block) => self.on_piece(now, conn, block),
        }
    }

    fn on_unchoke(&mut self, now: SimTime, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(conn) {
            c.peer_choking = false;
            c.first_unchoked_at.get_or_insert(now);
        }
        self.request_more(now, conn);
    }

    fn on_interested(&mut self, now: SimTime, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        // Unchoked while not interested, it held no slot; now it takes one.
        let was_unchoked = !c.am_choking && !c.peer_interested;
        c.peer_interested = true;
        if was_unchoked {
            self.trim_upload_slots(now);
        } else {
            self.fill_upload_slots(now);
        }
    }

    fn on_not_interested(&mut self, now: SimTime, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        let freed = c.peer_interested && !c.am_choking;
        c.peer_interested = false;
        self.super_seed_not_interested(conn);
        if freed {
            self.fill_upload_slots(now);
        }
    }

    /// A cancel names a request, or the tail of one (a run of grains is a batch of
    /// 16 KiB requests, and a receiver may give up its last ones): a queued request loses
    /// it, and the block being sent stops where the cancelled part begins.
    fn on_cancel(&mut self, conn: ConnId, block: BlockRef) {
        let ends_with = |r: &BlockRef| {
            r.piece == block.piece
                && r.offset <= block.offset
                && r.offset + r.len == block.offset + block.len
        };
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        c.queued
            .retain(|r| !(ends_with(r) && r.offset == block.offset));
        for r in c.queued.iter_mut().filter(|r| ends_with(r)) {
            r.len = block.offset - r.offset;
        }
        if c.sending.is_some_and(|s| ends_with(&s)) {
            self.cut_sending(conn, block.offset);
        }
    }

    fn on_have(&mut self, now: SimTime, conn: ConnId, piece: u32) {
        if piece >= self.cfg.geometry.pieces() {
            let why = CloseReason::Protocol("HAVE for a piece out of range");
            return self.close(now, conn, why);
        }
        let lacking = !self.have.get(piece);
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
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
        self.super_seed_saw(conn, piece);
        if lacking {
            self.update_interest(conn);
            self.request_more(now, conn);
        }
    }

    /// BEP 3 wants one bitfield, as the first message. Some clients (aria2) send it
    /// again as they progress; a later one only tells of new pieces, so its new bits
    /// count as HAVEs and a cleared bit is ignored (pieces are not lost).
    fn on_bitfield(&mut self, now: SimTime, conn: ConnId, field: Bitfield) {
        if field.len() != self.cfg.geometry.pieces() {
            let why = CloseReason::Protocol("bitfield of the wrong length");
            return self.close(now, conn, why);
        }
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        if c.remote.count() > 0 {
            let new: Vec<u32> = field.ones().filter(|&p| !c.remote.get(p)).collect();
            for piece in new {
                self.on_have(now, conn, piece);
            }
            return;
        }
        let interesting = field.count_missing_from(&self.have);
        self.picker.neighbour_added(&field);
        let complete = field.is_full();
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        c.remote = field;
        c.interesting = interesting;
        if complete && self.is_complete() {
            return self.close(now, conn, CloseReason::BothComplete);
        }
        self.super_seed_bitfield(conn);
        self.update_interest(conn);
        self.request_more(now, conn);
    }

    /// Tells the neighbour on `conn` whether we want anything it has, if that changed.
    pub(super) fn update_interest(&mut self, conn: ConnId) {
        let complete = self.is_complete();
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
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
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        c.peer_choking = true;
        // The remote drops our requests; blocks already on the way may still arrive.
        let dropped: Vec<BlockRef> = c.requested.drain(..).collect();
        c.withdrawn.extend(dropped.iter().copied());
        while c.withdrawn.len() > MAX_WITHDRAWN {
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
        let limit = super::MAX_REQUEST_LEN.max(self.cfg.geometry.block_len());
        if !self.cfg.geometry.is_valid_request(&block, limit) {
            let why = CloseReason::Protocol("request outside the torrent");
            return self.close(now, conn, why);
        }
        if !self.have.get(block.piece) {
            let why = CloseReason::Protocol("request for a piece we lack");
            return self.close(now, conn, why);
        }
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        if c.am_choking || c.queued.len() >= MAX_QUEUED_REQUESTS || c.queued.contains(&block) {
            return;
        }
        c.queued.push_back(block);
        self.serve_next(conn);
    }
}
