//! Peer state machine tests: a tiny in-memory host wires peers together and delivers
//! messages instantly, with a fake clock.

use super::*;
use crate::core::config::{Corruption, Pipeline};
use crate::core::geometry::{BlockRef, Geometry};
use crate::core::smart_ban::{GrainDigest, NAMES_TO_BAN};
use crate::core::strategy::builtin;
use crate::core::{Neighbourhood, StrategyName};
use crate::units::Bytes;
use std::collections::BTreeMap;

fn config(id: u64, role: Role, pieces: u32, blocks_per_piece: u32) -> PeerConfig {
    let block = 16 * 1024u64;
    let geometry = Geometry::new(
        Bytes(block * blocks_per_piece as u64 * pieces as u64),
        Bytes(block * blocks_per_piece as u64),
        Bytes(block),
    );
    let mut cfg = PeerConfig {
        neighbourhood: Neighbourhood {
            min_neighbours: 1,
            max_neighbours: 10,
            ..Neighbourhood::default()
        },
        ..PeerConfig::new(PeerId(id), geometry, role)
    };
    // The in-memory net delivers at one instant, where no rate can be measured: a fixed
    // depth, so the tests below see whole pipelines. `Pipeline::Auto` has its own tests.
    cfg.policy.pipeline = Pipeline::Fixed(TEST_PIPELINE);
    cfg
}

/// The pipeline depth of the tests' peers, in requests.
const TEST_PIPELINE: u32 = 10;

/// A peer built with the built-in strategies.
fn build(cfg: PeerConfig, have: Bitfield, dice: Dice) -> Peer {
    Peer::new(cfg, have, dice, &Strategies::builtin()).expect("built-in strategies")
}

fn peer(id: u64, role: Role, pieces: u32, bpp: u32) -> Peer {
    let cfg = config(id, role, pieces, bpp);
    let have = if role == Role::Seed {
        Bitfield::full(pieces)
    } else {
        Bitfield::new(pieces)
    };
    build(cfg, have, Dice::new(1, id))
}

/// A connection to (or from) `peer`, whose dial rank is its id.
fn link(peer: PeerId, direction: Direction) -> NewConnection {
    NewConnection {
        peer,
        direction,
        rank: peer.0,
    }
}

fn outbound(peer: PeerId) -> NewConnection {
    link(peer, Direction::Outbound)
}

fn inbound(peer: PeerId) -> NewConnection {
    link(peer, Direction::Inbound)
}

/// The tests' pipeline depth, in requests.
fn default_pipeline() -> usize {
    TEST_PIPELINE as usize
}

/// The digest of a grain as its sender meant it.
const GOOD: GrainDigest = GrainDigest([0; 20]);

/// The digest of a grain corrupted by peer `p`.
fn corrupted_by(p: usize) -> GrainDigest {
    GrainDigest([u8::try_from(p + 1).unwrap(); 20])
}

/// Peers connected pairwise; `links[(a, conn)] = (b, conn at b)`.
struct Net {
    peers: Vec<Peer>,
    links: Vec<(usize, ConnId, usize, ConnId)>,
    now: SimTime,
    closed: Vec<(usize, CloseReason)>,
    verified: Vec<(usize, u32, bool)>,
    /// (banner, banned) as the banners reported them.
    banned: Vec<(usize, PeerId)>,
    /// What each peer holds of the pieces it is assembling: a digest per grain, as a
    /// host stores bytes (only the grains `grains_to_keep` names).
    stored: BTreeMap<(usize, u32), Vec<GrainDigest>>,
}

impl Net {
    fn new(peers: Vec<Peer>) -> Net {
        Net {
            peers,
            links: Vec::new(),
            now: SimTime::ZERO,
            closed: Vec::new(),
            verified: Vec::new(),
            banned: Vec::new(),
            stored: BTreeMap::new(),
        }
    }

    /// Peer `p` sends `b` to `q` (on `qc`), with `bad` grains corrupted: `q` stores
    /// what it keeps, then hears of the block.
    fn deliver(
        &mut self,
        (p, conn): (usize, ConnId),
        (q, qc): (usize, ConnId),
        b: BlockRef,
        bad: &[u32],
    ) {
        self.peers[p].handle_block_sent(self.now, conn, b);
        let grains = self.peers[q].cfg.geometry.grains_in(b.piece) as usize;
        let keep: Vec<u32> = self.peers[q].grains_to_keep(qc, &b).collect();
        let stored = self
            .stored
            .entry((q, b.piece))
            .or_insert_with(|| vec![GOOD; grains]);
        for g in keep {
            stored[g as usize] = if bad.contains(&g) {
                corrupted_by(p)
            } else {
                GOOD
            };
        }
        self.peers[q].handle_message(self.now, qc, Message::Piece(b));
    }

