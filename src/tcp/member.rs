//! A session as one member of a laboratory swarm (`swarmlab run --backend tcp`): what it
//! is given ([`SwarmMember`]), what it reports back ([`Observation`]), and the peer ids
//! by which members recognise each other on the wire.

use super::clock::Clock;
use crate::core::{Dice, PeerConfig, PeerId, Strategies};
use crate::metrics::{LeaveReason, PeerIndex, PeerInfo};
use crate::scenario::population::Latencies;
use crate::units::{Bytes, Rate, SimDuration, SimTime};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// What a session needs when it is one member of a swarm.
#[derive(Clone)]
pub struct SwarmMember {
    /// Its index, group, role and capacities (scenario units).
    pub info: PeerInfo,
    /// Its core configuration, built as the simulator builds it
    /// ([`Member::peer_config`](crate::scenario::population::Member::peer_config)).
    pub config: PeerConfig,
    /// Its random stream: the simulator's for the same peer.
    pub dice: Dice,
    /// The strategies its policy names.
    pub strategies: Arc<Strategies>,
    /// The swarm's clock.
    pub clock: Clock,
    /// The latency of every link of the swarm, by member index (scenario time).
    pub latencies: Arc<Latencies>,
    /// How long it stays once complete (`None`: until the run ends).
    pub linger: Option<SimDuration>,
    /// When it gives up if still incomplete.
    pub abort_at: Option<SimTime>,
    /// Where its observations go.
    pub observe: mpsc::UnboundedSender<Observation>,
    /// Becomes true when the run ends.
    pub stop: watch::Receiver<bool>,
    /// Listening port → member index, filled in by each member as it binds (all listen
    /// on 127.0.0.1), so a tracker's address maps to the member, as in the simulator.
    pub ports: Arc<Mutex<HashMap<u16, u32>>>,
}

impl SwarmMember {
    /// Reports to the swarm's observer. The run may have ended and dropped its receiver:
    /// there is nothing to tell then.
    pub fn report(&self, at: SimTime, what: Observed) {
        let _ = self.observe.send(Observation {
            at,
            peer: self.info.peer,
            what,
        });
    }

    /// The member listening on `port`, if any.
    pub fn member_at(&self, port: u16) -> Option<u32> {
        self.ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&port)
            .copied()
    }
}

/// One thing a member reports, at a time of the swarm's clock (scenario time).
#[derive(Clone, Debug)]
pub struct Observation {
    /// When.
    pub at: SimTime,
    /// Who.
    pub peer: PeerIndex,
    /// What.
    pub what: Observed,
}

/// What a member reports (the [`Observer`](crate::metrics::Observer) calls, made by one
/// loop).
#[derive(Clone, Debug)]
pub enum Observed {
    /// It joined.
    Joined(PeerInfo),
    /// It verified a piece.
    Verified(u32),
    /// It completed the file.
    Completed,
    /// It left on its own.
    Left(LeaveReason),
    /// It sent a block to `to`, at its upload capacity `rate` from `start` until now.
    Flow {
        /// The receiver.
        to: PeerIndex,
        /// When the block started leaving.
        start: SimTime,
        /// Its upload capacity.
        rate: Rate,
    },
    /// It received a requested block from `from`.
    Block {
        /// The sender.
        from: PeerIndex,
        /// Block length.
        bytes: Bytes,
    },
    /// A piece it received failed its check, and was thrown away.
    Failed {
        /// The piece.
        piece: u32,
        /// Its size.
        bytes: Bytes,
    },
    /// It banned this member (proven twice to have sent it bad data).
    Banned(PeerIndex),
    /// Its session ended (reported by the swarm, not the session), with its error.
    Ended(Option<String>),
}

/// The peer id of swarm member `index`: `-SL0100-` and 12 decimal digits, so a
/// receiver knows which member a connection is from.
pub fn swarm_peer_id(index: u32) -> [u8; 20] {
    let mut id = *b"-SL0100-000000000000";
    let digits = format!("{index:012}");
    id[8..].copy_from_slice(digits.as_bytes());
    id
}

/// The member index in a [`swarm_peer_id`] (`None` for any other peer id).
pub fn index_of_peer_id(id: &[u8; 20]) -> Option<u32> {
    let digits = id.strip_prefix(b"-SL0100-")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The core's id of swarm member `index`: apart from the ids the host gives other peers
/// (numbered from 1), so the two never collide.
pub fn member_peer_id(index: u32) -> PeerId {
    PeerId(MEMBER_ID_TAG | u64::from(index))
}

/// The member a core id of [`member_peer_id`] stands for (`None` for other peers).
pub fn member_of_peer_id(id: PeerId) -> Option<u32> {
    (id.0 & !u64::from(u32::MAX) == MEMBER_ID_TAG)
        .then(|| u32::try_from(id.0 & u64::from(u32::MAX)).ok())?
}

/// The bit that marks a core id as a swarm member's.
const MEMBER_ID_TAG: u64 = 1 << 40;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_round_trip() {
        for i in [0, 7, 123_456, u32::MAX] {
            assert_eq!(index_of_peer_id(&swarm_peer_id(i)), Some(i));
        }
        assert_eq!(index_of_peer_id(b"-SL0100-abcdefghijkl"), None);
        assert_eq!(index_of_peer_id(b"-qB4250-000000000001"), None);
        for i in [0, 7, u32::MAX] {
            assert_eq!(member_of_peer_id(member_peer_id(i)), Some(i));
        }
        assert_eq!(member_of_peer_id(PeerId(7)), None);
    }
}
