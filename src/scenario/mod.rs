//! Scenario files: the human-written TOML that describes a swarm, and its resolved,
//! validated form ([`Scenario`]) that both backends run.
//!
//! The field names are a contract with users and shipped scenarios (see DESIGN.md).
//! Parsing is strict: every quantity carries a unit, unknown keys are errors, and an
//! error names the file, the line and the field ([`ScenarioError`]).

mod error;
mod parse;
pub mod policy;
mod read;
mod sweep;
mod values;
mod write;

pub use error::ScenarioError;
pub use policy::{ChokerKind, PickerKind, Policy, SeedChokerKind};
pub use sweep::{SweepPoint, replicate_seed};

use crate::units::{ArrivalRate, Bytes, Rate, SimDuration};
use std::path::Path;

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
    /// Seed, stop condition and sampling.
    pub run: RunSpec,
    /// The sweep grid, if the file has one.
    pub sweep: Option<Sweep>,
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
        self.size.0.div_ceil(self.chunk_size.0) as u32
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
}

/// What a peer of a group is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Starts with the whole file.
    Seed,
    /// Starts with nothing and downloads.
    Leecher,
    /// Downloads but never uploads.
    FreeRider,
}

impl Role {
    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Seed => "seed",
            Role::Leecher => "leecher",
            Role::FreeRider => "free-rider",
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
    /// The group's policy (scenario defaults with the group's overrides applied).
    pub policy: Policy,
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
    /// Reads and validates a scenario file.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        parse::from_file(path)
    }

    /// Parses scenario text; `origin` names it in errors (usually the file name).
    pub fn from_str_named(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        parse::from_str_named(text, origin)
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
