//! The sans-IO core: peer and tracker logic shared by the simulator and the tcp backend.
//!
//! Nothing here touches sockets, threads, clocks, files or a global RNG: the host passes
//! `now` and a per-peer random stream in, feeds events, and drains outputs (see
//! [`peer::Peer`]). Policies sit behind small traits: [`picker::PiecePicker`] and
//! [`choker::Choker`].

pub mod bitfield;
pub mod choker;
pub mod geometry;
pub mod message;
pub mod peer;
pub mod picker;
pub mod population;
pub mod random;
pub mod rate;
pub mod tracker;

pub use bitfield::Bitfield;
pub use geometry::{BlockRef, Geometry};
pub use message::Message;
pub use peer::{CloseReason, ConnId, Output, Peer, PeerConfig, Way};
pub use random::Dice;
pub use tracker::{AnnounceEvent, PeerId, Tracker};
