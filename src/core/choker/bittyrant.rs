//! BitTyrant: Piatek, Isdal, Anderson, Krishnamurthy & Venkataramani, "Do incentives
//! build robustness in BitTorrent?", NSDI 2007, section 4.
//!
//! A strategic client: it treats unchoking as buying download with upload, and buys the
//! cheapest first. For every peer p it keeps
//! * `d_p`, the rate p gives us when it unchokes us: measured while it does; while it
//!   does not, its equal split judged from how fast it announces pieces (HAVE rate /
//!   (upload_slots + optimistic_slots)), as in the paper; for a peer that has announced
//!   nothing yet, an optimistic guess equal to `u_p`, so unknown peers are tried. (Keeping
//!   the last measured rate, or the guess, for peers that stopped unchoking us made
//!   BitTyrant court strangers over proven partners: in a swarm with a few fast and many
//!   slow peers its 8 Mbit/s tyrants took 66 ± 25 s longer than tit-for-tat ones.)
//! * `u_p`, the upload rate we think p needs from us to reciprocate, initialised to the
//!   equal-split rate `capacity / (upload_slots + optimistic_slots)`.
//!
//! Every rechoke it unchokes interested peers in decreasing `d_p / u_p` until the sum of
//! their `u_p` would exceed its upload capacity, and gives each its `u_p` (the upload
//! [`Choker::weight`]s are proportional to `u_p`, so with the host weighting flows each
//! gets at least `u_p`). Then it adapts, per round (the paper's δ = 0.2, γ = 0.1, r = 3):
//! * a peer we unchoked that does not unchoke us at the end of the round:
//!   `u_p ← (1 + δ) u_p` — it needs more to notice us;
//! * a peer that unchoked us at the end of each of the last r rounds:
//!   `u_p ← (1 − γ) u_p` — maybe it would for less.
//!
//! Reciprocation is being unchoked, as in the paper, not having received a block this
//! round: with one block per 256 KiB chunk a slow but faithful peer may deliver nothing
//! for longer than a round, and counting that as a snub priced every peer up until the
//! active set shrank to two or three.
//!
//! The budget needs our upload capacity. The simulator knows it; a host that does not
//! (tcp without a rate limit) passes `None`, and the largest total upload rate seen so
//! far stands in for it.

use super::{Candidate, Choker, rank_interested};
use crate::core::config::Policy;
use crate::core::id::ConnId;
use crate::core::random::Dice;
use crate::units::SimTime;

/// Increase of `u_p` when a peer does not reciprocate, as a fraction (δ = 0.2).
const DELTA: (u64, u64) = (6, 5);
/// Decrease of `u_p` after `RECIPROCATED_ROUNDS` reciprocated rounds (γ = 0.1).
const GAMMA: (u64, u64) = (9, 10);
/// Consecutive reciprocated rounds before `u_p` is lowered (r = 3).
const RECIPROCATED_ROUNDS: u32 = 3;
/// Capacity assumed before anything was measured, when the host does not know it
/// (B/s; only the first rounds of a tcp peer without `--upload`).
const FALLBACK_CAPACITY: u64 = 64 * 1024;

/// What BitTyrant believes about one connection.
#[derive(Clone, Copy, Debug)]
struct Estimate {
    conn: ConnId,
    /// Tells a reused connection slot from the connection it replaced.
    connected_at: SimTime,
    /// Download rate p gives us when it reciprocates (B/s).
    d: u64,
    /// Upload rate p needs from us to reciprocate (B/s).
    u: u64,
    /// Consecutive rounds p reciprocated while we unchoked it.
    streak: u32,
    /// We unchoked p at the last rechoke.
    unchoked: bool,
}

/// The BitTyrant strategic choker.
#[derive(Clone, Debug)]
pub struct BitTyrant {
    capacity: Option<u64>,
    split: u64,
    estimates: Vec<Estimate>,
    /// Largest total upload rate measured (the capacity estimate without `capacity`).
    seen_capacity: u64,
    /// Size of the active set chosen at the last rechoke.
    active: Option<usize>,
}

impl BitTyrant {
    /// A BitTyrant choker with our upload capacity in B/s, if known.
    pub fn new(policy: &Policy, capacity: Option<u64>) -> BitTyrant {
        BitTyrant {
            capacity,
            split: u64::from((policy.upload_slots + policy.optimistic_slots).max(1)),
            estimates: Vec::new(),
            seen_capacity: 0,
            active: None,
        }
    }

