//! A token bucket for upload and download rate limits, on an injected clock.
//!
//! The caller passes `now` in microseconds (from any monotonic source) so the bucket is
//! testable with a fake clock and has no dependency on `Instant`.
//!
//! Arithmetic is exact: tokens are kept in byte·microseconds per second units
//! (bytes × 1,000,000), so refilling `rate` bytes/s over `dt` µs adds exactly
//! `rate × dt` units and no rounding drift accumulates over a long run.
//!
//! A request larger than the burst is let through once the bucket is full and leaves the
//! bucket in debt, which later requests wait out. That keeps the long-run rate exact while
//! never blocking a 16 KiB block forever behind a smaller burst.

/// Units per byte in the bucket's fixed-point arithmetic.
const SCALE: i128 = 1_000_000;

/// A token bucket: `rate` bytes per second on average, at most `burst` bytes at once
/// after an idle period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucket {
    /// Bytes per second; 0 means unlimited.
    rate: u64,
    /// Capacity in bytes.
    burst: u64,
    /// Current tokens × [`SCALE`]; negative while in debt.
    tokens: i128,
    /// When `tokens` was last brought up to date; `None` before the first call.
    last_micros: Option<u64>,
}

impl TokenBucket {
    /// A bucket refilling at `rate_bytes_per_sec`, holding at most `burst` bytes, and
    /// starting full. A rate of 0 means unlimited.
    pub fn new(rate_bytes_per_sec: u64, burst: u64) -> Self {
        TokenBucket {
            rate: rate_bytes_per_sec,
            burst,
            tokens: i128::from(burst) * SCALE,
            last_micros: None,
        }
    }

    /// A bucket from an optional rate: `None` (or 0) is unlimited.
    pub fn from_rate(rate_bytes_per_sec: Option<u64>, burst: u64) -> Self {
        TokenBucket::new(rate_bytes_per_sec.unwrap_or(0), burst)
    }

    /// A bucket that never makes anyone wait.
    pub fn unlimited() -> Self {
        TokenBucket::new(0, 0)
    }

    /// Whether this bucket limits nothing.
    pub fn is_unlimited(&self) -> bool {
        self.rate == 0
    }

    /// The configured rate in bytes per second (0 = unlimited).
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// The configured burst in bytes.
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// Takes `n` bytes' worth of tokens at time `now_micros`.
    ///
    /// `Ok(())`: send now. `Err(wait)`: nothing was taken; try again in `wait`
    /// microseconds (at least 1), when the same call will succeed if no one else took
    /// tokens meanwhile. A clock that goes backwards is treated as standing still.
    pub fn take(&mut self, now_micros: u64, n: u64) -> Result<(), u64> {
        if self.rate == 0 {
            return Ok(());
        }
        self.refill(now_micros);
        // Requests above the burst only need a full bucket (see the module doc).
        let need = i128::from(n.min(self.burst)) * SCALE;
        if self.tokens >= need {
            self.tokens -= i128::from(n) * SCALE;
            return Ok(());
        }
        let missing = need - self.tokens;
        let rate = i128::from(self.rate);
        // Round up so that after waiting, the refill covers `missing` exactly.
        let wait = (missing + rate - 1) / rate;
        Err(u64::try_from(wait).unwrap_or(u64::MAX).max(1))
    }

    /// Changes the rate (0 = unlimited) and burst, keeping the tokens already earned
    /// (capped at the new burst).
    pub fn set_rate(&mut self, now_micros: u64, rate_bytes_per_sec: u64, burst: u64) {
        self.refill(now_micros);
        self.rate = rate_bytes_per_sec;
        self.burst = burst;
        self.tokens = self.tokens.min(i128::from(burst) * SCALE);
    }

    fn refill(&mut self, now_micros: u64) {
        let last = *self.last_micros.get_or_insert(now_micros);
        let dt = now_micros.saturating_sub(last);
        self.last_micros = Some(last.max(now_micros));
        let cap = i128::from(self.burst) * SCALE;
        // i128 holds u64 × u64 without overflow.
        let earned = i128::from(dt) * i128::from(self.rate);
        self.tokens = self.tokens.saturating_add(earned).min(cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let mut b = TokenBucket::unlimited();
        for t in 0..1000 {
            assert_eq!(b.take(t, u64::MAX), Ok(()));
        }
        assert!(TokenBucket::from_rate(None, 10).is_unlimited());
        assert!(TokenBucket::new(0, 10).take(0, 1 << 40).is_ok());
    }

    #[test]
    fn starts_full_and_caps_burst() {
        let mut b = TokenBucket::new(1000, 500);
        assert_eq!(b.take(0, 500), Ok(()));
        // Empty now: 100 bytes at 1000 B/s take 100 ms.
        assert_eq!(b.take(0, 100), Err(100_000));
        // After a long idle period only `burst` bytes are available at once.
        let t = 3_600_000_000;
        assert_eq!(b.take(t, 500), Ok(()));
        assert_eq!(b.take(t, 1), Err(1_000));
    }

    #[test]
    fn waiting_the_returned_time_succeeds() {
        let mut b = TokenBucket::new(3, 10); // awkward rate: waits are not round
        assert!(b.take(0, 10).is_ok());
        let wait = b.take(0, 7).unwrap_err();
        assert!(b.take(wait - 1, 7).is_err());
        assert_eq!(b.take(wait, 7), Ok(()));
    }

    #[test]
    fn oversize_request_goes_into_debt() {
        let mut b = TokenBucket::new(1000, 100);
        assert_eq!(b.take(0, 1000), Ok(())); // full bucket lets it through
        // 900 bytes of debt plus 1 byte needed: 901 ms.
        assert_eq!(b.take(0, 1), Err(901_000));
    }

    #[test]
    fn backwards_clock_does_not_mint_tokens() {
        let mut b = TokenBucket::new(1000, 1000);
        assert!(b.take(1_000_000, 1000).is_ok());
        assert!(b.take(0, 1).is_err());
        assert!(b.take(1_000_000, 1).is_err());
    }

    /// Sends 16 KiB blocks as fast as the bucket allows for a simulated hour and checks
    /// the achieved rate.
    fn long_run(rate: u64, burst: u64, block: u64) -> f64 {
        let mut b = TokenBucket::new(rate, burst);
        let mut now = 0u64;
        let mut sent = 0u64;
        let end = 3_600_000_000;
        while now < end {
            match b.take(now, block) {
                Ok(()) => sent += block,
                Err(wait) => now += wait,
            }
        }
        // The initial burst is a one-off bonus; take it out of the long-run figure.
        (sent - burst.min(sent)) as f64 * 1e6 / now as f64
    }

    #[test]
    fn rate_honoured_over_a_long_run() {
        for &(rate, burst, block) in &[
            (1_000_000u64, 64 * 1024u64, 16 * 1024u64),
            (12_345, 16 * 1024, 16 * 1024),
            (50_000, 4 * 1024, 16 * 1024), // block larger than burst
            (7, 1, 1),
        ] {
            let got = long_run(rate, burst, block);
            let err = (got - rate as f64).abs() / rate as f64;
            assert!(err < 0.01, "rate {rate} burst {burst}: got {got:.1} B/s");
        }
    }

    #[test]
    fn set_rate_caps_tokens_to_new_burst() {
        let mut b = TokenBucket::new(1000, 10_000);
        b.set_rate(0, 1000, 100);
        assert!(b.take(0, 100).is_ok());
        assert!(b.take(0, 1).is_err());
        b.set_rate(0, 0, 0);
        assert!(b.take(0, 1 << 30).is_ok());
    }
}
