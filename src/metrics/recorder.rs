//! The [`Recorder`]: an [`Observer`] that turns a run's events into a [`RunResult`].
//!
//! # What it tracks
//!
//! * per peer: join, completion and leave times, bytes up and down (from
//!   `block_delivered`), pieces that failed its checks, and how many peers banned it;
//! * the replica count of every chunk among the peers present: a seed-role peer joins
//!   holding every chunk, `piece_verified` adds one, `peer_left` removes what it held;
//! * leechers and seeds present. A "seed" here is any peer present holding the whole
//!   file (seed-role peers and leechers that completed and linger); a "leecher" is any
//!   other peer present (free-riders included);
//! * upload utilisation per sample interval, from `flow` segments (see below).
//!
//! # Sampling
//!
//! Instantaneous samples are taken at every multiple of `run.sample_interval`, and once
//! more at the end time if it is not a multiple (so the final state is always in the
//! files). The state is piecewise constant between events and the sample at time `b`
//! is the state after every event at times `<= b`: since events at `b` may still
//! arrive, boundary `b` is recorded when the first call with `now > b` arrives (before
//! that call is applied), or by [`Recorder::finish`].
//!
//! # Upload utilisation
//!
//! A flow segment moves `rate × duration` bits; it is split over the sample intervals
//! it overlaps in proportion to the overlap. Segments are reported when they end, maybe
//! long after they started, so every interval keeps its accumulator until `finish`.
//! Capacity is integrated the same way: the sum of the upload capacities of the peers
//! present (free-riders count 0, since they never offer theirs) times the time they
//! were present in the interval. The utilisation of a sample is used / capacity over the
//! interval that ends at it; both are kept as exact integers (bit·µs).
//!
//! # Entropy
//!
//! Legout, Urvoy-Keller and Michiardi ("Rarest first and choke algorithms are enough",
//! IMC 2006) characterise entropy through peer interest: it is ideal when every peer
//! is always interested in every other peer, measured per pair of peers ("peer
//! availability"). That needs every pair's piece sets at every instant, which an
//! observer of a 10,000-peer swarm cannot afford, so `swarm.csv`'s `entropy` is instead
//! the **normalized Shannon entropy of the chunk replica distribution**:
//! `H = −Σ p_i ln p_i / ln C` with `p_i = r_i / Σ r_j` over the `C` chunks. It is 1 when
//! every chunk has the same number of replicas (ideal diversity) and falls towards 0 as
//! copies concentrate on few chunks. Logarithms come from `libm`, not the platform's
//! maths library, so the files are identical on every machine.

use super::bound::bound;
use super::files::{PeerRecord, RegionBytes, RunResult, Sample, Summary, Timing};
use super::{LeaveReason, Observer, PeerIndex, PeerInfo};
use crate::core::{RegionIndex, Role};
use crate::scenario::Scenario;
use crate::units::{Bytes, Rate, SimDuration, SimTime};
use std::time::Duration;

/// Collects what a run does; see the module documentation for the definitions.
#[derive(Clone, Debug)]
pub struct Recorder {
    scenario: String,
    seed: u64,
    backend: String,
    file_size: Bytes,
    chunks: u32,
    /// Sample interval in µs; `u64::MAX` when the scenario asks for none (zero).
    interval: u64,
    group_names: Vec<String>,
    peers: Vec<Option<PeerState>>,
    replicas: Vec<u32>,
    leechers: u64,
    seeds: u64,
    /// Upload capacity of the peers present (bit/s) and since when it holds.
    capacity: u64,
    capacity_since: SimTime,
    /// Per sample interval: bits·µs uploaded, and capacity·µs offered.
    used: Vec<u128>,
    offered: Vec<u128>,
    /// The next sample boundary not yet recorded (`None` once past `u64::MAX`).
    next_sample: Option<u64>,
    samples: Vec<Sample>,
    chunk_replicas: Vec<u32>,
    bytes_uploaded: u64,
    bytes_downloaded: u64,
    bytes_discarded: u64,
    /// The region of each group, and the names of the regions (one unless the scenario
    /// has several).
    group_regions: Vec<RegionIndex>,
    region_names: Vec<String>,
    /// Bytes delivered from region `i` to region `j` at `i * regions + j`.
    region_bytes: Vec<u64>,
}

