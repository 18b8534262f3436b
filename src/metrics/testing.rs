//! Test helpers: scenarios built directly in Rust (the parser lives elsewhere) and a
//! small deterministic "fake swarm" that drives a [`Recorder`] like a backend would,
//! for the writer and plot tests.

use super::{LeaveReason, Observer, PeerInfo, Recorder, RunResult};
use crate::core::{Policy, Role};
use crate::scenario::{
    BlockSize, Dist, FileSpec, Group, Join, NetworkSpec, RunSpec, Scenario, Stay, Stop,
    StrategyTable, TrackerSpec,
};
use crate::units::{Bytes, Rate, SimDuration, SimTime};
use std::time::Duration;

/// A group with fixed capacities joining at time zero.
pub(crate) fn group(name: &str, count: u32, role: Role, up_mbit: u64, down_mbit: u64) -> Group {
    Group {
        name: name.to_string(),
        count,
        role,
        upload: Dist::Fixed(Rate::mbit(up_mbit)),
        download: Dist::Fixed(Rate::mbit(down_mbit)),
        latency: Dist::Fixed(SimDuration::from_millis(20)),
        join: Join::At(SimDuration::ZERO),
        linger: Stay::Forever,
        abort: None,
        connectable: true,
        region: crate::scenario::DEFAULT_REGION.to_string(),
        policy: Policy::default(),
        corrupt: crate::core::Corruption::NONE,
    }
}

/// A scenario over `groups` for a file of `size` in `chunk`-sized pieces.
pub(crate) fn scenario(
    name: &str,
    size: Bytes,
    chunk: Bytes,
    groups: Vec<Group>,
    sample: SimDuration,
) -> Scenario {
    Scenario {
        name: name.to_string(),
        description: String::new(),
        file: FileSpec {
            size,
            chunk_size: chunk,
            block_size: BlockSize::Chunk,
        },
        tracker: TrackerSpec::default(),
        policy: Policy::default(),
        groups,
        network: NetworkSpec::default(),
        run: RunSpec {
            seed: 1,
            stop: Stop::AllComplete,
            sample_interval: sample,
        },
        sweep: None,
        strategies: StrategyTable::builtin(),
    }
}

/// A plausible run without a simulator: one seed and two groups of leechers (fast and
/// slow) joining over time, fetching chunks in a scrambled order (a stand-in for rarest
/// first), each verified chunk preceded by a flow and a block; completed leechers
/// linger a little, then leave. Deterministic for given arguments.
pub(crate) fn fake_run(leechers: u32, chunks: u32) -> RunResult {
    let chunk = Bytes(256 << 10);
    let s = scenario(
        "fake-swarm",
        Bytes(chunk.0 * chunks as u64),
        chunk,
        vec![
            group("seeds", 1, Role::Seed, 10, 100),
            group("fast", leechers / 2, Role::Leecher, 10, 40),
            group("slow", leechers - leechers / 2, Role::Leecher, 5, 10),
        ],
        SimDuration::from_secs(1),
    );
    let mut r = Recorder::new(&s, 7, "sim");
    let mut next_piece = vec![0u32; leechers as usize + 1];
    let mut joined = vec![false; leechers as usize + 1];
    let mut left = vec![false; leechers as usize + 1];
    let mut done_at = vec![None::<u64>; leechers as usize + 1];
    let step = 250_000u64; // 0.25 s
    let stride = (chunks as u64 * 61 / 100..)
        .find(|&a| a > 0 && gcd(a, chunks as u64) == 1)
        .unwrap_or(1);
    let mut t = 0u64;
    r.peer_joined(
        SimTime(0),
        &PeerInfo {
            peer: 0,
            group: 0,
            role: Role::Seed,
            upload: Rate::mbit(10),
            download: Rate::mbit(100),
        },
    );
    let mut events = 1u64;
    loop {
        let now = SimTime(t);
        let mut busy = false;
        for p in 1..=leechers {
            let i = p as usize;
            let fast = p <= leechers / 2;
            let join_at = (p as u64 * 97_000) % 20_000_000;
            if !joined[i] {
                busy = true;
                if t >= join_at {
                    joined[i] = true;
                    let (up, down) = if fast { (10, 40) } else { (5, 10) };
                    r.peer_joined(
                        now,
                        &PeerInfo {
                            peer: p,
                            group: if fast { 1 } else { 2 },
                            role: Role::Leecher,
                            upload: Rate::mbit(up),
                            download: Rate::mbit(down),
                        },
                    );
                    events += 1;
                }
                continue;
            }
            if left[i] {
                continue;
            }
            busy = true;
            if let Some(d) = done_at[i] {
                if t >= d + 5_000_000 {
                    left[i] = true;
                    let held: Vec<u32> = (0..chunks).collect();
                    r.peer_left(now, p, &held, LeaveReason::Lingered);
                    events += 1;
                }
                continue;
            }
            // Slow peers get a chunk every other step.
            if !fast && (t / step) % 2 == 1 {
                continue;
            }
            let k = next_piece[i];
            // A per-peer rotation of a fixed permutation (stride coprime with the
            // chunk count), so chunks spread unevenly at first.
            let piece = ((k as u64 * stride + p as u64 * 40_503) % chunks as u64) as u32;
            let from = p.saturating_sub(1);
            let dur = if fast { step } else { 2 * step };
            r.flow(
                from,
                p,
                SimTime(t.saturating_sub(dur)),
                now,
                Rate(chunk.0 * 8 * 1_000_000 / dur),
            );
            r.block_delivered(now, from, p, chunk);
            r.piece_verified(now, p, piece);
            events += 3;
            next_piece[i] += 1;
            if next_piece[i] == chunks {
                r.peer_completed(now, p);
                done_at[i] = Some(t);
                events += 1;
            }
        }
        if !busy {
            break;
        }
        t += step;
    }
    r.finish(SimTime(t), events, Duration::from_millis(5))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}
