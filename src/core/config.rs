//! The core's configuration types: what a peer is ([`Role`]), how it behaves
//! ([`Policy`]), how many neighbours it keeps ([`Neighbourhood`]) and the whole of a
//! peer's static settings ([`PeerConfig`]).
//!
//! The core owns these types, as quinn-proto owns its `TransportConfig`: the scenario
//! format parses into them and the tcp host fills them from its command line, so the
//! file format never defines what a peer is. Every default here is the one a scenario
//! file gets when it leaves a key out, and the one `swarmlab seed`/`get` run with.

use super::geometry::{Geometry, WIRE_BLOCK_LEN};
use super::id::PeerId;
use super::name::{StrategyName, builtin};
use crate::units::{Rate, SimDuration, mul_div};

/// What a peer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Starts with the whole file.
    Seed,
    /// Starts with nothing and downloads.
    Leecher,
    /// Downloads but never uploads.
    FreeRider,
}

impl Role {
    /// Every role, in the order help texts list them.
    pub const ALL: [Role; 3] = [Role::Seed, Role::Leecher, Role::FreeRider];

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Seed => "seed",
            Role::Leecher => "leecher",
            Role::FreeRider => "free-rider",
        }
    }
}

/// How often a peer corrupts what it sends: the probability that each grain (16 KiB
/// wire block; see [`Geometry`]) of a block it sends is altered — a polluter, or a peer
/// with a faulty disk. Honest peers have [`Corruption::NONE`] and draw nothing for it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Corruption(f64);

impl Corruption {
    /// An honest peer.
    pub const NONE: Corruption = Corruption(0.0);

    /// Corruption with probability `p`, if `0 <= p <= 1`.
    pub fn new(p: f64) -> Option<Corruption> {
        (0.0..=1.0).contains(&p).then_some(Corruption(p))
    }

    /// The probability that a grain it sends is corrupt.
    pub fn probability(self) -> f64 {
        self.0
    }

    /// Whether it ever corrupts anything.
    pub fn corrupts(self) -> bool {
        self.0 > 0.0
    }
}

/// How many block requests a peer keeps outstanding on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipeline {
    /// A fixed number of requests, counted in 16 KiB wire blocks.
    Fixed(u32),
    /// Sized to the connection (`pipeline = "auto"`, the default): enough 16 KiB
    /// requests to keep [`Pipeline::AUTO_QUEUE_TIME`] of data coming at the rate
    /// measured from that neighbour over the rate window, between
    /// [`Pipeline::AUTO_FLOOR`] and [`Pipeline::AUTO_CEILING`]. A fixed depth is too
    /// shallow for a fast or slow-answering partner (the queue must cover the
    /// bandwidth-delay product) and too deep for a slow one (requests made long before
    /// the data comes pin pieces to it); real clients size the queue this way.
    Auto,
}

impl Pipeline {
    /// The data an automatic pipeline keeps on order, in seconds at the measured rate:
    /// libtorrent's `request_queue_time` (3 s).
    pub const AUTO_QUEUE_TIME: SimDuration = SimDuration::from_secs(3);
    /// The fewest requests an automatic pipeline keeps out (libtorrent's minimum): the
    /// next is asked for while one arrives. A new connection starts here, and the
    /// queue grows as data comes (each window, by about the queue time over the round
    /// trip).
    pub const AUTO_FLOOR: u32 = 2;
    /// The most requests an automatic pipeline keeps out: 250, 4 MiB of 16 KiB blocks
    /// (libtorrent would go to 500). Not more, because a peer that queues fewer
    /// drops the rest unanswered and the download stalls: swarmlab's own peers queue
    /// 256, and BEP 10 gives 250 as the usual `reqq`.
    pub const AUTO_CEILING: u32 = 250;

    /// Requests (counted in 16 KiB wire blocks) to keep out on a connection that
    /// delivers `bytes_per_sec`.
    pub fn wire_blocks(self, bytes_per_sec: u64) -> u32 {
        match self {
            Pipeline::Fixed(n) => n,
            Pipeline::Auto => {
                let queued = mul_div(bytes_per_sec, Self::AUTO_QUEUE_TIME.0, 1_000_000);
                let blocks = queued.div_ceil(u64::from(WIRE_BLOCK_LEN));
                let blocks = u32::try_from(blocks).unwrap_or(u32::MAX);
                blocks.clamp(Self::AUTO_FLOOR, Self::AUTO_CEILING)
            }
        }
    }
}