#[derive(Clone, Debug)]
struct PeerState {
    info: PeerInfo,
    join: SimTime,
    complete: Option<SimTime>,
    leave: Option<SimTime>,
    holds_all: bool,
    uploaded: u64,
    downloaded: u64,
    pieces_failed: u64,
    banned_by: u64,
}

impl PeerState {
    fn present(&self) -> bool {
        self.leave.is_none()
    }
    /// Upload capacity it offers: free-riders offer none.
    fn capacity(&self) -> u64 {
        match self.info.role {
            Role::FreeRider => 0,
            _ => self.info.upload.0,
        }
    }
}

impl Recorder {
    /// A recorder for one run of `scenario` with this seed, on `backend` (`sim`/`tcp`).
    pub fn new(scenario: &Scenario, seed: u64, backend: &str) -> Recorder {
        let chunks = scenario.file.chunks();
        let interval = match scenario.run.sample_interval.0 {
            0 => u64::MAX,
            us => us,
        };
        Recorder {
            scenario: scenario.name.clone(),
            seed,
            backend: backend.to_string(),
            file_size: scenario.file.size,
            chunks,
            interval,
            group_names: scenario.groups.iter().map(|g| g.name.clone()).collect(),
            peers: Vec::new(),
            replicas: vec![0; chunks as usize],
            leechers: 0,
            seeds: 0,
            capacity: 0,
            capacity_since: SimTime::ZERO,
            used: Vec::new(),
            offered: Vec::new(),
            next_sample: Some(0),
            samples: Vec::new(),
            chunk_replicas: Vec::new(),
            bytes_uploaded: 0,
            bytes_downloaded: 0,
            bytes_discarded: 0,
            group_regions: (0..scenario.groups.len())
                .map(|g| scenario.region_of_group(g))
                .collect(),
            region_names: scenario.regions().iter().map(|r| r.to_string()).collect(),
            region_bytes: vec![0; scenario.regions().len().pow(2)],
        }
    }

    /// Records the remaining samples up to `end`, computes the summary and returns the
    /// result. `events` and `wall` are the backend's event count and wall-clock time.
    pub fn finish(mut self, end: SimTime, events: u64, wall: Duration) -> RunResult {
        while let Some(b) = self.next_sample.filter(|&b| b <= end.0) {
            self.take_sample(SimTime(b));
        }
        if self.samples.last().is_none_or(|s| s.time < end) {
            self.take_sample(end);
        }
        self.integrate_capacity(end);
        for i in 0..self.samples.len() {
            let u = self.utilisation(self.samples[i].time);
            self.samples[i].upload_utilisation = u;
        }

        let peers: Vec<PeerRecord> = self
            .peers
            .iter()
            .flatten()
            .map(|p| PeerRecord {
                peer: p.info.peer,
                group: self
                    .group_names
                    .get(p.info.group)
                    .cloned()
                    .unwrap_or_else(|| format!("group{}", p.info.group)),
                role: p.info.role,
                upload: p.info.upload,
                download: p.info.download,
                join: p.join,
                complete: p.complete,
                leave: p.leave,
                uploaded: Bytes(p.uploaded),
                downloaded: Bytes(p.downloaded),
                pieces_failed: p.pieces_failed,
                banned_by: p.banned_by,
            })
            .collect();
        let capacities: Vec<(Role, Rate, Rate)> = peers
            .iter()
            .map(|p| (p.role, p.upload, p.download))
            .collect();
        let bound = bound(self.file_size, &capacities);
        let summary = self.summarize(&peers, bound.seconds, events);
        let n = self.region_names.len();
        // With one region there is nothing to break down: no regions.csv.
        let regions = if n > 1 {
            self.region_bytes
                .iter()
                .enumerate()
                .map(|(i, &bytes)| RegionBytes {
                    from: self.region_names[i / n].clone(),
                    to: self.region_names[i % n].clone(),
                    bytes,
                })
                .collect()
        } else {
            Vec::new()
        };
        RunResult {
            summary,
            bound,
            peers,
            regions,
            samples: self.samples,
            chunks: self.chunks,
            chunk_replicas: self.chunk_replicas,
            timing: Timing {
                wall,
                events,
                sim: end,
            },
        }
    }

