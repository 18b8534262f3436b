//! The strategy registry: names → piece pickers, chokers and seed chokers.
//!
//! A [`Policy`] names its strategies; a [`Strategies`] registry builds them for each
//! peer. [`Strategies::builtin`] holds the strategies swarmlab ships (their names are in
//! [`builtin`]); a researcher's own crate adds its own under new names and hands the
//! registry to the command line (`swarmlab::cli::main_with`) or to the library, and
//! scenario files, `run --backend sim|tcp` and `compare --choker` then accept those
//! names like any other. See `examples/custom_choker.rs`.
//!
//! The registry is plain data (factories behind `Arc`), shared by every run of a batch
//! across threads; the strategies it builds belong to one peer and are not shared.

use super::choker::Choker;
use super::config::Policy;
use super::name::StrategyName;
pub use super::name::builtin;
use super::picker::PiecePicker;
use crate::units::Rate;
use std::fmt;
use std::sync::Arc;

/// The three kinds of strategy a policy names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StrategyKind {
    /// Which new piece to start (`policy.picker`).
    Picker,
    /// Whom to upload to while downloading (`policy.choker`).
    Choker,
    /// Whom to upload to once complete (`policy.seed_choker`).
    SeedChoker,
}

impl StrategyKind {
    /// The policy key that names a strategy of this kind.
    pub fn key(self) -> &'static str {
        match self {
            StrategyKind::Picker => "picker",
            StrategyKind::Choker => "choker",
            StrategyKind::SeedChoker => "seed_choker",
        }
    }
}

/// What a choker factory gets to build a choker for one peer.
#[derive(Clone, Copy, Debug)]
pub struct ChokerSetup<'a> {
    /// The peer's policy (slots, intervals, rate window).
    pub policy: &'a Policy,
    /// The peer's upload capacity, when its host knows it.
    pub upload_capacity: Option<Rate>,
}

/// What a picker factory gets to build a piece picker for one peer.
#[derive(Clone, Copy, Debug)]
pub struct PickerSetup<'a> {
    /// The peer's policy (`random_first`).
    pub policy: &'a Policy,
    /// Pieces in the torrent.
    pub pieces: u32,
}

/// Builds a choker for one peer.
pub type ChokerFactory = Arc<dyn Fn(&ChokerSetup<'_>) -> Box<dyn Choker> + Send + Sync>;
/// Builds a piece picker for one peer.
pub type PickerFactory = Arc<dyn Fn(&PickerSetup<'_>) -> Box<dyn PiecePicker> + Send + Sync>;

/// A name the registry does not hold, with the names it does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{name}\" is not one of {}", valid.join(", "))]
pub struct UnknownStrategy {
    /// The kind looked up.
    pub kind: StrategyKind,
    /// The name asked for.
    pub name: String,
    /// The names registered for that kind, in registration order.
    pub valid: Vec<String>,
}

/// A name registered twice for one kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a {} named \"{name}\" is already registered", kind.key())]
pub struct DuplicateStrategy {
    /// The kind registered.
    pub kind: StrategyKind,
    /// The name already taken.
    pub name: String,
}

struct Entry<F> {
    name: StrategyName,
    about: String,
    make: F,
}

/// The strategies one peer runs, built from its policy.
pub struct PeerStrategies {
    /// Its piece picker.
    pub picker: Box<dyn PiecePicker>,
    /// Its choker while downloading.
    pub choker: Box<dyn Choker>,
    /// Its choker once complete.
    pub seed_choker: Box<dyn Choker>,
}

/// Named strategies: the built-in ones and any a user registered.
#[derive(Clone)]
pub struct Strategies {
    pickers: Vec<Entry<PickerFactory>>,
    chokers: Vec<Entry<ChokerFactory>>,
    seed_chokers: Vec<Entry<ChokerFactory>>,
}

impl<F: Clone> Clone for Entry<F> {
    fn clone(&self) -> Self {
        Entry {
            name: self.name.clone(),
            about: self.about.clone(),
            make: self.make.clone(),
        }
    }
}

impl fmt::Debug for Strategies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Strategies")
            .field("pickers", &self.names(StrategyKind::Picker))
            .field("chokers", &self.names(StrategyKind::Choker))
            .field("seed_chokers", &self.names(StrategyKind::SeedChoker))
            .finish()
    }
}

