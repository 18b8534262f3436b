//! Chokers: whom a peer uploads to. Every rechoke interval the peer hands its choker the
//! current connections with their measured rates, and the choker answers with the set
//! to unchoke; everyone else is choked.
//!
//! Adding a strategy is a small file: implement [`Choker`] and register it under a name
//! in a [`Strategies`](crate::core::Strategies) registry — the built-in ones are
//! registered in [`Strategies::builtin`](crate::core::Strategies::builtin), a user's own
//! from its crate (see `examples/custom_choker.rs`).
//!
//! Besides the set to unchoke, a choker may say how to split our upload among the
//! unchoked ([`Choker::weight`]: PropShare and BitTyrant give unequal shares) and how
//! many peers may be unchoked between rechokes when they become interested
//! ([`Choker::slots`]: the altruist serves everyone). Both have defaults that keep the
//! mainline behaviour: equal shares, `upload_slots + optimistic_slots` peers. A host
//! that cannot weight its uploads (the tcp backend) simply ignores the weights.

mod altruistic;
mod anti_snubbing;
mod bittyrant;
mod fastest_upload;
mod propshare;
mod random;
mod round_robin;
mod tit_for_tat;

pub use altruistic::Altruistic;
pub use anti_snubbing::AntiSnubbing;
pub use bittyrant::BitTyrant;
pub use fastest_upload::FastestUpload;
pub use propshare::PropShare;
pub use random::RandomChoker;
pub use round_robin::RoundRobin;
pub use tit_for_tat::TitForTat;

use super::id::ConnId;
use super::random::Dice;
use crate::core::config::Policy;
use crate::units::{SimDuration, SimTime};

/// One connection as a choker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The connection.
    pub conn: ConnId,
    /// It wants something we have.
    pub interested: bool,
    /// We are currently unchoking it.
    pub unchoked: bool,
    /// Bytes per second it sent us over the rate window.
    pub download_rate: u64,
    /// Bytes per second we sent it over the rate window.
    pub upload_rate: u64,
    /// When the connection opened.
    pub connected_at: SimTime,
    /// When it last delivered a block to us (`None`: never).
    pub last_piece_at: Option<SimTime>,
    /// It is unchoking us now.
    pub unchokes_us: bool,
    /// Bytes per second it has been downloading since we connected, judged from the
    /// pieces it announced to us (HAVE messages): BitTyrant's estimate of a peer's
    /// capacity before it sends us anything.
    pub announce_rate: u64,
}

/// The weight of an unchoked connection whose choker does not weight uploads: every
/// unchoked connection gets an equal share of the upload capacity.
pub const EQUAL_WEIGHT: u32 = 1;

/// An unchoking strategy: whom a peer uploads to.
///
/// # Contract
///
/// * The peer calls [`Choker::rechoke`] every `policy.rechoke_interval` (and once when it
///   completes, handing over to its seed choker), with every open connection as a
///   [`Candidate`] — rates measured over `policy.rate_window`, in bytes per second — and
///   unchokes exactly the connections the choker appends to `unchoke`; everyone else is
///   choked. Uninterested candidates may be appended (they get an unchoke to use when
///   they become interested) but hold no slot.
/// * Between rechokes the peer itself fills free slots (a newly interested neighbour
///   when fewer than [`Choker::slots`] interested peers are unchoked) and trims slots
///   that became oversubscribed; the choker is not called then, but
///   [`Choker::weight`] is asked for the newly unchoked connection.
/// * Connection ids are slots, reused after a connection closes: a choker that keeps
///   per-connection state must tell a new connection from an old one by
///   [`Candidate::connected_at`].
/// * Randomness comes from `dice` only, and nothing may depend on hash-map iteration
///   order: the same candidates and dice give the same answer, or runs stop being
///   reproducible.
/// * `now` never goes backwards. A choker owns no clock and no I/O, so the same choker
///   runs in the simulator and over real sockets.
pub trait Choker {
    /// Chooses the connections to unchoke at `now`, appending them to `unchoke` (which
    /// arrives empty).
    fn rechoke(
        &mut self,
        now: SimTime,
        candidates: &[Candidate],
        dice: &mut Dice,
        unchoke: &mut Vec<ConnId>,
    );

    /// The relative share of our upload capacity `conn` should get while unchoked, as
    /// decided at the last rechoke (a host gives each unchoked connection
    /// `capacity · weight / Σ weights`). Connections the choker has no opinion on (for
    /// instance unchoked between rechokes) get [`EQUAL_WEIGHT`]-like defaults chosen by
    /// the choker. The default is equal shares.
    fn weight(&self, conn: ConnId) -> u32 {
        let _ = conn;
        EQUAL_WEIGHT
    }

