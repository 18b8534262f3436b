//! Rate-based tit-for-tat, as in the seed document and BitTorrent mainline (Cohen 2003):
//! every rechoke interval (10 s) unchoke the `upload_slots` (4) interested peers that
//! gave us data fastest over the rate window, plus `optimistic_slots` (1) random
//! interested peers rotated every optimistic interval (30 s) so newcomers can prove
//! themselves and better partners can be found.

use super::{Candidate, Choker, RankedSlots};
use crate::core::config::Policy;
use crate::core::id::ConnId;
use crate::core::random::Dice;
use crate::units::SimTime;

/// Tit-for-tat unchoking.
#[derive(Clone, Debug)]
pub struct TitForTat(RankedSlots);

impl TitForTat {
    /// Slots and intervals from the policy.
    pub fn new(policy: &Policy) -> TitForTat {
        TitForTat(RankedSlots::new(policy))
    }
}

impl Choker for TitForTat {
    fn rechoke(
        &mut self,
        now: SimTime,
        candidates: &[Candidate],
        dice: &mut Dice,
        unchoke: &mut Vec<ConnId>,
    ) {
        self.0
            .rechoke(now, candidates, dice, unchoke, |c| c.download_rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::choker::tests::cand;
    use crate::units::SimDuration;

    #[test]
    fn the_four_fastest_uploaders_to_me_are_unchoked() {
        let mut tft = TitForTat::new(&Policy::default());
        let cands: Vec<Candidate> = (0..10).map(|i| cand(i, 1000 * i as u64, 0)).collect();
        let mut out = Vec::new();
        tft.rechoke(SimTime(10_000_000), &cands, &mut Dice::new(1, 0), &mut out);
        assert_eq!(out.len(), 5);
        assert_eq!(&out[..4], &[ConnId(9), ConnId(8), ConnId(7), ConnId(6)]);
        assert!(
            out[4].0 < 6,
            "optimistic slot goes to a slower peer: {out:?}"
        );
    }

    #[test]
    fn uninterested_peers_are_never_unchoked() {
        let mut tft = TitForTat::new(&Policy::default());
        let mut cands: Vec<Candidate> = (0..3).map(|i| cand(i, 500, 0)).collect();
        cands[1].interested = false;
        let mut out = Vec::new();
        tft.rechoke(SimTime::ZERO, &cands, &mut Dice::new(1, 0), &mut out);
        assert!(!out.contains(&ConnId(1)));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn the_optimistic_unchoke_rotates_every_thirty_seconds() {
        let mut tft = TitForTat::new(&Policy::default());
        // Four fast peers fill the regular slots; twenty slow ones compete optimistically.
        let cands: Vec<Candidate> = (0..24)
            .map(|i| cand(i, if i < 4 { 10_000 } else { 0 }, 0))
            .collect();
        let mut dice = Dice::new(4, 0);
        let mut optimistic_at = |t: u64| {
            let mut out = Vec::new();
            tft.rechoke(SimTime(t * 1_000_000), &cands, &mut dice, &mut out);
            out[4]
        };
        let first = optimistic_at(0);
        assert_eq!(optimistic_at(10), first);
        assert_eq!(optimistic_at(20), first);
        let rotated: Vec<ConnId> = (1..6).map(|k| optimistic_at(30 * k)).collect();
        assert!(rotated.iter().any(|&c| c != first), "{rotated:?}");
        let _ = SimDuration::ZERO;
    }
}