    fn connect(&mut self, a: usize, b: usize) {
        let pb = self.peers[b].id();
        let pa = self.peers[a].id();
        let ca = self.peers[a]
            .handle_connected(self.now, outbound(pb))
            .unwrap();
        let cb = self.peers[b]
            .handle_connected(self.now, inbound(pa))
            .unwrap();
        self.links.push((a, ca, b, cb));
    }

    fn other_end(&self, p: usize, c: ConnId) -> Option<(usize, ConnId)> {
        self.links.iter().find_map(|&(a, ca, b, cb)| {
            if a == p && ca == c {
                Some((b, cb))
            } else if b == p && cb == c {
                Some((a, ca))
            } else {
                None
            }
        })
    }

    /// Delivers outputs until quiet; returns how many messages moved.
    fn settle(&mut self) -> usize {
        let mut moved = 0;
        loop {
            let mut any = false;
            for p in 0..self.peers.len() {
                while let Some(out) = self.peers[p].poll_output() {
                    any = true;
                    match out {
                        Output::Send { conn, msg } => {
                            let Some((q, qc)) = self.other_end(p, conn) else {
                                continue;
                            };
                            moved += 1;
                            match msg {
                                Message::Piece(b) => self.deliver((p, conn), (q, qc), b, &[]),
                                msg => self.peers[q].handle_message(self.now, qc, msg),
                            }
                        }
                        Output::SendCorrupted {
                            conn,
                            block,
                            grains,
                        } => {
                            if let Some(to) = self.other_end(p, conn) {
                                moved += 1;
                                self.deliver((p, conn), to, block, &grains);
                            }
                        }
                        Output::Verify { piece } => {
                            let digests = self.stored.remove(&(p, piece)).unwrap_or_default();
                            let ok = digests.iter().all(|d| *d == GOOD);
                            self.verified.push((p, piece, ok));
                            let digests = if !ok || self.peers[p].grain_digests_wanted(piece) {
                                digests
                            } else {
                                Vec::new()
                            };
                            self.peers[p].handle_piece_verified(self.now, piece, ok, &digests);
                        }
                        Output::Banned { peer } => self.banned.push((p, peer)),
                        Output::Disconnect { conn, reason } => {
                            self.closed.push((p, reason));
                            if let Some((q, qc)) = self.other_end(p, conn) {
                                self.peers[q].handle_disconnected(self.now, qc);
                            }
                            self.links.retain(|&(a, ca, b, cb)| {
                                !((a == p && ca == conn) || (b == p && cb == conn))
                            });
                        }
                        Output::Connect { .. }
                        | Output::Announce { .. }
                        | Output::Completed
                        | Output::Cut { .. } => {}
                    }
                }
            }
            if !any {
                return moved;
            }
        }
    }
}

impl Net {
    /// Moves the fake clock on by `secs` and fires the timers that are due.
    fn advance(&mut self, secs: u64) {
        self.now += SimDuration::from_secs(secs);
        for p in 0..self.peers.len() {
            if self.peers[p].poll_timeout().is_some_and(|t| t <= self.now) {
                self.peers[p].handle_timeout(self.now);
            }
        }
        self.settle();
    }
}

#[test]
fn a_leecher_downloads_everything_from_a_seed() {
    let mut net = Net::new(vec![
        peer(0, Role::Seed, 8, 4),
        peer(1, Role::Leecher, 8, 4),
    ]);
    for p in &mut net.peers {
        p.start(SimTime::ZERO);
    }
    net.connect(1, 0);
    net.settle();
    assert!(net.peers[1].is_complete());
    assert_eq!(net.peers[1].downloaded(), 8 * 4 * 16 * 1024);
    assert_eq!(net.peers[0].uploaded(), net.peers[1].downloaded());
    // Both are seeds now: the connection is useless and closed.
    assert!(
        net.closed
            .iter()
            .any(|(_, r)| *r == CloseReason::BothComplete)
    );
}

