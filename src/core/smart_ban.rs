//! Finding who sent bad data, and only them: libtorrent's "smart ban", written anew.
//!
//! When a piece built from the blocks of several senders fails its hash check, the
//! check says only that *some* block was bad. Blaming every sender would cut off honest
//! co-senders with the polluter. Instead the host hashes every grain (16 KiB block) of
//! the failed piece as it was received, and the core keeps, per grain, who sent it and
//! what it hashed to ([`SmartBan::piece_failed`]). When the piece later verifies, the
//! host hashes its grains again; a grain of a failed attempt whose digest differs from
//! the good one was bad, and names its sender ([`SmartBan::piece_passed`]). A sender is
//! also named at once when it alone sent a failed piece (libtorrent does the same).
//!
//! A *naming* is one failed attempt proven to contain bad data from that sender: one
//! per sender per attempt, however many of its grains were bad. A sender named
//! [`NAMES_TO_BAN`] times is banned: cut off, and never connected to again. An honest
//! sender is never named: its grains hash like the verified piece's.

use super::id::PeerId;
use std::collections::BTreeMap;

/// Namings after which a sender is banned. Two, not one: a single bad block may be an
/// accident of a faulty disk or memory, and it costs the polluter little to be given a
/// second chance.
pub const NAMES_TO_BAN: u32 = 2;

/// Failed attempts kept per piece (the oldest is forgotten beyond this), so a piece
/// that fails over and over cannot grow the record without bound.
pub const MAX_ATTEMPTS: usize = 4;

/// A digest of one grain of a piece as received (the tcp host: its SHA-1). The core
/// only compares digests for equality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrainDigest(pub [u8; 20]);

/// One failed attempt at a piece: who sent each grain, and what it hashed to.
#[derive(Clone, Debug)]
struct Attempt {
    grains: Vec<(PeerId, GrainDigest)>,
}

/// The smart-ban record of one peer: failed attempts awaiting their piece's good
/// version, how often each sender has been named, and whom it has banned.
#[derive(Clone, Debug, Default)]
pub struct SmartBan {
    /// Failed attempts by piece; a `BTreeMap`, so nothing depends on hash order.
    failed: BTreeMap<u32, Vec<Attempt>>,
    /// Senders named so far, with their count (banned ones included).
    named: Vec<(PeerId, u32)>,
    /// Banned senders, sorted.
    banned: Vec<PeerId>,
}

impl SmartBan {
    /// `piece` failed its check. `senders[g]` sent grain `g`, which hashed to
    /// `digests[g]`. With `digests` empty (a host that cannot hash grains) or of the
    /// wrong length, only a sole sender can be named. Returns the senders this bans.
    pub fn piece_failed(
        &mut self,
        piece: u32,
        senders: &[PeerId],
        digests: &[GrainDigest],
    ) -> Vec<PeerId> {
        let Some(&first) = senders.first() else {
            return Vec::new();
        };
        if senders.iter().all(|&s| s == first) {
            // It alone sent the piece: it sent the bad data, and the later good version
            // would only name it again for the same attempt.
            return self.name([first]);
        }
        if digests.len() != senders.len() {
            return Vec::new();
        }
        let attempt = Attempt {
            grains: senders
                .iter()
                .copied()
                .zip(digests.iter().copied())
                .collect(),
        };
        let attempts = self.failed.entry(piece).or_default();
        if attempts.len() >= MAX_ATTEMPTS {
            attempts.remove(0);
        }
        attempts.push(attempt);
        Vec::new()
    }

    /// Whether a failed attempt at `piece` is on record: the host then passes the
    /// grains' digests when the piece verifies, too.
    pub fn wants_digests(&self, piece: u32) -> bool {
        self.failed.contains_key(&piece)
    }

