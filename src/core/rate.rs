//! Transfer-rate estimates over a rolling window, from the bytes a host reports.
//!
//! Tit-for-tat ranks peers by how fast they gave us data lately. The window is split into
//! four buckets plus the current one; a rate is the bytes in those buckets over the time
//! they cover. Integer arithmetic, so estimates are identical on every machine.

use crate::units::{SimDuration, SimTime, mul_div};

const BUCKETS: usize = 5;

/// The bucket of epoch `epoch` (below `BUCKETS`, so the index fits).
fn bucket(epoch: u64) -> usize {
    usize::try_from(epoch % BUCKETS as u64).unwrap_or(0)
}

/// Bytes moved recently on one direction of one connection.
#[derive(Clone, Debug)]
pub struct RateMeter {
    bucket_len: u64,
    epoch: u64,
    counts: [u64; BUCKETS],
    started: SimTime,
}

impl RateMeter {
    /// A meter measuring over `window`, starting at `now`.
    pub fn new(window: SimDuration, now: SimTime) -> RateMeter {
        let bucket_len = (window.0 / (BUCKETS as u64 - 1)).max(1);
        RateMeter {
            bucket_len,
            epoch: now.0 / bucket_len,
            counts: [0; BUCKETS],
            started: now,
        }
    }

    fn advance(&mut self, now: SimTime) {
        let epoch = now.0 / self.bucket_len;
        if epoch <= self.epoch {
            return;
        }
        let steps = (epoch - self.epoch).min(BUCKETS as u64);
        for k in 1..=steps {
            self.counts[bucket(self.epoch + k)] = 0;
        }
        self.epoch = epoch;
    }

    /// Records `bytes` moved at `now`.
    pub fn record(&mut self, now: SimTime, bytes: u64) {
        self.advance(now);
        self.counts[bucket(self.epoch)] += bytes;
    }

    /// Bytes per second over the window ending at `now`.
    pub fn rate(&mut self, now: SimTime) -> u64 {
        self.rate_since(now, SimTime::ZERO)
    }

    /// [`Self::rate`], but over no more than the time since `since`: for a flow that
    /// could not have moved anything before then (a neighbour that kept us choked), so
    /// the wait does not count as a slow start.
    pub fn rate_since(&mut self, now: SimTime, since: SimTime) -> u64 {
        self.advance(now);
        let total: u64 = self.counts.iter().sum();
        let window_start = (self.epoch + 1).saturating_sub(BUCKETS as u64) * self.bucket_len;
        let from = window_start.max(self.started.0).max(since.0);
        let span = now.0 - from.min(now.0);
        if span == 0 {
            return 0;
        }
        mul_div(total, 1_000_000, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_flow_measures_its_rate() {
        let mut m = RateMeter::new(SimDuration::from_secs(20), SimTime(0));
        for s in 1..=60 {
            m.record(SimTime(s * 1_000_000), 1000);
        }
        let r = m.rate(SimTime(60_000_000));
        assert!((950..=1050).contains(&r), "{r}");
    }

    #[test]
    fn a_rate_since_counts_only_the_time_after() {
        let mut m = RateMeter::new(SimDuration::from_secs(20), SimTime(0));
        // Nothing for 10 s (choked), then 1000 bytes a second for 2 s.
        m.record(SimTime(11_000_000), 1000);
        m.record(SimTime(12_000_000), 1000);
        assert_eq!(m.rate(SimTime(12_000_000)), 166);
        assert_eq!(m.rate_since(SimTime(12_000_000), SimTime(10_000_000)), 1000);
        // Once the window has moved past `since`, it is the plain rate.
        let later = SimTime(60_000_000);
        assert_eq!(m.rate_since(later, SimTime(10_000_000)), m.rate(later));
    }

    #[test]
    fn old_traffic_is_forgotten() {
        let mut m = RateMeter::new(SimDuration::from_secs(20), SimTime(0));
        m.record(SimTime(1_000_000), 1_000_000);
        assert!(m.rate(SimTime(2_000_000)) > 0);
        assert_eq!(m.rate(SimTime(40_000_000)), 0);
    }
}