#[test]
fn requests_are_pipelined_up_to_the_policy_depth() {
    let mut seed = peer(0, Role::Seed, 8, 4);
    let mut leech = peer(1, Role::Leecher, 8, 4);
    let c = leech
        .handle_connected(SimTime::ZERO, outbound(seed.id()))
        .unwrap();
    seed.handle_connected(SimTime::ZERO, inbound(leech.id()))
        .unwrap();
    leech.handle_message(SimTime::ZERO, c, Message::Bitfield(Bitfield::full(8)));
    leech.handle_message(SimTime::ZERO, c, Message::Unchoke);
    let mut requests = Vec::new();
    while let Some(out) = leech.poll_output() {
        if let Output::Send {
            msg: Message::Request(b),
            ..
        } = out
        {
            requests.push(b);
        }
    }
    assert_eq!(requests.len(), default_pipeline());
    // Strict priority: the first piece's blocks are all asked for before another piece.
    assert!(requests[..4].iter().all(|b| b.piece == requests[0].piece));
}

#[test]
fn the_pipeline_counts_wire_blocks_so_big_blocks_keep_fewer_requests_out() {
    // `pipeline` is in 16 KiB blocks: blocks of 64 KiB keep a quarter as many requests
    // outstanding (the same bytes), and whole 256 KiB chunks at least two.
    let requests_with = |block_kib: u64| {
        let geometry =
            |kib: u64| Geometry::new(Bytes(64 * (256 << 10)), Bytes(256 << 10), Bytes(kib << 10));
        let mut seed_cfg = config(0, Role::Seed, 64, 16);
        seed_cfg.geometry = geometry(block_kib);
        let mut leech_cfg = config(1, Role::Leecher, 64, 16);
        leech_cfg.geometry = geometry(block_kib);
        let seed = build(seed_cfg, Bitfield::full(64), Dice::new(1, 0));
        let mut leech = build(leech_cfg, Bitfield::new(64), Dice::new(1, 1));
        let c = leech
            .handle_connected(SimTime::ZERO, outbound(seed.id()))
            .unwrap();
        leech.handle_message(SimTime::ZERO, c, Message::Bitfield(Bitfield::full(64)));
        leech.handle_message(SimTime::ZERO, c, Message::Unchoke);
        std::iter::from_fn(|| leech.poll_output())
            .filter(|out| {
                matches!(
                    out,
                    Output::Send {
                        msg: Message::Request(_),
                        ..
                    }
                )
            })
            .count()
    };
    let pipeline = default_pipeline();
    assert_eq!(requests_with(16), pipeline);
    assert_eq!(requests_with(64), pipeline / 4);
    assert_eq!(requests_with(256), 2);
}

/// A leecher with pipeline `pipeline` downloads from one neighbour that answers its
/// oldest request every `gap` (16 KiB each) for `secs` seconds of the fake clock: how
/// many requests it has outstanding at the end.
fn outstanding_after_a_steady_flow(pipeline: Pipeline, gap: SimDuration, secs: u64) -> usize {
    let pieces = 512;
    let mut cfg = config(1, Role::Leecher, pieces, 16);
    cfg.policy.pipeline = pipeline;
    let mut leech = build(cfg, Bitfield::new(pieces), Dice::new(1, 1));
    let c = leech
        .handle_connected(SimTime::ZERO, outbound(PeerId(0)))
        .unwrap();
    leech.handle_message(SimTime::ZERO, c, Message::Bitfield(Bitfield::full(pieces)));
    leech.handle_message(SimTime::ZERO, c, Message::Unchoke);
    let mut out = VecDeque::new();
    let mut now = SimTime::ZERO;
    let end = SimTime::ZERO + SimDuration::from_secs(secs);
    loop {
        while let Some(o) = leech.poll_output() {
            match o {
                Output::Send {
                    msg: Message::Request(b),
                    ..
                } => out.push_back(b),
                Output::Verify { piece } => leech.handle_piece_verified(now, piece, true, &[]),
                _ => {}
            }
        }
        if now >= end {
            return out.len();
        }
        now += gap;
        let b = out.pop_front().expect("a request is out");
        leech.handle_message(now, c, Message::Piece(b));
    }
}

