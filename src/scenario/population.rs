//! Drawing a scenario's population: each peer's group, capacities, latency, join time,
//! linger and abort, from the run seed — and turning a drawn member into the core's
//! [`PeerConfig`] and random stream. The simulator, the tcp backend and `swarmlab bound`
//! share it, so the bound is computed over the very peers a run simulates, and a tcp run
//! of the same scenario and seed starts the same peers with the same settings. It is
//! scenario data both backends may import (they may not import each other); it is pure:
//! the seed is passed in.

use super::{Dist, Join, Scenario, Stay};
use crate::core::{Dice, PeerConfig, PeerId, RegionIndex, Role};
use crate::units::{Rate, SimDuration, SimTime};

/// The random stream numbers of a run; peers use `PEER_BASE + index` ([`peer_dice`]).
pub mod streams {
    /// Capacities, joins and departures.
    pub const POPULATION: u64 = 0;
    /// The tracker's sampling.
    pub const TRACKER: u64 = 1;
    /// Peer `i` draws from stream `PEER_BASE + i`.
    pub const PEER_BASE: u64 = 1 << 20;
}

/// One peer as drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// Index of its group.
    pub group: usize,
    /// Its role.
    pub role: Role,
    /// Upload capacity.
    pub upload: Rate,
    /// Download capacity.
    pub download: Rate,
    /// One-way latency of its access link.
    pub latency: SimDuration,
    /// When it joins.
    pub join: SimTime,
    /// How long it stays once complete (`None`: forever).
    pub linger: Option<SimDuration>,
    /// When it gives up if still incomplete (`None`: never).
    pub abort_at: Option<SimTime>,
    /// Its region: an index into [`Scenario::regions`].
    pub region: RegionIndex,
}

impl Member {
    /// The core configuration of this member of `scenario`, known to the core as `id`:
    /// its group's policy and connectability, the scenario's neighbourhood, its drawn
    /// upload capacity. The one constructor both backends use; its dial rank is its id
    /// (a host that needs another, tcp, sets it).
    pub fn peer_config(&self, scenario: &Scenario, id: PeerId) -> PeerConfig {
        PeerConfig {
            policy: scenario.groups[self.group].policy.clone(),
            neighbourhood: scenario.tracker.neighbourhood(),
            upload_capacity: Some(self.upload),
            corrupt: scenario.groups[self.group].corrupt,
            connectable: scenario.groups[self.group].connectable,
            ..PeerConfig::new(id, scenario.file.geometry(), self.role)
        }
    }
}

/// The one-way latency of every link of a run: both ends' own latencies plus the
/// `[network]` latency between their regions. Both backends delay by it (the simulator
/// each message, tcp what a member receives), so they agree on every link.
#[derive(Clone, Debug)]
pub struct Latencies {
    own: Vec<SimDuration>,
    regions: Vec<RegionIndex>,
    /// Between regions `i` and `j` at `i * region_count + j`.
    between: Vec<SimDuration>,
    region_count: usize,
}

impl Latencies {
    /// The links among `members`, drawn from `scenario`.
    pub fn new(scenario: &Scenario, members: &[Member]) -> Latencies {
        let regions = scenario.regions();
        Latencies {
            own: members.iter().map(|m| m.latency).collect(),
            regions: members.iter().map(|m| m.region).collect(),
            between: regions
                .iter()
                .flat_map(|a| regions.iter().map(|b| scenario.network.between(a, b)))
                .collect(),
            region_count: regions.len(),
        }
    }

    /// The latency between members `a` and `b` (zero for a member out of range).
    pub fn link(&self, a: u32, b: u32) -> SimDuration {
        let (a, b) = (a as usize, b as usize);
        let own = |i: usize| self.own.get(i).copied().unwrap_or(SimDuration::ZERO);
        let between = match (self.regions.get(a), self.regions.get(b)) {
            (Some(&ra), Some(&rb)) => self.between[ra as usize * self.region_count + rb as usize],
            _ => SimDuration::ZERO,
        };
        own(a) + own(b) + between
    }
}

/// The random stream of peer `index` of a run seeded with `seed`: the same in both
/// backends, so a tcp peer makes the choices its simulated twin makes.
pub fn peer_dice(seed: u64, index: u32) -> Dice {
    Dice::new(seed, streams::PEER_BASE + u64::from(index))
}

fn draw<T: Copy>(
    dist: &Dist<T>,
    dice: &mut Dice,
    to_u64: fn(T) -> u64,
    from_u64: fn(u64) -> T,
) -> T {
    match dist {
        Dist::Fixed(v) => *v,
        Dist::Uniform(lo, hi) => from_u64(dice.between(to_u64(*lo), to_u64(*hi))),
        Dist::Choice(values, weights) => values[dice.weighted(weights).min(values.len() - 1)],
    }
}

fn stay(s: &Stay, dice: &mut Dice) -> Option<SimDuration> {
    match s {
        Stay::Forever => None,
        Stay::Fixed(d) => Some(*d),
        Stay::Exponential(mean) => Some(dice.exponential(*mean)),
    }
}

/// Every peer of the scenario, in group order, drawn with `seed`.
pub fn draw_population(scenario: &Scenario, seed: u64) -> Vec<Member> {
    let mut dice = Dice::new(seed, streams::POPULATION);
    let mut members = Vec::with_capacity(scenario.peer_count() as usize);
    for (gi, g) in scenario.groups.iter().enumerate() {
        let region = scenario.region_of_group(gi);
        let mut clock = SimTime::ZERO;
        for i in 0..g.count as usize {
            let upload = draw(&g.upload, &mut dice, |r| r.0, Rate);
            let download = draw(&g.download, &mut dice, |r| r.0, Rate);
            let latency = draw(&g.latency, &mut dice, |d| d.0, SimDuration);
            let join = match &g.join {
                Join::At(t) => SimTime::ZERO + *t,
                Join::Uniform(a, b) => SimTime(dice.between(a.0, b.0)),
                Join::Poisson(rate) => {
                    clock += dice.exponential(rate.mean_gap());
                    clock
                }
                Join::Trace(trace) => {
                    SimTime::ZERO + trace.times.get(i).copied().unwrap_or_default()
                }
            };
            let linger = stay(&g.linger, &mut dice);
            let abort_at = g
                .abort
                .as_ref()
                .and_then(|a| stay(a, &mut dice))
                .map(|d| join + d);
            members.push(Member {
                group: gi,
                role: g.role,
                upload,
                download,
                latency,
                join,
                linger,
                abort_at,
                region,
            });
        }
    }
    members
}
