//! The identities the core works with: a neighbour as its host names it ([`PeerId`]) and a
//! connection as the peer that owns it numbers it ([`ConnId`]). Both are opaque numbers
//! the host chooses or the peer hands out; they have a module of their own because every
//! part of the core (the peer, its chokers, the tracker) speaks of them.

/// A peer as the host and the tracker know it: an opaque key chosen by the host (the
/// simulator uses the peer's index; the tcp host numbers the addresses it learns).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u64);

/// A connection, as numbered by the peer that owns it: a slot index, reused after the
/// connection closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u32);

impl ConnId {
    /// The slot index, for tables indexed by connection.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