#[test]
fn an_automatic_pipeline_holds_three_seconds_at_the_measured_rate() {
    let us = SimDuration;
    // A new connection has no rate yet: the floor.
    let floor = Pipeline::AUTO_FLOOR as usize;
    assert_eq!(
        outstanding_after_a_steady_flow(Pipeline::Auto, us(15_625), 0),
        floor
    );
    // 1 MiB/s (a block per 15.625 ms): 3 s of it is 192 blocks. The rate meter is
    // good to a few % on a steady flow (its own tests: 5 %).
    let mib = outstanding_after_a_steady_flow(Pipeline::Auto, us(15_625), 25);
    assert!((183..=202).contains(&mib), "{mib} requests out at 1 MiB/s");
    // 32 KiB/s: 6 blocks (5.7 to 6.3, rounded up).
    let slow = outstanding_after_a_steady_flow(Pipeline::Auto, us(500_000), 40);
    assert!((6..=7).contains(&slow), "{slow} requests out at 32 KiB/s");
    // 8 MiB/s would want 1536: the ceiling.
    let fast = outstanding_after_a_steady_flow(Pipeline::Auto, us(1_953), 4);
    assert_eq!(fast, Pipeline::AUTO_CEILING as usize);
    // A number is a fixed depth, whatever the rate.
    let fixed = outstanding_after_a_steady_flow(Pipeline::Fixed(10), us(15_625), 25);
    assert_eq!(fixed, 10);
}

#[test]
fn a_verified_piece_is_announced_to_neighbours_that_lack_it() {
    let mut net = Net::new(vec![
        peer(0, Role::Seed, 4, 1),
        peer(1, Role::Leecher, 4, 1),
        peer(2, Role::Leecher, 4, 1),
    ]);
    net.connect(1, 2);
    net.settle();
    net.connect(1, 0);
    net.settle();
    // Peer 1 gets pieces from the seed and tells peer 2, which then fetches them from 1.
    assert!(net.peers[1].is_complete());
    assert!(net.peers[2].is_complete());
    assert!(net.peers[1].uploaded() > 0);
}

/// A seed that corrupts every grain it sends with probability `p`.
fn polluter(id: u64, pieces: u32, bpp: u32, p: f64) -> Peer {
    let mut cfg = config(id, Role::Seed, pieces, bpp);
    cfg.corrupt = Corruption::new(p).unwrap();
    build(cfg, Bitfield::full(pieces), Dice::new(1, id))
}

#[test]
fn a_piece_that_fails_its_check_is_fetched_again_and_the_sender_cut_off() {
    let mut net = Net::new(vec![polluter(0, 4, 2, 1.0), peer(1, Role::Leecher, 4, 2)]);
    net.connect(1, 0);
    net.settle();
    // The polluter alone sends each piece, so each failure names it: it takes
    // NAMES_TO_BAN of them to be cut off; pieces already on order when the last lands
    // are still checked (and fail), but no more: at most the pieces a full pipeline
    // holds (10 blocks of 2-block pieces), and there are only 4.
    let failures = net.verified.iter().filter(|v| !v.2).count();
    let on_order = (default_pipeline() / 2).min(4);
    assert!(
        (NAMES_TO_BAN as usize..=on_order).contains(&failures),
        "{failures} failures"
    );
    assert_eq!(net.peers[1].connections(), 0);
    assert!(net.closed.contains(&(1, CloseReason::BadData)));
    assert_eq!(net.banned, vec![(1, PeerId(0))]);
    assert_eq!(
        net.peers[1].have().count(),
        0,
        "no unverified piece is kept"
    );
}

#[test]
fn the_polluter_is_banned_and_its_honest_co_sender_is_not() {
    // Pieces of 8 blocks come from an honest seed and a polluter at once (10 requests
    // each, strict priority), so a failed piece has two senders; the leecher must
    // find which one sent the bad blocks.
    let mut net = Net::new(vec![
        peer(0, Role::Seed, 16, 8),
        polluter(1, 16, 8, 0.5),
        peer(2, Role::Leecher, 16, 8),
    ]);
    net.connect(2, 0);
    net.connect(2, 1);
    net.settle();
    let failures = net.verified.iter().filter(|v| !v.2).count();
    assert!(failures >= 2, "{failures} failures");
    assert!(net.peers[2].is_complete());
    assert_eq!(net.banned, vec![(2, PeerId(1))]);
    assert!(net.peers[2].has_banned(PeerId(1)) && !net.peers[2].has_banned(PeerId(0)));
    // A banned peer is refused when it calls again, and not dialled when listed.
    let me = &mut net.peers[2];
    assert_eq!(me.handle_connected(net.now, inbound(PeerId(1))), None);
    me.handle_tracker_response(net.now, &[PeerId(1)], None);
    let dials: Vec<Output> = std::iter::from_fn(|| me.poll_output())
        .filter(|o| matches!(o, Output::Connect { .. }))
        .collect();
    assert!(dials.is_empty(), "{dials:?}");
}

