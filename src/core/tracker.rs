//! Tracker logic: who is in the swarm, and a sample of them for each announce — at
//! random, or biased towards the announcing peer's region (Bindal et al., ICDCS 2006,
//! "Improving traffic locality in BitTorrent via biased neighbor selection"). The
//! simulator calls it directly; the tcp backend serves it over HTTP.

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

/// How a tracker picks the peers it returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Bias {
    /// Uniformly among the other members.
    #[default]
    Random,
    /// All but `external` from the announcing peer's own region, as many as it has,
    /// and `external` from other regions (Bindal et al.).
    Locality {
        /// Peers returned from other regions.
        external: u32,
    },
}

/// A region of the network, as the tracker sees it: an index the host assigns (the
/// scenario's regions in order). One region, 0, unless the host says otherwise.
pub type RegionIndex = u32;

/// The swarm membership and the sampling of peer lists.
#[derive(Clone, Debug)]
pub struct Tracker {
    members: Vec<PeerId>,
    /// The region of each member, in step with `members`.
    regions: Vec<RegionIndex>,
    peers_per_announce: usize,
    bias: Bias,
}

impl Tracker {
    /// A tracker handing out at most `peers_per_announce` random peers per announce.
    pub fn new(peers_per_announce: u32) -> Tracker {
        Tracker::biased(peers_per_announce, Bias::Random)
    }

