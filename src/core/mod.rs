//! The sans-IO core: the peer and tracker logic shared by the simulator and the tcp
//! backend. It imports nothing of swarmlab but [`units`](crate::units).
//!
//! Nothing here touches sockets, threads, clocks, files or a global RNG. A host — the
//! simulator's engine or the tcp backend's event loop — owns a [`Peer`] and drives it,
//! in the shape of quinn-proto's `Connection`.
//!
//! # The contract between a host and its peer
//!
//! A peer is a state machine with three kinds of methods:
//!
//! * **inputs**, `handle_*`, each with the current time `now`: the tracker answered
//!   ([`Peer::handle_tracker_response`]), a dial failed or a handshake completed
//!   ([`Peer::handle_connect_failed`], [`Peer::handle_connected`]), a connection was lost
//!   ([`Peer::handle_disconnected`]), a decoded message arrived
//!   ([`Peer::handle_message`]), some bytes of a block moved ([`Peer::handle_progress`],
//!   optional), a block was sent whole ([`Peer::handle_block_sent`]), a piece was checked
//!   ([`Peer::handle_piece_verified`]), a timer fired ([`Peer::handle_timeout`]); and the
//!   lifecycle calls [`Peer::start`] and [`Peer::stop`];
//! * **polls**, which the host drains: [`Peer::poll_output`] until it returns `None`
//!   (messages to send, dials, disconnects, pieces to verify, announces, completion: see
//!   [`Output`]), then [`Peer::poll_timeout`], the instant of the next
//!   [`Peer::handle_timeout`] (`None`: no timer armed);
//! * **queries**, which change nothing: what the peer holds, its counters, whether it
//!   wants the bytes of an arriving block ([`Peer::wants_block`]), the weight of an
//!   upload ([`Peer::upload_weight`]).
//!
//! The order a host follows:
//!
//! 1. build the peer ([`Peer::new`]) and call [`Peer::start`];
//! 2. after **every** input, drain [`Peer::poll_output`] and carry each output out, then
//!    read [`Peer::poll_timeout`] and arm its timer there (an input may move it);
//! 3. an output that asks for an answer is answered later by an input: a
//!    [`Output::Connect`] by `handle_connected` or `handle_connect_failed`, a
//!    [`Output::Verify`] by `handle_piece_verified`, a `Send` of a block by
//!    `handle_block_sent` once the block is on its way, an [`Output::Announce`] (other
//!    than `Stopped`) by `handle_tracker_response`;
//! 4. a block's bytes arriving on a connection are kept only if
//!    [`Peer::wants_block`] says so, and kept **before** the block is reported with
//!    `handle_message`, so that a piece whose last block arrives can be verified at once;
//! 5. [`Peer::stop`] when the peer leaves, then drain the outputs it queues (a
//!    `Stopped` announce and a disconnect per connection).
//!
//! Time is monotonic: every `now` a host passes is at or after the previous one.
//! Everything random comes from the peer's own [`Dice`], so the same inputs in the same
//! order give the same outputs.
//!
//! Policies sit behind small traits, [`picker::PiecePicker`] and [`choker::Choker`],
//! built by name from a [`Strategies`] registry that users may extend with their own.
//! The core owns its configuration types ([`config`]); scenario files parse into them.

// A truncating or sign-changing `as` could lie about a count, a size or a time here.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

pub mod bitfield;
pub mod choker;
pub mod config;
pub mod geometry;
pub mod id;
pub mod message;
pub mod name;
pub mod peer;
pub mod picker;
pub mod random;
pub mod rate;
pub mod smart_ban;
pub mod strategy;
pub mod super_seed;
pub mod tracker;

pub use bitfield::Bitfield;
pub use config::{Corruption, Neighbourhood, PeerConfig, Pipeline, Policy, Role};
pub use geometry::{BlockRef, Geometry};
pub use id::{ConnId, PeerId};
pub use message::Message;
pub use name::StrategyName;
pub use peer::{CloseReason, Direction, NewConnection, Output, Peer, Way};
pub use random::Dice;
pub use smart_ban::GrainDigest;
pub use strategy::{Strategies, StrategyKind, UnknownStrategy};
pub use tracker::{AnnounceEvent, Bias, RegionIndex, Tracker};