    /// `piece` verified; `good[g]` is the digest of its grain `g`. Every sender of a
    /// grain that differed in a recorded failed attempt is named, once per attempt.
    /// Returns the senders this bans. The record of the piece is dropped either way.
    pub fn piece_passed(&mut self, piece: u32, good: &[GrainDigest]) -> Vec<PeerId> {
        let Some(attempts) = self.failed.remove(&piece) else {
            return Vec::new();
        };
        let mut banned = Vec::new();
        for attempt in attempts {
            if attempt.grains.len() != good.len() {
                continue;
            }
            let mut culprits: Vec<PeerId> = Vec::new();
            for (&(sender, digest), ok) in attempt.grains.iter().zip(good) {
                if digest != *ok && !culprits.contains(&sender) {
                    culprits.push(sender);
                }
            }
            banned.extend(self.name(culprits));
        }
        banned
    }

    /// Whether `peer` is banned.
    pub fn is_banned(&self, peer: PeerId) -> bool {
        self.banned.binary_search(&peer).is_ok()
    }

    /// How many times `peer` has been named.
    pub fn times_named(&self, peer: PeerId) -> u32 {
        self.named
            .iter()
            .find(|(p, _)| *p == peer)
            .map_or(0, |(_, n)| *n)
    }

    /// Names each of `culprits` once; returns those it bans.
    fn name(&mut self, culprits: impl IntoIterator<Item = PeerId>) -> Vec<PeerId> {
        let mut banned = Vec::new();
        for peer in culprits {
            if self.is_banned(peer) {
                continue;
            }
            let count = match self.named.iter_mut().find(|(p, _)| *p == peer) {
                Some(entry) => {
                    entry.1 += 1;
                    entry.1
                }
                None => {
                    self.named.push((peer, 1));
                    1
                }
            };
            if count >= NAMES_TO_BAN
                && let Err(at) = self.banned.binary_search(&peer)
            {
                self.banned.insert(at, peer);
                banned.push(peer);
            }
        }
        banned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOOD: GrainDigest = GrainDigest([0; 20]);

    /// What sender `s` delivered: the good grain, or its own corruption of it.
    fn sent(s: u64, bad: bool) -> GrainDigest {
        if !bad {
            return GOOD;
        }
        let mut d = [0xff; 20];
        d[..8].copy_from_slice(&s.to_le_bytes());
        GrainDigest(d)
    }

    #[test]
    fn the_polluter_is_named_and_its_honest_co_sender_is_not() {
        let (honest, polluter) = (PeerId(1), PeerId(2));
        let mut ban = SmartBan::default();
        let senders = [honest, polluter, honest, polluter];
        // Grain 1 was bad; the check only says the piece was.
        let digests = [GOOD, sent(2, true), GOOD, GOOD];
        assert!(ban.piece_failed(7, &senders, &digests).is_empty());
        assert!(ban.wants_digests(7));
        assert!(ban.piece_passed(7, &[GOOD; 4]).is_empty(), "one naming");
        assert!(!ban.wants_digests(7));
        assert_eq!(ban.times_named(polluter), 1);
        assert_eq!(ban.times_named(honest), 0);
        // A second proven bad attempt bans it.
        ban.piece_failed(8, &senders, &[GOOD, GOOD, GOOD, sent(2, true)]);
        assert_eq!(ban.piece_passed(8, &[GOOD; 4]), vec![polluter]);
        assert!(ban.is_banned(polluter) && !ban.is_banned(honest));
    }

    #[test]
    fn a_sole_sender_is_named_at_once_without_digests() {
        let mut ban = SmartBan::default();
        let p = PeerId(5);
        assert!(ban.piece_failed(0, &[p, p], &[]).is_empty());
        assert!(!ban.wants_digests(0), "nothing to compare later");
        assert_eq!(ban.piece_failed(1, &[p, p], &[]), vec![p]);
        // Banned once: later failures name it no more.
        assert!(ban.piece_failed(2, &[p, p], &[]).is_empty());
        assert_eq!(ban.times_named(p), 2);
    }

    #[test]
    fn without_digests_co_senders_are_not_blamed() {
        let mut ban = SmartBan::default();
        for piece in 0..10 {
            assert!(
                ban.piece_failed(piece, &[PeerId(1), PeerId(2)], &[])
                    .is_empty()
            );
        }
        assert_eq!(ban.times_named(PeerId(1)) + ban.times_named(PeerId(2)), 0);
    }

    #[test]
    fn only_the_last_attempts_of_a_piece_are_kept() {
        let mut ban = SmartBan::default();
        let (a, b) = (PeerId(1), PeerId(2));
        for _ in 0..MAX_ATTEMPTS + 3 {
            ban.piece_failed(0, &[a, b], &[sent(1, true), GOOD]);
        }
        ban.piece_passed(0, &[GOOD, GOOD]);
        // Named once per kept attempt: banned after the second.
        assert_eq!(ban.times_named(a), NAMES_TO_BAN);
        assert!(ban.is_banned(a));
    }

    /// One failed or final attempt at a piece: each grain's sender and whether it
    /// corrupted the grain.
    type Grains = Vec<(u64, bool)>;

    fn attempts() -> impl Strategy<Value = (u64, Vec<Grains>)> {
        // Senders 0..6; those below `bad` are polluters, and only they corrupt.
        (1u64..6).prop_flat_map(|bad| {
            let grain = (0u64..6, any::<bool>()).prop_map(move |(s, c)| (s, c && s < bad));
            let attempt = prop::collection::vec(grain, 1..12);
            (Just(bad), prop::collection::vec(attempt, 1..6))
        })
    }

    proptest! {
        /// Over any history of a piece — attempts that fail because a polluter
        /// corrupted a grain, then one that verifies — the senders named are exactly
        /// the polluters of each failed attempt, once per attempt: never an honest
        /// sender, never a polluter whose grains were all good.
        #[test]
        fn names_are_exactly_the_polluters_of_each_failed_attempt((bad, history) in attempts()) {
            let grains = history[0].len();
            let mut ban = SmartBan::default();
            let mut expected: Vec<(u64, u32)> = Vec::new();
            let failed: Vec<&Grains> = history
                .iter()
                .filter(|a| a.len() == grains && a.iter().any(|g| g.1))
                .collect();
            // Only the last MAX_ATTEMPTS multi-sender attempts are remembered.
            let sole = |a: &Grains| a.iter().all(|g| g.0 == a[0].0);
            let remembered = failed.iter().filter(|a| !sole(a)).count();
            let mut skipped = remembered.saturating_sub(MAX_ATTEMPTS);
            for a in &failed {
                let senders: Vec<PeerId> = a.iter().map(|g| PeerId(g.0)).collect();
                let digests: Vec<GrainDigest> = a.iter().map(|g| sent(g.0, g.1)).collect();
                ban.piece_failed(3, &senders, &digests);
                if !sole(a) && skipped > 0 {
                    skipped -= 1;
                    continue;
                }
                let mut culprits: Vec<u64> = a.iter().filter(|g| g.1).map(|g| g.0).collect();
                if sole(a) {
                    culprits = vec![a[0].0];
                }
                culprits.sort_unstable();
                culprits.dedup();
                for c in culprits {
                    match expected.iter_mut().find(|e| e.0 == c) {
                        Some(e) => e.1 += 1,
                        None => expected.push((c, 1)),
                    }
                }
            }
            ban.piece_passed(3, &vec![GOOD; grains]);
            for s in 0..6u64 {
                let want = expected.iter().find(|e| e.0 == s).map_or(0, |e| e.1);
                // Naming stops once banned.
                let want = want.min(NAMES_TO_BAN);
                prop_assert_eq!(ban.times_named(PeerId(s)), want, "sender {}", s);
                prop_assert_eq!(ban.is_banned(PeerId(s)), want >= NAMES_TO_BAN);
                if s >= bad {
                    prop_assert_eq!(ban.times_named(PeerId(s)), 0);
                }
            }
        }
    }
}
