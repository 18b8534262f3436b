//! Random piece selection: uniformly among the wanted pieces a neighbour has. The
//! baseline that rarest-first is compared against.

use super::{PickContext, PiecePicker, random_common};
use crate::core::bitfield::Bitfield;
use crate::core::random::Dice;

/// Picks uniformly at random.
#[derive(Debug, Default)]
pub struct RandomPicker;

impl PiecePicker for RandomPicker {
    fn neighbour_added(&mut self, _: &Bitfield) {}
    fn neighbour_removed(&mut self, _: &Bitfield) {}
    fn neighbour_has(&mut self, _: u32) {}
    fn unwant(&mut self, _: u32) {}
    fn want(&mut self, _: u32) {}
    fn pick(&mut self, ctx: &PickContext<'_>, dice: &mut Dice) -> Option<u32> {
        random_common(ctx.remote.words(), ctx.wanted.words(), dice)
    }
}