    fn summarize(&self, peers: &[PeerRecord], bound_s: f64, events: u64) -> Summary {
        let leechers = || peers.iter().filter(|p| p.role != Role::Seed);
        let first_join = leechers().map(|p| p.join).min();
        let last_complete = leechers().filter_map(|p| p.complete).max();
        let makespan = first_join.zip(last_complete).map(|(j, c)| c - j);
        let mut times: Vec<u64> = leechers()
            .filter_map(|p| p.download_time())
            .map(|d| d.0)
            .collect();
        times.sort_unstable();
        let n = times.len();
        let (mean, median, p95) = if n == 0 {
            (None, None, None)
        } else {
            let sum: u128 = times.iter().map(|&t| t as u128).sum();
            let median_us = if n % 2 == 1 {
                times[n / 2] as f64
            } else {
                (times[n / 2 - 1] as f64 + times[n / 2] as f64) / 2.0
            };
            // Nearest rank: the ⌈0.95·n⌉-th smallest value (1-based).
            let rank = (95 * n).div_ceil(100).max(1);
            (
                Some(sum as f64 / n as f64 / 1e6),
                Some(median_us / 1e6),
                Some(SimDuration(times[rank - 1])),
            )
        };
        let efficiency = makespan
            .filter(|m| m.0 > 0)
            .map(|m| bound_s / m.as_secs_f64());
        Summary {
            scenario: self.scenario.clone(),
            seed: self.seed,
            backend: self.backend.clone(),
            peers: peers.len() as u64,
            completed: n as u64,
            makespan,
            mean_download_s: mean,
            median_download_s: median,
            p95_download: p95,
            bound_s,
            efficiency,
            bytes_uploaded: self.bytes_uploaded,
            bytes_downloaded: self.bytes_downloaded,
            events,
            pieces_failed: peers.iter().map(|p| p.pieces_failed).sum(),
            bytes_discarded: self.bytes_discarded,
            inter_region_bytes: self.inter_region_bytes(),
        }
    }

    /// Bytes delivered between peers of different regions.
    fn inter_region_bytes(&self) -> u64 {
        let n = self.region_names.len();
        let within: u64 = (0..n).map(|i| self.region_bytes[i * n + i]).sum();
        self.region_bytes.iter().sum::<u64>() - within
    }

    fn region_of_peer(&self, peer: PeerIndex) -> Option<usize> {
        let p = self.peers.get(peer as usize)?.as_ref()?;
        self.group_regions.get(p.info.group).map(|&r| r as usize)
    }

    /// Records every sample boundary strictly before `now`: all events at those times
    /// have been seen, and the call about to be applied happens after them.
    fn advance(&mut self, now: SimTime) {
        while let Some(b) = self.next_sample.filter(|&b| b < now.0) {
            self.take_sample(SimTime(b));
        }
    }

    fn take_sample(&mut self, t: SimTime) {
        let (mut min, mut max, mut sum) = (u32::MAX, 0u32, 0u64);
        for &r in &self.replicas {
            min = min.min(r);
            max = max.max(r);
            sum += r as u64;
        }
        if self.replicas.is_empty() {
            min = 0;
        }
        let c = self.replicas.len();
        let entropy = (c >= 2 && sum > 0).then(|| {
            // H = ln S − (1/S) Σ r ln r, normalized by ln C.
            let s = sum as f64;
            let weighted: f64 = self
                .replicas
                .iter()
                .filter(|&&r| r > 0)
                .map(|&r| r as f64 * libm::log(r as f64))
                .sum();
            ((libm::log(s) - weighted / s) / libm::log(c as f64)).clamp(0.0, 1.0)
        });
        self.samples.push(Sample {
            time: t,
            leechers: self.leechers,
            seeds: self.seeds,
            upload_utilisation: None,
            replication_min: min,
            replication_mean: if c == 0 { 0.0 } else { sum as f64 / c as f64 },
            replication_max: max,
            entropy,
        });
        self.chunk_replicas.extend_from_slice(&self.replicas);
        self.next_sample = if t.0 == u64::MAX {
            None
        } else {
            // The next multiple of the interval after t (t itself may be the end time).
            (t.0 / self.interval)
                .checked_add(1)
                .and_then(|k| k.checked_mul(self.interval))
        };
    }

