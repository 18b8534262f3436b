//! Tracker logic: who is in the swarm, and a random sample of them for each announce.
//! The simulator calls it directly; the tcp backend serves it over HTTP.

use super::id::PeerId;
use super::random::Dice;

/// Why a peer announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnnounceEvent {
    /// Joining the swarm.
    Started,
    /// Just completed the download.
    Completed,
    /// Leaving.
    Stopped,
    /// A regular (or early) re-announce.
    Periodic,
}

/// The swarm membership and the sampling of peer lists.
#[derive(Clone, Debug)]
pub struct Tracker {
    members: Vec<PeerId>,
    peers_per_announce: usize,
}

impl Tracker {
    /// A tracker handing out at most `peers_per_announce` peers per announce.
    pub fn new(peers_per_announce: u32) -> Tracker {
        Tracker {
            members: Vec::new(),
            peers_per_announce: peers_per_announce as usize,
        }
    }

    /// Number of peers in the swarm.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when nobody is in the swarm.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Handles an announce and returns up to `min(numwant, peers_per_announce)` other
    /// members drawn at random (none for `Stopped`).
    pub fn announce(
        &mut self,
        peer: PeerId,
        event: AnnounceEvent,
        numwant: usize,
        dice: &mut Dice,
    ) -> Vec<PeerId> {
        let known = self.members.iter().position(|&m| m == peer);
        match (event, known) {
            (AnnounceEvent::Stopped, Some(i)) => {
                // Order does not matter for sampling, but keep it deterministic.
                self.members.swap_remove(i);
                return Vec::new();
            }
            (AnnounceEvent::Stopped, None) => return Vec::new(),
            (_, None) => self.members.push(peer),
            (_, Some(_)) => {}
        }
        self.sample(peer, numwant.min(self.peers_per_announce), dice)
    }

    /// Forgets a peer without an announce (it vanished).
    pub fn forget(&mut self, peer: PeerId) {
        if let Some(i) = self.members.iter().position(|&m| m == peer) {
            self.members.swap_remove(i);
        }
    }

    fn sample(&self, peer: PeerId, want: usize, dice: &mut Dice) -> Vec<PeerId> {
        let others = self.members.len().saturating_sub(1);
        if want >= others {
            let mut all: Vec<PeerId> = self
                .members
                .iter()
                .copied()
                .filter(|&m| m != peer)
                .collect();
            dice.shuffle(&mut all);
            return all;
        }
        // Few out of many: draw indices and reject repeats (want is small).
        let mut out = Vec::with_capacity(want);
        while out.len() < want {
            let m = self.members[dice.index(self.members.len())];
            if m != peer && !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announces_return_random_others() {
        let mut t = Tracker::new(3);
        let mut dice = Dice::new(1, 0);
        for i in 0..10 {
            t.announce(PeerId(i), AnnounceEvent::Started, 50, &mut dice);
        }
        let got = t.announce(PeerId(0), AnnounceEvent::Periodic, 50, &mut dice);
        assert_eq!(got.len(), 3);
        assert!(!got.contains(&PeerId(0)));
        let mut sorted = got.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 3);
        t.announce(PeerId(5), AnnounceEvent::Stopped, 0, &mut dice);
        assert_eq!(t.len(), 9);
        for _ in 0..50 {
            assert!(
                !t.announce(PeerId(1), AnnounceEvent::Periodic, 50, &mut dice)
                    .contains(&PeerId(5))
            );
        }
    }

    #[test]
    fn small_swarms_get_everyone() {
        let mut t = Tracker::new(50);
        let mut dice = Dice::new(1, 0);
        assert!(
            t.announce(PeerId(1), AnnounceEvent::Started, 50, &mut dice)
                .is_empty()
        );
        t.announce(PeerId(2), AnnounceEvent::Started, 50, &mut dice);
        assert_eq!(
            t.announce(PeerId(1), AnnounceEvent::Periodic, 50, &mut dice),
            vec![PeerId(2)]
        );
    }
}
