//! A token bucket for upload and download rate limits, on an injected clock.
//!
//! The caller passes `now` in microseconds (from any monotonic source) so the bucket is
//! testable with a fake clock and has no dependency on `Instant`.
//!
//! Arithmetic is exact: tokens are kept in byte·microseconds per second units
//! (bytes × 1,000,000), so refilling `rate` bytes/s over `dt` µs adds exactly
//! `rate × dt` units and no rounding drift accumulates over a long run.
//!
//! Callers *reserve* bytes: the tokens are taken at once, into debt if need be, and the
//! caller waits the time returned before it sends. Reservations are therefore served in
//! the order they are made, so connections sharing one bucket take turns, as TCP flows
//! sharing a link do. (Polling instead — try, sleep, try again — hands the bucket to
//! whichever waiter asks first after a refill, which is the one that was just served:
//! one connection took a host's whole download while its other peers got nothing;
//! docs/findings.md, entry 74.)
//!
//! A request larger than the burst may go once the bucket is full and leaves it in debt,
//! which later requests wait out. That keeps the long-run rate exact while never blocking
//! a 16 KiB block forever behind a smaller burst.

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

    /// Reserves `n` bytes at time `now_micros` and returns how many microseconds the
    /// caller must wait before sending them (0: send now). The tokens are taken at once,
    /// so a later reservation waits behind this one: first come, first served. A clock
    /// that goes backwards is treated as standing still.
    pub fn reserve(&mut self, now_micros: u64, n: u64) -> u64 {
        if self.rate == 0 {
            return 0;
        }
        self.refill(now_micros);
        self.tokens -= i128::from(n) * SCALE;
        // A request above the burst only needs a full bucket (see the module doc): it may
        // leave the bucket that far in debt.
        let floor = -i128::from(n.saturating_sub(self.burst)) * SCALE;
        if self.tokens >= floor {
            return 0;
        }
        let missing = floor - self.tokens;
        let rate = i128::from(self.rate);
        // Round up so that after waiting, the refill covers `missing` exactly.
        u64::try_from((missing + rate - 1) / rate).unwrap_or(u64::MAX)
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
            assert_eq!(b.reserve(t, u64::MAX), 0);
        }
        assert!(TokenBucket::from_rate(None, 10).is_unlimited());
        assert_eq!(TokenBucket::new(0, 10).reserve(0, 1 << 40), 0);
    }

    #[test]
    fn starts_full_and_caps_burst() {
        let mut b = TokenBucket::new(1000, 500);
        assert_eq!(b.reserve(0, 500), 0);
        // Empty now: 100 bytes at 1000 B/s take 100 ms.
        assert_eq!(b.reserve(0, 100), 100_000);
        // After a long idle period only `burst` bytes are available at once.
        let t = 3_600_000_000;
        assert_eq!(b.reserve(t, 500), 0);
        assert_eq!(b.reserve(t, 1), 1_000);
    }

    #[test]
    fn reservations_wait_in_the_order_they_were_made() {
        let mut b = TokenBucket::new(3, 10); // awkward rate: waits are not round
        assert_eq!(b.reserve(0, 10), 0);
        let first = b.reserve(0, 7);
        let second = b.reserve(0, 7);
        assert_eq!(first, 2_333_334); // 7 bytes at 3 B/s, rounded up
        assert_eq!(second, 4_666_667); // behind the first: 14 bytes
        // Someone asking once the first may go still waits behind the second.
        assert!(b.reserve(first, 1) > second - first);
    }

    #[test]
    fn waiters_sharing_a_bucket_take_turns() {
        // Three connections, each sending a 16 KiB block as soon as its turn comes and
        // reserving the next at once (a read loop that always has data). Whoever asks
        // first after a refill must not keep the bucket: each gets a third.
        let block = 16 * 1024;
        let mut b = TokenBucket::new(200_000, 2 * block);
        let mut due = [0u64; 3]; // when each may send its reserved block
        let mut sent = [0u64; 3];
        for (i, d) in due.iter_mut().enumerate() {
            *d = b.reserve(i as u64, block);
        }
        for _ in 0..3000 {
            let (i, &now) = due.iter().enumerate().min_by_key(|&(_, t)| *t).unwrap();
            sent[i] += block;
            due[i] = now + b.reserve(now, block);
        }
        let total: u64 = sent.iter().sum();
        for s in sent {
            assert!(s.abs_diff(total / 3) <= block, "shares {sent:?}");
        }
    }

    #[test]
    fn oversize_request_goes_into_debt() {
        let mut b = TokenBucket::new(1000, 100);
        assert_eq!(b.reserve(0, 1000), 0); // full bucket lets it through
        // 900 bytes of debt plus 1 byte needed: 901 ms.
        assert_eq!(b.reserve(0, 1), 901_000);
    }

    #[test]
    fn backwards_clock_does_not_mint_tokens() {
        let mut b = TokenBucket::new(1000, 1000);
        assert_eq!(b.reserve(1_000_000, 1000), 0);
        assert_eq!(b.reserve(0, 1), 1_000);
        assert_eq!(b.reserve(1_000_000, 1), 2_000);
    }

    /// Sends 16 KiB blocks as fast as the bucket allows for a simulated hour and checks
    /// the achieved rate.
    fn long_run(rate: u64, burst: u64, block: u64) -> f64 {
        let mut b = TokenBucket::new(rate, burst);
        let mut now = 0u64;
        let mut sent = 0u64;
        let end = 3_600_000_000;
        while now < end {
            now += b.reserve(now, block);
            sent += block;
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
        assert_eq!(b.reserve(0, 100), 0);
        assert_eq!(b.reserve(0, 1), 1_000);
        b.set_rate(0, 0, 0);
        assert_eq!(b.reserve(0, 1 << 30), 0);
    }
}