    /// Used / offered over the interval ending at sample time `t`.
    fn utilisation(&self, t: SimTime) -> Option<f64> {
        if t.0 == 0 {
            return None;
        }
        let k = ((t.0 - 1) / self.interval) as usize;
        let offered = *self.offered.get(k)?;
        if offered == 0 {
            return None;
        }
        let used = self.used.get(k).copied().unwrap_or(0);
        Some(used as f64 / offered as f64)
    }

    fn integrate_capacity(&mut self, now: SimTime) {
        if now > self.capacity_since {
            spread(
                &mut self.offered,
                self.interval,
                self.capacity_since,
                now,
                self.capacity,
            );
            self.capacity_since = now;
        }
    }

    fn peer_mut(&mut self, peer: PeerIndex) -> Option<&mut PeerState> {
        self.peers.get_mut(peer as usize)?.as_mut()
    }
}

/// Adds `rate × overlap` to the accumulator of every interval `[start, end)` overlaps.
fn spread(acc: &mut Vec<u128>, interval: u64, start: SimTime, end: SimTime, rate: u64) {
    if rate == 0 {
        return;
    }
    let mut t = start.0;
    while t < end.0 {
        let k = t / interval;
        let stop = k
            .checked_add(1)
            .and_then(|n| n.checked_mul(interval))
            .map_or(end.0, |b| b.min(end.0));
        let k = k as usize;
        if acc.len() <= k {
            acc.resize(k + 1, 0);
        }
        acc[k] += rate as u128 * (stop - t) as u128;
        t = stop;
    }
}

impl Observer for Recorder {
    fn peer_joined(&mut self, now: SimTime, info: &PeerInfo) {
        self.advance(now);
        self.integrate_capacity(now);
        let idx = info.peer as usize;
        if self.peers.len() <= idx {
            self.peers.resize(idx + 1, None);
        }
        if self.peers[idx].as_ref().is_some_and(|p| p.present()) {
            // A peer cannot join twice while present; keep the first record.
            return;
        }
        let holds_all = info.role == Role::Seed;
        let state = PeerState {
            info: info.clone(),
            join: now,
            complete: None,
            leave: None,
            holds_all,
            uploaded: 0,
            downloaded: 0,
            pieces_failed: 0,
            banned_by: 0,
        };
        if holds_all {
            self.seeds += 1;
            for r in &mut self.replicas {
                *r += 1;
            }
        } else {
            self.leechers += 1;
        }
        self.capacity += state.capacity();
        self.peers[idx] = Some(state);
    }

    fn piece_verified(&mut self, now: SimTime, peer: PeerIndex, piece: u32) {
        self.advance(now);
        let present = self.peer_mut(peer).is_some_and(|p| p.present());
        if let (true, Some(r)) = (present, self.replicas.get_mut(piece as usize)) {
            *r += 1;
        }
    }

    fn peer_completed(&mut self, now: SimTime, peer: PeerIndex) {
        self.advance(now);
        let Some(p) = self.peer_mut(peer) else { return };
        if !p.present() || p.holds_all {
            return;
        }
        p.holds_all = true;
        p.complete = Some(now);
        self.leechers = self.leechers.saturating_sub(1);
        self.seeds += 1;
    }

    fn peer_left(&mut self, now: SimTime, peer: PeerIndex, held: &[u32], _reason: LeaveReason) {
        self.advance(now);
        self.integrate_capacity(now);
        let Some(p) = self.peer_mut(peer) else { return };
        if !p.present() {
            return;
        }
        p.leave = Some(now);
        let (holds_all, capacity) = (p.holds_all, p.capacity());
        if holds_all {
            self.seeds = self.seeds.saturating_sub(1);
        } else {
            self.leechers = self.leechers.saturating_sub(1);
        }
        self.capacity = self.capacity.saturating_sub(capacity);
        for &c in held {
            if let Some(r) = self.replicas.get_mut(c as usize) {
                *r = r.saturating_sub(1);
            }
        }
    }

    fn flow(&mut self, _from: PeerIndex, _to: PeerIndex, start: SimTime, end: SimTime, rate: Rate) {
        spread(&mut self.used, self.interval, start, end, rate.0);
    }

    fn block_delivered(&mut self, now: SimTime, from: PeerIndex, to: PeerIndex, bytes: Bytes) {
        self.advance(now);
        self.bytes_uploaded += bytes.0;
        self.bytes_downloaded += bytes.0;
        if let Some(p) = self.peer_mut(from) {
            p.uploaded += bytes.0;
        }
        if let Some(p) = self.peer_mut(to) {
            p.downloaded += bytes.0;
        }
        if let (Some(a), Some(b)) = (self.region_of_peer(from), self.region_of_peer(to)) {
            self.region_bytes[a * self.region_names.len() + b] += bytes.0;
        }
    }

