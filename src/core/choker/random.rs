//! Random unchoking: every rechoke, `upload_slots + optimistic_slots` interested peers
//! drawn uniformly at random, ignoring rates. The control case for the incentive
//! strategies: the same number of slots as tit-for-tat, with no reciprocity at all.

use super::{Candidate, Choker};
use crate::core::config::Policy;
use crate::core::id::ConnId;
use crate::core::random::Dice;
use crate::units::SimTime;

/// Unchokes random interested peers.
#[derive(Clone, Debug)]
pub struct RandomChoker {
    slots: usize,
}

impl RandomChoker {
    /// Slots from the policy (regular plus optimistic).
    pub fn new(policy: &Policy) -> RandomChoker {
        RandomChoker {
            slots: (policy.upload_slots + policy.optimistic_slots) as usize,
        }
    }
}

impl Choker for RandomChoker {
    fn rechoke(
        &mut self,
        _now: SimTime,
        candidates: &[Candidate],
        dice: &mut Dice,
        unchoke: &mut Vec<ConnId>,
    ) {
        let mut pool: Vec<ConnId> = candidates
            .iter()
            .filter(|c| c.interested)
            .map(|c| c.conn)
            .collect();
        dice.shuffle(&mut pool);
        unchoke.extend(pool.into_iter().take(self.slots));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::choker::tests::{at, cand};

    #[test]
    fn rates_do_not_matter_and_the_set_changes() {
        let mut rc = RandomChoker::new(&Policy::default());
        // Peers 0..4 give us a lot; tit-for-tat would keep them forever.
        let cands: Vec<Candidate> = (0..20)
            .map(|i| cand(i, if i < 5 { 1_000_000 } else { 0 }, 0))
            .collect();
        let mut dice = Dice::new(9, 0);
        let mut seen = [0u32; 20];
        for round in 0..20 {
            let mut out = Vec::new();
            rc.rechoke(at(10 * round), &cands, &mut dice, &mut out);
            assert_eq!(out.len(), 5);
            for c in out {
                seen[c.0 as usize] += 1;
            }
        }
        let slow: u32 = seen[5..].iter().sum();
        assert!(slow > 50, "slow peers get most of 100 slots: {seen:?}");
    }
}
