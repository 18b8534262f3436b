//! Downloading: the pieces in progress, what to request next (strict priority, the piece
//! picker, endgame), how many requests to keep outstanding, what arriving blocks mean,
//! and what a verified or failed piece changes.
//!
//! A piece in progress is tracked grain by grain (16 KiB wire blocks; see
//! [`Geometry`](crate::core::Geometry)). A request is a run of grains: one with 16 KiB
//! blocks; in fast mode up to a chunk, and no more than half of what 16 KiB requests
//! would keep on order at that sender (`Peer::run_cap`). A delivery is the whole run or
//! a prefix of it (the sender was choked or the request cancelled: it stopped at a grain
//! boundary); the grains that arrived are kept and the rest go back to the pool, to be
//! fetched from whoever has them, under strict priority — so in either mode a piece may
//! come from several senders.

use super::conn::Conn;
use super::messages::MAX_WITHDRAWN;
use super::{CloseReason, Message, Output, Peer};
use crate::core::config::Pipeline;
use crate::core::geometry::{BlockRef, WIRE_BLOCK_LEN};
use crate::core::id::{ConnId, PeerId};
use crate::core::picker::PickContext;
use crate::core::smart_ban::GrainDigest;
use crate::core::tracker::AnnounceEvent;
use crate::units::{SimTime, mul_div};

/// How many peers hold a request for a grain at once in endgame.
const ENDGAME_DUPLICATES: u8 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GrainState {
    Missing,
    Requested(u8),
    Received,
}

/// A piece being downloaded.
#[derive(Debug)]
pub(super) struct Partial {
    pub(super) piece: u32,
    pub(super) grains: Vec<GrainState>,
    pub(super) received: u32,
    /// Who sent each grain that arrived (the smart ban's evidence if it fails).
    pub(super) sent_by: Vec<Option<PeerId>>,
}

impl Partial {
    fn is_idle(&self) -> bool {
        self.received == 0 && self.grains.iter().all(|g| *g == GrainState::Missing)
    }

    /// The run of grains from `first` on, at most `max` long, whose state passes `take`.
    fn run_from(&self, first: usize, max: usize, take: impl Fn(GrainState) -> bool) -> usize {
        self.grains[first..]
            .iter()
            .take(max)
            .take_while(|&&g| take(g))
            .count()
    }
}

/// Whether two requests of one piece share a grain.
fn overlaps(a: &BlockRef, b: &BlockRef) -> bool {
    a.piece == b.piece && a.offset < b.offset + b.len && b.offset < a.offset + a.len
}

