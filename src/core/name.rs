//! Strategy names: [`StrategyName`], and the names of the strategies swarmlab ships
//! ([`builtin`]). A module of its own because the configuration (whose defaults name
//! built-in strategies) and the registry (which builds them) both need it.

use std::borrow::Cow;
use std::fmt;

/// The name of a strategy — a piece picker, a choker or a seed choker — as scenario files
/// and the command line write it (`"tit-for-tat"`). A
/// [`Strategies`](super::strategy::Strategies) registry turns a name into the strategy;
/// the names of the strategies swarmlab ships are in
/// [`builtin`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StrategyName(Cow<'static, str>);

impl StrategyName {
    /// A name known at compile time (no allocation).
    pub const fn from_static(name: &'static str) -> StrategyName {
        StrategyName(Cow::Borrowed(name))
    }

    /// A name chosen at run time (a user's strategy).
    pub fn new(name: impl Into<String>) -> StrategyName {
        StrategyName(Cow::Owned(name.into()))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StrategyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StrategyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// The names of the strategies swarmlab ships.
pub mod builtin {
    use super::StrategyName;

    /// Rarest among neighbours first, random among equally rare (piece picker).
    pub const RAREST_FIRST: StrategyName = StrategyName::from_static("rarest-first");
    /// Uniformly random among the pieces a neighbour has (piece picker).
    pub const RANDOM_PICKER: StrategyName = StrategyName::from_static("random");
    /// Lowest index first, streaming order (piece picker).
    pub const SEQUENTIAL: StrategyName = StrategyName::from_static("sequential");

    /// Rate-based tit-for-tat with optimistic unchoking, as mainline (choker).
    pub const TIT_FOR_TAT: StrategyName = StrategyName::from_static("tit-for-tat");
    /// Upload split in proportion to what each peer gave us (choker; Levin et al. 2008).
    pub const PROPSHARE: StrategyName = StrategyName::from_static("propshare");
    /// Strategic: cheapest reciprocation per byte first (choker; Piatek et al. 2007).
    pub const BITTYRANT: StrategyName = StrategyName::from_static("bittyrant");
    /// Random interested peers, ignoring rates (choker).
    pub const RANDOM_CHOKER: StrategyName = StrategyName::from_static("random");
    /// Every interested peer, equal shares (choker).
    pub const ALTRUISTIC: StrategyName = StrategyName::from_static("altruistic");
    /// Tit-for-tat with mainline's anti-snubbing rule (choker).
    pub const ANTI_SNUBBING: StrategyName = StrategyName::from_static("anti-snubbing");

    /// Serve the peers we upload to fastest, as mainline (seed choker).
    pub const FASTEST_UPLOAD: StrategyName = StrategyName::from_static("fastest-upload");
    /// Rotate through the interested peers (seed choker).
    pub const ROUND_ROBIN: StrategyName = StrategyName::from_static("round-robin");
    /// BEP 16 super-seeding: offer each peer one piece at a time, slots as
    /// fastest-upload (seed choker; see `core::super_seed`).
    pub const SUPER_SEED: StrategyName = StrategyName::from_static("super-seed");
}