#[test]
fn an_honest_peer_draws_nothing_for_corruption() {
    // Serving the same requests, an honest peer's random stream is where it would be
    // without the pollution code; a polluter's has moved on.
    let after_serving = |p: f64| {
        let mut net = Net::new(vec![polluter(0, 4, 2, p), peer(1, Role::Leecher, 4, 2)]);
        net.connect(1, 0);
        net.settle();
        net.peers[0].dice.next_u64()
    };
    let untouched = Dice::new(1, 0).next_u64();
    assert_eq!(after_serving(0.0), untouched);
    assert_ne!(after_serving(0.3), untouched);
}

#[test]
fn an_unrequested_block_gets_the_sender_disconnected() {
    let mut leech = peer(1, Role::Leecher, 4, 1);
    let c = leech
        .handle_connected(SimTime::ZERO, inbound(PeerId(9)))
        .unwrap();
    let block = leech.cfg.geometry.block(2, 0);
    leech.handle_message(SimTime::ZERO, c, Message::Piece(block));
    let outs: Vec<Output> = std::iter::from_fn(|| leech.poll_output()).collect();
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Disconnect {
            reason: CloseReason::Protocol(_),
            ..
        }
    )));
    assert_eq!(leech.connections(), 0);
}

#[test]
fn after_a_rechoke_the_fastest_uploaders_to_me_are_unchoked() {
    // A leecher with six interested neighbours; neighbour k has sent it k blocks.
    let mut me = peer(0, Role::Leecher, 64, 1);
    let mut conns = Vec::new();
    for k in 1..=6u64 {
        let c = me
            .handle_connected(SimTime::ZERO, inbound(PeerId(k)))
            .unwrap();
        let mut field = Bitfield::new(64);
        for p in 0..32 {
            field.set(p);
        }
        me.handle_message(SimTime::ZERO, c, Message::Bitfield(field));
        me.handle_message(SimTime::ZERO, c, Message::Unchoke);
        conns.push(c);
    }
    me.start(SimTime::ZERO);
    // Serve the requests each neighbour got, k blocks for neighbour k.
    let mut requested: Vec<Vec<BlockRef>> = vec![Vec::new(); 6];
    while let Some(out) = me.poll_output() {
        if let Output::Send {
            conn,
            msg: Message::Request(b),
        } = out
        {
            requested[conns.iter().position(|&c| c == conn).unwrap()].push(b);
        }
    }
    for (k, blocks) in requested.iter().enumerate() {
        for b in blocks.iter().take(k) {
            me.handle_message(SimTime(5_000_000), conns[k], Message::Piece(*b));
        }
    }
    me.have.set(63); // something to offer
    for &c in &conns {
        me.handle_message(SimTime(5_000_000), c, Message::Interested);
    }
    while me.poll_output().is_some() {}
    me.handle_timeout(SimTime(10_000_000));
    let unchoked: Vec<ConnId> = std::iter::from_fn(|| me.poll_output())
        .filter_map(|o| match o {
            Output::Send {
                conn,
                msg: Message::Unchoke,
            } => Some(conn),
            _ => None,
        })
        .collect();
    let all_unchoked: Vec<usize> = conns
        .iter()
        .enumerate()
        .filter(|(_, c)| me.conns.get(**c).is_some_and(|c| !c.am_choking))
        .map(|(k, _)| k)
        .collect();
    let _ = unchoked;
    // The four fastest (k = 5, 4, 3, 2) hold regular slots; one more is optimistic.
    for k in [5, 4, 3, 2] {
        assert!(all_unchoked.contains(&k), "{all_unchoked:?}");
    }
    assert_eq!(all_unchoked.len(), 5);
}

#[test]
fn a_free_rider_never_unchokes() {
    let mut fr = peer(0, Role::FreeRider, 4, 1);
    fr.have.set(0);
    fr.start(SimTime::ZERO);
    let c = fr
        .handle_connected(SimTime::ZERO, inbound(PeerId(5)))
        .unwrap();
    fr.handle_message(SimTime::ZERO, c, Message::Interested);
    fr.handle_timeout(SimTime(10_000_000));
    let outs: Vec<Output> = std::iter::from_fn(|| fr.poll_output()).collect();
    assert!(!outs.iter().any(|o| matches!(
        o,
        Output::Send {
            msg: Message::Unchoke,
            ..
        }
    )));
}

