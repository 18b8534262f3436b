//! The network model: flow-level sharing of access-link capacity.
//!
//! Every peer has an upload and a download capacity; the core is a fat pipe. A block in
//! transit is a *flow* from its sender to its receiver. A flow's rate is its share at the
//! tighter end:
//!
//! `rate = min(upload(sender) · w / Σw(sender), download(receiver) / downloads(receiver))`
//!
//! where `w` is the flow's weight, set by the sender's choker when the flow starts, and
//! `Σw(sender)` the sum over the sender's active flows. Mainline chokers give every flow
//! weight 1, so this is the equal share `upload / uploads` (with the same integer
//! rounding); PropShare and BitTyrant split upload unequally. The receiver's side is
//! always an equal share: a downloader does not choose how fast others send to it.
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
    /// Its share of the sender's upload, relative to the sender's other flows.
    pub weight: u32,
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
    /// Sum of the weights of each peer's upload flows.
    up_weight: Vec<u64>,
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
            self.up_weight.resize(i + 1, 0);
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

    /// Whether `peer` is sending a block on `link`.
    pub fn is_sending(&self, peer: u32, link: u32) -> bool {
        self.up[peer as usize]
            .iter()
            .any(|&f| self.flow(f).is_some_and(|fl| fl.link == link))
    }

    /// Flows currently received by `peer`.
    pub fn downloads_of(&self, peer: u32) -> &[u32] {
        &self.down[peer as usize]
    }

    /// Completion times that changed: (flow, new time).
    pub fn take_moved(&mut self) -> std::vec::Drain<'_, (u32, SimTime)> {
        self.moved.drain(..)
    }

    /// Starts sending `block` from `from` to `to` with upload weight `weight` (1 for an
    /// equal share; 0 is taken as 1); returns the flow id.
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
        let weight = weight.max(1);
        let flow = Flow {
            from,
            to,
            link,
            block,
            weight,
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
        self.up_weight[from as usize] += u64::from(weight);
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
        self.up_weight[flow.from as usize] -= u64::from(flow.weight);
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
        let w_up = self.up_weight[f.from as usize].max(1);
        let n_down = self.down[f.to as usize].len().max(1) as u64;
        // u128: capacity (bit/s) times a weight may pass u64.
        let up = (u128::from(self.up_cap[f.from as usize]) * u128::from(f.weight)
            / u128::from(w_up)) as u64;
        up.min(self.down_cap[f.to as usize] / n_down)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{LeaveReason, PeerIndex, PeerInfo};
    use crate::units::Bytes;

    /// Ignores everything.
    struct NullObserver;

    impl Observer for NullObserver {
        fn peer_joined(&mut self, _: SimTime, _: &PeerInfo) {}
        fn piece_verified(&mut self, _: SimTime, _: PeerIndex, _: u32) {}
        fn peer_completed(&mut self, _: SimTime, _: PeerIndex) {}
        fn peer_left(&mut self, _: SimTime, _: PeerIndex, _: &[u32], _: LeaveReason) {}
        fn flow(&mut self, _: PeerIndex, _: PeerIndex, _: SimTime, _: SimTime, _: Rate) {}
        fn block_delivered(&mut self, _: SimTime, _: PeerIndex, _: PeerIndex, _: Bytes) {}
    }

    fn block(piece: u32) -> BlockRef {
        BlockRef {
            piece,
            offset: 0,
            len: 1 << 20,
        }
    }

    #[test]
    fn a_sender_splits_its_upload_by_flow_weights() {
        let mut net = Network::default();
        let mut obs = NullObserver;
        // Peer 0 uploads 8 Mbit/s to peers 1, 2, 3 (each can download 100 Mbit/s).
        net.add_peer(0, Rate::mbit(8), Rate::mbit(100));
        for p in 1..4 {
            net.add_peer(p, Rate::mbit(1), Rate::mbit(100));
        }
        let now = SimTime::ZERO;
        let a = net.start(now, 0, 1, 0, block(0), 1, &mut obs);
        let b = net.start(now, 0, 2, 1, block(1), 3, &mut obs);
        let rate = |net: &Network, id: u32| net.flow(id).unwrap().rate;
        assert_eq!((rate(&net, a), rate(&net, b)), (2_000_000, 6_000_000));
        let c = net.start(now, 0, 3, 2, block(2), 4, &mut obs);
        assert_eq!(
            (rate(&net, a), rate(&net, b), rate(&net, c)),
            (1_000_000, 3_000_000, 4_000_000)
        );
        // The weights are relative to the flows still running.
        net.remove(now, b, &mut obs);
        assert_eq!((rate(&net, a), rate(&net, c)), (1_600_000, 6_400_000));
    }

    #[test]
    fn equal_weights_are_the_equal_share_and_receivers_still_cap() {
        let mut net = Network::default();
        let mut obs = NullObserver;
        net.add_peer(0, Rate::mbit(9), Rate::mbit(100));
        net.add_peer(1, Rate::mbit(1), Rate::mbit(100));
        net.add_peer(2, Rate::mbit(1), Rate::mbit(2));
        let a = net.start(SimTime::ZERO, 0, 1, 0, block(0), 1, &mut obs);
        let b = net.start(SimTime::ZERO, 0, 2, 1, block(1), 1, &mut obs);
        assert_eq!(net.flow(a).unwrap().rate, 4_500_000);
        // The weighted share of flow b would be 4.5 Mbit/s; its receiver takes 2.
        assert_eq!(net.flow(b).unwrap().rate, 2_000_000);
        // A heavy weight does not lift a flow above its receiver's capacity either.
        net.remove(SimTime::ZERO, b, &mut obs);
        let b = net.start(SimTime::ZERO, 0, 2, 1, block(1), 100, &mut obs);
        assert_eq!(net.flow(b).unwrap().rate, 2_000_000);
    }
}
