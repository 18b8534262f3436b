//! The mainline seed choker: a seed has nothing to receive, so it serves the peers it can
//! upload to fastest (they spread the data on quickest), plus optimistic unchokes.

use super::{Candidate, Choker, RankedSlots};
use crate::core::config::Policy;
use crate::core::id::ConnId;
use crate::core::random::Dice;
use crate::units::SimTime;

/// Seed choker ranking by our upload rate to each peer.
#[derive(Clone, Debug)]
pub struct FastestUpload(RankedSlots);

impl FastestUpload {
    /// Slots and intervals from the policy.
    pub fn new(policy: &Policy) -> FastestUpload {
        FastestUpload(RankedSlots::new(policy))
    }
}

impl Choker for FastestUpload {
    fn rechoke(
        &mut self,
        now: SimTime,
        candidates: &[Candidate],
        dice: &mut Dice,
        unchoke: &mut Vec<ConnId>,
    ) {
        self.0
            .rechoke(now, candidates, dice, unchoke, |c| c.upload_rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::choker::tests::cand;

    #[test]
    fn serves_the_fastest_downloaders() {
        let mut seed = FastestUpload::new(&Policy::default());
        let cands: Vec<Candidate> = (0..8).map(|i| cand(i, 0, 100 * i as u64)).collect();
        let mut out = Vec::new();
        seed.rechoke(SimTime::ZERO, &cands, &mut Dice::new(2, 0), &mut out);
        assert_eq!(&out[..4], &[ConnId(7), ConnId(6), ConnId(5), ConnId(4)]);
    }
}