    /// How many interested peers may be unchoked at once between rechokes, when a peer
    /// becomes interested and slots are free. `None` (the default) means the policy's
    /// `upload_slots + optimistic_slots`; `Some(usize::MAX)` means no limit.
    fn slots(&self) -> Option<usize> {
        None
    }
}

/// Ranks interested candidates by `key`, highest first; ties go to connections already
/// unchoked (so equal peers are not churned), then to the RNG.
pub fn rank_interested(
    candidates: &[Candidate],
    dice: &mut Dice,
    key: impl Fn(&Candidate) -> u64,
) -> Vec<Candidate> {
    let mut ranked: Vec<Candidate> = candidates
        .iter()
        .filter(|c| c.interested)
        .copied()
        .collect();
    dice.shuffle(&mut ranked);
    ranked.sort_by_key(|c| std::cmp::Reverse((key(c), c.unchoked)));
    ranked
}

/// The mainline shape shared by tit-for-tat and the fastest-upload seed choker: the
/// `upload_slots` interested peers ranked highest by a rate, plus optimistic unchokes.
/// The two differ only in the rate they rank by.
#[derive(Clone, Debug)]
pub struct RankedSlots {
    slots: usize,
    optimistic: Optimistic,
}

impl RankedSlots {
    /// Slots and intervals from the policy.
    pub fn new(policy: &Policy) -> RankedSlots {
        RankedSlots {
            slots: policy.upload_slots as usize,
            optimistic: Optimistic::new(policy.optimistic_slots, policy.optimistic_interval),
        }
    }

    /// Unchokes the top `upload_slots` interested candidates by `rate`, then the
    /// optimistic ones.
    pub fn rechoke(
        &mut self,
        now: SimTime,
        candidates: &[Candidate],
        dice: &mut Dice,
        unchoke: &mut Vec<ConnId>,
        rate: impl Fn(&Candidate) -> u64,
    ) {
        let ranked = rank_interested(candidates, dice, rate);
        unchoke.extend(ranked.iter().take(self.slots).map(|c| c.conn));
        self.optimistic.choose(now, candidates, dice, unchoke);
    }
}

/// Optimistic unchoking shared by the chokers that use it: keeps `slots` random
/// interested peers outside the regular set unchoked, drawing new ones every
/// `interval`, or sooner when one leaves or becomes regular.
#[derive(Clone, Debug)]
pub struct Optimistic {
    slots: usize,
    interval: SimDuration,
    current: Vec<ConnId>,
    next_rotation: SimTime,
}

impl Optimistic {
    /// `slots` optimistic unchokes rotated every `interval`.
    pub fn new(slots: u32, interval: SimDuration) -> Optimistic {
        Optimistic {
            slots: slots as usize,
            interval,
            current: Vec::new(),
            next_rotation: SimTime::ZERO,
        }
    }

    /// Adds the optimistic picks to `unchoke`, which holds the regular ones.
    pub fn choose(
        &mut self,
        now: SimTime,
        candidates: &[Candidate],
        dice: &mut Dice,
        unchoke: &mut Vec<ConnId>,
    ) {
        if now >= self.next_rotation {
            self.current.clear();
            self.next_rotation = now + self.interval;
        }
        let eligible = |conn: ConnId, unchoke: &Vec<ConnId>| {
            !unchoke.contains(&conn) && candidates.iter().any(|c| c.conn == conn && c.interested)
        };
        self.current.retain(|&c| eligible(c, unchoke));
        let mut pool: Vec<ConnId> = candidates
            .iter()
            .filter(|c| {
                c.interested && !unchoke.contains(&c.conn) && !self.current.contains(&c.conn)
            })
            .map(|c| c.conn)
            .collect();
        while self.current.len() < self.slots && !pool.is_empty() {
            let i = dice.index(pool.len());
            self.current.push(pool.swap_remove(i));
        }
        unchoke.extend_from_slice(&self.current);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A candidate on connection `id`, interested, sending us `down` and receiving `up` B/s.
    pub(crate) fn cand(id: u32, down: u64, up: u64) -> Candidate {
        Candidate {
            conn: ConnId(id),
            interested: true,
            unchoked: false,
            download_rate: down,
            upload_rate: up,
            connected_at: SimTime::ZERO,
            last_piece_at: None,
            unchokes_us: false,
            announce_rate: 0,
        }
    }

    /// Seconds as a [`SimTime`], for fake clocks in choker tests.
    pub(crate) fn at(secs: u64) -> SimTime {
        SimTime(secs * 1_000_000)
    }
}