    fn piece_failed(&mut self, now: SimTime, peer: PeerIndex, _piece: u32, bytes: Bytes) {
        self.advance(now);
        if let Some(p) = self.peer_mut(peer) {
            p.pieces_failed += 1;
            self.bytes_discarded += bytes.0;
        }
    }

    fn peer_banned(&mut self, now: SimTime, _by: PeerIndex, banned: PeerIndex) {
        self.advance(now);
        if let Some(p) = self.peer_mut(banned) {
            p.banned_by += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::testing::{fake_run, group, scenario};

    const S: u64 = 1_000_000;

    fn info(peer: u32, group: usize, role: Role, up_mbit: u64) -> PeerInfo {
        PeerInfo {
            peer,
            group,
            role,
            upload: Rate::mbit(up_mbit),
            download: Rate::mbit(80),
        }
    }

    fn small() -> Scenario {
        scenario(
            "small",
            Bytes(4 << 20),
            Bytes(1 << 20),
            vec![
                group("seeds", 1, Role::Seed, 8, 80),
                group("leechers", 2, Role::Leecher, 8, 80),
            ],
            SimDuration::from_secs(1),
        )
    }

    /// The worked example of the module docs: joins, verifications, a completion, a
    /// departure and flows, with every sample checked by hand.
    fn small_run() -> RunResult {
        let mut r = Recorder::new(&small(), 3, "sim");
        let mib = Bytes(1 << 20);
        r.peer_joined(SimTime(0), &info(0, 0, Role::Seed, 8));
        r.peer_joined(SimTime(0), &info(1, 1, Role::Leecher, 8));
        r.peer_joined(SimTime(S / 2), &info(2, 1, Role::Leecher, 8));
        r.flow(0, 1, SimTime(0), SimTime(S), Rate::mbit(8));
        r.block_delivered(SimTime(S), 0, 1, mib);
        r.piece_verified(SimTime(S), 1, 0);
        // Peer 2's first copy of piece 1 failed its check, and peer 2 banned the seed.
        r.piece_failed(SimTime(S), 2, 1, mib);
        r.peer_banned(SimTime(S), 2, 0);
        r.flow(0, 2, SimTime(S / 2), SimTime(3 * S / 2), Rate::mbit(4));
        r.block_delivered(SimTime(3 * S / 2), 0, 2, mib);
        r.piece_verified(SimTime(3 * S / 2), 2, 1);
        r.block_delivered(SimTime(5 * S / 2), 0, 1, Bytes(3 << 20));
        for c in 1..4 {
            r.piece_verified(SimTime(5 * S / 2), 1, c);
        }
        r.peer_completed(SimTime(5 * S / 2), 1);
        r.peer_left(SimTime(3 * S), 1, &[0, 1, 2, 3], LeaveReason::Lingered);
        r.finish(SimTime(7 * S / 2), 42, Duration::from_millis(1))
    }

    #[test]
    fn bytes_are_counted_per_region_pair() {
        let mut s = small();
        s.groups.push(group("far", 1, Role::Leecher, 8, 80));
        s.groups[0].region = "eu".into();
        s.groups[1].region = "eu".into();
        s.groups[2].region = "us".into();
        let mut r = Recorder::new(&s, 3, "sim");
        r.peer_joined(SimTime(0), &info(0, 0, Role::Seed, 8));
        r.peer_joined(SimTime(0), &info(1, 1, Role::Leecher, 8));
        r.peer_joined(SimTime(0), &info(2, 2, Role::Leecher, 8));
        r.block_delivered(SimTime(S), 0, 1, Bytes(100));
        r.block_delivered(SimTime(S), 0, 2, Bytes(30));
        r.block_delivered(SimTime(S), 2, 1, Bytes(5));
        let res = r.finish(SimTime(2 * S), 1, Duration::from_millis(1));
        assert_eq!(res.summary.inter_region_bytes, 35);
        let rows: Vec<(&str, &str, u64)> = res
            .regions
            .iter()
            .map(|r| (r.from.as_str(), r.to.as_str(), r.bytes))
            .collect();
        assert_eq!(
            rows,
            [
                ("eu", "eu", 100),
                ("eu", "us", 30),
                ("us", "eu", 5),
                ("us", "us", 0)
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        res.write(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("regions.csv")).unwrap(),
            "from_region,to_region,bytes\neu,eu,100\neu,us,30\nus,eu,5\nus,us,0\n"
        );
    }

    #[test]
    fn samples_are_the_state_after_events_at_each_boundary() {
        let res = small_run();
        let times: Vec<u64> = res.samples.iter().map(|s| s.time.0).collect();
        assert_eq!(times, [0, S, 2 * S, 3 * S, 7 * S / 2]);
        let present: Vec<(u64, u64)> = res.samples.iter().map(|s| (s.leechers, s.seeds)).collect();
        assert_eq!(present, [(1, 1), (2, 1), (2, 1), (1, 1), (1, 1)]);
        assert_eq!(
            res.chunk_replicas,
            [1, 1, 1, 1, 2, 1, 1, 1, 2, 2, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1]
        );
        let s1 = &res.samples[1];
        assert_eq!((s1.replication_min, s1.replication_max), (1, 2));
        assert_eq!(format!("{:.6}", s1.replication_mean), "1.250000");
        assert_eq!(format!("{:.6}", s1.entropy.unwrap()), "0.960964");
        assert_eq!(res.samples[0].entropy, Some(1.0));
    }

    #[test]
    fn utilisation_splits_flows_over_intervals() {
        let u: Vec<Option<String>> = small_run()
            .samples
            .iter()
            .map(|s| s.upload_utilisation.map(|u| format!("{u:.6}")))
            .collect();
        // [0,1): 10 of 20 Mbit·s offered; [1,2): 2 of 24; then idle.
        let want = [
            None,
            Some("0.500000"),
            Some("0.083333"),
            Some("0.000000"),
            Some("0.000000"),
        ];
        assert_eq!(u, want.map(|w| w.map(String::from)));
    }

    #[test]
    fn late_long_flows_land_in_every_interval_they_cover() {
        let s = scenario(
            "late",
            Bytes(1 << 20),
            Bytes(1 << 20),
            vec![group("seeds", 1, Role::Seed, 1, 1)],
            SimDuration::from_secs(1),
        );
        let mut r = Recorder::new(&s, 1, "sim");
        r.peer_joined(SimTime(0), &info(0, 0, Role::Seed, 1));
        r.block_delivered(SimTime(4 * S), 0, 0, Bytes(1));
        // Reported after samples 1..3 were taken.
        r.flow(0, 1, SimTime(S / 2), SimTime(7 * S / 2), Rate::mbit(1));
        let res = r.finish(SimTime(4 * S), 0, Duration::ZERO);
        let u: Vec<Option<f64>> = res.samples.iter().map(|s| s.upload_utilisation).collect();
        assert_eq!(u, [None, Some(0.5), Some(1.0), Some(1.0), Some(0.5)]);
    }

    #[test]
    fn summary_follows_the_definitions() {
        let res = small_run();
        let s = &res.summary;
        assert_eq!((s.peers, s.completed, s.events), (3, 1, 42));
        assert_eq!(s.makespan, Some(SimDuration(5 * S / 2)));
        assert_eq!(s.p95_download, Some(SimDuration(5 * S / 2)));
        assert_eq!(s.bytes_uploaded, 5 << 20);
        assert_eq!(
            res.peers[0].download_time(),
            None,
            "seeds have no download time"
        );
        assert_eq!(res.peers[1].leave, Some(SimTime(3 * S)));
        assert_eq!(res.peers[2].complete, None);
        // F = 32 Mibit; u_s = 8 Mbit/s binds: 4.194304 s.
        assert_eq!(format!("{:.6}", s.bound_s), "4.194304");
        assert_eq!(s.efficiency, Some(s.bound_s / 2.5));
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let s = scenario(
            "ranks",
            Bytes(1 << 20),
            Bytes(1 << 20),
            vec![group("leechers", 20, Role::Leecher, 1, 1)],
            SimDuration::from_secs(10),
        );
        let mut r = Recorder::new(&s, 1, "sim");
        for p in 0..20 {
            r.peer_joined(SimTime(0), &info(p, 0, Role::Leecher, 1));
        }
        for p in 0..20 {
            r.peer_completed(SimTime((p as u64 + 1) * S), p);
        }
        let res = r.finish(SimTime(20 * S), 0, Duration::ZERO);
        assert_eq!(res.summary.p95_download, Some(SimDuration(19 * S)));
        assert_eq!(res.summary.median_download_s, Some(10.5));
        assert_eq!(res.summary.mean_download_s, Some(10.5));
        assert_eq!(res.summary.completed, 20);
        assert!(res.summary.bound_s.is_infinite(), "no seed");
    }

    #[test]
    fn zero_interval_samples_only_the_end() {
        let mut s = small();
        s.run.sample_interval = SimDuration::ZERO;
        let mut r = Recorder::new(&s, 1, "sim");
        r.peer_joined(SimTime(0), &info(0, 0, Role::Seed, 8));
        r.block_delivered(SimTime(5 * S), 0, 0, Bytes(1));
        let res = r.finish(SimTime(5 * S), 0, Duration::ZERO);
        let times: Vec<u64> = res.samples.iter().map(|s| s.time.0).collect();
        assert_eq!(times, [0, 5 * S]);
    }

    #[test]
    fn files_have_the_contract_columns_and_empty_cells() {
        let dir = tempfile::tempdir().unwrap();
        small_run().write(dir.path()).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        let summary = read("summary.csv");
        assert_eq!(
            summary,
            "scenario,seed,backend,peers,completed,makespan_s,mean_download_s,median_download_s,\
             p95_download_s,bound_s,efficiency,bytes_uploaded,bytes_downloaded,events,\
             pieces_failed,bytes_discarded,inter_region_bytes\n\
             small,3,sim,3,1,2.500000,2.500000,2.500000,2.500000,4.194304,1.677722,5242880,5242880,42,\
             1,1048576,0\n"
        );
        assert!(
            !dir.path().join("regions.csv").exists(),
            "one region: no regions.csv"
        );
        let peers = read("peers.csv");
        let lines: Vec<&str> = peers.lines().collect();
        assert_eq!(
            lines[0],
            "peer,group,role,upload_bps,download_bps,join_s,complete_s,leave_s,download_s,\
             uploaded_bytes,downloaded_bytes,pieces_failed,banned_by"
        );
        assert_eq!(
            lines[1],
            "0,seeds,seed,8000000,80000000,0.000000,,,,5242880,0,0,1"
        );
        assert_eq!(
            lines[2],
            "1,leechers,leecher,8000000,80000000,0.000000,2.500000,3.000000,2.500000,0,4194304,0,0"
        );
        assert_eq!(
            lines[3],
            "2,leechers,leecher,8000000,80000000,0.500000,,,,0,1048576,1,0"
        );
        assert_eq!(
            read("swarm.csv"),
            "time_s,leechers,seeds,upload_utilisation,replication_min,replication_mean,replication_max,entropy\n\
             0.000000,1,1,,1,1.000000,1,1.000000\n\
             1.000000,2,1,0.500000,1,1.250000,2,0.960964\n\
             2.000000,2,1,0.083333,1,1.500000,2,0.959148\n\
             3.000000,1,1,0.000000,1,1.250000,2,0.960964\n\
             3.500000,1,1,0.000000,1,1.250000,2,0.960964\n"
        );
        let chunks = read("chunks.csv");
        assert_eq!(chunks.lines().count(), 1 + 5 * 4);
        assert!(chunks.starts_with("time_s,chunk,replicas\n0.000000,0,1\n"));
        assert!(
            read("timing.csv")
                .starts_with("wall_s,events,events_per_s,sim_s\n0.001000,42,42000.0,3.500000\n")
        );
    }

    #[test]
    fn same_calls_give_identical_files() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fake_run(30, 24).write(a.path()).unwrap();
        fake_run(30, 24).write(b.path()).unwrap();
        for f in ["summary.csv", "peers.csv", "swarm.csv", "chunks.csv"] {
            let x = std::fs::read(a.path().join(f)).unwrap();
            let y = std::fs::read(b.path().join(f)).unwrap();
            assert!(x == y, "{f} differs");
        }
        let res = fake_run(30, 24);
        assert_eq!(res.summary.completed, 30);
        assert_eq!(res.samples.len() * 24, res.chunk_replicas.len());
    }
}
