//! Rarest-first piece selection (Cohen 2003; Legout et al. 2006): start the wanted piece
//! that the fewest neighbours hold, choosing at random among equally rare ones, so rare
//! pieces spread before their holders leave. The first `random_first` pieces are picked
//! at random instead, to get something to trade quickly (a rare piece is slow to fetch).
//!
//! Availability is kept incrementally: for every count `c` a bitset holds the wanted
//! pieces that exactly `c` neighbours have. A `HAVE` moves one bit between two sets; a
//! pick scans the sets from the rarest up, intersecting with the neighbour's bitfield
//! a word at a time, and stops at the first non-empty intersection. That keeps both
//! updates (by far the most frequent event in a big swarm) and picks cheap.

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
    /// `levels[c]`: wanted pieces held by exactly `c` neighbours.
    levels: Vec<Bitfield>,
    wanted: Bitfield,
}

impl RarestFirst {
    /// A picker for `pieces` pieces, all wanted, nobody holding any.
    pub fn new(pieces: u32, random_first: u32) -> RarestFirst {
        RarestFirst {
            pieces,
            random_first,
            availability: vec![0; pieces as usize],
            levels: vec![Bitfield::full(pieces)],
            wanted: Bitfield::full(pieces),
        }
    }

    /// How many neighbours hold `piece`.
    pub fn availability(&self, piece: u32) -> u16 {
        self.availability[piece as usize]
    }

    fn level(&mut self, c: u16) -> &mut Bitfield {
        while self.levels.len() <= c as usize {
            self.levels.push(Bitfield::new(self.pieces));
        }
        &mut self.levels[c as usize]
    }

    fn raise(&mut self, piece: u32) {
        let c = self.availability[piece as usize];
        self.availability[piece as usize] = c.saturating_add(1);
        if self.wanted.get(piece) {
            self.levels[c as usize].clear(piece);
            self.level(c.saturating_add(1)).set(piece);
        }
    }

    fn lower(&mut self, piece: u32) {
        let c = self.availability[piece as usize];
        if c == 0 {
            return;
        }
        self.availability[piece as usize] = c - 1;
        if self.wanted.get(piece) {
            self.levels[c as usize].clear(piece);
            self.levels[c as usize - 1].set(piece);
        }
    }
}

impl PiecePicker for RarestFirst {
    fn neighbour_added(&mut self, pieces: &Bitfield) {
        for p in pieces.ones() {
            self.raise(p);
        }
    }

    fn neighbour_removed(&mut self, pieces: &Bitfield) {
        for p in pieces.ones() {
            self.lower(p);
        }
    }

    fn neighbour_has(&mut self, piece: u32) {
        if piece < self.pieces {
            self.raise(piece);
        }
    }

    fn unwant(&mut self, piece: u32) {
        if self.wanted.clear(piece) {
            let c = self.availability[piece as usize];
            self.levels[c as usize].clear(piece);
        }
    }

    fn want(&mut self, piece: u32) {
        if piece < self.pieces && self.wanted.set(piece) {
            let c = self.availability[piece as usize];
            self.level(c).set(piece);
        }
    }

    fn pick(&mut self, ctx: &PickContext<'_>, dice: &mut Dice) -> Option<u32> {
        if ctx.have_count < self.random_first {
            return random_common(ctx.remote.words(), self.wanted.words(), dice);
        }
        // Level 0 holds pieces no neighbour has, so the remote cannot have them either.
        for level in self.levels.iter().skip(1) {
            if level.count() == 0 {
                continue;
            }
            if let Some(p) = random_common(level.words(), ctx.remote.words(), dice) {
                return Some(p);
            }
        }
        None
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
        rf.unwant(0);
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
        rf.want(0);
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
