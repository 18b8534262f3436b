//! The peer's timer table: one deadline per kind of timer, so the next wake-up is the
//! earliest armed one and "no timer" is `None`, not a sentinel far in the future.

use crate::units::SimTime;

/// The peer's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// The next rechoke (every `policy.rechoke_interval`).
    Rechoke,
    /// The next regular announce (every announce interval).
    Announce,
}

const TIMERS: usize = 2;

impl Timer {
    fn slot(self) -> usize {
        match self {
            Timer::Rechoke => 0,
            Timer::Announce => 1,
        }
    }
}

/// When each timer fires, if armed.
#[derive(Clone, Debug, Default)]
pub(super) struct Timers {
    at: [Option<SimTime>; TIMERS],
}

impl Timers {
    /// Arms `timer` for `at`, replacing its earlier deadline.
    pub(super) fn set(&mut self, timer: Timer, at: SimTime) {
        self.at[timer.slot()] = Some(at);
    }

    /// Disarms every timer.
    pub(super) fn clear_all(&mut self) {
        self.at = [None; TIMERS];
    }

    /// Whether `timer` is armed for `now` or earlier.
    pub(super) fn is_due(&self, timer: Timer, now: SimTime) -> bool {
        self.at[timer.slot()].is_some_and(|at| at <= now)
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<SimTime> {
        self.at.iter().flatten().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_wake_up_is_the_earliest_armed_timer() {
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Announce, SimTime(50));
        t.set(Timer::Rechoke, SimTime(10));
        assert_eq!(t.next(), Some(SimTime(10)));
        assert!(t.is_due(Timer::Rechoke, SimTime(10)));
        assert!(!t.is_due(Timer::Announce, SimTime(10)));
        t.set(Timer::Rechoke, SimTime(60));
        assert_eq!(t.next(), Some(SimTime(50)));
        t.clear_all();
        assert_eq!(t.next(), None);
    }
}