#[test]
fn endgame_requests_the_last_blocks_twice_and_cancels_the_loser() {
    let mut me = peer(0, Role::Leecher, 1, 2);
    let a = me
        .handle_connected(SimTime::ZERO, inbound(PeerId(1)))
        .unwrap();
    let b = me
        .handle_connected(SimTime::ZERO, inbound(PeerId(2)))
        .unwrap();
    for c in [a, b] {
        me.handle_message(SimTime::ZERO, c, Message::Bitfield(Bitfield::full(1)));
        me.handle_message(SimTime::ZERO, c, Message::Unchoke);
    }
    let outs: Vec<Output> = std::iter::from_fn(|| me.poll_output()).collect();
    let reqs = |conn| {
        outs.iter()
            .filter(
                |o| matches!(o, Output::Send { conn: c, msg: Message::Request(_) } if *c == conn),
            )
            .count()
    };
    assert_eq!(reqs(a), 2);
    assert_eq!(
        reqs(b),
        2,
        "endgame: the same blocks from the second neighbour"
    );
    let block = me.cfg.geometry.block(0, 0);
    me.handle_message(SimTime::ZERO, a, Message::Piece(block));
    let outs: Vec<Output> = std::iter::from_fn(|| me.poll_output()).collect();
    assert!(outs.contains(&Output::Send {
        conn: b,
        msg: Message::Cancel(block)
    }));
}

/// A leecher with a `pipeline` of 12 wire blocks (192 KiB) on 256 KiB chunks asked for
/// in runs of `block_kib`, unchoked by neighbour `a` and then by `b`: the requests and
/// cancels it sent each.
fn requests_from_two_senders(block_kib: u64) -> (Vec<Message>, Vec<Message>) {
    let geometry = Geometry::new(
        Bytes(64 * (256 << 10)),
        Bytes(256 << 10),
        Bytes(block_kib << 10),
    );
    let mut cfg = config(0, Role::Leecher, 64, 16);
    cfg.geometry = geometry;
    cfg.policy.pipeline = Pipeline::Fixed(12);
    let mut me = build(cfg, Bitfield::new(64), Dice::new(1, 0));
    let mut conns = Vec::new();
    let mut outs = Vec::new();
    for id in [1, 2] {
        let c = me
            .handle_connected(SimTime::ZERO, outbound(PeerId(id)))
            .unwrap();
        me.handle_message(SimTime::ZERO, c, Message::Bitfield(Bitfield::full(64)));
        me.handle_message(SimTime::ZERO, c, Message::Unchoke);
        conns.push(c);
        outs.extend(std::iter::from_fn(|| me.poll_output()));
    }
    let to = |conn: ConnId| -> Vec<Message> {
        outs.iter()
            .filter_map(|o| match o {
                Output::Send { conn: c, msg } if *c == conn => Some(msg.clone()),
                _ => None,
            })
            .filter(|m| matches!(m, Message::Request(_) | Message::Cancel(_)))
            .collect()
    };
    (to(conns[0]), to(conns[1]))
}

#[test]
fn in_fast_mode_a_sender_is_asked_for_its_budget_and_the_rest_of_the_piece_goes_elsewhere() {
    let (to_a, to_b) = requests_from_two_senders(256);
    let piece = match to_a.first() {
        Some(Message::Request(r)) => r.piece,
        other => panic!("expected a request to a, got {other:?}"),
    };
    let run = |offset: u32, kib: u32| BlockRef {
        piece,
        offset: offset << 10,
        len: kib << 10,
    };
    // a's budget is 192 KiB: two runs of half of it, as 16 KiB requests would have
    // twelve blocks on order there; nothing is cancelled.
    assert_eq!(
        to_a,
        vec![Message::Request(run(0, 96)), Message::Request(run(96, 96))]
    );
    // b, unchoking next, gets the rest of that piece first (strict priority).
    assert_eq!(
        to_b.first(),
        Some(&Message::Request(run(192, 64))),
        "b gets the rest of the piece"
    );
}

#[test]
fn with_16_kib_blocks_a_sender_is_asked_for_its_pipeline() {
    let (to_a, to_b) = requests_from_two_senders(16);
    assert!(
        to_a.iter().all(|m| matches!(m, Message::Request(_))),
        "{to_a:?}"
    );
    assert_eq!(to_a.len(), 12);
    assert!(!to_b.is_empty());
}

