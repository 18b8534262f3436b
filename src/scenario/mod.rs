//! Scenario files: the human-written TOML that describes a swarm, and its resolved,
//! validated form ([`Scenario`]) that both backends run.
//!
//! The field names are a contract with users and shipped scenarios (docs/design.md,
//! "Scenario files"). Parsing is strict: every quantity carries a unit, unknown keys are
//! errors, and an error names the file, the line and the field ([`ScenarioError`]).
//! A scenario parses into the core's own configuration types ([`Policy`], [`Role`],
//! [`Neighbourhood`]); strategy names are checked against a [`Strategies`] registry —
//! the built-in one, or a user's with strategies of their own — which the resolved
//! scenario keeps, so that whatever runs it builds the strategies it names.
//! [`population`] draws its peers.

mod error;
mod load;
pub mod network;
mod parse;
pub mod population;
mod read;
mod sweep;
pub mod trace;
mod values;
mod write;

pub use error::ScenarioError;
pub use network::{DEFAULT_REGION, NetworkSpec};
pub use sweep::{SweepPoint, replicate_seed};

use crate::core::{Bias, Corruption, Geometry, Neighbourhood, Policy, Role, Strategies};
use crate::units::{ArrivalRate, Bytes, Rate, SimDuration};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, LazyLock};

/// The strategy registry a scenario's names refer to. Two scenarios compare equal only
/// if they name strategies of the same registry.
#[derive(Clone)]
pub struct StrategyTable(Arc<Strategies>);

impl StrategyTable {
    /// The built-in strategies, shared by every scenario parsed without a registry.
    pub fn builtin() -> StrategyTable {
        static BUILTIN: LazyLock<Arc<Strategies>> =
            LazyLock::new(|| Arc::new(Strategies::builtin()));
        StrategyTable(BUILTIN.clone())
    }

    /// A user's registry.
    pub fn new(strategies: Arc<Strategies>) -> StrategyTable {
        StrategyTable(strategies)
    }

    /// The registry.
    pub fn strategies(&self) -> &Strategies {
        &self.0
    }

    /// The registry, shared.
    pub fn shared(&self) -> Arc<Strategies> {
        self.0.clone()
    }
}

impl Default for StrategyTable {
    fn default() -> StrategyTable {
        StrategyTable::builtin()
    }
}

impl PartialEq for StrategyTable {
    fn eq(&self, other: &StrategyTable) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for StrategyTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A resolved scenario: every default filled in, every value checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Short name, used for result folders (defaults to the file's stem).
    pub name: String,
    /// What the scenario shows, in a sentence or two.
    pub description: String,
    /// The shared file.
    pub file: FileSpec,
    /// Tracker and neighbourhood settings.
    pub tracker: TrackerSpec,
    /// The default policy (groups may override any key).
    pub policy: Policy,
    /// Peer groups, in file order.
    pub groups: Vec<Group>,
    /// Latencies between regions (`[network]`; empty with one region).
    pub network: NetworkSpec,
    /// Seed, stop condition and sampling.
    pub run: RunSpec,
    /// The sweep grid, if the file has one.
    pub sweep: Option<Sweep>,
    /// The registry its strategy names were checked against.
    pub strategies: StrategyTable,
}

/// The file being distributed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// Total size.
    pub size: Bytes,
    /// Piece ("chunk") size; the last piece may be shorter.
    pub chunk_size: Bytes,
    /// Request unit.
    pub block_size: BlockSize,
}

/// The request unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockSize {
    /// Fixed-size blocks (16 KiB in real BitTorrent).
    Bytes(Bytes),
    /// One block per chunk: the fast mode for huge swarms.
    Chunk,
}

impl FileSpec {
    /// The block length in bytes.
    pub fn block_len(&self) -> Bytes {
        match self.block_size {
            BlockSize::Bytes(b) => b,
            BlockSize::Chunk => self.chunk_size,
        }
    }
    /// Number of chunks (pieces).
    pub fn chunks(&self) -> u32 {
        u32::try_from(self.size.0.div_ceil(self.chunk_size.0)).unwrap_or(u32::MAX)
    }
    /// The torrent's shape as the core sees it.
    pub fn geometry(&self) -> Geometry {
        Geometry::new(self.size, self.chunk_size, self.block_len())
    }
}

/// Tracker behaviour and how many neighbours peers keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerSpec {
    /// Random peers returned to each announce.
    pub peers_per_announce: u32,
    /// Time between periodic announces.
    pub announce_interval: SimDuration,
    /// Re-announce early below this many connections.
    pub min_neighbours: u32,
    /// Connections a peer keeps at most.
    pub max_neighbours: u32,
    /// How the tracker picks the peers it returns.
    pub bias: BiasKind,
    /// With [`BiasKind::Locality`], peers returned from other regions.
    pub external: u32,
}

/// The tracker's `bias`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BiasKind {
    /// `"random"`: uniformly among the others.
    Random,
    /// `"locality"`: all but `external` from the peer's own region (Bindal et al.,
    /// ICDCS 2006).
    Locality,
}

impl BiasKind {
    /// Every kind, in the order the error messages list them.
    pub const ALL: [BiasKind; 2] = [BiasKind::Random, BiasKind::Locality];

    /// The name a scenario file uses.
    pub fn name(self) -> &'static str {
        match self {
            BiasKind::Random => "random",
            BiasKind::Locality => "locality",
        }
    }
}

impl TrackerSpec {
    /// The tracker's sampling, as the core takes it.
    pub fn bias(&self) -> Bias {
        match self.bias {
            BiasKind::Random => Bias::Random,
            BiasKind::Locality => Bias::Locality {
                external: self.external,
            },
        }
    }

