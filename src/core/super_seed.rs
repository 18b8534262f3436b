//! Super-seeding (BEP 16): an initial seed that hides what it has and offers each
//! neighbour one piece at a time, so that its scarce upload goes into pieces the swarm
//! has not got yet rather than into copies its leechers could trade among themselves.
//!
//! The seed sends no bitfield. To each neighbour it announces (HAVE) one piece, the one
//! least seen among its neighbours and least offered; the neighbour can ask for nothing
//! else. Once it has sent that neighbour the whole piece, it offers the next only when
//! the piece has been seen at another neighbour — the first neighbour passed it on — or
//! the neighbour turns out to hold it already (it says so, or tells us it is no longer
//! interested without our having sent it all), or after a few rechokes if it was sent
//! in full or never asked for. This module
//! keeps the offers and makes the choice; the peer (`Peer::offer_piece`) sends the
//! HAVEs.

use crate::core::bitfield::Bitfield;
use crate::core::id::ConnId;
use std::collections::BTreeMap;

/// What one neighbour has been offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Offer {
    piece: u32,
    /// Its length in bytes.
    len: u64,
    /// Bytes of it sent to that neighbour so far.
    sent: u64,
    /// Rechokes since it was offered.
    waited: u32,
}

/// A super-seeding seed's offers, per connection.
#[derive(Debug, Default)]
pub struct SuperSeed {
    offers: BTreeMap<ConnId, Offer>,
}

impl Offer {
    /// Whether all of it has been sent.
    fn delivered(&self) -> bool {
        self.sent >= self.len
    }
}

impl SuperSeed {
    /// The piece offered on `conn`, if any.
    pub fn offered(&self, conn: ConnId) -> Option<u32> {
        self.offers.get(&conn).map(|o| o.piece)
    }

    /// The piece to offer next to a neighbour holding `theirs`: the one fewest
    /// neighbours hold (`held[piece]`), then the one fewest others are being offered,
    /// then the lowest index. `None` when it holds everything.
    pub fn choose(&self, theirs: &Bitfield, held: &[u32]) -> Option<u32> {
        let mut offered = vec![0u32; held.len()];
        for o in self.offers.values() {
            if let Some(n) = offered.get_mut(o.piece as usize) {
                *n += 1;
            }
        }
        let pieces = u32::try_from(held.len()).unwrap_or(u32::MAX);
        (0..pieces)
            .filter(|&p| !theirs.get(p))
            .min_by_key(|&p| (held[p as usize], offered[p as usize], p))
    }

    /// Records that `piece`, `len` bytes long, is offered on `conn` (replacing any
    /// earlier offer).
    pub fn offer(&mut self, conn: ConnId, piece: u32, len: u64) {
        self.offers.insert(
            conn,
            Offer {
                piece,
                len,
                sent: 0,
                waited: 0,
            },
        );
    }

    /// `bytes` of `piece` went to the neighbour on `conn`; whether that completes the
    /// piece offered there.
    pub fn sent(&mut self, conn: ConnId, piece: u32, bytes: u64) -> bool {
        match self.offers.get_mut(&conn) {
            Some(o) if o.piece == piece => {
                o.sent += bytes;
                o.delivered()
            }
            _ => false,
        }
    }

    /// Whether the neighbour on `conn` has had all of its offered piece.
    pub fn delivered(&self, conn: ConnId) -> bool {
        self.offers.get(&conn).is_some_and(Offer::delivered)
    }

    /// The connections, other than `from`, whose offered piece is `piece` and was sent
    /// in full: seeing it at `from` means they passed it on.
    pub fn passed_on(&self, from: ConnId, piece: u32) -> Vec<ConnId> {
        self.offers
            .iter()
            .filter(|&(&c, o)| c != from && o.piece == piece && o.delivered())
            .map(|(&c, _)| c)
            .collect()
    }

    /// A rechoke passed: the connections whose offer is `rounds` rechokes old and either
    /// sent in full without being seen elsewhere, or never asked for. Their next offer
    /// is not held back longer: the neighbours that got the piece from them may never
    /// say so (one that was offered the same piece believes we have it and sends us no
    /// HAVE), those that will never need it (they left, or hold it) do not either, and a
    /// neighbour that held the piece before we offered it has no reason to tell us.
    /// An offer being sent waits on.
    pub fn waited_out(&mut self, rounds: u32) -> Vec<ConnId> {
        let mut out = Vec::new();
        for (&c, o) in &mut self.offers {
            o.waited += 1;
            let idle = o.sent == 0 || o.delivered();
            if idle && o.waited >= rounds {
                out.push(c);
            }
        }
        out
    }

    /// Forgets a closed connection's offer.
    pub fn forget(&mut self, conn: ConnId) {
        self.offers.remove(&conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_the_least_held_then_least_offered_piece_they_lack() {
        let mut s = SuperSeed::default();
        let none = Bitfield::new(4);
        assert_eq!(s.choose(&none, &[2, 0, 0, 1]), Some(1));
        s.offer(ConnId(0), 1, 200);
        assert_eq!(
            s.choose(&none, &[2, 0, 0, 1]),
            Some(2),
            "1 is on offer already"
        );
        let mut theirs = Bitfield::new(4);
        theirs.set(2);
        assert_eq!(s.choose(&theirs, &[2, 0, 0, 1]), Some(1));
        assert_eq!(s.choose(&Bitfield::full(4), &[0; 4]), None);
    }

    #[test]
    fn a_piece_seen_elsewhere_after_it_was_sent_frees_its_first_holder() {
        let mut s = SuperSeed::default();
        s.offer(ConnId(0), 3, 200);
        s.offer(ConnId(1), 3, 200);
        assert!(!s.sent(ConnId(0), 3, 100));
        assert!(s.passed_on(ConnId(2), 3).is_empty(), "not sent in full yet");
        assert!(s.sent(ConnId(0), 3, 100));
        assert_eq!(s.passed_on(ConnId(2), 3), vec![ConnId(0)]);
        assert!(s.passed_on(ConnId(0), 3).is_empty(), "its own HAVE");
        s.forget(ConnId(0));
        assert_eq!(s.offered(ConnId(0)), None);
    }
}
