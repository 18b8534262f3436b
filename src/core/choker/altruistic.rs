//! Altruistic unchoking: every interested peer is unchoked and gets an equal share of
//! our upload, whatever it gives back. The "no incentives" baseline of the BitTorrent
//! incentive literature (e.g. Piatek et al., NSDI 2007, section 2): it maximises how
//! much we give, so it shows what tit-for-tat's reciprocity costs or gains.

use super::{Candidate, Choker};
use crate::core::id::ConnId;
use crate::core::random::Dice;
use crate::units::SimTime;

/// Unchokes everyone interested.
#[derive(Clone, Copy, Debug, Default)]
pub struct Altruistic;

impl Choker for Altruistic {
    fn rechoke(
        &mut self,
        _now: SimTime,
        candidates: &[Candidate],
        _dice: &mut Dice,
        unchoke: &mut Vec<ConnId>,
    ) {
        unchoke.extend(candidates.iter().filter(|c| c.interested).map(|c| c.conn));
    }

    /// No limit: a newly interested peer is unchoked at once.
    fn slots(&self) -> Option<usize> {
        Some(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::choker::EQUAL_WEIGHT;
    use crate::core::choker::tests::{at, cand};

    #[test]
    fn everyone_interested_is_unchoked_at_equal_shares() {
        let mut a = Altruistic;
        let mut cands: Vec<Candidate> = (0..30).map(|i| cand(i, i as u64, 0)).collect();
        cands[7].interested = false;
        let mut out = Vec::new();
        a.rechoke(at(10), &cands, &mut Dice::new(1, 0), &mut out);
        assert_eq!(out.len(), 29);
        assert!(!out.contains(&ConnId(7)));
        assert!(out.iter().all(|&c| a.weight(c) == EQUAL_WEIGHT));
        assert_eq!(a.slots(), Some(usize::MAX));
    }
}
