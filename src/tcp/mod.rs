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
//! * [`rate_limit`] — token buckets for upload and download limits;
//! * [`tracker_http`] — the HTTP tracker (BEP 3, BEP 23 compact peers) over
//!   [`core::Tracker`](crate::core::Tracker), and the announce client;
//! * [`session`] — the event loop: one tokio task per connection for framing, one peer
//!   loop owning the core peer and the storage, mapping the core's outputs to sockets,
//!   files and tracker announces;
//! * [`swarm`] — a whole scenario on loopback (`run --backend tcp`): a tracker and a
//!   session per drawn peer in one runtime, reporting to one metrics recorder.
//!
//! The codec and storage layers hold no session logic: which piece to fetch, whom to
//! unchoke, when to give up on a peer is `core`'s business.

pub mod bencode;
pub mod metainfo;
pub mod rate_limit;
pub mod session;
pub mod storage;
pub mod swarm;
pub mod tracker_http;
pub mod wire;
