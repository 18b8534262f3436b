//! The simulator with populations closer to the Internet: peers behind NATs, regions
//! with a locality-aware tracker, super-seeding, arrival traces.

use super::*;

/// Connections as the observer saw them, besides what [`Log`] records.
#[derive(Default)]
struct Links {
    log: Log,
    /// (dialler, dialled) of every connection that opened.
    opened: Vec<(PeerIndex, PeerIndex)>,
}

impl Observer for Links {
    fn peer_joined(&mut self, now: SimTime, info: &PeerInfo) {
        self.log.peer_joined(now, info);
    }
    fn piece_verified(&mut self, now: SimTime, peer: PeerIndex, piece: u32) {
        self.log.piece_verified(now, peer, piece);
    }
    fn peer_completed(&mut self, now: SimTime, peer: PeerIndex) {
        self.log.peer_completed(now, peer);
    }
    fn peer_left(&mut self, now: SimTime, peer: PeerIndex, held: &[u32], reason: LeaveReason) {
        self.log.peer_left(now, peer, held, reason);
    }
    fn flow(&mut self, from: PeerIndex, to: PeerIndex, start: SimTime, end: SimTime, rate: Rate) {
        self.log.flow(from, to, start, end, rate);
    }
    fn block_delivered(&mut self, now: SimTime, from: PeerIndex, to: PeerIndex, bytes: Bytes) {
        self.log.block_delivered(now, from, to, bytes);
    }
    fn connected(&mut self, _: SimTime, dialler: PeerIndex, dialled: PeerIndex) {
        self.opened.push((dialler, dialled));
    }
}

fn run_links(s: &Scenario, seed: u64) -> (Outcome, Links) {
    Simulation::new(s, seed, Links::default())
        .expect("built-in strategies")
        .run(|_| {})
}

/// One seed and `n` leechers behind NATs: they can only reach the seed, so all the
/// file comes from it, and no two of them ever connect.
#[test]
fn leechers_behind_nats_never_connect_to_each_other() {
    let mut s = flash_crowd(12, 4, BlockSize::Bytes(Bytes(16 << 10)));
    s.groups[1].connectable = false;
    for seed in 1..=3 {
        let (out, links) = run_links(&s, seed);
        assert_eq!(out.ending, Ending::AllComplete, "seed {seed}");
        assert_eq!(links.log.completed.len(), 12);
        assert!(!links.opened.is_empty());
        // Peer 0 is the seed; every connection has it at one end, dialled by a leecher.
        for &(dialler, dialled) in &links.opened {
            assert_eq!(dialled, 0, "seed {seed}: {dialler} reached {dialled}");
        }
        let from_leechers: u64 = links
            .log
            .flows
            .iter()
            .filter(|f| f.0 != 0)
            .map(|f| f.3.0 - f.2.0)
            .sum();
        assert_eq!(from_leechers, 0, "seed {seed}: a leecher uploaded");
    }
}

/// Half the leechers behind NATs: the connectable ones still meet everyone.
#[test]
fn a_nat_peer_reaches_connectable_peers_and_is_reached_by_none() {
    let mut s = flash_crowd(10, 4, BlockSize::Bytes(Bytes(16 << 10)));
    let mut nat = s.groups[1].clone();
    nat.name = "nat".into();
    nat.connectable = false;
    s.groups[1].count = 5;
    nat.count = 5;
    s.groups.push(nat);
    // Peers 1-5 are connectable leechers, 6-10 are behind NATs.
    let behind = |p: PeerIndex| p >= 6;
    let (out, links) = run_links(&s, 2);
    assert_eq!(out.ending, Ending::AllComplete);
    assert!(links.opened.iter().all(|&(_, dialled)| !behind(dialled)));
    assert!(links.opened.iter().any(|&(dialler, _)| behind(dialler)));
    assert!(
        links
            .opened
            .iter()
            .any(|&(a, b)| !behind(a) && !behind(b) && a != 0 && b != 0)
    );
}

/// A seed in one region and a leecher in another: the link between them gets the
/// `[network]` latency on top of both ends' own, and every byte crosses regions.
#[test]
fn the_latency_between_regions_lengthens_every_exchange() {
    let mut s = flash_crowd(1, 1, BlockSize::Bytes(Bytes(16 << 10)));
    s.groups[1].join = Join::At(SimDuration::ZERO);
    let near = simulate(&s, 1);
    s.groups[0].region = "eu".into();
    s.groups[1].region = "us".into();
    s.network
        .latency
        .insert(("eu".into(), "us".into()), SimDuration::from_millis(500));
    let far = simulate(&s, 1);
    let time = |r: &crate::metrics::RunResult| r.summary.mean_download_s.expect("completed");
    // At least the handshake's round trip and interested → unchoke → request → block:
    // six crossings of 0.5 s more each.
    assert!(
        time(&far) - time(&near) >= 3.0,
        "near {} s, far {} s",
        time(&near),
        time(&far)
    );
    assert_eq!(near.summary.inter_region_bytes, 0);
    assert!(near.regions.is_empty());
    assert_eq!(far.summary.inter_region_bytes, 1 << 20);
    let eu_us = far.regions.iter().find(|r| r.from == "eu" && r.to == "us");
    assert_eq!(eu_us.map(|r| r.bytes), Some(1 << 20));
}
