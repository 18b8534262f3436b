//! How a run ends, decided the same way in both backends: when every leecher has
//! completed or left (for `stop = "all-complete"`), at the scenario's stop time, or when
//! the swarm stalls — no block delivered, no leecher finished and nobody joined for
//! [`STALL_LIMIT`] of scenario time while leechers are still unfinished (for example,
//! every seed left before anyone completed).

use crate::units::{SimDuration, SimTime};

/// A swarm that makes no progress for this long (scenario time) is stalled.
pub const STALL_LIMIT: SimDuration = SimDuration::from_secs(3600);

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every leecher completed or left.
    AllComplete,
    /// The scenario's stop time came.
    TimeLimit,
    /// Nothing moved for [`STALL_LIMIT`] while leechers were unfinished.
    Stalled,
}

impl Ending {
    /// A sentence on how a run ended, for the terminal.
    pub fn describe(self) -> &'static str {
        match self {
            Ending::AllComplete => "every leecher completed or left",
            Ending::TimeLimit => "the scenario's stop time was reached",
            Ending::Stalled => "the swarm stalled (no data moved for an hour of scenario time)",
        }
    }
}

/// Watches a run for its all-complete and stall endings.
#[derive(Clone, Debug)]
pub struct EndWatch {
    leechers: u64,
    done: u64,
    last_progress: SimTime,
}

impl EndWatch {
    /// A run with `leechers` leechers (every peer that is not a seed).
    pub fn new(leechers: u64) -> EndWatch {
        EndWatch {
            leechers,
            done: 0,
            last_progress: SimTime::ZERO,
        }
    }

    /// Leechers done (completed or left).
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Leechers in all.
    pub fn leechers(&self) -> u64 {
        self.leechers
    }

    /// A leecher completed or left unfinished (count each leecher once).
    pub fn leecher_done(&mut self, now: SimTime) {
        self.done += 1;
        self.progress(now);
    }

    /// Something moved: a block was delivered, or a peer joined.
    pub fn progress(&mut self, now: SimTime) {
        self.last_progress = self.last_progress.max(now);
    }

    /// Every leecher is done.
    pub fn all_done(&self) -> bool {
        self.done >= self.leechers
    }

    /// The swarm has stalled by `now`.
    pub fn stalled(&self, now: SimTime) -> bool {
        !self.all_done() && now.since(self.last_progress) > STALL_LIMIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swarm_stalls_an_hour_after_its_last_progress_unless_done() {
        let mut w = EndWatch::new(2);
        w.progress(SimTime(10));
        assert!(!w.stalled(SimTime(10) + STALL_LIMIT));
        assert!(w.stalled(SimTime(11) + STALL_LIMIT));
        w.leecher_done(SimTime(20));
        assert!(!w.all_done());
        w.leecher_done(SimTime(30));
        assert!(w.all_done());
        assert!(!w.stalled(SimTime(40) + STALL_LIMIT), "done is not stalled");
    }
}
