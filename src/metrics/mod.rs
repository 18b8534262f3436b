//! Metrics: the one observer interface both backends report to, and the writers of the
//! result files, so a simulated run and a tcp run of the same scenario produce the same
//! files.
//!
//! A backend calls [`Observer`] methods as things happen, in non-decreasing time order
//! (a flow segment is reported when it ends, with its start time). The [`Recorder`]
//! turns them into a [`RunResult`], whose [`RunResult::write`] writes the run folder's
//! `summary.csv`, `peers.csv`, `swarm.csv`, `chunks.csv` and `timing.csv` (docs/design.md,
//! "Result files"); [`bound()`] is the analytical lower bound the summary compares against.

pub mod bound;
pub mod ending;
mod files;
mod recorder;
#[cfg(test)]
pub(crate) mod testing;

pub use bound::{Bound, Term, bound};
pub use ending::{EndWatch, Ending};
pub use files::{PeerRecord, RegionBytes, RunResult, Sample, Summary, Timing};
pub use recorder::Recorder;

use crate::core::Role;
use crate::units::{Bytes, Rate, SimTime};

/// A peer's index in a run: its position in join order over all groups.
pub type PeerIndex = u32;

/// What is known about a peer when it joins.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerInfo {
    /// The peer's index.
    pub peer: PeerIndex,
    /// Index of its group in the scenario.
    pub group: usize,
    /// Its role.
    pub role: Role,
    /// Upload capacity drawn for it.
    pub upload: Rate,
    /// Download capacity drawn for it.
    pub download: Rate,
}

/// Why a peer left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaveReason {
    /// It completed and its linger time ran out.
    Lingered,
    /// It gave up before completing.
    Aborted,
}

/// Receives what happens in a run.
pub trait Observer {
    /// A peer joined; seeds join holding every piece.
    fn peer_joined(&mut self, now: SimTime, info: &PeerInfo);
    /// A peer verified a piece (it now holds it and may share it).
    fn piece_verified(&mut self, now: SimTime, peer: PeerIndex, piece: u32);
    /// A peer completed the file.
    fn peer_completed(&mut self, now: SimTime, peer: PeerIndex);
    /// A peer left, holding these pieces.
    fn peer_left(&mut self, now: SimTime, peer: PeerIndex, held: &[u32], reason: LeaveReason);
    /// Data flowed from `from` to `to` at a constant `rate` between `start` and `end`.
    fn flow(&mut self, from: PeerIndex, to: PeerIndex, start: SimTime, end: SimTime, rate: Rate);
    /// A block of `bytes` was delivered whole from `from` to `to`.
    fn block_delivered(&mut self, now: SimTime, from: PeerIndex, to: PeerIndex, bytes: Bytes);
    /// A peer's check of a piece of `bytes` failed: it threw the piece away. Ignored by
    /// default.
    fn piece_failed(&mut self, now: SimTime, peer: PeerIndex, piece: u32, bytes: Bytes) {
        let _ = (now, peer, piece, bytes);
    }
    /// Peer `by` banned peer `banned` (proven twice to have sent it bad data): it will
    /// not trade with it again. Ignored by default.
    fn peer_banned(&mut self, now: SimTime, by: PeerIndex, banned: PeerIndex) {
        let _ = (now, by, banned);
    }
    /// A connection between `dialler` and `dialled` opened: both ends took it. For
    /// observers that study neighbourhoods (the simulator reports it); the result files
    /// do not use it, so the default does nothing, and the tcp backend, whose observer
    /// is always the [`Recorder`], does not report it.
    fn connected(&mut self, now: SimTime, dialler: PeerIndex, dialled: PeerIndex) {
        let _ = (now, dialler, dialled);
    }
    /// The connection between `dialler` and `dialled` closed (either end, or a
    /// departure). The default does nothing.
    fn disconnected(&mut self, now: SimTime, dialler: PeerIndex, dialled: PeerIndex) {
        let _ = (now, dialler, dialled);
    }
    /// Peer `by` choked (`choked`) or unchoked `peer`: the decision, when its message
    /// is sent. For observers that study who serves whom (the real-swarm bench traces
    /// it); the simulator reports it, the result files do not use it.
    fn choke_changed(&mut self, now: SimTime, by: PeerIndex, peer: PeerIndex, choked: bool) {
        let _ = (now, by, peer, choked);
    }
}
