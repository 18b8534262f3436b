//! The network model: one flow per connection direction, sharing access-link capacity
//! max-min fairly at both ends.
//!
//! Every peer has an upload and a download capacity; the core is a fat pipe. TCP carries
//! a connection's blocks one after another on one stream, so a connection direction with
//! blocks to send is one *flow*, and a block is a range of that flow's bytes: the flow's
//! current block completes when its last bit has left, and the next block, if the
//! sender's core hands one over at that instant, continues on the same flow at the same
//! rate. A flow with nothing to send is removed.
//!
//! Rates are max-min fair over both constraints a flow meets, which is what competing
//! TCP connections converge to:
//!
//! * at its **sender**, flows share the upload by the weights the sender's choker gave
//!   them (mainline chokers weight every flow 1; PropShare and BitTyrant do not);
//! * at its **receiver**, flows share the download equally (a receiver does not choose
//!   how fast others send to it);
//! * what a flow cannot use at one end goes to the other flows there.
//!
//! Each end has a *level*: the sender's λ (rate per unit of weight) and the receiver's μ
//! (rate per flow), found by water-filling its capacity over its flows, each held to
//! what the other end allows it (`w·λ_sender` or `μ_receiver`). A flow's rate is
//! `min(w·λ_sender, μ_receiver)`. At a fixed point every flow has a saturated end where
//! it gets the largest (weighted) share — the definition of max-min fairness — and no
//! end exceeds its capacity. See docs/design.md, "The network model".
//!
//! A change (a flow starting or ending, a weight changing) re-levels the ends it touches
//! and propagates only as far as rates actually change: a receiver whose download does
//! not bind (most of them, downloads being several times uploads) absorbs any change
//! without passing it on. Propagation is bounded by [`PROPAGATION_LIMIT`] re-levellings
//! per change; the unit tests check the result against an exact global solver.
//!
//! Progress is kept in micro-bits (bits × 10⁶), so a flow at `r` bit/s drains exactly `r`
//! per microsecond: integer arithmetic, no drift.

use crate::core::{BlockRef, Way};
use crate::metrics::Observer;
use crate::units::{Rate, SimDuration, SimTime};
use std::collections::VecDeque;

/// Re-levellings of one end allowed per change before propagation stops (none was ever
/// reached in the tests; `Network::unconverged` counts it).
pub(crate) const PROPAGATION_LIMIT: usize = 100_000;

/// Micro-bits per byte.
const MICRO_BITS: u128 = 8 * 1_000_000;

/// One connection direction with a block on its way.
#[derive(Clone, Debug)]
pub struct Flow {
    /// Sender.
    pub from: u32,
    /// Receiver.
    pub to: u32,
    /// The link it travels on.
    pub link: u32,
    /// Its share of the sender's upload, relative to the sender's other flows.
    pub weight: u32,
    /// The block being sent (`None`: idle, about to be removed or given the next block).
    pub block: Option<BlockRef>,
    /// Micro-bits of the block already sent.
    sent: u128,
    /// Its rate in bit/s.
    pub rate: u64,
    since: SimTime,
    /// Bytes of the block already reported as moved to the sender and to the receiver
    /// ([`Network::take_unreported`]).
    reported: [u64; 2],
}

impl Flow {
    fn total(&self) -> u128 {
        self.block.map_or(0, |b| u128::from(b.len) * MICRO_BITS)
    }

    fn remaining(&self) -> u128 {
        self.total().saturating_sub(self.sent)
    }

    /// Bytes of the block sent by `now`, at the current rate since the last settle.
    fn sent_bytes(&self, now: SimTime) -> u64 {
        let moving = u128::from(self.rate) * u128::from(now.0.saturating_sub(self.since.0));
        let sent = (self.sent + moving).min(self.total());
        u64::try_from(sent / MICRO_BITS).unwrap_or(u64::MAX)
    }
}

/// An end's level: unbounded (its capacity does not bind), or `left / weight` per unit
/// of weight for the flows it holds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Unbounded,
    At { left: u128, weight: u128 },
}

