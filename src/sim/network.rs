//! The network model: flow-level sharing of access-link capacity.
//!
//! Every peer has an upload and a download capacity; the core is a fat pipe. A block in
//! transit is a *flow* from its sender to its receiver. A receiver gives each incoming
//! flow at most an equal share of its download, `download / downloads`; a sender
//! water-fills its upload over its flows by weight under those caps:
//!
//! `rate = min(cap, λ · w)`, with `λ` such that the rates add up to the upload (or every
//! flow is at its cap),
//!
//! where `w` is the flow's weight, set by the sender's choker when the flow starts.
//! Mainline chokers give every flow weight 1, so an uncapped sender splits its upload
//! equally (`upload / uploads`); PropShare and BitTyrant split it unequally. A flow held
//! back by a slow receiver leaves the rest to its sender's other flows, as TCP would,
//! instead of leaving it unused: without that, fast peers lost most of what they sent
//! to slow ones and tit-for-tat could not sort peers by capacity. The receiver's side
//! stays an equal share (a downloader does not choose how fast others send to it), so
//! this is max-min fair at the senders, not across the whole network; swarms are
//! upload-bound, download being usually several times upload.
//!
//! No peer ever exceeds either capacity, and no global recomputation is needed: a flow
//! starting or ending changes its sender's division and its receiver's cap, so only its
//! sender and the peers sending to its receiver re-divide, and the completion events of
//! the flows whose rate changed are moved. Progress is kept in micro-bits (bits × 10⁶),
//! so a flow at `r` bit/s drains exactly `r` per microsecond: integer arithmetic, no
//! drift.

