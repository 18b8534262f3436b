//! Rarest-first piece selection (Cohen 2003; Legout et al. 2006): start the wanted piece
//! that the fewest neighbours hold, choosing at random among equally rare ones, so rare
//! pieces spread before their holders leave. The first `random_first` pieces are picked
//! at random instead, to get something to trade quickly (a rare piece is slow to fetch).
//!
//! Availability is one counter per piece, raised and lowered as neighbours announce
//! pieces or leave: a `HAVE` — by far the most frequent event in a big swarm — touches
//! one counter. A pick scans the pieces the neighbour has and we want (a word of the two
//! bitfields at a time), finds the lowest availability, and draws uniformly among the
//! pieces that have it. (An earlier version kept a bitset per availability level so
//! picks were cheaper, but moving a bit between two sets on every HAVE cost two cache
//! misses; in a 1,000-peer swarm that made HAVEs 20 % of the run.)

use super::{PickContext, PiecePicker, random_common};
use crate::core::bitfield::Bitfield;
use crate::core::random::Dice;

/// The rarest-first picker.
#[derive(Debug)]
pub struct RarestFirst {
    pieces: u32,
    random_first: u32,
    /// How many neighbours hold each piece.
    availability: Vec<u16>,
}

impl RarestFirst {
    /// A picker for `pieces` pieces, nobody holding any.
    pub fn new(pieces: u32, random_first: u32) -> RarestFirst {
        RarestFirst {
            pieces,
            random_first,
            availability: vec![0; pieces as usize],
        }
    }

    /// How many neighbours hold `piece`.
    pub fn availability(&self, piece: u32) -> u16 {
        self.availability[piece as usize]
    }

    /// Calls `f(piece, availability)` for every piece in `a ∧ b`.
    fn each_common(&self, a: &[u64], b: &[u64], mut f: impl FnMut(u32, u16)) {
        for (i, (x, y)) in (0u32..).zip(a.iter().zip(b)) {
            let mut w = x & y;
            while w != 0 {
                let p = i * 64 + w.trailing_zeros();
                w &= w - 1;
                f(p, self.availability[p as usize]);
            }
        }
    }
}

impl PiecePicker for RarestFirst {
    fn neighbour_added(&mut self, pieces: &Bitfield) {
        for p in pieces.ones() {
            let a = &mut self.availability[p as usize];
            *a = a.saturating_add(1);
        }
    }

    fn neighbour_removed(&mut self, pieces: &Bitfield) {
        for p in pieces.ones() {
            let a = &mut self.availability[p as usize];
            *a = a.saturating_sub(1);
        }
    }

    fn neighbour_has(&mut self, piece: u32) {
        if let Some(a) = self.availability.get_mut(piece as usize) {
            *a = a.saturating_add(1);
        }
    }

    fn unwant(&mut self, _: u32) {}

    fn want(&mut self, _: u32) {}

    fn pick(&mut self, ctx: &PickContext<'_>, dice: &mut Dice) -> Option<u32> {
        let (remote, wanted) = (ctx.remote.words(), ctx.wanted.words());
        if ctx.have_count < self.random_first {
            return random_common(remote, wanted, dice);
        }
        // Two passes: the lowest availability and how many share it, then the k-th of them.
        let (mut best, mut ties) = (u16::MAX, 0u64);
        self.each_common(remote, wanted, |_, a| {
            if a < best {
                best = a;
                ties = 1;
            } else if a == best {
                ties += 1;
            }
        });
        if ties == 0 {
            return None;
        }
        let mut k = dice.below(ties);
        let mut chosen = None;
        self.each_common(remote, wanted, |p, a| {
            if a == best && chosen.is_none() {
                if k == 0 {
                    chosen = Some(p);
                } else {
                    k -= 1;
                }
            }
        });
        debug_assert!(self.pieces > 0);
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::picker::tests::field;

    fn ctx<'a>(remote: &'a Bitfield, wanted: &'a Bitfield) -> PickContext<'a> {
        PickContext {
            remote,
            wanted,
            have_count: 100,
        }
    }

    #[test]
    fn rarest_piece_is_picked() {
        let mut rf = RarestFirst::new(10, 0);
        rf.neighbour_added(&field(10, &[1, 2, 3]));
        rf.neighbour_added(&field(10, &[1, 2]));
        rf.neighbour_added(&field(10, &[1]));
        let remote = field(10, &[1, 2, 3]);
        let wanted = Bitfield::full(10);
        for seed in 0..20 {
            assert_eq!(
                rf.pick(&ctx(&remote, &wanted), &mut Dice::new(seed, 0)),
                Some(3)
            );
        }
    }

    #[test]
    fn ties_are_broken_by_the_rng() {
        let mut rf = RarestFirst::new(8, 0);
        rf.neighbour_added(&Bitfield::full(8));
        let remote = Bitfield::full(8);
        let wanted = Bitfield::full(8);
        let mut seen = [false; 8];
        let mut dice = Dice::new(9, 0);
        for _ in 0..200 {
            seen[rf.pick(&ctx(&remote, &wanted), &mut dice).unwrap() as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
    }

    #[test]
    fn unwanted_pieces_are_skipped_and_haves_update_rarity() {
        let mut rf = RarestFirst::new(4, 0);
        rf.neighbour_added(&field(4, &[0, 1]));
        let remote = field(4, &[0, 1]);
        let wanted = field(4, &[1, 2, 3]);
        assert_eq!(
            rf.pick(&ctx(&remote, &wanted), &mut Dice::new(1, 0)),
            Some(1)
        );
        // Piece 2 appears at one neighbour: now 1 and 2 are equally rare.
        rf.neighbour_has(2);
        rf.neighbour_has(1);
        let remote = field(4, &[1, 2]);
        assert_eq!(
            rf.pick(&ctx(&remote, &wanted), &mut Dice::new(1, 0)),
            Some(2)
        );
        let wanted = field(4, &[0, 1, 2, 3]);
        let remote = field(4, &[0, 1]);
        assert_eq!(
            rf.pick(&ctx(&remote, &wanted), &mut Dice::new(1, 0)),
            Some(0)
        );
    }

    #[test]
    fn random_first_ignores_rarity() {
        let mut rf = RarestFirst::new(64, 4);
        let all_but_0: Vec<u32> = (1..64).collect();
        rf.neighbour_added(&field(64, &all_but_0));
        rf.neighbour_added(&Bitfield::full(64));
        let remote = Bitfield::full(64);
        let wanted = Bitfield::full(64);
        let early = PickContext {
            remote: &remote,
            wanted: &wanted,
            have_count: 0,
        };
        let picks: Vec<u32> = (0..10)
            .map(|s| rf.pick(&early, &mut Dice::new(s, 0)).unwrap())
            .collect();
        assert!(picks.iter().any(|&p| p != 0), "{picks:?}");
        assert_eq!(
            rf.pick(&ctx(&remote, &wanted), &mut Dice::new(3, 0)),
            Some(0)
        );
    }
}