impl Level {
    /// The rate this level allows a flow of weight `w`.
    fn allows(self, w: u64) -> u64 {
        match self {
            Level::Unbounded => u64::MAX,
            Level::At { left, weight } => {
                u64::try_from(u128::from(w) * left / weight.max(1)).unwrap_or(u64::MAX)
            }
        }
    }
}

/// One end of a set of flows: a peer's upload or its download.
#[derive(Clone, Debug)]
struct End {
    cap: u64,
    flows: Vec<u32>,
    level: Level,
}

impl Default for End {
    fn default() -> End {
        End {
            cap: 0,
            flows: Vec::new(),
            level: Level::Unbounded,
        }
    }
}

/// Which end of a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Up,
    Down,
}

/// All flows and per-peer capacities.
#[derive(Default)]
pub struct Network {
    flows: Vec<Option<Flow>>,
    free: Vec<u32>,
    up: Vec<End>,
    down: Vec<End>,
    /// Ends to re-level, and whether each is queued (`queued[peer] & 1`: up, `& 2`: down).
    work: VecDeque<(Side, u32)>,
    queued: Vec<u8>,
    /// Flows whose rate may have changed during propagation.
    touched: Vec<u32>,
    /// Completion times that changed since the last `take_moved`: (flow, new time).
    moved: Vec<(u32, Option<SimTime>)>,
    /// Changes whose propagation hit [`PROPAGATION_LIMIT`].
    unconverged: u64,
    /// Flows given a new rate, in all.
    rate_changes: u64,
    scratch: Vec<(u32, u64, u64)>,
}

impl Network {
    /// Registers peer `peer` with its capacities.
    pub fn add_peer(&mut self, peer: u32, up: Rate, down: Rate) {
        let i = peer as usize;
        if self.up.len() <= i {
            self.up.resize_with(i + 1, End::default);
            self.down.resize_with(i + 1, End::default);
            self.queued.resize(i + 1, 0);
        }
        self.up[i].cap = up.0;
        self.down[i].cap = down.0;
    }

    /// The flow with this id.
    pub fn flow(&self, id: u32) -> Option<&Flow> {
        self.flows.get(id as usize).and_then(Option::as_ref)
    }

    /// Flows currently sent by `peer`.
    pub fn uploads_of(&self, peer: u32) -> &[u32] {
        &self.up[peer as usize].flows
    }

    /// Flows currently received by `peer`.
    pub fn downloads_of(&self, peer: u32) -> &[u32] {
        &self.down[peer as usize].flows
    }

    /// Changes whose propagation was cut short (see [`PROPAGATION_LIMIT`]).
    pub fn unconverged(&self) -> u64 {
        self.unconverged
    }

    /// How many times a flow was given a new rate.
    pub fn rate_changes(&self) -> u64 {
        self.rate_changes
    }

