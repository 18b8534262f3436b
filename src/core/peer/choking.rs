//! Uploading: who holds an upload slot (the choker at each rechoke, free slots filled
//! and oversubscribed ones trimmed in between), how the upload is weighted, and serving
//! the requests of unchoked neighbours one block at a time.

use super::{Message, Peer, Way};
use crate::core::choker::{self, Candidate, Choker};
use crate::core::geometry::BlockRef;
use crate::core::id::ConnId;
use crate::units::SimTime;

impl Peer {
    /// The relative share of our upload capacity the blocks we send on `conn` should
    /// get, as our choker weighted it: a host that can (the simulator's network) gives
    /// each sending connection `capacity · weight / Σ weights`. Mainline chokers weight
    /// every connection equally; PropShare and BitTyrant do not. A host that cannot
    /// weight its uploads ignores this.
    pub fn upload_weight(&self, conn: ConnId) -> u32 {
        self.conns
            .get(conn)
            .map_or(choker::EQUAL_WEIGHT, |c| c.upload_weight)
    }

    /// Whether we choke the neighbour on `conn` (a closed connection counts as choked).
    pub fn is_choking(&self, conn: ConnId) -> bool {
        self.conns.get(conn).is_none_or(|c| c.am_choking)
    }

    /// Unchokes newly interested peers at once while slots are free, so a swarm does not
    /// wait for the next rechoke to start trading. How many slots there are is the
    /// choker's call ([`Choker::slots`]; the policy's by default).
    pub(super) fn fill_upload_slots(&mut self, now: SimTime) {
        if !self.uploads() {
            return;
        }
        let slots = self.slot_count();
        let busy = self
            .conns
            .iter()
            .filter(|(_, c)| !c.am_choking && c.peer_interested)
            .count();
        if busy >= slots {
            return;
        }
        // Like mainline's event-driven rechoke: the free slots go to the waiting peers
        // that gave us data fastest (a seed: that we sent data to fastest), ties at
        // random — not to random peers, which would undo tit-for-tat between rechokes.
        let complete = self.is_complete();
        let mut waiting: Vec<(ConnId, u64)> = Vec::new();
        for (id, c) in self.conns.iter_mut() {
            if c.am_choking && c.peer_interested {
                waiting.push((id, c.reciprocation_rate(now, complete)));
            }
        }
        self.dice.shuffle(&mut waiting);
        waiting.sort_by_key(|&(_, rate)| std::cmp::Reverse(rate));
        for (id, _) in waiting.into_iter().take(slots - busy) {
            self.set_choking(id, false);
            let w = self.active_choker().weight(id);
            if let Some(c) = self.conns.get_mut(id) {
                c.chosen = false;
                c.upload_weight = w;
            }
        }
    }

    /// An unchoked peer that was not interested (so did not hold a slot) became
    /// interested again: if that oversubscribes the slots, choke the slowest of the
    /// peers that only filled a free slot, so slots do not pile up between rechokes
    /// (which would turn tit-for-tat into serving everyone). Peers the choker chose keep
    /// their place until the next rechoke.
    pub(super) fn trim_upload_slots(&mut self, now: SimTime) {
        let slots = self.slot_count();
        let complete = self.is_complete();
        let mut busy = 0usize;
        let mut fillers: Vec<(ConnId, u64)> = Vec::new();
        for (id, c) in self.conns.iter_mut() {
            if c.am_choking || !c.peer_interested {
                continue;
            }
            busy += 1;
            if !c.chosen {
                fillers.push((id, c.reciprocation_rate(now, complete)));
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
        let policy = &self.cfg.policy;
        let default = (policy.upload_slots + policy.optimistic_slots) as usize;
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
        let Some(c) = self.conns.get_mut(id) else {
            return;
        };
        if c.am_choking == choke {
            return;
        }
        c.am_choking = choke;
        if choke {
            // BEP 3: a choke discards the requests not yet served, and a run of wire
            // blocks being sent stops at the next one's end.
            c.queued.clear();
            let at = c.sending.map_or(0, |b| b.offset);
            self.cut_sending(id, at);
            self.send(id, Message::Choke);
        } else {
            self.send(id, Message::Unchoke);
        }
    }

    /// Asks the choker in charge whom to unchoke, and chokes everyone else.
    pub(super) fn rechoke(&mut self, now: SimTime) {
        self.super_seed_rechoked();
        let piece_len = u64::from(self.cfg.geometry.piece_len());
        let mut candidates = Vec::with_capacity(self.conns.open() as usize);
        for (id, c) in self.conns.iter_mut() {
            candidates.push(Candidate {
                conn: id,
                interested: c.peer_interested,
                unchoked: !c.am_choking,
                download_rate: c.from_them.rate(now),
                upload_rate: c.to_them.rate(now),
                connected_at: c.connected_at,
                last_piece_at: c.last_piece_at,
                unchokes_us: !c.peer_choking,
                announce_rate: c.announce_rate(piece_len, now),
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
            if let Some(c) = self.conns.get_mut(cand.conn) {
                c.upload_weight = weight;
                c.chosen = chosen;
            }
            self.set_choking(cand.conn, !chosen);
        }
        self.scratch_unchoke = unchoke;
    }

    /// Asks the host to end the block being sent on `conn` at offset `at` of its piece
    /// (or at the next grain boundary, if past it), if that leaves something to stop:
    /// the block is longer than one grain and `at` falls inside it.
    pub(super) fn cut_sending(&mut self, conn: ConnId, at: u32) {
        let grain = self.cfg.geometry.grain_len();
        let cuts = self
            .conns
            .get(conn)
            .and_then(|c| c.sending)
            .is_some_and(|b| b.len > grain && at < b.offset + b.len);
        if cuts {
            self.out.push_back(super::Output::Cut { conn, at });
        }
    }

    /// Starts sending the next queued request on `conn`, if it is not busy.
    pub(super) fn serve_next(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        if c.sending.is_some() || c.am_choking {
            return;
        }
        let Some(b) = c.queued.pop_front() else {
            return;
        };
        c.sending = Some(b);
        let grains = self.corrupt_grains(&b);
        if grains.is_empty() {
            self.send(conn, Message::Piece(b));
        } else {
            let block = b;
            self.out.push_back(super::Output::SendCorrupted {
                conn,
                block,
                grains,
            });
        }
    }

    /// The grains of `block` this peer corrupts as it sends it: each grain the block
    /// covers, with the probability [`PeerConfig::corrupt`](crate::core::PeerConfig)
    /// gives, drawn from the peer's own stream. An honest peer draws nothing, so its
    /// other decisions are what they would be without this.
    fn corrupt_grains(&mut self, block: &BlockRef) -> Vec<u32> {
        let corrupt = self.cfg.corrupt;
        if !corrupt.corrupts() || block.len == 0 {
            return Vec::new();
        }
        let grain = self.cfg.geometry.grain_len();
        let (first, last) = (block.offset / grain, (block.offset + block.len - 1) / grain);
        (first..=last)
            .filter(|_| self.dice.unit() < corrupt.probability())
            .collect()
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
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
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
        let len = u64::from(block.len);
        self.uploaded += len;
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        let early = std::mem::take(&mut c.sent_early);
        c.to_them.record(now, len.saturating_sub(early));
        // The block, or the part of it that went before a cut.
        let ends = |b: BlockRef| b.piece == block.piece && b.offset == block.offset;
        if c.sending.is_some_and(ends) {
            c.sending = None;
        }
        self.super_seed_sent(conn, &block);
        self.serve_next(conn);
    }
}
