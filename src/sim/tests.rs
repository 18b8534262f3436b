//! Simulator tests on scenarios built in code, with an observer that records everything.

use super::*;
use crate::metrics::{LeaveReason, Observer, PeerIndex, PeerInfo};
use crate::scenario::*;
use crate::units::*;

/// Records what a run reports.
#[derive(Default)]
pub(crate) struct Log {
    pub joined: Vec<(SimTime, PeerInfo)>,
    pub completed: Vec<(SimTime, PeerIndex)>,
    pub left: Vec<(SimTime, PeerIndex, LeaveReason)>,
    pub flows: Vec<(PeerIndex, PeerIndex, SimTime, SimTime, Rate)>,
    pub uploaded: u64,
    pub downloaded: u64,
    pub verified: u64,
}

impl Observer for Log {
    fn peer_joined(&mut self, now: SimTime, info: &PeerInfo) {
        self.joined.push((now, info.clone()));
    }
    fn piece_verified(&mut self, _: SimTime, _: PeerIndex, _: u32) {
        self.verified += 1;
    }
    fn peer_completed(&mut self, now: SimTime, peer: PeerIndex) {
        self.completed.push((now, peer));
    }
    fn peer_left(&mut self, now: SimTime, peer: PeerIndex, _: &[u32], reason: LeaveReason) {
        self.left.push((now, peer, reason));
    }
    fn flow(&mut self, from: PeerIndex, to: PeerIndex, start: SimTime, end: SimTime, rate: Rate) {
        self.flows.push((from, to, start, end, rate));
    }
    fn block_delivered(&mut self, _: SimTime, _: PeerIndex, _: PeerIndex, bytes: Bytes) {
        self.uploaded += bytes.0;
        self.downloaded += bytes.0;
    }
}

fn group(name: &str, count: u32, role: Role, up: u64, down: u64, join: Join) -> Group {
    Group {
        name: name.into(),
        count,
        role,
        upload: Dist::Fixed(Rate::mbit(up)),
        download: Dist::Fixed(Rate::mbit(down)),
        latency: Dist::Fixed(SimDuration::from_millis(20)),
        join,
        linger: if role == Role::Seed {
            Stay::Forever
        } else {
            Stay::Fixed(SimDuration::ZERO)
        },
        abort: None,
        policy: Policy::default(),
    }
}

/// The shipped flash crowd, built in code: 1 seed at 10 Mbit/s, `n` leechers at 2/20.
pub(crate) fn flash_crowd(n: u32, size_mib: u64, block: BlockSize) -> Scenario {
    Scenario {
        name: "flash-crowd".into(),
        description: String::new(),
        file: FileSpec {
            size: Bytes(size_mib << 20),
            chunk_size: Bytes(256 << 10),
            block_size: block,
        },
        tracker: TrackerSpec {
            peers_per_announce: 50,
            announce_interval: SimDuration::from_secs(1800),
            min_neighbours: 20,
            max_neighbours: 80,
        },
        policy: Policy::default(),
        groups: vec![
            group("seeds", 1, Role::Seed, 10, 100, Join::At(SimDuration::ZERO)),
            group(
                "leechers",
                n,
                Role::Leecher,
                2,
                20,
                Join::Uniform(SimDuration::ZERO, SimDuration::from_secs(10)),
            ),
        ],
        run: RunSpec {
            seed: 1,
            stop: Stop::AllComplete,
            sample_interval: SimDuration::from_secs(1),
        },
        sweep: None,
    }
}

pub(crate) fn run(s: &Scenario, seed: u64) -> (Outcome, Log) {
    Simulation::new(s, seed, Log::default()).run(|_| {})
}

#[test]
fn every_leecher_of_a_small_flash_crowd_completes() {
    let s = flash_crowd(20, 8, BlockSize::Bytes(Bytes(16 << 10)));
    let (out, log) = run(&s, 1);
    assert_eq!(out.ending, Ending::AllComplete);
    assert_eq!(log.completed.len(), 20);
    let makespan = log.completed.iter().map(|c| c.0).max().unwrap();
    eprintln!("makespan {makespan} events {}", out.events);
}

#[test]
fn flash_crowd_efficiency() {
    let mut s = flash_crowd(200, 64, BlockSize::Bytes(Bytes(16 << 10)));
    if std::env::var("LINGER").is_ok() {
        s.groups[1].linger = Stay::Forever;
    }
    if let Ok(v) = std::env::var("SLOTS") {
        s.groups[1].policy.upload_slots = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("PIPE") {
        s.groups[1].policy.pipeline = v.parse().unwrap();
        s.groups[0].policy.pipeline = v.parse().unwrap();
    }
    let (out, log) = run(&s, 1);
    assert_eq!(out.ending, Ending::AllComplete);
    let mut t: Vec<f64> = log.completed.iter().map(|c| c.0.as_secs_f64()).collect();
    t.sort_by(f64::total_cmp);
    let seed_bytes: f64 = log
        .flows
        .iter()
        .filter(|f| f.0 == 0)
        .map(|f| (f.3 - f.2).as_secs_f64() * f.4.0 as f64 / 8.0)
        .sum();
    eprintln!(
        "events {} first {} q1 {} median {} q3 {} last {} seed util {}",
        out.events,
        t[0],
        t[t.len() / 4],
        t[t.len() / 2],
        t[3 * t.len() / 4],
        t[t.len() - 1],
        seed_bytes * 8.0 / 10e6 / t[t.len() - 1]
    );
}

#[test]
#[ignore = "a measurement, run by hand"]
fn big_flash_crowd() {
    let n: u32 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut s = flash_crowd(n, 1024, BlockSize::Chunk);
    s.file.chunk_size = Bytes(256 << 10);
    let t = std::time::Instant::now();
    let (out, log) = run(&s, 1);
    let el = t.elapsed().as_secs_f64();
    let last = log.completed.iter().map(|c| c.0).max().unwrap_or_default();
    eprintln!("{:?} end {}", out.ending, out.end);
    eprintln!(
        "n {n} wall {el:.1} s events {} ({:.0}/s) completed {} makespan {last}",
        out.events,
        out.events as f64 / el,
        log.completed.len()
    );
}
