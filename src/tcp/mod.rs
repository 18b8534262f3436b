//! The tcp backend: real BitTorrent over real sockets, driving the same `core` peer
//! logic the simulator drives.
//!
//! This layer holds the pieces that touch the outside world in its own terms:
//!
//! * [`bencode`] — a strict bencode codec that remembers where each top-level value sits
//!   in the input, so the info hash can be taken over the original bytes;
//! * [`metainfo`] — `.torrent` files: parsing with validation, creation, `show`;
//! * [`wire`] — the BEP 3 peer wire protocol: the handshake and the message codec, with
//!   an incremental decoder whose memory is bounded by a configured limit;
//! * [`storage`] — pieces over real files, checked with SHA-1 before anything is
//!   written, so no unverified byte reaches the output files;
//! * [`hasher`] — SHA-1 checks of received pieces on a thread of their own, so that a
//!   standalone session's loop goes on moving bytes meanwhile;
//! * [`lab_payload`] — a laboratory swarm's payload, made from the run seed on demand,
//!   so that its peers need keep no copies;
//! * [`rate_limit`] — token buckets for upload and download limits;
//! * [`tracker_http`] — the HTTP tracker (BEP 3, BEP 23 compact peers) over
//!   [`core::Tracker`](crate::core::Tracker), and the announce client;
//! * [`connection`] — one task per TCP connection: dial, handshake, framing, rate limits,
//!   the latency delay line of a laboratory swarm;
//! * [`host`] — the peer loop's state: the core peer, the storage, the connection table,
//!   and the translation between wire messages and the core's inputs and outputs;
//! * [`session`] — a session from set-up to its last announce: the loop that waits on
//!   every event source and hands each to the host;
//! * [`clock`] — the core's clock over real time (possibly sped up);
//! * [`member`] — a session as a member of a laboratory swarm, and what it reports;
//! * [`swarm`] — a whole scenario on loopback (`run --backend tcp`): a tracker and a
//!   session per drawn peer in one runtime, reporting to one metrics recorder;
//! * [`error`] — why a session failed, why a connection ended.
//!
//! None of it decides what a peer decides — which piece to fetch, whom to unchoke, which
//! of two connections to keep, whom to cut off: that is `core`'s business. The tcp
//! backend frames, stores, hashes, times and translates.

// A truncating or sign-changing `as` could lie about a count, a size or a time here.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

pub mod bencode;
pub mod clock;
pub mod connection;
pub mod error;
pub mod hasher;
pub mod host;
pub mod lab_payload;
pub mod member;
pub mod metainfo;
pub mod rate_limit;
pub mod session;
pub mod storage;
pub mod swarm;
pub mod tracker_http;
pub mod wire;
