//! PropShare: Levin, LaCurts, Spring & Bhattacharjee, "BitTorrent is an Auction:
//! Analyzing and Improving BitTorrent's Incentives", SIGCOMM 2008.
//!
//! BitTorrent's unchoking is an auction: peers bid with the data they upload to us. The
//! paper shows tit-for-tat's "top four get equal shares" rule is open to strategic
//! under-bidding and proposes a proportional-share auction instead: every rechoke, split
//! our upload among the peers that gave us data over the last window, each in proportion
//! to what it gave, keeping a small share (20 % in the paper) for optimistic unchokes so
//! newcomers can bootstrap.
//!
//! Here the shares are [`Choker::weight`]s: 800 ‰ divided among contributors by their
//! download rates, 200 ‰ among the `optimistic_slots` optimistic unchokes (rotated like
//! tit-for-tat's). Before anyone has given us anything, the regular `upload_slots` go to
//! random interested peers at equal shares, as tit-for-tat would.

use super::{Candidate, Choker, Optimistic, rank_interested};
use crate::core::config::Policy;
use crate::core::id::ConnId;
use crate::core::random::Dice;
use crate::units::SimTime;

/// The whole upload, in weight units (per mille).
const WHOLE: u64 = 1000;
/// The optimistic share of the upload, in weight units (20 %, as in the paper).
const OPTIMISTIC_SHARE: u64 = 200;

/// Proportional-share unchoking.
#[derive(Clone, Debug)]
pub struct PropShare {
    slots: usize,
    optimistic: Optimistic,
    /// The weights decided at the last rechoke.
    weights: Vec<(ConnId, u32)>,
    /// The weight of a connection unchoked without a decided share (between rechokes,
    /// or optimistically).
    default_weight: u32,
}

impl PropShare {
    /// Slots and intervals from the policy.
    pub fn new(policy: &Policy) -> PropShare {
        PropShare {
            slots: policy.upload_slots as usize,
            optimistic: Optimistic::new(policy.optimistic_slots, policy.optimistic_interval),
            weights: Vec::new(),
            default_weight: u32::try_from(
                (OPTIMISTIC_SHARE / u64::from(policy.optimistic_slots.max(1))).max(1),
            )
            .unwrap_or(u32::MAX),
        }
    }
}

impl Choker for PropShare {
    fn rechoke(
        &mut self,
        now: SimTime,
        candidates: &[Candidate],
        dice: &mut Dice,
        unchoke: &mut Vec<ConnId>,
    ) {
        self.weights.clear();
        // Ranked so the order of `unchoke` (and so of the host's messages) is stable.
        let ranked = rank_interested(candidates, dice, |c| c.download_rate);
        let total: u64 = ranked.iter().map(|c| c.download_rate).sum();
        if total == 0 {
            for c in ranked.iter().take(self.slots) {
                unchoke.push(c.conn);
                self.weights.push((c.conn, self.default_weight));
            }
        } else {
            let bid_share = WHOLE - OPTIMISTIC_SHARE;
            for c in ranked.iter().filter(|c| c.download_rate > 0) {
                // At most `bid_share` (c's rate is part of the total), so it fits.
                let share = u128::from(bid_share) * u128::from(c.download_rate) / u128::from(total);
                let w = u32::try_from(share.max(1)).unwrap_or(u32::MAX);
                unchoke.push(c.conn);
                self.weights.push((c.conn, w));
            }
        }
        let regular = unchoke.len();
        self.optimistic.choose(now, candidates, dice, unchoke);
        for &conn in &unchoke[regular..] {
            self.weights.push((conn, self.default_weight));
        }
    }

    fn weight(&self, conn: ConnId) -> u32 {
        self.weights
            .iter()
            .find(|(c, _)| *c == conn)
            .map_or(self.default_weight, |&(_, w)| w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::choker::tests::{at, cand};

    #[test]
    fn shares_follow_what_each_peer_gave() {
        let mut ps = PropShare::new(&Policy::default());
        // Peers 0..3 gave 1, 2, 3 and 4 kB/s; peers 4..9 gave nothing.
        let cands: Vec<Candidate> = (0..10)
            .map(|i| cand(i, if i < 4 { 1000 * (i as u64 + 1) } else { 0 }, 0))
            .collect();
        let mut out = Vec::new();
        ps.rechoke(at(10), &cands, &mut Dice::new(1, 0), &mut out);
        assert_eq!(
            out.len(),
            5,
            "four contributors and one optimistic: {out:?}"
        );
        let w: Vec<u32> = (0..4).map(|i| ps.weight(ConnId(i))).collect();
        // 800 ‰ split 1:2:3:4.
        assert_eq!(w, vec![80, 160, 240, 320]);
        let optimistic = out[4];
        assert!(optimistic.0 >= 4);
        assert_eq!(ps.weight(optimistic), 200);
    }

    #[test]
    fn every_contributor_gets_a_share_not_just_four() {
        let mut ps = PropShare::new(&Policy::default());
        let cands: Vec<Candidate> = (0..8).map(|i| cand(i, 500, 0)).collect();
        let mut out = Vec::new();
        ps.rechoke(at(10), &cands, &mut Dice::new(1, 0), &mut out);
        assert_eq!(out.len(), 8);
        assert!((0..8).all(|i| ps.weight(ConnId(i)) == 100));
    }

    #[test]
    fn without_contributors_it_bootstraps_like_tit_for_tat() {
        let mut ps = PropShare::new(&Policy::default());
        let cands: Vec<Candidate> = (0..10).map(|i| cand(i, 0, 0)).collect();
        let mut out = Vec::new();
        ps.rechoke(at(0), &cands, &mut Dice::new(3, 0), &mut out);
        assert_eq!(out.len(), 5);
        assert!(out.iter().all(|&c| ps.weight(c) == 200));
    }

    #[test]
    fn shares_move_with_the_bids_from_round_to_round() {
        let mut ps = PropShare::new(&Policy::default());
        let mut dice = Dice::new(5, 0);
        let mut cands = vec![cand(0, 3000, 0), cand(1, 1000, 0)];
        let mut out = Vec::new();
        ps.rechoke(at(10), &cands, &mut dice, &mut out);
        assert_eq!((ps.weight(ConnId(0)), ps.weight(ConnId(1))), (600, 200));
        // Peer 1 outbids peer 0 in the next window.
        cands[1].download_rate = 7000;
        out.clear();
        ps.rechoke(at(20), &cands, &mut dice, &mut out);
        assert_eq!((ps.weight(ConnId(0)), ps.weight(ConnId(1))), (240, 560));
    }
}
