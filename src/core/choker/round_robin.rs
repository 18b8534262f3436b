//! Round-robin seeding: every rechoke the seed serves the next `upload_slots +
//! optimistic_slots` interested peers in turn, so every peer gets the seed's attention
//! equally regardless of its speed.

use super::{Candidate, Choker};
use crate::core::config::Policy;
use crate::core::id::ConnId;
use crate::core::random::Dice;
use crate::units::SimTime;

/// Seed choker rotating through interested peers.
#[derive(Clone, Debug)]
pub struct RoundRobin {
    slots: usize,
    /// Served count per connection slot; the least-served go next.
    served: Vec<(ConnId, u64)>,
}

impl RoundRobin {
    /// Slots from the policy.
    pub fn new(policy: &Policy) -> RoundRobin {
        RoundRobin {
            slots: (policy.upload_slots + policy.optimistic_slots) as usize,
            served: Vec::new(),
        }
    }

    fn served(&self, conn: ConnId) -> u64 {
        self.served
            .iter()
            .find(|(c, _)| *c == conn)
            .map(|&(_, n)| n)
            .unwrap_or(0)
    }
}

impl Choker for RoundRobin {
    fn rechoke(
        &mut self,
        _now: SimTime,
        candidates: &[Candidate],
        dice: &mut Dice,
        unchoke: &mut Vec<ConnId>,
    ) {
        self.served
            .retain(|(c, _)| candidates.iter().any(|k| k.conn == *c));
        let mut ranked: Vec<Candidate> = candidates
            .iter()
            .filter(|c| c.interested)
            .copied()
            .collect();
        dice.shuffle(&mut ranked);
        ranked.sort_by_key(|c| self.served(c.conn));
        for c in ranked.iter().take(self.slots) {
            unchoke.push(c.conn);
            match self.served.iter_mut().find(|(k, _)| *k == c.conn) {
                Some(entry) => entry.1 += 1,
                None => self.served.push((c.conn, 1)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::choker::tests::cand;

    #[test]
    fn everyone_gets_a_turn() {
        let mut rr = RoundRobin::new(&Policy::default());
        let cands: Vec<Candidate> = (0..10).map(|i| cand(i, 0, 1000 * i as u64)).collect();
        let mut dice = Dice::new(1, 0);
        let mut seen = [0u32; 10];
        for round in 0..4 {
            let mut out = Vec::new();
            rr.rechoke(SimTime(round * 10_000_000), &cands, &mut dice, &mut out);
            assert_eq!(out.len(), 5);
            for c in out {
                seen[c.0 as usize] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 2), "{seen:?}");
    }
}