    fn capacity(&self) -> u64 {
        match self.capacity {
            Some(c) => c.max(1),
            None if self.seen_capacity > 0 => self.seen_capacity,
            None => FALLBACK_CAPACITY,
        }
    }

    fn estimate(&self, conn: ConnId) -> Option<&Estimate> {
        self.estimates.iter().find(|e| e.conn == conn)
    }

    /// Updates `d_p`, `u_p` and the streaks from the round that just ended.
    fn learn(&mut self, candidates: &[Candidate]) {
        let seen: u64 = candidates.iter().map(|c| c.upload_rate).sum();
        self.seen_capacity = self.seen_capacity.max(seen);
        let cap = self.capacity();
        let initial_u = (cap / self.split).max(1);
        self.estimates.retain(|e| {
            candidates
                .iter()
                .any(|c| c.conn == e.conn && c.connected_at == e.connected_at)
        });
        for c in candidates {
            let reciprocated = c.unchokes_us;
            let Some(e) = self.estimates.iter_mut().find(|e| e.conn == c.conn) else {
                self.estimates.push(Estimate {
                    conn: c.conn,
                    connected_at: c.connected_at,
                    d: if c.download_rate > 0 {
                        c.download_rate
                    } else if c.announce_rate > 0 {
                        (c.announce_rate / self.split).max(1)
                    } else {
                        initial_u
                    },
                    u: initial_u,
                    streak: 0,
                    unchoked: false,
                });
                continue;
            };
            if c.unchokes_us && c.download_rate > 0 {
                e.d = c.download_rate;
            } else if !c.unchokes_us && c.announce_rate > 0 {
                // Not unchoking us: what it would give is its equal split, judged from
                // how fast it announces pieces (the paper's estimate).
                e.d = (c.announce_rate / self.split).max(1);
            }
            if !e.unchoked {
                continue;
            }
            if reciprocated {
                e.streak += 1;
                if e.streak >= RECIPROCATED_ROUNDS {
                    e.u = (e.u * GAMMA.0 / GAMMA.1).max(1);
                }
            } else {
                e.streak = 0;
                e.u = (e.u * DELTA.0 / DELTA.1).max(e.u + 1).min(cap);
            }
        }
    }
}

impl Choker for BitTyrant {
    fn rechoke(
        &mut self,
        _now: SimTime,
        candidates: &[Candidate],
        dice: &mut Dice,
        unchoke: &mut Vec<ConnId>,
    ) {
        self.learn(candidates);
        let cap = self.capacity();
        // Shuffled and tie-broken by rank_interested; sorted by d/u (cross-multiplied,
        // so no floats), highest return per byte first. The sort is stable.
        let mut ranked = rank_interested(candidates, dice, |_| 0);
        let ratio = |c: &Candidate| {
            let e = self
                .estimate(c.conn)
                .expect("learn() made an estimate per candidate");
            (u128::from(e.d), u128::from(e.u))
        };
        ranked.sort_by(|a, b| {
            let (da, ua) = ratio(a);
            let (db, ub) = ratio(b);
            (db * ua).cmp(&(da * ub))
        });
        let mut spent = 0u64;
        for c in &ranked {
            let u = u64::try_from(ratio(c).1).unwrap_or(u64::MAX);
            if !unchoke.is_empty() && spent + u > cap {
                break;
            }
            spent += u;
            unchoke.push(c.conn);
        }
        for e in self.estimates.iter_mut() {
            e.unchoked = unchoke.contains(&e.conn);
        }
        self.active = Some(unchoke.len());
    }

    /// Upload shares proportional to `u_p`.
    fn weight(&self, conn: ConnId) -> u32 {
        self.estimate(conn)
            .map_or((self.capacity() / self.split).max(1), |e| e.u)
            .clamp(1, u64::from(u32::MAX))
            .try_into()
            .unwrap_or(u32::MAX)
    }

