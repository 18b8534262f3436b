//! Sequential piece selection: the lowest-numbered wanted piece, as a streaming client
//! would. Shows what happens to a swarm without rarest-first's diversity.

use super::{PickContext, PiecePicker};
use crate::core::bitfield::Bitfield;
use crate::core::random::Dice;

/// Picks the lowest index first.
#[derive(Debug, Default)]
pub struct Sequential;

impl PiecePicker for Sequential {
    fn neighbour_added(&mut self, _: &Bitfield) {}
    fn neighbour_removed(&mut self, _: &Bitfield) {}
    fn neighbour_has(&mut self, _: u32) {}
    fn unwant(&mut self, _: u32) {}
    fn want(&mut self, _: u32) {}
    fn pick(&mut self, ctx: &PickContext<'_>, _: &mut Dice) -> Option<u32> {
        let words = ctx.remote.words().iter().zip(ctx.wanted.words());
        for (i, (r, w)) in (0u32..).zip(words) {
            let both = r & w;
            if both != 0 {
                return Some(i * 64 + both.trailing_zeros());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::picker::tests::field;

    #[test]
    fn lowest_common_piece_first() {
        let remote = field(100, &[3, 70, 90]);
        let mut wanted = Bitfield::full(100);
        wanted.clear(3);
        let ctx = PickContext {
            remote: &remote,
            wanted: &wanted,
            have_count: 0,
        };
        assert_eq!(Sequential.pick(&ctx, &mut Dice::new(1, 1)), Some(70));
    }
}