/// A leecher holding exactly `pieces` of 5 (2 blocks each), running `choker` with
/// `slots` regular and optimistic slots each.
fn holder(id: u64, pieces: &[u32], choker: StrategyName, slots: u32) -> Peer {
    let mut cfg = config(id, Role::Leecher, 5, 2);
    cfg.policy.choker = choker;
    cfg.policy.upload_slots = slots;
    cfg.policy.optimistic_slots = slots;
    let mut have = Bitfield::new(5);
    for &p in pieces {
        have.set(p);
    }
    build(cfg, have, Dice::new(1, id))
}

#[test]
fn a_propshare_peer_weights_its_uploads_by_what_it_received() {
    const PROPSHARE: StrategyName = builtin::PROPSHARE;
    // A gets pieces 0-2 from B and piece 3 from C: three times as much from B (nobody
    // has piece 4, so A stays a leecher). Then B wants piece 3 and C wants 0-2 from A.
    // A has no slots to fill between rechokes (so they are still waiting at the
    // rechoke), but PropShare unchokes every contributor and splits A's upload 3:1 (of
    // the 80 % it bids with).
    let mut net = Net::new(vec![
        holder(0, &[], PROPSHARE, 0),
        holder(1, &[0, 1, 2], PROPSHARE, 4),
        holder(2, &[3], PROPSHARE, 4),
    ]);
    for p in &mut net.peers {
        p.start(SimTime::ZERO);
    }
    net.connect(0, 1);
    net.connect(0, 2);
    net.settle();
    assert_eq!(net.peers[0].have().count(), 4);
    net.advance(10);
    let conn_to = |b: usize| {
        net.links
            .iter()
            .find(|l| l.0 == 0 && l.2 == b)
            .map(|l| l.1)
            .expect("connected")
    };
    let (to_b, to_c) = (
        net.peers[0].upload_weight(conn_to(1)),
        net.peers[0].upload_weight(conn_to(2)),
    );
    assert!((598..=601).contains(&to_b), "{to_b}");
    assert!((198..=201).contains(&to_c), "{to_c}");
}

#[test]
fn progress_reported_before_a_block_lands_is_counted_once() {
    // Peer 0 holds piece 0 of 5 (two blocks); peer 1, a free-rider, holds piece 1, so
    // peer 0 stays interested and the connection open. Peer 0's blocks are sent at
    // t = 0 and land at t = 4 s. With progress reported at 2 s, both ends' rates see
    // bytes before the block lands, and the same total once it has.
    fn rate(p: &mut Peer, c: ConnId, way: Way, now: SimTime) -> u64 {
        let conn = p.conns.get_mut(c).unwrap();
        match way {
            Way::Sending => conn.to_them.rate(now),
            Way::Receiving => conn.from_them.rate(now),
        }
    }
    let run = |report: bool| {
        let mut free_rider = holder(1, &[1], builtin::TIT_FOR_TAT, 4);
        free_rider.cfg.role = Role::FreeRider;
        let mut net = Net::new(vec![holder(0, &[0], builtin::TIT_FOR_TAT, 4), free_rider]);
        for p in &mut net.peers {
            p.start(SimTime::ZERO);
        }
        net.connect(1, 0);
        let (_, at_leecher, _, at_seed) = net.links[0];
        let block = net.peers[1].cfg.geometry.block(0, 0);
        let (two, four) = (SimTime(2_000_000), SimTime(4_000_000));
        if report {
            net.peers[0].handle_progress(two, at_seed, block, Way::Sending, 6000);
            net.peers[1].handle_progress(two, at_leecher, block, Way::Receiving, 6000);
        }
        let mid = (
            rate(&mut net.peers[0], at_seed, Way::Sending, two),
            rate(&mut net.peers[1], at_leecher, Way::Receiving, two),
        );
        net.now = four;
        net.settle();
        assert!(net.peers[1].have().get(0));
        let end = (
            rate(&mut net.peers[0], at_seed, Way::Sending, four),
            rate(&mut net.peers[1], at_leecher, Way::Receiving, four),
        );
        (mid, end)
    };
    let (mid, end) = run(true);
    let (mid_unreported, end_unreported) = run(false);
    assert_eq!(mid_unreported, (0, 0));
    assert_eq!(mid, (3000, 3000), "6000 B in the first 2 s");
    assert_eq!(end, end_unreported, "the block counts once");
}