    /// Completion times that changed: (flow, new time; `None`: it will not complete at
    /// its current rate, or it is idle).
    pub fn take_moved(&mut self) -> std::vec::Drain<'_, (u32, Option<SimTime>)> {
        self.moved.drain(..)
    }

    /// Starts a flow from `from` to `to` on `link` with `block` to send and upload weight
    /// `weight` (0 is taken as 1); returns its id.
    #[allow(clippy::too_many_arguments)]
    pub fn start<O: Observer>(
        &mut self,
        now: SimTime,
        from: u32,
        to: u32,
        link: u32,
        block: BlockRef,
        weight: u32,
        obs: &mut O,
    ) -> u32 {
        let flow = Flow {
            from,
            to,
            link,
            weight: weight.max(1),
            block: Some(block),
            sent: 0,
            rate: 0,
            since: now,
            reported: [0, 0],
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.flows[id as usize] = Some(flow);
                id
            }
            None => {
                self.flows.push(Some(flow));
                // Far below 2^32 flows: a run would need terabytes of memory first.
                u32::try_from(self.flows.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.up[from as usize].flows.push(id);
        self.down[to as usize].flows.push(id);
        self.mark(Side::Up, from);
        self.mark(Side::Down, to);
        self.touched.push(id);
        self.converge(now, obs);
        id
    }

    /// Gives idle flow `id` its next block, sent at the flow's current rate.
    pub fn send_next(&mut self, now: SimTime, id: u32, block: BlockRef) {
        let Some(f) = self.flows.get_mut(id as usize).and_then(Option::as_mut) else {
            return;
        };
        debug_assert!(f.block.is_none(), "a flow carries one block at a time");
        f.block = Some(block);
        f.sent = 0;
        f.since = now;
        f.reported = [0, 0];
        let at = completion(f, now);
        self.moved.push((id, at));
    }

    /// The block of flow `id` has been sent whole: returns it; the flow is idle until it
    /// is given the next block or removed.
    pub fn finish_block<O: Observer>(
        &mut self,
        now: SimTime,
        id: u32,
        obs: &mut O,
    ) -> Option<BlockRef> {
        self.settle(now, id, obs);
        let f = self.flows.get_mut(id as usize)?.as_mut()?;
        f.sent = 0;
        f.block.take()
    }

    /// Ends flow `id`'s block at offset `at` of its piece, or, if more has gone by now,
    /// at the next grain boundary (`grain` bytes): the block becomes the prefix that
    /// will have gone by then. Returns whether it changed.
    pub fn cut<O: Observer>(
        &mut self,
        now: SimTime,
        id: u32,
        at: u32,
        grain: u32,
        obs: &mut O,
    ) -> bool {
        self.settle(now, id, obs);
        let Some(f) = self.flows.get_mut(id as usize).and_then(Option::as_mut) else {
            return false;
        };
        let Some(b) = f.block else {
            return false;
        };
        let sent = u64::try_from(f.sent / MICRO_BITS).unwrap_or(u64::MAX);
        let grain = u64::from(grain.max(1));
        // A grain under way finishes; one not started does not.
        let next = sent.div_ceil(grain) * grain;
        let wanted = u64::from(at.saturating_sub(b.offset));
        let boundary = next.max(wanted).min(u64::from(b.len));
        let len = u32::try_from(boundary).unwrap_or(b.len);
        if len == b.len {
            return false;
        }
        f.block = Some(BlockRef { len, ..b });
        let at = completion(f, now);
        self.moved.push((id, at));
        true
    }

    /// Bytes of flow `id`'s block that have *arrived* at its receiver by `now`: sent at
    /// least `latency` ago, in whole grains of `grain` bytes.
    pub fn arrived(&self, now: SimTime, id: u32, latency: SimDuration, grain: u32) -> u64 {
        let Some(f) = self.flow(id) else {
            return 0;
        };
        let in_flight = u128::from(f.rate) * u128::from(latency.0) / MICRO_BITS;
        let sent = u128::from(f.sent_bytes(now)).saturating_sub(in_flight);
        let grain = u128::from(grain.max(1));
        u64::try_from(sent / grain * grain).unwrap_or(u64::MAX)
    }

    /// Bytes of flow `id`'s block moved by `now` and not yet reported to its sender
    /// (`Way::Sending`: sent, in whole grains) or its receiver (`Way::Receiving`:
    /// arrived, in whole grains); they count as reported from now on. A block of one
    /// grain reports nothing before it completes: as with 16 KiB blocks on the wire, a
    /// rate sees a block when it has gone (or landed).
    pub fn take_unreported(
        &mut self,
        now: SimTime,
        id: u32,
        to: Way,
        latency: SimDuration,
        grain: u32,
    ) -> u64 {
        let moved = match to {
            Way::Sending => {
                let g = u64::from(grain.max(1));
                self.flow(id).map_or(0, |f| f.sent_bytes(now) / g * g)
            }
            Way::Receiving => self.arrived(now, id, latency, grain),
        };
        let Some(f) = self.flows.get_mut(id as usize).and_then(Option::as_mut) else {
            return 0;
        };
        let side = usize::from(to == Way::Receiving);
        let new = moved.saturating_sub(f.reported[side]);
        f.reported[side] = f.reported[side].max(moved);
        new
    }

    /// Gives `sender`'s flows the weights `weight_of` returns (`None` keeps a flow's) and
    /// re-levels if any changed.
    pub fn reweight<O: Observer>(
        &mut self,
        now: SimTime,
        sender: u32,
        mut weight_of: impl FnMut(&Flow) -> Option<u32>,
        obs: &mut O,
    ) {
        let mut changed = false;
        for i in 0..self.up[sender as usize].flows.len() {
            let id = self.up[sender as usize].flows[i];
            let Some(f) = self.flows[id as usize].as_mut() else {
                continue;
            };
            if let Some(w) = weight_of(f) {
                let w = w.max(1);
                if w != f.weight {
                    f.weight = w;
                    changed = true;
                }
            }
        }
        if changed {
            self.mark(Side::Up, sender);
            self.converge(now, obs);
        }
    }

    /// Removes a flow (idle, cancelled, or its link closed), reporting its last segment.
    pub fn remove<O: Observer>(&mut self, now: SimTime, id: u32, obs: &mut O) -> Option<Flow> {
        self.settle(now, id, obs);
        let flow = self.flows.get_mut(id as usize)?.take()?;
        self.free.push(id);
        self.up[flow.from as usize].flows.retain(|&f| f != id);
        self.down[flow.to as usize].flows.retain(|&f| f != id);
        self.moved.push((id, None));
        self.mark(Side::Up, flow.from);
        self.mark(Side::Down, flow.to);
        self.converge(now, obs);
        Some(flow)
    }

    /// Brings a flow's progress up to `now`, reporting the constant-rate segment.
    fn settle<O: Observer>(&mut self, now: SimTime, id: u32, obs: &mut O) {
        let Some(f) = self.flows.get_mut(id as usize).and_then(Option::as_mut) else {
            return;
        };
        if now > f.since {
            if f.block.is_some() && f.rate > 0 {
                let done = u128::from(f.rate) * u128::from(now.0 - f.since.0);
                f.sent = (f.sent + done).min(f.total());
                obs.flow(f.from, f.to, f.since, now, Rate(f.rate));
            }
            f.since = now;
        }
    }

    fn mark(&mut self, side: Side, peer: u32) {
        let bit = match side {
            Side::Up => 1,
            Side::Down => 2,
        };
        let q = &mut self.queued[peer as usize];
        if *q & bit == 0 {
            *q |= bit;
            self.work.push_back((side, peer));
        }
    }

    /// The rate a flow has under the ends' current levels.
    fn level_rate(&self, f: &Flow) -> u64 {
        let offer = self.up[f.from as usize].level.allows(u64::from(f.weight));
        offer.min(self.down[f.to as usize].level.allows(1))
    }

    /// Re-levels the queued ends until the levels agree (or the limit is reached), then
    /// gives every flow whose rate changed its new rate and completion time.
    fn converge<O: Observer>(&mut self, now: SimTime, obs: &mut O) {
        let mut steps = 0;
        while let Some((side, peer)) = self.work.pop_front() {
            self.queued[peer as usize] &= match side {
                Side::Up => !1,
                Side::Down => !2,
            };
            steps += 1;
            if steps > PROPAGATION_LIMIT {
                self.unconverged += 1;
                for (_, p) in self.work.drain(..) {
                    self.queued[p as usize] = 0;
                }
                break;
            }
            match side {
                Side::Up => self.level_up(peer),
                Side::Down => self.level_down(peer),
            }
        }
        let touched = std::mem::take(&mut self.touched);
        for &id in &touched {
            let Some(f) = self.flow(id) else { continue };
            let rate = self.level_rate(f);
            if rate != f.rate {
                self.set_rate(now, id, rate, obs);
            }
        }
        let mut touched = touched;
        touched.clear();
        self.touched = touched;
    }

    /// Water-fills `sender`'s upload over its flows by weight, each held to what its
    /// receiver allows; queues the receivers of flows whose rate this changes.
    fn level_up(&mut self, sender: u32) {
        let end = &self.up[sender as usize];
        let mut flows = std::mem::take(&mut self.scratch);
        flows.clear();
        for &id in &end.flows {
            if let Some(f) = self.flow(id) {
                let cap = self.down[f.to as usize].level.allows(1);
                flows.push((id, cap, u64::from(f.weight)));
            }
        }
        // Tightest first: by cap per unit of weight (cross-multiplied), then by id.
        flows.sort_by(|a, b| {
            (u128::from(a.1) * u128::from(b.2))
                .cmp(&(u128::from(b.1) * u128::from(a.2)))
                .then(a.0.cmp(&b.0))
        });
        let level = water_fill(end.cap, &flows);
        let old = end.level;
        self.up[sender as usize].level = level;
        if level != old {
            for &(id, cap, w) in &flows {
                if old.allows(w).min(cap) != level.allows(w).min(cap) {
                    self.touched.push(id);
                    if let Some(to) = self.flow(id).map(|f| f.to) {
                        self.mark(Side::Down, to);
                    }
                }
            }
        }
        self.scratch = flows;
    }

    /// Water-fills `receiver`'s download equally over its flows, each held to what its
    /// sender offers; queues the senders of flows whose rate this changes.
    fn level_down(&mut self, receiver: u32) {
        let end = &self.down[receiver as usize];
        let mut flows = std::mem::take(&mut self.scratch);
        flows.clear();
        for &id in &end.flows {
            if let Some(f) = self.flow(id) {
                let offer = self.up[f.from as usize].level.allows(u64::from(f.weight));
                flows.push((id, offer, 1));
            }
        }
        flows.sort_by_key(|&(id, offer, _)| (offer, id));
        let level = water_fill(end.cap, &flows);
        let old = end.level;
        self.down[receiver as usize].level = level;
        if level != old {
            for &(id, offer, _) in &flows {
                if offer.min(old.allows(1)) != offer.min(level.allows(1)) {
                    self.touched.push(id);
                    if let Some(from) = self.flow(id).map(|f| f.from) {
                        self.mark(Side::Up, from);
                    }
                }
            }
        }
        self.scratch = flows;
    }

    fn set_rate<O: Observer>(&mut self, now: SimTime, id: u32, rate: u64, obs: &mut O) {
        self.settle(now, id, obs);
        let Some(f) = self.flows[id as usize].as_mut() else {
            return;
        };
        f.rate = rate;
        self.rate_changes += 1;
        let at = completion(f, now);
        self.moved.push((id, at));
    }
}

/// The level of an end of capacity `cap` over flows `(id, cap, weight)` sorted tightest
/// first: flows whose cap is below their weighted share get their cap, the rest share
/// what is left by weight. Unbounded if every flow is held below its share elsewhere.
fn water_fill(cap: u64, flows: &[(u32, u64, u64)]) -> Level {
    // u128: capacity (bit/s) times a weight may pass u64.
    let mut left = u128::from(cap);
    let mut weight: u128 = flows.iter().map(|f| u128::from(f.2)).sum();
    for &(_, c, w) in flows {
        if weight == 0 || u128::from(c) * weight >= left * u128::from(w) {
            break;
        }
        left -= u128::from(c);
        weight -= u128::from(w);
    }
    if weight == 0 {
        Level::Unbounded
    } else {
        Level::At { left, weight }
    }
}

/// When the flow's block completes at its rate (`None`: idle, or rate 0).
fn completion(f: &Flow, now: SimTime) -> Option<SimTime> {
    if f.block.is_none() || f.rate == 0 {
        return None;
    }
    let micros = f.remaining().div_ceil(u128::from(f.rate));
    Some(SimTime(
        now.0
            .saturating_add(u64::try_from(micros).unwrap_or(u64::MAX)),
    ))
}

#[cfg(test)]
mod tests;
