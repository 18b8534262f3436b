//! The network model: flow-level sharing of access-link capacity.
//!
//! Every peer has an upload and a download capacity; the core is a fat pipe. A block in
//! transit is a *flow* from its sender to its receiver. A flow's rate is its equal share
//! at the tighter end:
//!
//! `rate = min(upload(sender) / uploads(sender), download(receiver) / downloads(receiver))`
//!
//! so no peer ever exceeds either capacity. It is not max-min fair (a flow capped by a
//! slow receiver leaves some of its sender's share unused), but BitTorrent swarms are
//! upload-bound — download capacity is usually several times upload — and this model
//! needs no global recomputation: a flow starting or ending changes only the rates at its
//! two ends, whose completion events are then moved. Progress is kept in micro-bits
//! (bits × 10⁶), so a flow at `r` bit/s drains exactly `r` per microsecond: integer
//! arithmetic, no drift.

use crate::core::BlockRef;
use crate::metrics::Observer;
use crate::units::{Rate, SimTime};

/// A block on its way.
#[derive(Clone, Debug)]
pub struct Flow {
    /// Sender.
    pub from: u32,
    /// Receiver.
    pub to: u32,
    /// The link it travels on.
    pub link: u32,
    /// The block.
    pub block: BlockRef,
    remaining: u128,
    rate: u64,
    since: SimTime,
}

/// All flows and per-peer capacities.
#[derive(Default)]
pub struct Network {
    flows: Vec<Option<Flow>>,
    free: Vec<u32>,
    up: Vec<Vec<u32>>,
    down: Vec<Vec<u32>>,
    up_cap: Vec<u64>,
    down_cap: Vec<u64>,
    /// Flows whose completion time changed since the last call to `take_moved`.
    moved: Vec<(u32, SimTime)>,
    scratch: Vec<u32>,
}

impl Network {
    /// Registers peer `peer` with its capacities.
    pub fn add_peer(&mut self, peer: u32, up: Rate, down: Rate) {
        let i = peer as usize;
        if self.up.len() <= i {
            self.up.resize_with(i + 1, Vec::new);
            self.down.resize_with(i + 1, Vec::new);
            self.up_cap.resize(i + 1, 0);
            self.down_cap.resize(i + 1, 0);
        }
        self.up_cap[i] = up.0;
        self.down_cap[i] = down.0;
    }

    /// The flow with this id.
    pub fn flow(&self, id: u32) -> Option<&Flow> {
        self.flows.get(id as usize).and_then(Option::as_ref)
    }

    /// Flows currently sent by `peer`.
    pub fn uploads_of(&self, peer: u32) -> &[u32] {
        &self.up[peer as usize]
    }

    /// Flows currently received by `peer`.
    pub fn downloads_of(&self, peer: u32) -> &[u32] {
        &self.down[peer as usize]
    }

    /// Completion times that changed: (flow, new time).
    pub fn take_moved(&mut self) -> std::vec::Drain<'_, (u32, SimTime)> {
        self.moved.drain(..)
    }

    /// Starts sending `block` from `from` to `to`; returns the flow id.
    pub fn start<O: Observer>(
        &mut self,
        now: SimTime,
        from: u32,
        to: u32,
        link: u32,
        block: BlockRef,
        obs: &mut O,
    ) -> u32 {
        let flow = Flow {
            from,
            to,
            link,
            block,
            remaining: block.len as u128 * 8 * 1_000_000,
            rate: 0,
            since: now,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.flows[id as usize] = Some(flow);
                id
            }
            None => {
                self.flows.push(Some(flow));
                self.flows.len() as u32 - 1
            }
        };
        self.up[from as usize].push(id);
        self.down[to as usize].push(id);
        self.reshare(now, from, to, obs);
        id
    }

    /// Removes a flow (finished or cancelled), reporting its last segment.
    pub fn remove<O: Observer>(&mut self, now: SimTime, id: u32, obs: &mut O) -> Option<Flow> {
        self.settle(now, id, obs);
        let flow = self.flows.get_mut(id as usize)?.take()?;
        self.free.push(id);
        self.up[flow.from as usize].retain(|&f| f != id);
        self.down[flow.to as usize].retain(|&f| f != id);
        self.reshare(now, flow.from, flow.to, obs);
        Some(flow)
    }

    /// Brings a flow's progress up to `now`, reporting the constant-rate segment.
    fn settle<O: Observer>(&mut self, now: SimTime, id: u32, obs: &mut O) {
        let Some(f) = self.flows.get_mut(id as usize).and_then(Option::as_mut) else {
            return;
        };
        if now > f.since {
            let done = f.rate as u128 * (now.0 - f.since.0) as u128;
            f.remaining = f.remaining.saturating_sub(done);
            if f.rate > 0 {
                obs.flow(f.from, f.to, f.since, now, Rate(f.rate));
            }
            f.since = now;
        }
    }

    /// Recomputes the rates of every flow at the two ends whose share changed.
    fn reshare<O: Observer>(&mut self, now: SimTime, from: u32, to: u32, obs: &mut O) {
        let mut ids = std::mem::take(&mut self.scratch);
        ids.clear();
        ids.extend_from_slice(&self.up[from as usize]);
        for &id in &self.down[to as usize] {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        for &id in &ids {
            self.rerate(now, id, obs);
        }
        self.scratch = ids;
    }

    fn share(&self, f: &Flow) -> u64 {
        let n_up = self.up[f.from as usize].len().max(1) as u64;
        let n_down = self.down[f.to as usize].len().max(1) as u64;
        (self.up_cap[f.from as usize] / n_up).min(self.down_cap[f.to as usize] / n_down)
    }

    fn rerate<O: Observer>(&mut self, now: SimTime, id: u32, obs: &mut O) {
        self.settle(now, id, obs);
        let Some(f) = self.flows[id as usize].as_ref() else {
            return;
        };
        let rate = self.share(f);
        let f = self.flows[id as usize].as_mut().expect("checked above");
        if rate == f.rate {
            return;
        }
        f.rate = rate;
        let at = if rate == 0 {
            SimTime::NEVER
        } else {
            SimTime(now.0 + f.remaining.div_ceil(rate as u128) as u64)
        };
        self.moved.push((id, at));
    }
}
