//! Tit-for-tat with BitTorrent mainline's anti-snubbing rule (Cohen, "Incentives Build
//! Robustness in BitTorrent", 2003, section 3.4, and mainline 3.x's `Choker.py`): a peer
//! that has sent us nothing for 60 s although we unchoked it "snubs" us. It no longer
//! counts as reciprocating — it loses its regular slot, however fast it once was — and
//! we open one extra optimistic unchoke to look for a better partner. (It can still win
//! an optimistic slot by luck, as mainline allows.)
//!
//! Time since a peer last sent us a block comes from [`Candidate::last_piece_at`]; the
//! time we unchoked it is remembered here, so a peer is never snubbed before we have
//! given it 60 s to answer.

use super::{Candidate, Choker, Optimistic, rank_interested};
use crate::core::config::Policy;
use crate::core::id::ConnId;
use crate::core::random::Dice;
use crate::units::{SimDuration, SimTime};

/// Silence, while unchoked by us, after which a peer snubs us (mainline: 60 s).
pub(super) const SNUB_AFTER: SimDuration = SimDuration::from_secs(60);

/// Tit-for-tat that drops snubbing peers from the regular slots.
#[derive(Clone, Debug)]
pub struct AntiSnubbing {
    slots: usize,
    optimistic: Optimistic,
    /// The extra optimistic slot used while someone snubs us.
    extra: Optimistic,
    /// When we (first) unchoked each currently unchoked connection.
    unchoked_since: Vec<(ConnId, SimTime)>,
}

impl AntiSnubbing {
    /// Slots and intervals from the policy.
    pub fn new(policy: &Policy) -> AntiSnubbing {
        AntiSnubbing {
            slots: policy.upload_slots as usize,
            optimistic: Optimistic::new(policy.optimistic_slots, policy.optimistic_interval),
            extra: Optimistic::new(1, policy.optimistic_interval),
            unchoked_since: Vec::new(),
        }
    }

    fn since(&self, conn: ConnId) -> Option<SimTime> {
        self.unchoked_since
            .iter()
            .find(|(c, _)| *c == conn)
            .map(|&(_, t)| t)
    }

    /// True when `c` is unchoked by us and has been silent for [`SNUB_AFTER`] of it.
    fn snubs(&self, now: SimTime, c: &Candidate) -> bool {
        let Some(since) = self.since(c.conn).filter(|_| c.unchoked) else {
            return false;
        };
        let heard = c.last_piece_at.map_or(since, |t| t.max(since));
        now >= heard + SNUB_AFTER
    }
}

impl Choker for AntiSnubbing {
    fn rechoke(
        &mut self,
        now: SimTime,
        candidates: &[Candidate],
        dice: &mut Dice,
        unchoke: &mut Vec<ConnId>,
    ) {
        // Forget connections that are gone or choked; a connection unchoked between
        // rechokes (by the host filling free slots) starts its clock now.
        self.unchoked_since
            .retain(|(conn, _)| candidates.iter().any(|c| c.conn == *conn && c.unchoked));
        for c in candidates.iter().filter(|c| c.unchoked) {
            if self.since(c.conn).is_none() {
                self.unchoked_since.push((c.conn, now));
            }
        }
        let snubbed: Vec<ConnId> = candidates
            .iter()
            .filter(|c| c.interested && self.snubs(now, c))
            .map(|c| c.conn)
            .collect();
        let ranked = rank_interested(candidates, dice, |c| c.download_rate);
        unchoke.extend(
            ranked
                .iter()
                .filter(|c| !snubbed.contains(&c.conn))
                .take(self.slots)
                .map(|c| c.conn),
        );
        self.optimistic.choose(now, candidates, dice, unchoke);
        if !snubbed.is_empty() {
            self.extra.choose(now, candidates, dice, unchoke);
        }
        for &conn in unchoke.iter() {
            if self.since(conn).is_none() {
                self.unchoked_since.push((conn, now));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::choker::tests::{at, cand};

    /// Marks the candidates in `out` unchoked (as the host would after a rechoke).
    fn apply(cands: &mut [Candidate], out: &[ConnId]) {
        for c in cands.iter_mut() {
            c.unchoked = out.contains(&c.conn);
        }
    }

    #[test]
    fn a_silent_fast_peer_loses_its_slot_after_sixty_seconds() {
        let mut ch = AntiSnubbing::new(&Policy::default());
        let mut dice = Dice::new(7, 0);
        // Peer 0 is by far the fastest over the rate window, but its last block arrived
        // at t = 0; peers 1..4 keep sending. Twenty slow peers wait.
        let mut cands: Vec<Candidate> = (0..25)
            .map(|i| {
                let mut c = cand(i, if i == 0 { 1_000_000 } else { 0 }, 0);
                if (1..5).contains(&i) {
                    c.download_rate = 1000;
                }
                c.last_piece_at = Some(at(0));
                c
            })
            .collect();
        let mut out = Vec::new();
        ch.rechoke(at(0), &cands, &mut dice, &mut out);
        assert_eq!(out.len(), 5);
        assert_eq!(out[0], ConnId(0));
        apply(&mut cands, &out);
        for t in [10, 20, 30, 40, 50] {
            for c in cands.iter_mut().filter(|c| (1..5).contains(&c.conn.0)) {
                c.last_piece_at = Some(at(t));
            }
            out.clear();
            ch.rechoke(at(t), &cands, &mut dice, &mut out);
            assert!(out[..4].contains(&ConnId(0)), "t={t}: not yet snubbed");
            assert_eq!(out.len(), 5);
            apply(&mut cands, &out);
        }
        for c in cands.iter_mut().filter(|c| (1..5).contains(&c.conn.0)) {
            c.last_piece_at = Some(at(60));
        }
        out.clear();
        ch.rechoke(at(60), &cands, &mut dice, &mut out);
        // Peer 0 is out of the regular four, and two optimistic slots are open.
        assert!(!out[..4].contains(&ConnId(0)), "{out:?}");
        assert_eq!(out.len(), 6, "an extra optimistic slot: {out:?}");
    }

    #[test]
    fn a_peer_just_unchoked_is_not_snubbed() {
        let mut ch = AntiSnubbing::new(&Policy::default());
        // Connected and silent for five minutes, but only now unchoked by us.
        let mut c = cand(0, 5000, 0);
        c.last_piece_at = None;
        let mut out = Vec::new();
        ch.rechoke(at(300), &[c], &mut Dice::new(1, 0), &mut out);
        assert_eq!(out, vec![ConnId(0)]);
        c.unchoked = true;
        out.clear();
        ch.rechoke(at(310), &[c], &mut Dice::new(1, 0), &mut out);
        assert!(!ch.snubs(at(310), &c));
        assert!(ch.snubs(at(360), &c));
    }
}