    /// Between rechokes, no more peers than the budget allowed at the last one.
    fn slots(&self) -> Option<usize> {
        self.active
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::choker::tests::{at, cand};

    const CAP: u64 = 100_000;

    fn tyrant() -> BitTyrant {
        BitTyrant::new(&Policy::default(), Some(CAP))
    }

    fn u_of(bt: &BitTyrant, conn: u32) -> u64 {
        bt.estimate(ConnId(conn)).unwrap().u
    }

    #[test]
    fn best_return_per_byte_first_until_the_budget_is_spent() {
        let mut bt = tyrant();
        // Equal-split u_p = 20 kB/s for everyone; d_p from measured rates.
        let cands: Vec<Candidate> = (0..10)
            .map(|i| {
                cand(
                    i,
                    [5, 50, 30, 0, 40, 10, 0, 0, 25, 60][i as usize] * 1000,
                    0,
                )
            })
            .collect();
        let mut out = Vec::new();
        bt.rechoke(at(10), &cands, &mut Dice::new(1, 0), &mut out);
        // Budget 100 kB/s buys five peers at 20 kB/s: the five best d_p.
        assert_eq!(
            out,
            vec![ConnId(9), ConnId(1), ConnId(4), ConnId(2), ConnId(8)]
        );
        assert!(out.iter().all(|&c| bt.weight(c) == 20_000));
        assert_eq!(bt.slots(), Some(5));
    }

    #[test]
    fn a_peer_that_sends_us_nothing_is_judged_by_how_fast_it_announces_pieces() {
        let mut bt = tyrant();
        // Neither peer has sent us anything; peer 1 announces pieces ten times as fast
        // as peer 0, so its equal split (a fifth of that) is the better buy.
        let mut cands = vec![cand(0, 0, 0), cand(1, 0, 0), cand(2, 0, 0)];
        cands[0].announce_rate = 50_000;
        cands[1].announce_rate = 500_000;
        let mut out = Vec::new();
        bt.rechoke(at(10), &cands, &mut Dice::new(5, 0), &mut out);
        let d = |conn: u32| bt.estimate(ConnId(conn)).unwrap().d;
        assert_eq!((d(0), d(1)), (10_000, 100_000));
        // Peer 2 announced nothing yet: the optimistic guess, our own equal split.
        assert_eq!(d(2), 20_000);
        assert_eq!(out, vec![ConnId(1), ConnId(2), ConnId(0)]);
        // Once peer 1 unchokes us, what it really sends replaces the estimate.
        cands[1].unchokes_us = true;
        cands[1].download_rate = 30_000;
        out.clear();
        bt.rechoke(at(20), &cands, &mut Dice::new(5, 1), &mut out);
        assert_eq!(bt.estimate(ConnId(1)).unwrap().d, 30_000);
    }

    #[test]
    fn non_reciprocators_cost_more_and_reciprocators_less() {
        let mut bt = tyrant();
        let mut dice = Dice::new(2, 0);
        // Peer 0 reciprocates every round; peer 1 never does.
        let mut cands = vec![cand(0, 10_000, 0), cand(1, 0, 0)];
        let mut out = Vec::new();
        bt.rechoke(at(0), &cands, &mut dice, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!((u_of(&bt, 0), u_of(&bt, 1)), (20_000, 20_000));
        let mut u1 = 20_000;
        for round in 1..=4 {
            cands[0].unchokes_us = true;
            out.clear();
            bt.rechoke(at(10 * round), &cands, &mut dice, &mut out);
            u1 = u1 * 6 / 5;
            assert_eq!(u_of(&bt, 1), u1, "round {round}: u_1 grows by 20 %");
            // u_0 stays until three consecutive reciprocated rounds, then drops 10 %.
            let expect = match round {
                1 | 2 => 20_000,
                3 => 18_000,
                _ => 16_200,
            };
            assert_eq!(u_of(&bt, 0), expect, "round {round}");
        }
    }

    #[test]
    fn a_tight_budget_drops_the_expensive_peer() {
        let mut bt = BitTyrant::new(&Policy::default(), Some(50_000));
        let mut dice = Dice::new(3, 0);
        // u_p starts at 10 kB/s; five peers fill the 50 kB/s budget. Peer 4 never
        // reciprocates, so its price rises and its d/u ratio falls below the others'.
        let mut cands: Vec<Candidate> = (0..6).map(|i| cand(i, 8_000, 0)).collect();
        cands[4].download_rate = 0;
        let mut out = Vec::new();
        for round in 0..6 {
            for c in cands.iter_mut().filter(|c| c.conn.0 != 4) {
                c.unchokes_us = true;
            }
            out.clear();
            bt.rechoke(at(10 * round + 1), &cands, &mut dice, &mut out);
        }
        assert!(!out.contains(&ConnId(4)), "{out:?}");
        let spent: u64 = out.iter().map(|&c| u_of(&bt, c.0)).sum();
        assert!(spent <= 50_000, "{spent}");
    }
}
