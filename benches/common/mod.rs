//! What the engine benchmarks share: an observer that keeps nothing, so a bench measures
//! the engine alone, the swarms they simulate, and the process's peak memory.

// Each bench uses part of this module.
#![allow(dead_code)]

use swarmlab::metrics::{LeaveReason, Observer, PeerInfo};
use swarmlab::scenario::Scenario;
use swarmlab::units::{Bytes, Rate, SimTime};

/// An observer that keeps nothing.
pub struct Nothing;

impl Observer for Nothing {
    fn peer_joined(&mut self, _: SimTime, _: &PeerInfo) {}
    fn piece_verified(&mut self, _: SimTime, _: u32, _: u32) {}
    fn peer_completed(&mut self, _: SimTime, _: u32) {}
    fn peer_left(&mut self, _: SimTime, _: u32, _: &[u32], _: LeaveReason) {}
    fn flow(&mut self, _: u32, _: u32, _: SimTime, _: SimTime, _: Rate) {}
    fn block_delivered(&mut self, _: SimTime, _: u32, _: u32, _: Bytes) {}
}

/// A flash crowd: one 10 Mbit/s seed and `leechers` 2/20 Mbit/s leechers arriving within
/// `join_within` (e.g. "10 s"), on a file of `size` in 256 KiB chunks, requested in
/// `block` blocks ("16 KiB", or "chunk" for fast mode); `stop` ends it ("all-complete" or
/// a simulated time).
pub fn crowd(block: &str, size: &str, leechers: u32, join_within: &str, stop: &str) -> Scenario {
    let text = format!(
        r#"
        [file]
        size = "{size}"
        block_size = "{block}"
        [[group]]
        name = "seeds"
        count = 1
        role = "seed"
        upload = "10 Mbit/s"
        download = "100 Mbit/s"
        latency = "20 ms"
        [[group]]
        name = "leechers"
        count = {leechers}
        upload = "2 Mbit/s"
        download = "20 Mbit/s"
        latency = "50 ms"
        join = {{ uniform = ["0 s", "{join_within}"] }}
        linger = "forever"
        [run]
        stop = "{stop}"
        "#
    );
    Scenario::from_str_named(&text, "bench.toml").expect("bench scenario parses")
}

/// SimGrid's BitTorrent example as a swarmlab scenario: one seed and `leechers` leechers,
/// everyone at t = 0, 10 pieces × 5 blocks of 16 KiB, 1 Gbit/s each way, 600 µs between
/// two peers (the example's `cluster_backbone.xml`: 50 µs + 500 µs backbone + 50 µs).
pub fn simgrid_swarm(leechers: u32) -> Scenario {
    let text = format!(
        r#"
        [file]
        size = "800 KiB"
        chunk_size = "80 KiB"
        block_size = "16 KiB"
        [[group]]
        name = "seeds"
        count = 1
        role = "seed"
        upload = "1 Gbit/s"
        download = "1 Gbit/s"
        latency = "300 us"
        [[group]]
        name = "leechers"
        count = {leechers}
        upload = "1 Gbit/s"
        download = "1 Gbit/s"
        latency = "300 us"
        linger = "forever"
        "#
    );
    Scenario::from_str_named(&text, "simgrid.toml").expect("bench scenario parses")
}

/// The process's peak resident memory so far, in MiB (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU seconds (user + system) from `/proc/self/stat`: this process's own
/// (`children = false`) or that of its finished children.
pub fn cpu_s(children: bool) -> f64 {
    let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces): utime, stime, cutime and
    // cstime are the 12th to 15th of them, in clock ticks (100 per second on Linux).
    let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let first = if children { 13 } else { 11 };
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(first) + ticks(first + 1)) / 100.0
}
