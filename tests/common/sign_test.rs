//! The one-sided sign test the effect tests use to assert a direction over paired runs
//! (tests/strategies.rs, tests/populations.rs include this file by path).

/// The fewest of `n` paired runs that must go one way for a one-sided sign test to
/// reject "either way equally likely" at 5 %: the smallest k with P(X ≥ k) ≤ 0.05 for
/// X ~ Binomial(n, 1/2) (7 of 8, 12 of 16, 17 of 24).
pub fn sign_test_threshold(n: u32) -> usize {
    let n = n as usize;
    // C(n, j) for j = 0..=n, exact in f64 for the n used here.
    let mut c = vec![1.0f64; n + 1];
    for j in 1..=n {
        c[j] = c[j - 1] * (n + 1 - j) as f64 / j as f64;
    }
    let total = 2f64.powi(n as i32);
    (0..=n)
        .find(|&k| c[k..].iter().sum::<f64>() / total <= 0.05)
        .unwrap_or(n + 1)
}