/// A peer's policy: which strategies it runs and their knobs (the `[policy]` table of a
/// scenario, or a group's copy of it with overrides).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Piece picker.
    pub picker: StrategyName,
    /// The first this-many pieces are picked at random, to get something to trade soon.
    pub random_first: u32,
    /// Request the last blocks from every peer that has them.
    pub endgame: bool,
    /// Choker while downloading.
    pub choker: StrategyName,
    /// Regular unchoke slots.
    pub upload_slots: u32,
    /// Optimistic unchoke slots.
    pub optimistic_slots: u32,
    /// Time between rechokes.
    pub rechoke_interval: SimDuration,
    /// Time between optimistic rotations.
    pub optimistic_interval: SimDuration,
    /// Window over which transfer rates are measured.
    pub rate_window: SimDuration,
    /// Choker once complete.
    pub seed_choker: StrategyName,
    /// Outstanding block requests per connection.
    pub pipeline: Pipeline,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            picker: builtin::RAREST_FIRST,
            random_first: 4,
            endgame: true,
            choker: builtin::TIT_FOR_TAT,
            upload_slots: 4,
            optimistic_slots: 1,
            rechoke_interval: SimDuration::from_secs(10),
            optimistic_interval: SimDuration::from_secs(30),
            rate_window: SimDuration::from_secs(20),
            seed_choker: builtin::FASTEST_UPLOAD,
            pipeline: Pipeline::Auto,
        }
    }
}

/// How a peer finds and keeps neighbours: the `[tracker]` table of a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbourhood {
    /// Peers asked of the tracker per announce.
    pub peers_per_announce: u32,
    /// Time between regular announces, unless the tracker says otherwise.
    pub announce_interval: SimDuration,
    /// Below this many connections a leecher re-announces early.
    pub min_neighbours: u32,
    /// Connections a peer keeps at most.
    pub max_neighbours: u32,
}

impl Default for Neighbourhood {
    fn default() -> Neighbourhood {
        Neighbourhood {
            peers_per_announce: 50,
            announce_interval: SimDuration::from_secs(30 * 60),
            min_neighbours: 20,
            max_neighbours: 80,
        }
    }
}

/// The static settings of one peer.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// Our own identity, as the host names peers.
    pub id: PeerId,
    /// The number both ends of a crossed dial compare: when two peers dial each other
    /// at once, both keep the connection dialled by the peer with the smaller rank. The
    /// host gives every peer a rank its neighbours can compute too (the simulator: the
    /// peer's index; tcp: a hash of the handshake's peer id).
    pub dial_rank: u64,
    /// The torrent's shape.
    pub geometry: Geometry,
    /// Strategies and their knobs.
    pub policy: Policy,
    /// Seed, leecher or free-rider.
    pub role: Role,
    /// Neighbour limits and the announce schedule.
    pub neighbourhood: Neighbourhood,
    /// Our upload capacity, when the host knows it (the simulator draws it; tcp knows its
    /// limit): chokers that budget upload (BitTyrant) use it, and estimate it from rates
    /// without it.
    pub upload_capacity: Option<Rate>,
    /// How often the blocks it sends are corrupt (a polluter).
    pub corrupt: Corruption,
    /// Whether others can dial us. A peer behind a NAT or firewall (`false`) only dials
    /// out: it refuses every inbound connection, so two such peers never connect,
    /// though the tracker lists both.
    pub connectable: bool,
}

impl PeerConfig {
    /// A peer with the default policy and neighbourhood (what `swarmlab seed` and `get`
    /// run, and what a scenario gets when it sets nothing): its rank is its id.
    pub fn new(id: PeerId, geometry: Geometry, role: Role) -> PeerConfig {
        PeerConfig {
            id,
            dial_rank: id.0,
            geometry,
            policy: Policy::default(),
            role,
            neighbourhood: Neighbourhood::default(),
            upload_capacity: None,
            corrupt: Corruption::NONE,
            connectable: true,
        }
    }
}
