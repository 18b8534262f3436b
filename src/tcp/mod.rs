//! The tcp backend: real sockets speaking the BitTorrent wire protocol (BEP 3), a real
//! HTTP tracker, real files verified with SHA-1, and the event loop that drives `core`.
//!
//! Like the simulator it only imports `core`, `scenario` and `metrics`, never `sim`.
//!
//! * [`bencode`] — a strict bencode codec that keeps the original bytes of the info
//!   dictionary, so info hashes match every other client's;
//! * [`metainfo`] — `.torrent` files: parsing with validation, creation from a file or
//!   folder, and the piece-to-file mapping storage needs.

pub mod bencode;
pub mod metainfo;
