//! Network model tests: the shares a few hand-made flow graphs must get, and random flow
//! graphs checked against an exact reference solver and against the definition of
//! max-min fairness (no capacity exceeded; every flow has a saturated end at which it
//! gets the largest weighted share).

use super::*;
use crate::metrics::{LeaveReason, PeerIndex, PeerInfo};
use crate::units::Bytes;
use proptest::prelude::*;

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

fn rate(net: &Network, id: u32) -> u64 {
    net.flow(id).expect("a flow").rate
}

fn peers(net: &mut Network, caps: &[(u64, u64)]) {
    for (p, &(up, down)) in (0u32..).zip(caps) {
        net.add_peer(p, Rate::mbit(up), Rate::mbit(down));
    }
}

#[test]
fn a_sender_splits_its_upload_by_flow_weights() {
    let mut net = Network::default();
    let mut obs = NullObserver;
    // Peer 0 uploads 8 Mbit/s to peers 1, 2, 3 (each can download 100 Mbit/s).
    peers(&mut net, &[(8, 100), (1, 100), (1, 100), (1, 100)]);
    let now = SimTime::ZERO;
    let a = net.start(now, 0, 1, 0, block(0), 1, &mut obs);
    let b = net.start(now, 0, 2, 1, block(1), 3, &mut obs);
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
fn a_flow_held_by_its_receiver_leaves_the_rest_to_the_senders_other_flows() {
    let mut net = Network::default();
    let mut obs = NullObserver;
    peers(&mut net, &[(9, 100), (1, 100), (1, 2)]);
    let a = net.start(SimTime::ZERO, 0, 1, 0, block(0), 1, &mut obs);
    assert_eq!(rate(&net, a), 9_000_000);
    // Flow b's equal share would be 4.5 Mbit/s; its receiver takes only 2, and flow a
    // gets the other 7 rather than leaving them unused.
    let b = net.start(SimTime::ZERO, 0, 2, 1, block(1), 1, &mut obs);
    assert_eq!((rate(&net, a), rate(&net, b)), (7_000_000, 2_000_000));
    // A heavy weight does not lift a flow above its receiver's capacity either.
    net.remove(SimTime::ZERO, b, &mut obs);
    let b = net.start(SimTime::ZERO, 0, 2, 1, block(1), 100, &mut obs);
    assert_eq!((rate(&net, a), rate(&net, b)), (7_000_000, 2_000_000));
}

#[test]
fn what_a_receiver_cannot_give_one_sender_goes_to_its_others() {
    let mut net = Network::default();
    let mut obs = NullObserver;
    // Peer 2 downloads 10 Mbit/s from peer 0 (uploads 2) and peer 1 (uploads 20): an
    // equal split would be 5 and 5, but peer 0 can only send 2, so peer 1 gets 8.
    peers(&mut net, &[(2, 100), (20, 100), (1, 10)]);
    let slow = net.start(SimTime::ZERO, 0, 2, 0, block(0), 1, &mut obs);
    let fast = net.start(SimTime::ZERO, 1, 2, 1, block(1), 1, &mut obs);
    assert_eq!((rate(&net, slow), rate(&net, fast)), (2_000_000, 8_000_000));
    // And back: without the slow sender, the fast one takes the whole download.
    net.remove(SimTime::ZERO, slow, &mut obs);
    assert_eq!(rate(&net, fast), 10_000_000);
}

#[test]
fn a_change_ripples_through_a_chain_of_bottlenecks() {
    let mut net = Network::default();
    let mut obs = NullObserver;
    // 0 -> 2 and 1 -> 2 share receiver 2 (4 Mbit/s); 1 -> 3 shares sender 1 (6 Mbit/s).
    peers(&mut net, &[(10, 100), (6, 100), (1, 4), (1, 100)]);
    let a = net.start(SimTime::ZERO, 0, 2, 0, block(0), 1, &mut obs);
    let b = net.start(SimTime::ZERO, 1, 2, 1, block(1), 1, &mut obs);
    let c = net.start(SimTime::ZERO, 1, 3, 2, block(2), 1, &mut obs);
    // Receiver 2 gives a and b 2 each; sender 1 gives c the other 4.
    assert_eq!(
        (rate(&net, a), rate(&net, b), rate(&net, c)),
        (2_000_000, 2_000_000, 4_000_000)
    );
    // Without a, b takes 4 at receiver 2, so c drops to 2: two hops away.
    net.remove(SimTime::ZERO, a, &mut obs);
    assert_eq!((rate(&net, b), rate(&net, c)), (3_000_000, 3_000_000));
}

#[test]
fn a_block_continues_on_its_flow_and_a_cut_stops_at_the_next_grain() {
    let mut net = Network::default();
    let mut obs = NullObserver;
    peers(&mut net, &[(8, 100), (1, 100)]);
    // 1 MiB at 8 Mbit/s: 1 MB a second.
    let f = net.start(SimTime::ZERO, 0, 1, 0, block(0), 1, &mut obs);
    let t = SimTime(100_000); // 100 kB sent: grain 7 (16 KiB grains) is under way.
    assert!(net.cut(t, f, 0, 16 << 10, &mut obs));
    assert_eq!(
        net.flow(f).and_then(|f| f.block).map(|b| b.len),
        Some(7 * (16 << 10))
    );
    let moved: Vec<_> = net.take_moved().collect();
    assert_eq!(moved.last(), Some(&(f, Some(SimTime(114_688)))));
    let done = net.finish_block(SimTime(114_688), f, &mut obs);
    assert_eq!(done.map(|b| b.len), Some(7 * (16 << 10)));
    // The next block goes on at the same rate.
    net.send_next(SimTime(114_688), f, block(1));
    assert_eq!(rate(&net, f), 8_000_000);
}

#[test]
fn progress_is_reported_in_whole_grains_once_to_each_end() {
    let mut net = Network::default();
    let mut obs = NullObserver;
    peers(&mut net, &[(8, 100), (1, 100)]);
    let grain = 16 << 10;
    let f = net.start(SimTime::ZERO, 0, 1, 0, block(0), 1, &mut obs);
    let half_s = SimTime(500_000);
    let zero = SimDuration::ZERO;
    // 500 000 bytes sent: 30 whole grains.
    assert_eq!(
        net.take_unreported(half_s, f, Way::Sending, zero, grain),
        30 * 16_384
    );
    assert_eq!(net.take_unreported(half_s, f, Way::Sending, zero, grain), 0);
    // The receiver has seen only what arrived: 100 ms of latency holds 100 kB back.
    let latency = SimDuration::from_millis(100);
    assert_eq!(
        net.take_unreported(half_s, f, Way::Receiving, latency, grain),
        24 * 16_384
    );
}

#[test]
fn reweighting_re_divides_a_senders_flows_at_once() {
    let mut net = Network::default();
    let mut obs = NullObserver;
    peers(&mut net, &[(8, 100), (1, 100), (1, 100)]);
    let a = net.start(SimTime::ZERO, 0, 1, 0, block(0), 1, &mut obs);
    let b = net.start(SimTime::ZERO, 0, 2, 1, block(1), 1, &mut obs);
    assert_eq!((rate(&net, a), rate(&net, b)), (4_000_000, 4_000_000));
    net.take_moved();
    let t = SimTime(100_000);
    net.reweight(t, 0, |f| (f.to == 2).then_some(3), &mut obs);
    assert_eq!((rate(&net, a), rate(&net, b)), (2_000_000, 6_000_000));
    assert_eq!(net.take_moved().count(), 2);
    net.reweight(t, 0, |_| None, &mut obs);
    assert_eq!(net.take_moved().count(), 0);
}

// ------------------------------------------------------------------ random graphs

/// A flow graph: peer capacities (kbit/s) and flows (from, to, weight).
#[derive(Clone, Debug)]
struct Graph {
    caps: Vec<(u64, u64)>,
    flows: Vec<(u32, u32, u32)>,
}

fn graphs(equal_weights: bool) -> impl Strategy<Value = Graph> {
    (2u32..7).prop_flat_map(move |n| {
        let caps = proptest::collection::vec((1u64..50, 1u64..50), n as usize);
        let flow = (0..n, 0..n, 1u32..5)
            .prop_filter("no flow to oneself", |(a, b, _)| a != b)
            .prop_map(move |(a, b, w)| (a, b, if equal_weights { 1 } else { w }));
        let flows = proptest::collection::vec(flow, 1..12);
        (caps, flows).prop_map(|(caps, flows)| Graph { caps, flows })
    })
}

/// The incremental model's rates for `g`, flows started one by one and every other one
/// then removed and started again (so propagation from warm states is exercised).
fn model_rates(g: &Graph) -> (Vec<u64>, u64) {
    let mut net = Network::default();
    let mut obs = NullObserver;
    for (p, &(up, down)) in (0u32..).zip(&g.caps) {
        net.add_peer(p, Rate(up * 1000), Rate(down * 1000));
    }
    let mut ids = Vec::new();
    for (i, &(a, b, w)) in (0u32..).zip(&g.flows) {
        ids.push(net.start(SimTime::ZERO, a, b, i, block(i), w, &mut obs));
    }
    for k in (0..ids.len()).step_by(2) {
        net.remove(SimTime::ZERO, ids[k], &mut obs);
        let (a, b, w) = g.flows[k];
        let i = u32::try_from(k).expect("few flows");
        ids[k] = net.start(SimTime::ZERO, a, b, i, block(i), w, &mut obs);
    }
    (
        ids.iter().map(|&id| rate(&net, id)).collect(),
        net.unconverged(),
    )
}

/// Textbook progressive filling for equal weights (Bertsekas & Gallager, "Data
/// Networks", 6.5.2), in exact rationals: raise every unfrozen flow's rate together;
/// when an end saturates, freeze its flows. Written apart from the model.
fn progressive_filling(g: &Graph) -> Vec<f64> {
    let n = g.caps.len();
    let mut rate = vec![0f64; g.flows.len()];
    let mut frozen = vec![false; g.flows.len()];
    // Ends: 0..n uploads, n..2n downloads.
    let cap = |e: usize| {
        if e < n {
            g.caps[e].0 as f64 * 1000.0
        } else {
            g.caps[e - n].1 as f64 * 1000.0
        }
    };
    let ends = |f: &(u32, u32, u32)| [f.0 as usize, n + f.1 as usize];
    while frozen.iter().any(|x| !x) {
        // The smallest increment that saturates some end.
        let mut best = f64::INFINITY;
        for e in 0..2 * n {
            let used: f64 = (0..g.flows.len())
                .filter(|&i| ends(&g.flows[i]).contains(&e))
                .map(|i| rate[i])
                .sum();
            let active = (0..g.flows.len())
                .filter(|&i| !frozen[i] && ends(&g.flows[i]).contains(&e))
                .count();
            if active > 0 {
                best = best.min((cap(e) - used) / active as f64);
            }
        }
        for (r, _) in rate.iter_mut().zip(&frozen).filter(|(_, f)| !**f) {
            *r += best;
        }
        for e in 0..2 * n {
            let used: f64 = (0..g.flows.len())
                .filter(|&i| ends(&g.flows[i]).contains(&e))
                .map(|i| rate[i])
                .sum();
            if used >= cap(e) - 1e-6 {
                for (fz, f) in frozen.iter_mut().zip(&g.flows) {
                    if ends(f).contains(&e) {
                        *fz = true;
                    }
                }
            }
        }
    }
    rate
}

/// Checks the definition: no end over capacity; every flow has an end that is
/// saturated and at which its (weighted, at the sender) share is the largest. Integer
/// rates are floors, so "saturated" and "largest" allow a bit per flow.
fn check_max_min(g: &Graph, rates: &[u64]) -> Result<(), String> {
    let n = g.caps.len();
    let slack = g.flows.len() as f64 + 1.0;
    let mut used_up = vec![0f64; n];
    let mut used_down = vec![0f64; n];
    for (&(a, b, _), &r) in g.flows.iter().zip(rates) {
        used_up[a as usize] += r as f64;
        used_down[b as usize] += r as f64;
    }
    for p in 0..n {
        if used_up[p] > g.caps[p].0 as f64 * 1000.0 || used_down[p] > g.caps[p].1 as f64 * 1000.0 {
            return Err(format!("peer {p} over capacity: {rates:?}"));
        }
    }
    for (i, &(a, b, w)) in g.flows.iter().enumerate() {
        let r = rates[i] as f64;
        let up_saturated = used_up[a as usize] >= g.caps[a as usize].0 as f64 * 1000.0 - slack;
        let up_largest =
            g.flows.iter().zip(rates).all(|(&(a2, _, w2), &r2)| {
                a2 != a || r2 as f64 / w2 as f64 <= r / w as f64 + slack
            });
        let down_saturated = used_down[b as usize] >= g.caps[b as usize].1 as f64 * 1000.0 - slack;
        let down_largest = g
            .flows
            .iter()
            .zip(rates)
            .all(|(&(_, b2, _), &r2)| b2 != b || r2 as f64 <= r + slack);
        if !((up_saturated && up_largest) || (down_saturated && down_largest)) {
            return Err(format!("flow {i} has no bottleneck: {rates:?}"));
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn equal_weights_give_the_textbook_max_min_rates(g in graphs(true)) {
        let (rates, unconverged) = model_rates(&g);
        prop_assert_eq!(unconverged, 0);
        let exact = progressive_filling(&g);
        for (i, (&r, &e)) in rates.iter().zip(&exact).enumerate() {
            prop_assert!((r as f64 - e).abs() <= g.flows.len() as f64 + 1.0,
                "flow {}: {} against the exact {}; {:?}", i, r, e, g);
        }
        prop_assert!(check_max_min(&g, &rates).is_ok(), "{:?}", check_max_min(&g, &rates));
    }

    #[test]
    fn weighted_senders_still_give_every_flow_a_bottleneck(g in graphs(false)) {
        let (rates, unconverged) = model_rates(&g);
        prop_assert_eq!(unconverged, 0);
        let verdict = check_max_min(&g, &rates);
        prop_assert!(verdict.is_ok(), "{:?}; {:?}", verdict, g);
    }
}
