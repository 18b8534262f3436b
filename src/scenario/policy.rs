//! Policy settings: which piece picker and choker a peer runs, and their knobs.
//!
//! The strategies themselves live in `core`; this module only names them, so a scenario
//! can be parsed and checked without the engine.

use crate::units::SimDuration;

/// Piece selection strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PickerKind {
    /// Rarest among neighbours first, random among equally rare.
    RarestFirst,
    /// Uniformly random among the pieces a neighbour has.
    Random,
    /// Lowest index first (streaming order).
    Sequential,
}

/// Unchoking strategies for a peer that is still downloading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChokerKind {
    /// Rate-based tit-for-tat with optimistic unchoking (mainline).
    TitForTat,
    /// Upload split in proportion to what each peer gave us (Levin et al. 2008).
    PropShare,
    /// Strategic: cheapest reciprocation per byte first (Piatek et al. 2007).
    BitTyrant,
    /// Random interested peers, ignoring rates.
    Random,
    /// Every interested peer, equal shares.
    Altruistic,
    /// Tit-for-tat with mainline's anti-snubbing rule.
    AntiSnubbing,
}

/// How a seed chooses whom to serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeedChokerKind {
    /// Serve the peers we upload to fastest (mainline).
    FastestUpload,
    /// Rotate through interested peers.
    RoundRobin,
}

macro_rules! named {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in the order the help text lists them.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
            /// The name used in scenario files and on the command line.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
            /// Looks a name up; the error lists the valid names.
            pub fn from_name(name: &str) -> Result<$ty, String> {
                Self::ALL.iter().copied().find(|k| k.name() == name).ok_or_else(|| {
                    let valid: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
                    format!("\"{name}\" is not one of {}", valid.join(", "))
                })
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named!(PickerKind { RarestFirst => "rarest-first", Random => "random", Sequential => "sequential" });
named!(ChokerKind {
    TitForTat => "tit-for-tat",
    PropShare => "propshare",
    BitTyrant => "bittyrant",
    Random => "random",
    Altruistic => "altruistic",
    AntiSnubbing => "anti-snubbing",
});
named!(SeedChokerKind { FastestUpload => "fastest-upload", RoundRobin => "round-robin" });

/// A peer's policy: the `[policy]` table, or a group's copy of it with overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Piece picker.
    pub picker: PickerKind,
    /// The first this-many pieces are picked at random, to get something to trade soon.
    pub random_first: u32,
    /// Request the last blocks from every peer that has them.
    pub endgame: bool,
    /// Choker while downloading.
    pub choker: ChokerKind,
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
    pub seed_choker: SeedChokerKind,
    /// Outstanding block requests per connection.
    pub pipeline: u32,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            picker: PickerKind::RarestFirst,
            random_first: 4,
            endgame: true,
            choker: ChokerKind::TitForTat,
            upload_slots: 4,
            optimistic_slots: 1,
            rechoke_interval: SimDuration::from_secs(10),
            optimistic_interval: SimDuration::from_secs(30),
            rate_window: SimDuration::from_secs(20),
            seed_choker: SeedChokerKind::FastestUpload,
            pipeline: 10,
        }
    }
}