use crate::core::{BlockRef, Way};
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
    /// Bytes already reported as moved to the sender and to the receiver
    /// ([`Network::take_unreported`]).
    reported: [u64; 2],
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
    /// (flow, receiver cap, weight) while water-filling one sender.
    scratch_fill: Vec<(u32, u64, u64)>,
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
        let old_cap = self.download_share(to);
        self.up[from as usize].push(id);
        self.down[to as usize].push(id);
        self.reshare(now, from, to, old_cap, obs);
        id
    }

    /// Bytes of flow `id` moved by `now` not yet reported to its sender (`Way::Sending`)
    /// or its receiver (`Way::Receiving`); they count as reported from now on.
    pub fn take_unreported(&mut self, now: SimTime, id: u32, to: Way) -> u64 {
        let Some(f) = self.flows.get_mut(id as usize).and_then(Option::as_mut) else {
            return 0;
        };
        let total = f.block.len as u128 * 8 * 1_000_000;
        let left = f
            .remaining
            .saturating_sub(f.rate as u128 * u128::from(now.0.saturating_sub(f.since.0)));
        let moved = u64::try_from((total - left) / 8_000_000).unwrap_or(u64::MAX);
        let side = usize::from(to == Way::Receiving);
        let new = moved.saturating_sub(f.reported[side]);
        f.reported[side] = f.reported[side].max(moved);
        new
    }

    /// Gives `sender`'s flows the weights `weight_of` returns (`None` keeps a flow's) and
    /// re-divides its upload if any changed.
    pub fn reweight<O: Observer>(
        &mut self,
        now: SimTime,
        sender: u32,
        mut weight_of: impl FnMut(&Flow) -> Option<u32>,
        obs: &mut O,
    ) {
        let mut changed = false;
        for i in 0..self.up[sender as usize].len() {
            let id = self.up[sender as usize][i];
            let Some(f) = self.flows[id as usize].as_mut() else {
                continue;
            };
            if let Some(w) = weight_of(f) {
                let w = w.max(1);
                changed |= w != f.weight;
                f.weight = w;
            }
        }
        if changed {
            self.fill_upload(now, sender, obs);
        }
    }

    /// Removes a flow (finished or cancelled), reporting its last segment.
    pub fn remove<O: Observer>(&mut self, now: SimTime, id: u32, obs: &mut O) -> Option<Flow> {
        self.settle(now, id, obs);
        let old_cap = self
            .flows
            .get(id as usize)?
            .as_ref()
            .map(|f| self.download_share(f.to))?;
        let flow = self.flows.get_mut(id as usize)?.take()?;
        self.free.push(id);
        self.up[flow.from as usize].retain(|&f| f != id);
        self.down[flow.to as usize].retain(|&f| f != id);
        self.reshare(now, flow.from, flow.to, old_cap, obs);
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

    /// Recomputes the rates a flow starting or ending between `from` and `to` changed:
    /// `from`'s flows (its set changed), and the flows of the peers sending to `to` whose
    /// flow there is held by the receiver's cap (`old_cap` before the change), before or
    /// after: those senders re-divide their upload. A flow below both caps was not held
    /// and will not be, so its sender's division stands.
    fn reshare<O: Observer>(
        &mut self,
        now: SimTime,
        from: u32,
        to: u32,
        old_cap: u64,
        obs: &mut O,
    ) {
        let held_at = old_cap.min(self.download_share(to));
        let mut senders = std::mem::take(&mut self.scratch);
        senders.clear();
        senders.push(from);
        for &id in &self.down[to as usize] {
            if let Some(f) = self.flow(id)
                && f.rate >= held_at
                && !senders.contains(&f.from)
            {
                senders.push(f.from);
            }
        }
        for &sender in &senders {
            self.fill_upload(now, sender, obs);
        }
        self.scratch = senders;
    }

    /// The most a flow may take at receiver `to`: an equal share of its download.
    fn download_share(&self, to: u32) -> u64 {
        let n_down = self.down[to as usize].len().max(1) as u64;
        self.down_cap[to as usize] / n_down
    }

    /// Water-fills `sender`'s upload over its flows by weight, each flow held to its
    /// receiver's cap: flows whose cap is below their weighted share get their cap, and
    /// what they leave is shared by weight among the rest.
    fn fill_upload<O: Observer>(&mut self, now: SimTime, sender: u32, obs: &mut O) {
        let mut order = std::mem::take(&mut self.scratch_fill);
        order.clear();
        for &id in &self.up[sender as usize] {
            if let Some(f) = self.flow(id) {
                order.push((id, self.download_share(f.to), u64::from(f.weight)));
            }
        }
        // Tightest first: by cap per unit of weight (cross-multiplied), then by id.
        order.sort_by(|a, b| {
            (u128::from(a.1) * u128::from(b.2))
                .cmp(&(u128::from(b.1) * u128::from(a.2)))
                .then(a.0.cmp(&b.0))
        });
        // u128: capacity (bit/s) times a weight may pass u64.
        let mut left = u128::from(self.up_cap[sender as usize]);
        let mut weight: u128 = order.iter().map(|o| u128::from(o.2)).sum();
        let mut capped = 0;
        for &(_, cap, w) in &order {
            if weight == 0 || u128::from(cap) * weight >= left * u128::from(w) {
                break;
            }
            left -= u128::from(cap);
            weight -= u128::from(w);
            capped += 1;
        }
        for (i, &(id, cap, w)) in order.iter().enumerate() {
            let rate = if i < capped {
                cap
            } else {
                let share = (left * u128::from(w) / weight.max(1)).min(u128::from(cap));
                // At most `cap`, a u64.
                u64::try_from(share).unwrap_or(cap)
            };
            self.set_rate(now, id, rate, obs);
        }
        self.scratch_fill = order;
    }

    fn set_rate<O: Observer>(&mut self, now: SimTime, id: u32, rate: u64, obs: &mut O) {
        self.settle(now, id, obs);
        let Some(f) = self.flows[id as usize].as_mut() else {
            return;
        };
        if rate == f.rate {
            return;
        }
        f.rate = rate;
        let at = if rate == 0 {
            SimTime::NEVER
        } else {
            let micros = f.remaining.div_ceil(u128::from(rate));
            SimTime(
                now.0
                    .saturating_add(u64::try_from(micros).unwrap_or(u64::MAX)),
            )
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
    fn progress_is_reported_to_each_end_once() {
        let mut net = Network::default();
        let mut obs = NullObserver;
        net.add_peer(0, Rate::mbit(8), Rate::mbit(100));
        net.add_peer(1, Rate::mbit(1), Rate::mbit(100));
        // 1 MiB at 8 Mbit/s: 1 MB a second.
        let f = net.start(SimTime::ZERO, 0, 1, 0, block(0), 1, &mut obs);
        let half_s = SimTime(500_000);
        assert_eq!(net.take_unreported(half_s, f, Way::Sending), 500_000);
        assert_eq!(net.take_unreported(half_s, f, Way::Sending), 0);
        // The receiver has its own count.
        assert_eq!(net.take_unreported(half_s, f, Way::Receiving), 500_000);
        // Rates change: progress is exact across the change.
        net.reweight(half_s, 0, |_| Some(1), &mut obs);
        net.add_peer(2, Rate::mbit(1), Rate::mbit(100));
        let g = net.start(half_s, 0, 2, 1, block(1), 1, &mut obs);
        let one_s = SimTime(1_000_000);
        assert_eq!(net.take_unreported(one_s, f, Way::Sending), 250_000);
        assert_eq!(net.take_unreported(one_s, g, Way::Receiving), 250_000);
    }

    #[test]
    fn reweighting_re_divides_a_senders_flows_at_once() {
        let mut net = Network::default();
        let mut obs = NullObserver;
        net.add_peer(0, Rate::mbit(8), Rate::mbit(100));
        for p in 1..3 {
            net.add_peer(p, Rate::mbit(1), Rate::mbit(100));
        }
        let a = net.start(SimTime::ZERO, 0, 1, 0, block(0), 1, &mut obs);
        let b = net.start(SimTime::ZERO, 0, 2, 1, block(1), 1, &mut obs);
        let rate = |net: &Network, id: u32| net.flow(id).unwrap().rate;
        assert_eq!((rate(&net, a), rate(&net, b)), (4_000_000, 4_000_000));
        net.take_moved();
        // Flow b gets three times a's share; a keeps its weight (None).
        let t = SimTime(100_000);
        net.reweight(t, 0, |f| (f.to == 2).then_some(3), &mut obs);
        assert_eq!((rate(&net, a), rate(&net, b)), (2_000_000, 6_000_000));
        // Both completion times moved.
        assert_eq!(net.take_moved().count(), 2);
        // Nothing changes, nothing moves.
        net.reweight(t, 0, |_| None, &mut obs);
        assert_eq!(net.take_moved().count(), 0);
    }

    #[test]
    fn a_flow_held_by_its_receiver_leaves_the_rest_to_the_senders_other_flows() {
        let mut net = Network::default();
        let mut obs = NullObserver;
        net.add_peer(0, Rate::mbit(9), Rate::mbit(100));
        net.add_peer(1, Rate::mbit(1), Rate::mbit(100));
        net.add_peer(2, Rate::mbit(1), Rate::mbit(2));
        let rate = |net: &Network, id: u32| net.flow(id).unwrap().rate;
        let a = net.start(SimTime::ZERO, 0, 1, 0, block(0), 1, &mut obs);
        assert_eq!(rate(&net, a), 9_000_000);
        // Flow b's equal share would be 4.5 Mbit/s; its receiver takes only 2, and
        // flow a gets the other 7 rather than leaving them unused.
        let b = net.start(SimTime::ZERO, 0, 2, 1, block(1), 1, &mut obs);
        assert_eq!((rate(&net, a), rate(&net, b)), (7_000_000, 2_000_000));
        // A heavy weight does not lift a flow above its receiver's capacity either.
        net.remove(SimTime::ZERO, b, &mut obs);
        let b = net.start(SimTime::ZERO, 0, 2, 1, block(1), 100, &mut obs);
        assert_eq!((rate(&net, a), rate(&net, b)), (7_000_000, 2_000_000));
    }

    #[test]
    fn a_second_download_at_a_receiver_lets_its_other_senders_re_divide() {
        let mut net = Network::default();
        let mut obs = NullObserver;
        // Peer 0 uploads 6 Mbit/s to peers 1 and 2; peer 2 downloads at most 4 Mbit/s.
        net.add_peer(0, Rate::mbit(6), Rate::mbit(100));
        net.add_peer(1, Rate::mbit(1), Rate::mbit(100));
        net.add_peer(2, Rate::mbit(1), Rate::mbit(4));
        net.add_peer(3, Rate::mbit(8), Rate::mbit(100));
        let rate = |net: &Network, id: u32| net.flow(id).unwrap().rate;
        let a = net.start(SimTime::ZERO, 0, 1, 0, block(0), 1, &mut obs);
        let b = net.start(SimTime::ZERO, 0, 2, 1, block(1), 1, &mut obs);
        assert_eq!((rate(&net, a), rate(&net, b)), (3_000_000, 3_000_000));
        // Peer 3 starts sending to peer 2 too: each of peer 2's flows may now take
        // 2 Mbit/s, so peer 0's flow to it drops to 2 and its flow to peer 1 rises to 4.
        let c = net.start(SimTime::ZERO, 3, 2, 2, block(2), 1, &mut obs);
        assert_eq!(
            (rate(&net, a), rate(&net, b), rate(&net, c)),
            (4_000_000, 2_000_000, 2_000_000)
        );
        // And back when it ends.
        net.remove(SimTime::ZERO, c, &mut obs);
        assert_eq!((rate(&net, a), rate(&net, b)), (3_000_000, 3_000_000));
    }
}
