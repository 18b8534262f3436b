//! The sans-IO core: peer and tracker logic shared by the simulator and the tcp backend.
//!
//! Nothing here touches sockets, threads, clocks, files or a global RNG: the host passes
//! `now` and a per-peer random stream in, feeds events, and drains outputs.
