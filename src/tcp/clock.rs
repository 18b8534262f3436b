//! The core's clock over real time: scenario microseconds since an origin, possibly
//! running faster than the wall clock (a sped-up laboratory swarm), and its conversions
//! to wall-clock durations and tokio deadlines.

use crate::units::{SimDuration, SimTime};
use std::time::{Duration, Instant};

/// Microseconds since `origin` (the session's start, or the swarm's), times `scale` (1 in
/// real time; X when a swarm runs X times faster than scenario time, so that the core's
/// timers and rate estimates stay in scenario units).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
    scale: f64,
}

impl Clock {
    /// A real-time clock starting now.
    pub fn real() -> Clock {
        Clock::scaled(1.0)
    }

    /// A clock starting now that runs `scale` times faster than the wall clock.
    pub fn scaled(scale: f64) -> Clock {
        Clock {
            origin: Instant::now(),
            scale,
        }
    }

    /// How many times faster than the wall clock it runs.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Wall-clock time since the origin.
    pub fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }

    /// The core's (scenario) time now.
    pub fn now(&self) -> SimTime {
        SimTime(saturating_u64(self.micros() as f64 * self.scale))
    }

    /// Wall-clock microseconds since the origin (token buckets run on these).
    pub fn micros(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// A scenario duration in wall-clock time.
    pub fn wall(&self, d: SimDuration) -> Duration {
        Duration::from_micros(saturating_u64(d.0 as f64 / self.scale))
    }

    /// A wall-clock duration in scenario time.
    pub fn scenario(&self, wall: Duration) -> SimDuration {
        SimDuration(saturating_u64(wall.as_micros() as f64 * self.scale))
    }

    /// A wall-clock rate (bytes per second) for a scenario rate in bit/s.
    pub fn wall_rate(&self, rate: crate::units::Rate) -> u64 {
        saturating_u64((rate.0 as f64 / 8.0) * self.scale).max(1)
    }

    /// The tokio deadline of a core time.
    pub fn deadline(&self, t: SimTime) -> tokio::time::Instant {
        let wall = Duration::from_micros(saturating_u64(t.0 as f64 / self.scale));
        tokio::time::Instant::from_std(self.origin + wall)
    }
}

/// A non-negative float as a whole `u64`, saturating (NaN is 0).
fn saturating_u64(x: f64) -> u64 {
    if x.is_nan() || x <= 0.0 {
        0
    } else if x >= u64::MAX as f64 {
        u64::MAX
    } else {
        // In range and non-negative: the conversion truncates the fraction only.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = x as u64;
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sped_up_clock_reads_scenario_time() {
        let c = Clock::scaled(4.0);
        assert_eq!(c.wall(SimDuration::from_secs(8)), Duration::from_secs(2));
        assert_eq!(c.wall_rate(crate::units::Rate(8_000)), 4_000);
        let d = c.deadline(SimTime(4_000_000)) - tokio::time::Instant::from_std(c.origin);
        assert_eq!(d, Duration::from_secs(1));
        assert_eq!(saturating_u64(f64::NAN), 0);
        assert_eq!(saturating_u64(1e30), u64::MAX);
    }
}
