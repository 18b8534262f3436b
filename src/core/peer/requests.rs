//! Downloading: the pieces in progress, what to request next (strict priority, the piece
//! picker, endgame), how many requests to keep outstanding, what arriving blocks mean,
//! and what a verified or failed piece changes.

use super::messages::MAX_WITHDRAWN;
use super::{CloseReason, Message, Output, Peer};
use crate::core::config::Pipeline;
use crate::core::geometry::{BlockRef, WIRE_BLOCK_LEN};
use crate::core::id::{ConnId, PeerId};
use crate::core::picker::PickContext;
use crate::core::tracker::AnnounceEvent;
use crate::units::SimTime;

/// Hash failures a neighbour may contribute to before it is cut off.
pub(super) const MAX_STRIKES: u32 = 2;

/// How many peers hold a block request at once in endgame.
const ENDGAME_DUPLICATES: u8 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BlockState {
    Missing,
    Requested(u8),
    Received,
}

/// A piece being downloaded.
#[derive(Debug)]
pub(super) struct Partial {
    pub(super) piece: u32,
    pub(super) blocks: Vec<BlockState>,
    pub(super) received: u32,
    /// Peers that sent blocks of it, blamed if it fails verification.
    pub(super) senders: Vec<PeerId>,
}

impl Partial {
    fn is_idle(&self) -> bool {
        self.received == 0 && self.blocks.iter().all(|b| *b == BlockState::Missing)
    }
}

impl Peer {
    /// Whether the bytes of `block`, arriving on `conn`, are worth keeping: we asked this
    /// connection for it (or withdrew the request, and it came anyway) and we still lack
    /// it. A host stores a block's bytes only when this says so, before it reports the
    /// block with [`Peer::handle_message`]; anything else (a block nobody asked for, an
    /// endgame duplicate, a block of a piece given up) must not touch a piece being
    /// assembled.
    #[must_use]
    pub fn wants_block(&self, conn: ConnId, block: &BlockRef) -> bool {
        let asked = self.conns.get(conn).is_some_and(|c| c.asked_for(block));
        let missing = self
            .partial_block(block)
            .is_some_and(|(pi, bi)| self.partials[pi].blocks[bi] != BlockState::Received);
        asked && missing
    }

    /// The partial piece and block index `block` falls on, if its piece is in progress.
    fn partial_block(&self, block: &BlockRef) -> Option<(usize, usize)> {
        let pi = self.partials.iter().position(|p| p.piece == block.piece)?;
        let bi = self.cfg.geometry.block_index(block)?;
        Some((pi, bi as usize))
    }

    pub(super) fn on_piece(&mut self, now: SimTime, conn: ConnId, block: BlockRef) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        let peer = c.peer;
        if let Some(i) = c.requested.iter().position(|b| *b == block) {
            c.requested.swap_remove(i);
        } else if let Some(i) = c.withdrawn.iter().position(|b| *b == block) {
            c.withdrawn.remove(i);
        } else {
            let why = CloseReason::Protocol("sent a block nobody requested");
            return self.close(now, conn, why);
        }
        let early = match c.received_early.iter().position(|(b, _)| *b == block) {
            Some(i) => c.received_early.swap_remove(i).1,
            None => 0,
        };
        let len = u64::from(block.len);
        c.from_them.record(now, len.saturating_sub(early));
        c.last_piece_at = Some(now);
        self.downloaded += len;

        let Some(pi) = self.partials.iter().position(|p| p.piece == block.piece) else {
            // Already complete (an endgame duplicate) or abandoned meanwhile.
            return self.request_more(conn);
        };
        let Some(bi) = self.cfg.geometry.block_index(&block) else {
            let why = CloseReason::Protocol("block off the block grid");
            return self.close(now, conn, why);
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
        for id in self.conns.ids() {
            if id == except {
                continue;
            }
            let Some(c) = self.conns.get_mut(id) else {
                continue;
            };
            if let Some(i) = c.requested.iter().position(|b| *b == block) {
                c.requested.swap_remove(i);
                c.withdrawn.push_back(block);
                if c.withdrawn.len() > MAX_WITHDRAWN {
                    c.withdrawn.pop_front();
                }
                self.send(id, Message::Cancel(block));
                self.request_more(id);
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
            self.refill_all();
            return;
        }
        self.have.set(piece);
        for id in self.conns.ids() {
            let Some(c) = self.conns.get_mut(id) else {
                continue;
            };
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
        if count >= MAX_STRIKES
            && let Some(id) = self.conns.to_peer(peer)
        {
            self.close(now, id, CloseReason::BadData);
        }
    }

    fn become_seed(&mut self, now: SimTime) {
        self.out.push_back(Output::Completed);
        self.announce(now, AnnounceEvent::Completed);
        for id in self.conns.ids() {
            self.update_interest(id);
            if self.conns.get(id).is_some_and(|c| c.remote.is_full()) {
                self.close(now, id, CloseReason::BothComplete);
            }
        }
        self.rechoke(now);
    }

    // ------------------------------------------------------------------ requests

    pub(super) fn refill_all(&mut self) {
        for id in self.conns.ids() {
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
        let Pipeline::Fixed(pipeline) = self.cfg.policy.pipeline;
        let pipeline = u64::from(pipeline);
        let block = u64::from(self.cfg.geometry.block_len().max(1));
        let by_bytes = pipeline * u64::from(WIRE_BLOCK_LEN) / block;
        usize::try_from(by_bytes.max(2).min(pipeline)).unwrap_or(usize::MAX)
    }

    /// Keeps up to [`Self::pipeline_depth`] requests outstanding on `conn`.
    pub(super) fn request_more(&mut self, conn: ConnId) {
        let pipeline = self.pipeline_depth();
        loop {
            let Some(c) = self.conns.get(conn) else {
                return;
            };
            if c.peer_choking || !c.am_interested || c.requested.len() >= pipeline {
                return;
            }
            let Some(block) = self.next_block(conn) else {
                return;
            };
            if let Some(c) = self.conns.get_mut(conn) {
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
        let c = self.conns.get(conn)?;
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
                return Some(geometry.block(partial.piece, block_index(i)));
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
                    let block = geometry.block(partial.piece, block_index(i));
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
    pub(super) fn release(&mut self, b: &BlockRef) {
        let Some((pi, bi)) = self.partial_block(b) else {
            return;
        };
        let partial = &mut self.partials[pi];
        if let BlockState::Requested(n) = partial.blocks[bi] {
            partial.blocks[bi] = if n > 1 {
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
}

/// A block's index within its piece: pieces hold far fewer than 2^32 blocks.
fn block_index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}