    /// A tracker handing out at most `peers_per_announce` peers, picked by `bias`.
    pub fn biased(peers_per_announce: u32, bias: Bias) -> Tracker {
        Tracker {
            members: Vec::new(),
            regions: Vec::new(),
            peers_per_announce: peers_per_announce as usize,
            bias,
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

    /// Handles an announce from a peer of region 0 (see [`Tracker::announce_from`]).
    pub fn announce(
        &mut self,
        peer: PeerId,
        event: AnnounceEvent,
        numwant: usize,
        dice: &mut Dice,
    ) -> Vec<PeerId> {
        self.announce_from(peer, 0, event, numwant, dice)
    }

    /// Handles an announce from `peer` of `region` and returns up to
    /// `min(numwant, peers_per_announce)` other members picked by the tracker's bias
    /// (none for `Stopped`). A member keeps the region of its first announce.
    pub fn announce_from(
        &mut self,
        peer: PeerId,
        region: RegionIndex,
        event: AnnounceEvent,
        numwant: usize,
        dice: &mut Dice,
    ) -> Vec<PeerId> {
        let known = self.members.iter().position(|&m| m == peer);
        match (event, known) {
            (AnnounceEvent::Stopped, Some(i)) => {
                // Order does not matter for sampling, but keep it deterministic.
                self.remove(i);
                return Vec::new();
            }
            (AnnounceEvent::Stopped, None) => return Vec::new(),
            (_, None) => {
                self.members.push(peer);
                self.regions.push(region);
            }
            (_, Some(_)) => {}
        }
        let want = numwant.min(self.peers_per_announce);
        match self.bias {
            Bias::Random => self.sample(peer, want, dice),
            Bias::Locality { external } => {
                self.sample_local(peer, region, want, external as usize, dice)
            }
        }
    }

    /// Forgets a peer without an announce (it vanished).
    pub fn forget(&mut self, peer: PeerId) {
        if let Some(i) = self.members.iter().position(|&m| m == peer) {
            self.remove(i);
        }
    }

    fn remove(&mut self, i: usize) {
        self.members.swap_remove(i);
        self.regions.swap_remove(i);
    }

    /// Up to `want` peers: `external` (or as many as there are) from other regions,
    /// the rest from `region`. A region short of members gives a shorter list rather
    /// than one made up from outside: filling it from outside would hand the first
    /// arrivals of a flash crowd (whose regions are still empty) unbiased lists, and
    /// their links between regions carry much of the file (docs/findings.md).
    fn sample_local(
        &self,
        peer: PeerId,
        region: RegionIndex,
        want: usize,
        external: usize,
        dice: &mut Dice,
    ) -> Vec<PeerId> {
        let (mut inside, mut outside): (Vec<(PeerId, RegionIndex)>, _) = self
            .members
            .iter()
            .copied()
            .zip(self.regions.iter().copied())
            .filter(|&(m, _)| m != peer)
            .partition(|&(_, r)| r == region);
        let from_outside = external.min(outside.len()).min(want);
        let from_inside = (want - from_outside).min(inside.len());
        let mut out = take_random(&mut inside, from_inside, dice);
        out.extend(take_random(&mut outside, from_outside, dice));
        out
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

/// `n` of `items` drawn without replacement (a partial Fisher–Yates shuffle).
fn take_random(items: &mut [(PeerId, RegionIndex)], n: usize, dice: &mut Dice) -> Vec<PeerId> {
    let n = n.min(items.len());
    for i in 0..n {
        let j = i + dice.index(items.len() - i);
        items.swap(i, j);
    }
    items[..n].iter().map(|&(m, _)| m).collect()
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

    /// Peers 0..20 in region 0, 20..30 in region 1, 30..32 in region 2.
    fn regional(bias: Bias, per_announce: u32, dice: &mut Dice) -> Tracker {
        let mut t = Tracker::biased(per_announce, bias);
        for i in 0..32u64 {
            let region = match i {
                0..20 => 0,
                20..30 => 1,
                _ => 2,
            };
            t.announce_from(PeerId(i), region, AnnounceEvent::Started, 0, dice);
        }
        t
    }

    fn region_of(p: PeerId) -> RegionIndex {
        match p.0 {
            0..20 => 0,
            20..30 => 1,
            _ => 2,
        }
    }

    #[test]
    fn locality_returns_all_but_external_from_the_own_region() {
        let mut dice = Dice::new(7, 0);
        let mut t = regional(Bias::Locality { external: 2 }, 8, &mut dice);
        for _ in 0..50 {
            let got = t.announce_from(PeerId(3), 0, AnnounceEvent::Periodic, 50, &mut dice);
            assert_eq!(got.len(), 8);
            let local = got.iter().filter(|&&p| region_of(p) == 0).count();
            assert_eq!(local, 6, "{got:?}");
            assert!(!got.contains(&PeerId(3)));
            let mut unique = got.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 8);
        }
    }

    #[test]
    fn a_short_region_gives_a_short_list() {
        let mut dice = Dice::new(7, 0);
        let mut t = regional(Bias::Locality { external: 2 }, 8, &mut dice);
        // Region 2 has one other member: it and 2 from outside.
        let got = t.announce_from(PeerId(30), 2, AnnounceEvent::Periodic, 50, &mut dice);
        assert_eq!(got.len(), 3);
        assert_eq!(got.iter().filter(|&&p| region_of(p) == 2).count(), 1);
        // Asking for everyone gets everyone, biased or not.
        let mut t = regional(Bias::Locality { external: 40 }, 50, &mut dice);
        let got = t.announce_from(PeerId(0), 0, AnnounceEvent::Periodic, 50, &mut dice);
        assert_eq!(got.len(), 31);
    }

    #[test]
    fn random_bias_ignores_regions_and_draws_as_before() {
        // The unbiased tracker's draws must not change with regions: results of
        // scenarios without them stay byte-identical.
        let (mut a, mut b) = (Tracker::new(5), Tracker::new(5));
        let (mut da, mut db) = (Dice::new(3, 1), Dice::new(3, 1));
        for i in 0..40u64 {
            a.announce(PeerId(i), AnnounceEvent::Started, 50, &mut da);
            b.announce_from(
                PeerId(i),
                (i % 3) as u32,
                AnnounceEvent::Started,
                50,
                &mut db,
            );
        }
        assert_eq!(
            a.announce(PeerId(1), AnnounceEvent::Periodic, 50, &mut da),
            b.announce_from(PeerId(1), 1, AnnounceEvent::Periodic, 50, &mut db)
        );
    }

    #[test]
    fn leaving_keeps_regions_in_step() {
        let mut dice = Dice::new(7, 0);
        let mut t = regional(Bias::Locality { external: 0 }, 50, &mut dice);
        for i in 0..10 {
            t.announce(PeerId(i), AnnounceEvent::Stopped, 0, &mut dice);
        }
        t.forget(PeerId(25));
        let got = t.announce_from(PeerId(21), 1, AnnounceEvent::Periodic, 50, &mut dice);
        // External 0: the 8 others left in region 1, none from outside.
        assert_eq!(got.len(), 8);
        assert!(got.iter().all(|&p| region_of(p) == 1), "{got:?}");
        assert!(!got.contains(&PeerId(25)) && !got.contains(&PeerId(2)));
    }
}