impl Default for Strategies {
    fn default() -> Strategies {
        Strategies::builtin()
    }
}

/// A factory for a choker built from the policy alone.
fn from_policy<C: Choker + 'static>(
    make: impl Fn(&Policy) -> C + Send + Sync + 'static,
) -> ChokerFactory {
    Arc::new(move |s: &ChokerSetup<'_>| Box::new(make(s.policy)) as Box<dyn Choker>)
}

/// A factory for a picker that needs no settings.
fn stateless_picker<P: PiecePicker + 'static>(
    make: impl Fn() -> P + Send + Sync + 'static,
) -> PickerFactory {
    Arc::new(move |_: &PickerSetup<'_>| Box::new(make()) as Box<dyn PiecePicker>)
}

fn entry<F>(name: StrategyName, about: &str, make: F) -> Entry<F> {
    Entry {
        name,
        about: about.to_string(),
        make,
    }
}

impl Strategies {
    /// The strategies swarmlab ships (see [`builtin`] for their names).
    pub fn builtin() -> Strategies {
        use super::choker::{
            Altruistic, AntiSnubbing, BitTyrant, FastestUpload, PropShare, RandomChoker,
            RoundRobin, TitForTat,
        };
        use super::picker::{RandomPicker, RarestFirst, Sequential};
        // Rates are bit/s; BitTyrant budgets bytes.
        let bittyrant: ChokerFactory = Arc::new(|s: &ChokerSetup<'_>| {
            let capacity = s.upload_capacity.map(|r| r.0 / 8);
            Box::new(BitTyrant::new(s.policy, capacity)) as Box<dyn Choker>
        });
        let chokers = vec![
            entry(
                builtin::TIT_FOR_TAT,
                "mainline: the 4 fastest uploaders to us plus 1 optimistic unchoke",
                from_policy(TitForTat::new),
            ),
            entry(
                builtin::PROPSHARE,
                "upload split in proportion to what each peer gave us (Levin et al. 2008)",
                from_policy(PropShare::new),
            ),
            entry(
                builtin::BITTYRANT,
                "best return per byte within the upload budget (Piatek et al. 2007)",
                bittyrant,
            ),
            entry(
                builtin::RANDOM_CHOKER,
                "random interested peers, ignoring rates",
                from_policy(RandomChoker::new),
            ),
            entry(
                builtin::ALTRUISTIC,
                "every interested peer, equal shares",
                from_policy(|_| Altruistic),
            ),
            entry(
                builtin::ANTI_SNUBBING,
                "tit-for-tat plus mainline's 60 s anti-snubbing rule",
                from_policy(AntiSnubbing::new),
            ),
        ];
        let seed_chokers = vec![
            entry(
                builtin::FASTEST_UPLOAD,
                "serve the peers we upload to fastest (mainline)",
                from_policy(FastestUpload::new),
            ),
            entry(
                builtin::ROUND_ROBIN,
                "rotate through the interested peers",
                from_policy(RoundRobin::new),
            ),
            // The slots are fastest-upload's; what makes it super-seeding is what the
            // peer advertises (`core::super_seed`), which keys on this name.
            entry(
                builtin::SUPER_SEED,
                "BEP 16: hide the bitfield, offer each peer one piece at a time",
                from_policy(FastestUpload::new),
            ),
        ];
        let rarest_first: PickerFactory = Arc::new(|s: &PickerSetup<'_>| {
            Box::new(RarestFirst::new(s.pieces, s.policy.random_first)) as Box<dyn PiecePicker>
        });
        let pickers = vec![
            entry(
                builtin::RAREST_FIRST,
                "rarest among neighbours first, random among equally rare",
                rarest_first,
            ),
            entry(
                builtin::RANDOM_PICKER,
                "uniformly random among the pieces a neighbour has",
                stateless_picker(|| RandomPicker),
            ),
            entry(
                builtin::SEQUENTIAL,
                "lowest index first (streaming order)",
                stateless_picker(|| Sequential),
            ),
        ];
        Strategies {
            pickers,
            chokers,
            seed_chokers,
        }
    }

    /// Registers a choker for downloading peers under `name`, with a one-line
    /// description for help texts. `make` is called once per peer that runs it.
    pub fn add_choker(
        &mut self,
        name: &str,
        about: &str,
        make: impl Fn(&ChokerSetup<'_>) -> Box<dyn Choker> + Send + Sync + 'static,
    ) -> Result<&mut Self, DuplicateStrategy> {
        Self::add(
            &mut self.chokers,
            StrategyKind::Choker,
            name,
            about,
            Arc::new(make),
        )?;
        Ok(self)
    }

    /// Registers a choker for complete peers (`policy.seed_choker`) under `name`.
    pub fn add_seed_choker(
        &mut self,
        name: &str,
        about: &str,
        make: impl Fn(&ChokerSetup<'_>) -> Box<dyn Choker> + Send + Sync + 'static,
    ) -> Result<&mut Self, DuplicateStrategy> {
        let kind = StrategyKind::SeedChoker;
        Self::add(&mut self.seed_chokers, kind, name, about, Arc::new(make))?;
        Ok(self)
    }

    /// Registers a piece picker under `name`.
    pub fn add_picker(
        &mut self,
        name: &str,
        about: &str,
        make: impl Fn(&PickerSetup<'_>) -> Box<dyn PiecePicker> + Send + Sync + 'static,
    ) -> Result<&mut Self, DuplicateStrategy> {
        Self::add(
            &mut self.pickers,
            StrategyKind::Picker,
            name,
            about,
            Arc::new(make),
        )?;
        Ok(self)
    }

    fn add<F>(
        list: &mut Vec<Entry<F>>,
        kind: StrategyKind,
        name: &str,
        about: &str,
        make: F,
    ) -> Result<(), DuplicateStrategy> {
        if list.iter().any(|e| e.name.as_str() == name) {
            return Err(DuplicateStrategy {
                kind,
                name: name.to_string(),
            });
        }
        list.push(entry(StrategyName::new(name), about, make));
        Ok(())
    }

    /// The registered names of one kind, in registration order (built-ins first).
    pub fn names(&self, kind: StrategyKind) -> Vec<&str> {
        match kind {
            StrategyKind::Picker => self.pickers.iter().map(|e| e.name.as_str()).collect(),
            StrategyKind::Choker => self.chokers.iter().map(|e| e.name.as_str()).collect(),
            StrategyKind::SeedChoker => self.seed_chokers.iter().map(|e| e.name.as_str()).collect(),
        }
    }

    /// The one-line description of a registered strategy.
    pub fn about(&self, kind: StrategyKind, name: &str) -> Option<&str> {
        let about = match kind {
            StrategyKind::Picker => entry_named(&self.pickers, name).map(|e| &e.about),
            StrategyKind::Choker => entry_named(&self.chokers, name).map(|e| &e.about),
            StrategyKind::SeedChoker => entry_named(&self.seed_chokers, name).map(|e| &e.about),
        };
        about.map(String::as_str)
    }

    /// The registered name `name` of kind `kind`, or why it is not one.
    pub fn lookup(&self, kind: StrategyKind, name: &str) -> Result<StrategyName, UnknownStrategy> {
        let hit = match kind {
            StrategyKind::Picker => entry_named(&self.pickers, name).map(|e| e.name.clone()),
            StrategyKind::Choker => entry_named(&self.chokers, name).map(|e| e.name.clone()),
            StrategyKind::SeedChoker => {
                entry_named(&self.seed_chokers, name).map(|e| e.name.clone())
            }
        };
        hit.ok_or_else(|| self.unknown(kind, name))
    }

    fn unknown(&self, kind: StrategyKind, name: &str) -> UnknownStrategy {
        UnknownStrategy {
            kind,
            name: name.to_string(),
            valid: self.names(kind).into_iter().map(str::to_string).collect(),
        }
    }

    /// Builds the strategies `policy` names for one peer of a torrent with `pieces`
    /// pieces whose upload capacity is `upload_capacity` (when known).
    pub fn build(
        &self,
        policy: &Policy,
        pieces: u32,
        upload_capacity: Option<Rate>,
    ) -> Result<PeerStrategies, UnknownStrategy> {
        let choker_setup = ChokerSetup {
            policy,
            upload_capacity,
        };
        let unknown = |kind, name: &StrategyName| self.unknown(kind, name.as_str());
        let picker = entry_named(&self.pickers, policy.picker.as_str())
            .ok_or_else(|| unknown(StrategyKind::Picker, &policy.picker))?;
        let choker = entry_named(&self.chokers, policy.choker.as_str())
            .ok_or_else(|| unknown(StrategyKind::Choker, &policy.choker))?;
        let seed = entry_named(&self.seed_chokers, policy.seed_choker.as_str())
            .ok_or_else(|| unknown(StrategyKind::SeedChoker, &policy.seed_choker))?;
        Ok(PeerStrategies {
            picker: (picker.make)(&PickerSetup { policy, pieces }),
            choker: (choker.make)(&choker_setup),
            seed_choker: (seed.make)(&choker_setup),
        })
    }
}

fn entry_named<'a, F>(list: &'a [Entry<F>], name: &str) -> Option<&'a Entry<F>> {
    list.iter().find(|e| e.name.as_str() == name)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::choker::Candidate;
    use crate::core::id::ConnId;
    use crate::core::random::Dice;
    use crate::units::SimTime;

    struct Nobody;
    impl Choker for Nobody {
        fn rechoke(&mut self, _: SimTime, _: &[Candidate], _: &mut Dice, _: &mut Vec<ConnId>) {}
    }

    #[test]
    fn every_builtin_name_builds() {
        let s = Strategies::builtin();
        for kind in [
            StrategyKind::Picker,
            StrategyKind::Choker,
            StrategyKind::SeedChoker,
        ] {
            for name in s.names(kind) {
                assert!(s.lookup(kind, name).is_ok(), "{name}");
                assert!(s.about(kind, name).is_some_and(|a| !a.is_empty()), "{name}");
            }
        }
        assert!(s.build(&Policy::default(), 10, None).is_ok());
    }

    #[test]
    fn a_registered_choker_is_found_and_a_duplicate_refused() {
        let mut s = Strategies::builtin();
        s.add_choker("nobody", "unchokes nobody", |_| Box::new(Nobody))
            .expect("a new name");
        assert!(s.lookup(StrategyKind::Choker, "nobody").is_ok());
        // The same name as a seed choker is another kind, and free.
        assert!(s.lookup(StrategyKind::SeedChoker, "nobody").is_err());
        let dup = s
            .add_choker("tit-for-tat", "again", |_| Box::new(Nobody))
            .err();
        assert_eq!(dup.map(|d| d.name), Some("tit-for-tat".to_string()));
        let policy = Policy {
            choker: StrategyName::new("nobody"),
            ..Policy::default()
        };
        assert!(s.build(&policy, 4, None).is_ok());
        assert!(Strategies::builtin().build(&policy, 4, None).is_err());
    }

    #[test]
    fn an_unknown_name_lists_the_valid_ones() {
        let e = Strategies::builtin()
            .lookup(StrategyKind::SeedChoker, "fastest")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"fastest\" is not one of fastest-upload, round-robin, super-seed"
        );
    }
}
