//! swarmlab: a BitTorrent swarm laboratory.
//!
//! One peer implementation ([`core`]) runs in two backends: a deterministic
//! discrete-event simulator ([`sim`]) and real TCP sockets ([`tcp`]). Scenarios
//! ([`scenario`]) describe swarms; [`metrics`] turns what happens into result files.
//! [`batch`] runs many scenarios, sweep points and replicates over cores and shards.
//! The project's design document is `docs/design.md`.

#![warn(missing_docs, unreachable_pub)]

pub mod batch;
pub mod cli;
pub mod compare;
pub mod core;
pub mod metrics;
pub mod plot;
pub mod run;
pub mod scenario;
pub mod sim;
pub mod tcp;
pub mod units;