/// A grain count or index as a `u32`: pieces hold far fewer than 2^32 grains.
fn narrow(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl Peer {
    /// Whether the bytes of `block`, arriving on `conn`, are worth keeping: we asked this
    /// connection for it (or withdrew the request, and it came anyway) and we still lack
    /// some of it. A host stores a block's bytes only when this says so, before it
    /// reports the block with [`Peer::handle_message`]; anything else (a block nobody
    /// asked for, an endgame duplicate, a block of a piece given up) must not touch a
    /// piece being assembled.
    #[must_use]
    pub fn wants_block(&self, conn: ConnId, block: &BlockRef) -> bool {
        self.grains_to_keep(conn, block).next().is_some()
    }

    /// The grains of `block`, arriving on `conn`, whose bytes the host should keep (as
    /// indices in the piece): those a block [`Peer::wants_block`] accepts still lacks.
    /// A block that overlaps grains already received (an endgame run in the
    /// simulator's fast mode) must not overwrite them: the core counts them as sent by
    /// whoever delivered them first. With 16 KiB blocks this is the block's one grain,
    /// or none.
    pub fn grains_to_keep(&self, conn: ConnId, block: &BlockRef) -> impl Iterator<Item = u32> {
        let asked = self.conns.get(conn).is_some_and(|c| c.asked_for(block));
        let span = self.partial_of(block).filter(|_| asked);
        span.into_iter().flat_map(move |(pi, first, count)| {
            let grains = &self.partials[pi].grains;
            (first..first + count)
                .filter(move |&g| grains[g] != GrainState::Received)
                .map(narrow)
        })
    }

    /// The partial piece `block` falls on and the grains it covers, if its piece is in
    /// progress and the block lies on the grain grid.
    fn partial_of(&self, block: &BlockRef) -> Option<(usize, usize, usize)> {
        let pi = self.partials.iter().position(|p| p.piece == block.piece)?;
        let (first, count) = self.cfg.geometry.grain_span(block)?;
        let (first, count) = (first as usize, count as usize);
        (first + count <= self.partials[pi].grains.len()).then_some((pi, first, count))
    }

    pub(super) fn on_piece(&mut self, now: SimTime, conn: ConnId, block: BlockRef) {
        let geometry = self.cfg.geometry;
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        let peer = c.peer;
        // The block is a request of ours or a prefix of one (a sender stops early at a
        // grain boundary when it chokes us or we cancel).
        let is_ours =
            |r: &BlockRef| r.piece == block.piece && r.offset == block.offset && block.len <= r.len;
        if geometry.grain_span(&block).is_none() {
            let why = CloseReason::Protocol("block off the block grid");
            return self.close(now, conn, why);
        }
        let mut rest = None;
        let requested = c.requested.iter().position(is_ours);
        if let Some(i) = requested {
            let asked = c.requested.remove(i);
            rest = (asked.len > block.len).then(|| BlockRef {
                piece: asked.piece,
                offset: block.offset + block.len,
                len: asked.len - block.len,
            });
        } else if let Some(i) = c.withdrawn.iter().position(is_ours) {
            c.withdrawn.remove(i);
        } else if !c.take_with_cancelled_tail(&block) {
            let why = CloseReason::Protocol("sent a block nobody requested");
            return self.close(now, conn, why);
        }
        let early = match c.received_early.iter().position(|(b, _)| is_ours(b)) {
            Some(i) => c.received_early.swap_remove(i).1,
            None => 0,
        };
        let len = u64::from(block.len);
        c.from_them.record(now, len.saturating_sub(early));
        c.last_piece_at = Some(now);
        c.head_since = now;
        self.downloaded += len;
        // What was asked but did not come goes back to the pool.
        if let Some(rest) = rest {
            self.release(&rest);
        }
        self.keep_grains(now, conn, peer, block, requested.is_some());
        self.request_more(now, conn);
    }

    /// Marks the grains of `block` received (those we still lacked), cancels them where
    /// else they are on order, and asks for verification once the piece is whole.
    /// `requested`: the block answers an outstanding request of `conn`'s.
    fn keep_grains(
        &mut self,
        now: SimTime,
        conn: ConnId,
        peer: PeerId,
        block: BlockRef,
        requested: bool,
    ) {
        // Already complete (an endgame duplicate) or abandoned meanwhile: nothing to keep.
        let Some((pi, first, count)) = self.partial_of(&block) else {
            return;
        };
        let partial = &mut self.partials[pi];
        // A grain marked requested once is covered by exactly one outstanding request
        // (`check_requests`). If that is the request this block answers for every grain
        // of it, no other connection has any of them on order: nothing to cancel, and the
        // walk over every connection's requests is skipped (it is the common case).
        let alone = requested
            && partial.grains[first..first + count]
                .iter()
                .all(|g| *g == GrainState::Requested(1));
        let mut new = 0;
        let grains = partial.grains[first..first + count].iter_mut();
        for (g, by) in grains.zip(&mut partial.sent_by[first..first + count]) {
            if *g != GrainState::Received {
                *g = GrainState::Received;
                *by = Some(peer);
                new += 1;
            }
        }
        if new == 0 {
            return;
        }
        partial.received += new;
        let done = partial.received as usize == partial.grains.len();
        if !alone {
            self.cancel_duplicates(now, conn, block);
        }
        if done {
            self.out.push_back(Output::Verify { piece: block.piece });
        }
    }

    /// In endgame other neighbours may have some of these grains on order: cancel them
    /// there — the tail of a request whose tail this block covers, else the whole request
    /// (what else it covered goes back to the pool).
    fn cancel_duplicates(&mut self, now: SimTime, except: ConnId, block: BlockRef) {
        for id in self.conns.slot_ids() {
            if id == except {
                continue;
            }
            let Some(c) = self.conns.get_mut(id) else {
                continue;
            };
            if !c.requested.iter().any(|r| overlaps(r, &block)) {
                continue;
            }
            let mut cancelled = Vec::new();
            for r in c.requested.iter_mut().filter(|r| overlaps(r, &block)) {
                let covers_tail =
                    block.offset > r.offset && block.offset + block.len >= r.offset + r.len;
                if covers_tail {
                    let tail = BlockRef {
                        offset: block.offset,
                        len: r.offset + r.len - block.offset,
                        ..*r
                    };
                    r.len -= tail.len;
                    cancelled.push(tail);
                } else {
                    cancelled.push(*r);
                    r.len = 0;
                }
            }
            c.requested.retain(|r| r.len > 0);
            if cancelled.is_empty() {
                continue;
            }
            for r in &cancelled {
                c.withdrawn.push_back(*r);
                if c.withdrawn.len() > MAX_WITHDRAWN {
                    c.withdrawn.pop_front();
                }
            }
            for r in cancelled {
                self.send(id, Message::Cancel(r));
                self.release(&r);
            }
            self.request_more(now, id);
        }
    }

    // ------------------------------------------------------------------ verification

    /// The host checked `piece`: `ok` if its hash matched. `grains` holds a digest of
    /// each of its grains as received (in order; see
    /// [`smart_ban`](crate::core::smart_ban)): needed when it failed, and when it passed
    /// if [`Peer::grain_digests_wanted`] said so; otherwise it may be empty. Without
    /// them a failed piece can only be blamed on a sole sender.
    pub fn handle_piece_verified(
        &mut self,
        now: SimTime,
        piece: u32,
        ok: bool,
        grains: &[GrainDigest],
    ) {
        let Some(pi) = self.partials.iter().position(|p| p.piece == piece) else {
            return;
        };
        let partial = self.partials.swap_remove(pi);
        if !ok {
            self.wanted.set(piece);
            self.picker.want(piece);
            let senders: Vec<PeerId> = partial.sent_by.iter().flatten().copied().collect();
            // Every grain arrived (that is why it was checked), so each has a sender.
            let senders = if senders.len() == partial.sent_by.len() {
                senders
            } else {
                Vec::new()
            };
            for peer in self.smart_ban.piece_failed(piece, &senders, grains) {
                self.ban(now, peer);
            }
            self.refill_all(now);
            return;
        }
        self.have.set(piece);
        // Before the HAVEs go out: a peer banned now hears nothing more from us.
        for peer in self.smart_ban.piece_passed(piece, grains) {
            self.ban(now, peer);
        }
        for id in self.conns.slot_ids() {
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

    /// Whether the host should pass grain digests when `piece` passes its check: a
    /// failed attempt at it is on record, whose bad grains the good ones will show.
    pub fn grain_digests_wanted(&self, piece: u32) -> bool {
        self.smart_ban.wants_digests(piece)
    }

    /// Whether we have banned `peer`.
    pub fn has_banned(&self, peer: PeerId) -> bool {
        self.smart_ban.is_banned(peer)
    }

    /// `peer` is banned: forget it as a candidate, and cut it off if connected.
    fn ban(&mut self, now: SimTime, peer: PeerId) {
        self.out.push_back(Output::Banned { peer });
        self.known.retain(|&p| p != peer);
        if let Some(id) = self.conns.to_peer(peer) {
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

    pub(super) fn refill_all(&mut self, now: SimTime) {
        for id in self.conns.slot_ids() {
            self.request_more(now, id);
        }
    }

    /// How many requests to keep outstanding on `conn`. `pipeline` counts wire-sized
    /// (16 KiB) blocks — fixed, or sized to what `conn` has delivered lately
    /// ([`Pipeline::Auto`]) — so a simulation with bigger blocks keeps the same bytes in
    /// flight: ten 256 KiB chunks asked for at once would all be picked while rare and
    /// arrive a minute later, long after others fetched them, and a seed would send the
    /// same chunks over and over. Never fewer than two (unless a fixed `pipeline` says
    /// so), so the next block is asked for while one is arriving.
    ///
    /// The rate is [`Conn::delivery_rate`], counted from the neighbour's first unchoke.
    fn pipeline_depth(&mut self, now: SimTime, conn: ConnId) -> usize {
        let policy = self.cfg.policy.pipeline;
        let rate = match policy {
            Pipeline::Fixed(_) => 0,
            Pipeline::Auto => self.conns.get_mut(conn).map_or(0, |c| c.delivery_rate(now)),
        };
        let pipeline = u64::from(policy.wire_blocks(rate));
        let block = u64::from(self.cfg.geometry.block_len().max(1));
        let by_bytes = pipeline * u64::from(WIRE_BLOCK_LEN) / block;
        usize::try_from(by_bytes.max(2).min(pipeline)).unwrap_or(usize::MAX)
    }

    /// Keeps up to [`Self::pipeline_depth`] requests outstanding on `conn`; in fast mode
    /// runs of grains no longer than [`Self::run_cap`] allows, so that the bytes on order
    /// are those 16 KiB requests would have there.
    pub(super) fn request_more(&mut self, now: SimTime, conn: ConnId) {
        // Most calls (a HAVE from a neighbour that chokes us) end here: before the depth's
        // rate arithmetic.
        let may_ask = |c: &Conn| !c.peer_choking && c.am_interested;
        if !self.conns.get(conn).is_some_and(may_ask) {
            return;
        }
        let pipeline = self.pipeline_depth(now, conn);
        loop {
            let Some(c) = self.conns.get(conn) else {
                return;
            };
            if !may_ask(c) {
                return;
            }
            if c.requested.len() >= pipeline {
                return;
            }
            let Some(block) = self
                .run_cap(now, conn)
                .and_then(|cap| self.next_block(conn, cap))
            else {
                return;
            };
            if let Some(c) = self.conns.get_mut(conn) {
                if c.requested.is_empty() {
                    c.head_since = now;
                }
                c.requested.push(block);
            }
            self.send(conn, Message::Request(block));
        }
    }

    /// The longest run of grains to ask `conn` for now: one grain with 16 KiB blocks; in
    /// fast mode half of what 16 KiB requests would keep on order there (its budget:
    /// [`Pipeline::wire_blocks`] at its measured rate), at most a request's worth, and
    /// nothing while the budget is on order and two runs are out. Half, so that the next
    /// run is asked for while one arrives, as 16 KiB requests are. A sender then holds
    /// no more of a piece than it would with 16 KiB requests, and the rest of the piece
    /// goes to whichever connection has room next (docs/design.md, "Blocks and grains").
    fn run_cap(&mut self, now: SimTime, conn: ConnId) -> Option<usize> {
        let max = self.cfg.geometry.grains_per_request() as usize;
        if max <= 1 {
            return Some(1);
        }
        let grain = u64::from(self.cfg.geometry.grain_len().max(1));
        let (on_order, budget) = self.order_and_budget(now, conn)?;
        let runs_out = self.conns.get(conn)?.requested.len();
        if on_order >= budget && runs_out >= 2 {
            return None;
        }
        let half = usize::try_from(budget / 2 / grain).unwrap_or(usize::MAX);
        Some(half.clamp(1, max))
    }

    /// The next run of grains, at most `cap` long, to ask `conn` for: missing grains of
    /// a started piece first (strict priority), else the start of a new piece from the
    /// picker, else (endgame) grains already requested elsewhere.
    fn next_block(&mut self, conn: ConnId, cap: usize) -> Option<BlockRef> {
        let geometry = self.cfg.geometry;
        let c = self.conns.get(conn)?;
        for partial in self.partials.iter_mut() {
            if !c.remote.get(partial.piece) {
                continue;
            }
            let missing = |g| g == GrainState::Missing;
            if let Some(first) = partial.grains.iter().position(|&g| missing(g)) {
                let count = partial.run_from(first, cap, missing);
                for g in &mut partial.grains[first..first + count] {
                    *g = GrainState::Requested(1);
                }
                return Some(geometry.grain_run(partial.piece, narrow(first), narrow(count)));
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
            let mut grains = vec![GrainState::Missing; geometry.grains_in(piece) as usize];
            let count = cap.min(grains.len()).max(1);
            for g in &mut grains[..count] {
                *g = GrainState::Requested(1);
            }
            let sent_by = vec![None; grains.len()];
            self.partials.push(Partial {
                piece,
                grains,
                received: 0,
                sent_by,
            });
            return Some(geometry.grain_run(piece, 0, narrow(count)));
        }
        if !self.cfg.policy.endgame || self.wanted.count() > 0 {
            return None;
        }
        self.endgame_block(conn)
    }

    /// Bytes on order at `conn` not yet arrived, and the bytes 16 KiB requests would
    /// keep on order there ([`Pipeline::wire_blocks`] at its measured rate). How far
    /// the first run has got is estimated from the rate since it started
    /// ([`Conn::head_since`]), or the grains reported arrived, if more.
    fn order_and_budget(&mut self, now: SimTime, conn: ConnId) -> Option<(u64, u64)> {
        let policy = self.cfg.policy.pipeline;
        let c = self.conns.get_mut(conn)?;
        let rate = c.delivery_rate(now);
        let budget = u64::from(policy.wire_blocks(rate)) * u64::from(WIRE_BLOCK_LEN);
        let on_order: u64 = c.requested.iter().map(|r| u64::from(r.len)).sum();
        let Some(head) = c.requested.first() else {
            return Some((0, budget));
        };
        let elapsed = now.0.saturating_sub(c.head_since.0);
        let by_rate = mul_div(rate, elapsed, 1_000_000);
        let reported = c
            .received_early
            .iter()
            .find(|(b, _)| b.piece == head.piece && b.offset == head.offset)
            .map_or(0, |&(_, bytes)| bytes);
        let arrived = by_rate.max(reported).min(u64::from(head.len));
        Some((on_order - arrived, budget))
    }

    /// Endgame: grains already on order elsewhere (by fewer than
    /// [`ENDGAME_DUPLICATES`] neighbours), not already asked of `conn`. With 16 KiB
    /// blocks, the first such grain, as clients ask. With runs (fast mode), the second
    /// half of the longest such run, so that two senders work on different ends of what
    /// is left, as 16 KiB requests spread over connections would; whichever grains
    /// arrive first are cancelled at the other.
    fn endgame_block(&mut self, conn: ConnId) -> Option<BlockRef> {
        let geometry = self.cfg.geometry;
        let max = geometry.grains_per_request() as usize;
        let c = self.conns.get(conn)?;
        let once = |g| matches!(g, GrainState::Requested(n) if n < ENDGAME_DUPLICATES);
        // (partial, first grain, count) of the run to share.
        let mut best: Option<(usize, usize, usize)> = None;
        'pieces: for (pi, partial) in self.partials.iter().enumerate() {
            if !c.remote.get(partial.piece) {
                continue;
            }
            let mut first = 0;
            while first < partial.grains.len() {
                let count = if max == 1 {
                    usize::from(once(partial.grains[first]))
                } else {
                    partial.run_from(first, usize::MAX, once)
                };
                if count == 0 {
                    first += 1;
                    continue;
                }
                let run = geometry.grain_run(partial.piece, narrow(first), narrow(count));
                let mine = c.requested.iter().any(|r| overlaps(r, &run));
                if !mine && best.is_none_or(|(_, _, n)| count > n) {
                    best = Some((pi, first, count));
                    if max == 1 {
                        break 'pieces;
                    }
                }
                first += count;
            }
        }
        let (pi, first, count) = best?;
        let half = count / 2;
        let (first, count) = (first + half, (count - half).min(max));
        let partial = &mut self.partials[pi];
        for g in &mut partial.grains[first..first + count] {
            if let GrainState::Requested(n) = *g {
                *g = GrainState::Requested(n + 1);
            }
        }
        Some(geometry.grain_run(partial.piece, narrow(first), narrow(count)))
    }

    /// The grains of `b` are no longer on order from one neighbour (choke, cancel,
    /// disconnect, a delivery that stopped short).
    pub(super) fn release(&mut self, b: &BlockRef) {
        let Some((pi, first, count)) = self.partial_of(b) else {
            return;
        };
        let partial = &mut self.partials[pi];
        for g in &mut partial.grains[first..first + count] {
            if let GrainState::Requested(n) = *g {
                *g = if n > 1 {
                    GrainState::Requested(n - 1)
                } else {
                    GrainState::Missing
                };
            }
        }
        if partial.is_idle() {
            self.partials.swap_remove(pi);
            self.wanted.set(b.piece);
            self.picker.want(b.piece);
        }
    }
}
