//! The discrete-event simulator: event queue, virtual clock, network model and churn,
//! driving one `core` peer per simulated peer.
//!
//! Determinism: time is an integer; events tie-break by insertion order; every random
//! draw comes from a ChaCha stream derived from the run seed (population, tracker, one
//! per peer); nothing iterates over a hash map to decide anything. The same scenario
//! and seed give byte-identical results on any machine.

// A truncating or sign-changing `as` could lie about a count, a size or a time here.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod engine;
mod network;
mod queue;

pub use engine::{Outcome, Progress, Simulation, Work};
pub use network::Network;
pub use queue::{EventQueue, Key};

#[cfg(test)]
mod tests;
