//! The tcp backend: real sockets, real files, the BEP 3 wire protocol.
//!
//! Pure building blocks live in their own modules so they can be tested without sockets:
//! [`wire`] (the peer wire codec), [`storage`] (piece storage with SHA-1 verification)
//! and [`rate_limit`] (a token bucket on an injected clock).

pub mod rate_limit;
pub mod storage;
pub mod wire;