    /// The peers' side of these settings, as the core takes them.
    pub fn neighbourhood(&self) -> Neighbourhood {
        Neighbourhood {
            peers_per_announce: self.peers_per_announce,
            announce_interval: self.announce_interval,
            min_neighbours: self.min_neighbours,
            max_neighbours: self.max_neighbours,
        }
    }
}

impl Default for TrackerSpec {
    /// The core's default neighbourhood: what a scenario gets without a `[tracker]`.
    fn default() -> TrackerSpec {
        let n = Neighbourhood::default();
        TrackerSpec {
            peers_per_announce: n.peers_per_announce,
            announce_interval: n.announce_interval,
            min_neighbours: n.min_neighbours,
            max_neighbours: n.max_neighbours,
            bias: BiasKind::Random,
            external: 2,
        }
    }
}

/// A value fixed for the group, or drawn per peer.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist<T> {
    /// Every peer gets this value.
    Fixed(T),
    /// Uniform between the two bounds (inclusive).
    Uniform(T, T),
    /// One of the values, with integer weights.
    Choice(Vec<T>, Vec<u32>),
}

/// When a group's peers join.
#[derive(Clone, Debug, PartialEq)]
pub enum Join {
    /// All at the same time.
    At(SimDuration),
    /// Spread uniformly over an interval.
    Uniform(SimDuration, SimDuration),
    /// A Poisson process from time zero: `count` arrivals at this rate.
    Poisson(ArrivalRate),
    /// The times of an arrival trace, one peer per row (`count` is its length).
    Trace(trace::ArrivalTrace),
}

/// How long a peer stays once it completes (or, for `abort`, before it gives up).
#[derive(Clone, Debug, PartialEq)]
pub enum Stay {
    /// Never leaves.
    Forever,
    /// Exactly this long.
    Fixed(SimDuration),
    /// Exponentially distributed with this mean.
    Exponential(SimDuration),
}

/// A group of peers sharing settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Group name, unique in the scenario.
    pub name: String,
    /// Number of peers.
    pub count: u32,
    /// Seed, leecher or free-rider.
    pub role: Role,
    /// Upload capacity.
    pub upload: Dist<Rate>,
    /// Download capacity.
    pub download: Dist<Rate>,
    /// One-way latency added per link end.
    pub latency: Dist<SimDuration>,
    /// Arrival process.
    pub join: Join,
    /// Time spent seeding after completion.
    pub linger: Stay,
    /// Time after which an unfinished peer gives up (`None`: never).
    pub abort: Option<Stay>,
    /// Whether others can dial its peers (`false`: behind a NAT, they only dial out).
    pub connectable: bool,
    /// Its region ([`DEFAULT_REGION`] unless the file names one).
    pub region: String,
    /// The group's policy (scenario defaults with the group's overrides applied).
    pub policy: Policy,
    /// How often the blocks its peers send are corrupt (`corrupt = P`; 0: honest).
    pub corrupt: Corruption,
}

/// When a run stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// When every leecher that will ever join has completed or left.
    AllComplete,
    /// At this simulated time.
    At(SimDuration),
}

/// Run settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSpec {
    /// The run seed; every random stream derives from it.
    pub seed: u64,
    /// Stop condition.
    pub stop: Stop,
    /// Sampling interval of swarm.csv and chunks.csv.
    pub sample_interval: SimDuration,
}

/// A sweep: fields with lists of values, expanded as a cross product, and replicates.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// Dotted field paths (`group.leechers.count`) and their values, in file order.
    pub fields: Vec<(String, Vec<toml::Value>)>,
    /// Runs per grid point, with seeds derived from `run.seed`.
    pub replicates: u32,
}

impl Scenario {
    /// Reads and validates a scenario file naming built-in strategies.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        load::from_file(path, &StrategyTable::builtin())
    }

    /// Reads and validates a scenario file whose strategy names may be any of
    /// `strategies`.
    pub fn from_file_with(
        path: &Path,
        strategies: &StrategyTable,
    ) -> Result<Scenario, ScenarioError> {
        load::from_file(path, strategies)
    }

    /// Parses scenario text; `origin` names it in errors (usually the file name).
    pub fn from_str_named(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        load::from_str(text, origin, &StrategyTable::builtin())
    }

    /// Parses scenario text whose strategy names may be any of `strategies`.
    pub fn from_str_with(
        text: &str,
        origin: &str,
        strategies: &StrategyTable,
    ) -> Result<Scenario, ScenarioError> {
        load::from_str(text, origin, strategies)
    }

    /// The total number of peers over all groups.
    pub fn peer_count(&self) -> u64 {
        self.groups.iter().map(|g| g.count as u64).sum()
    }

    /// The group with this name.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The resolved scenario as TOML (the `scenario.toml` of a result folder): every
    /// field written out with canonical units, in a stable order, without `[sweep]`.
    /// Parsing it gives back an equal scenario (with `sweep: None`).
    pub fn to_toml(&self) -> String {
        write::to_toml(self)
    }

    /// The points of the sweep grid: the cross product of the swept values, fields in
    /// file order, the last field varying fastest. A scenario without a sweep has one
    /// point that changes nothing. Replicates are not included: run each point
    /// `sweep.replicates` times with seeds from [`replicate_seed`].
    pub fn sweep_points(&self) -> Vec<SweepPoint> {
        sweep::points(self.sweep.as_ref())
    }

    /// This scenario with a sweep point's values applied, checked like a written file.
    /// The result has no sweep. Overriding a `policy.<key>` changes the default, so it
    /// reaches every group that does not set that key to something else itself.
    /// Errors name the scenario and the point instead of a line.
    pub fn with_overrides(&self, point: &SweepPoint) -> Result<Scenario, ScenarioError> {
        sweep::with_overrides(self, point)
    }
}

#[cfg(test)]
mod tests;
