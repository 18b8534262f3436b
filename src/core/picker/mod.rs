//! Piece pickers: which new piece to start downloading from a given neighbour.
//!
//! A peer always finishes pieces it has started before starting new ones (strict
//! priority, handled by the peer); a picker only chooses among the *wanted* pieces —
//! neither held nor started. Pickers learn what the neighbourhood has through
//! availability events, so rarest-first can keep its counts incrementally.

mod random;
mod rarest_first;
mod sequential;

pub use random::RandomPicker;
pub use rarest_first::RarestFirst;
pub use sequential::Sequential;

use super::bitfield::Bitfield;
use super::random::Dice;

/// What a picker may look at when choosing.
pub struct PickContext<'a> {
    /// Pieces the neighbour we would request from has.
    pub remote: &'a Bitfield,
    /// Pieces we neither hold nor have started.
    pub wanted: &'a Bitfield,
    /// Pieces we hold (verified).
    pub have_count: u32,
}

/// A piece selection strategy.
///
/// # Contract
///
/// * The peer keeps the picker informed of its neighbourhood — a neighbour's pieces when
///   it connects ([`PiecePicker::neighbour_added`], its first bitfield) and when it goes
///   ([`PiecePicker::neighbour_removed`]), each piece it announces later
///   ([`PiecePicker::neighbour_has`]) — and of its own wants ([`PiecePicker::unwant`]
///   when a piece is started or verified, [`PiecePicker::want`] when a started piece is
///   abandoned or fails its check).
/// * [`PiecePicker::pick`] is asked only for a *new* piece: the peer first finishes the
///   pieces it started (strict priority) and handles endgame itself. A pick must be a
///   piece both in `ctx.remote` and `ctx.wanted`, and there must be a pick whenever such
///   a piece exists (a property test holds every picker to this).
/// * Randomness comes from `dice` only; nothing may depend on hash-map order.
pub trait PiecePicker {
    /// A neighbour connected holding `pieces`.
    fn neighbour_added(&mut self, pieces: &Bitfield);
    /// A neighbour holding `pieces` went away.
    fn neighbour_removed(&mut self, pieces: &Bitfield);
    /// A neighbour announced `piece`.
    fn neighbour_has(&mut self, piece: u32);
    /// `piece` is no longer wanted (started or held).
    fn unwant(&mut self, piece: u32);
    /// `piece` is wanted again (a started piece was abandoned or failed its check).
    fn want(&mut self, piece: u32);
    /// Chooses a wanted piece the neighbour has, if any.
    fn pick(&mut self, ctx: &PickContext<'_>, dice: &mut Dice) -> Option<u32>;
}

/// A uniformly random piece among `a ∧ b`, or `None` if they share none.
pub(crate) fn random_common(a: &[u64], b: &[u64], dice: &mut Dice) -> Option<u32> {
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x & y).count_ones() as u64)
        .sum();
    if total == 0 {
        return None;
    }
    let mut k = dice.below(total);
    for (i, (x, y)) in (0u32..).zip(a.iter().zip(b)) {
        let mut w = x & y;
        let n = w.count_ones() as u64;
        if k >= n {
            k -= n;
            continue;
        }
        for _ in 0..k {
            w &= w - 1;
        }
        return Some(i * 64 + w.trailing_zeros());
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn field(len: u32, pieces: &[u32]) -> Bitfield {
        let mut b = Bitfield::new(len);
        for &p in pieces {
            b.set(p);
        }
        b
    }

    proptest! {
        /// Whatever the picker and the neighbourhood, a pick is wanted and held by the remote,
        /// and there is a pick whenever such a piece exists.
        #[test]
        fn picks_are_wanted_and_available(
            kind in 0usize..3,
            len in 1u32..200,
            seed in any::<u64>(),
            neighbours in proptest::collection::vec(proptest::collection::vec(any::<bool>(), 200), 1..6),
            wanted_mask in proptest::collection::vec(any::<bool>(), 200),
        ) {
            let names = crate::core::Strategies::builtin();
            let name = names.names(crate::core::StrategyKind::Picker)[kind].to_string();
            let policy = crate::core::Policy {
                picker: crate::core::StrategyName::new(name),
                random_first: 0,
                ..crate::core::Policy::default()
            };
            let mut picker = names.build(&policy, len, None).expect("a built-in picker").picker;
            let mut wanted = Bitfield::full(len);
            for p in 0..len {
                if !wanted_mask[p as usize] {
                    wanted.clear(p);
                    picker.unwant(p);
                }
            }
            let fields: Vec<Bitfield> = neighbours.iter().map(|n| {
                let ps: Vec<u32> = (0..len).filter(|&p| n[p as usize]).collect();
                field(len, &ps)
            }).collect();
            for f in &fields { picker.neighbour_added(f); }
            let mut dice = Dice::new(seed, 0);
            for remote in &fields {
                let ctx = PickContext { remote, wanted: &wanted, have_count: 10 };
                let pick = picker.pick(&ctx, &mut dice);
                let possible = remote.ones().any(|p| wanted.get(p));
                prop_assert_eq!(pick.is_some(), possible);
                if let Some(p) = pick {
                    prop_assert!(remote.get(p) && wanted.get(p));
                }
            }
        }
    }
}
