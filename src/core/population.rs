//! Drawing a scenario's population: each peer's group, capacities, latency, join time,
//! linger and abort, from the run seed. The simulator, the tcp backend and `swarmlab
//! bound` share it, so the bound is computed over the very peers a run simulates and a
//! tcp run of the same scenario and seed starts the same peers. It lives in `core`
//! because both backends may import `core` but not each other; it is pure (the seed is
//! passed in), like the rest of `core`.

use crate::core::Dice;
use crate::scenario::{Dist, Join, Role, Scenario, Stay};
use crate::units::{Rate, SimDuration, SimTime};

/// The random stream numbers of a run; peers use `PEER_STREAM_BASE + index`.
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
        let mut clock = SimTime::ZERO;
        for _ in 0..g.count {
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
            });
        }
    }
    members
}