#[test]
fn a_newcomer_at_the_limit_takes_the_slot_of_the_longest_useless_neighbour() {
    // A seed full of leechers (max_neighbours 10): those that never said they are
    // interested are useless both ways once the grace has passed.
    let mut seed = peer(1, Role::Seed, 4, 2);
    let mut conns = Vec::new();
    for i in 0..10u64 {
        conns.push(
            seed.handle_connected(SimTime::ZERO, inbound(PeerId(100 + i)))
                .unwrap(),
        );
    }
    // Two are interested: never evicted.
    let t1 = SimTime::ZERO + SimDuration::from_secs(1);
    seed.handle_message(t1, conns[0], Message::Interested);
    seed.handle_message(t1, conns[1], Message::Interested);
    while seed.poll_output().is_some() {}
    assert!(
        seed.handle_connected(t1, inbound(PeerId(200))).is_none(),
        "full"
    );
    // Within the grace nobody is evicted.
    let early = SimTime::ZERO + SimDuration::from_secs(9);
    assert!(!seed.make_room_for_newcomer(early));
    let late = SimTime::ZERO + SimDuration::from_secs(11);
    for round in 0..8 {
        assert!(seed.make_room_for_newcomer(late), "round {round}");
        let closed: Vec<ConnId> = std::iter::from_fn(|| seed.poll_output())
            .filter_map(|o| match o {
                Output::Disconnect { conn, reason } => {
                    assert_eq!(reason, CloseReason::Useless);
                    Some(conn)
                }
                _ => None,
            })
            .collect();
        assert_eq!(closed.len(), 1);
        assert!(
            !conns[..2].contains(&closed[0]),
            "an interested one was evicted"
        );
        assert!(
            seed.handle_connected(late, inbound(PeerId(300 + round)))
                .is_some()
        );
    }
    // Only the interested two and the (new, within their grace) newcomers are left.
    assert!(!seed.make_room_for_newcomer(late));
    // Below the limit nothing is closed.
    seed.handle_disconnected(late, conns[0]);
    assert!(!seed.make_room_for_newcomer(late + SimDuration::from_secs(60)));
}

#[test]
fn a_peer_that_is_not_connectable_refuses_inbound_connections_but_dials_out() {
    let mut cfg = config(1, Role::Leecher, 4, 1);
    cfg.connectable = false;
    let mut nat = build(cfg, Bitfield::new(4), Dice::new(1, 1));
    assert!(!nat.accepts_inbound());
    assert_eq!(
        nat.handle_connected(SimTime::ZERO, inbound(PeerId(2))),
        None
    );
    assert_eq!(nat.connections(), 0);
    assert!(
        nat.handle_connected(SimTime::ZERO, outbound(PeerId(2)))
            .is_some()
    );
    assert_eq!(nat.connections(), 1);
    // A connectable peer takes both.
    let mut open = peer(3, Role::Leecher, 4, 1);
    assert!(open.accepts_inbound());
    assert!(
        open.handle_connected(SimTime::ZERO, inbound(PeerId(4)))
            .is_some()
    );
}

#[test]
fn a_super_seed_sends_no_bitfield_and_offers_one_piece_at_a_time() {
    let mut cfg = config(0, Role::Seed, 4, 2);
    cfg.policy.seed_choker = builtin::SUPER_SEED;
    let mut seed = build(cfg, Bitfield::full(4), Dice::new(1, 0));
    let a = seed
        .handle_connected(SimTime::ZERO, inbound(PeerId(1)))
        .unwrap();
    let b = seed
        .handle_connected(SimTime::ZERO, inbound(PeerId(2)))
        .unwrap();
    let sent: Vec<(ConnId, Message)> = std::iter::from_fn(|| seed.poll_output())
        .filter_map(|o| match o {
            Output::Send { conn, msg } => Some((conn, msg)),
            _ => None,
        })
        .collect();
    assert!(
        !sent.iter().any(|(_, m)| matches!(m, Message::Bitfield(_))),
        "{sent:?}"
    );
    // Different pieces to different peers, one each.
    assert_eq!(
        sent,
        vec![(a, Message::Have(0)), (b, Message::Have(1))],
        "{sent:?}"
    );
    // b turns out to hold 1 already (a bitfield): it is offered the next.
    let mut held = Bitfield::new(4);
    held.set(1);
    seed.handle_message(SimTime::ZERO, b, Message::Bitfield(held));
    let next: Vec<Output> = std::iter::from_fn(|| seed.poll_output()).collect();
    assert!(
        next.contains(&Output::Send {
            conn: b,
            msg: Message::Have(2)
        }),
        "{next:?}"
    );
}
