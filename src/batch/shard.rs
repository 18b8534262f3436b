//! `--shard K/N`: which slice of a batch's run list one process runs.
//!
//! Slices are round-robin by run index: run `i` (0-based, in plan order) belongs to
//! shard `i % N + 1`. Round-robin rather than contiguous blocks because the plan lists a
//! sweep's points in order, and neighbouring points tend to cost alike (a swept swarm
//! size makes every run of the last block the slowest); dealing them out like cards
//! keeps the shards' wall-clock times close.

use std::fmt;
use std::str::FromStr;

/// One slice of a run list: shard `k` of `n`, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard's number, `1..=n`.
    pub k: u32,
    /// How many shards the run list is dealt into.
    pub n: u32,
}

impl Shard {
    /// The whole run list (shard 1 of 1).
    pub const WHOLE: Shard = Shard { k: 1, n: 1 };

    /// A shard, checked: `1 <= k <= n`.
    pub fn new(k: u32, n: u32) -> Result<Shard, String> {
        if n == 0 {
            return Err("N must be at least 1 (expected K/N such as 2/8)".into());
        }
        if k == 0 || k > n {
            return Err(format!(
                "K must be between 1 and N = {n} (expected K/N such as 2/8)"
            ));
        }
        Ok(Shard { k, n })
    }

    /// Whether run `index` (0-based, in plan order) belongs to this shard.
    pub fn contains(&self, index: usize) -> bool {
        Self::of(index, self.n) == self.k
    }

    /// The shard (1-based) that run `index` belongs to when the list is dealt into `n`.
    pub fn of(index: usize, n: u32) -> u32 {
        (index % n.max(1) as usize) as u32 + 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// Parses `K/N`; the error is a phrase to follow the flag and value.
    fn from_str(s: &str) -> Result<Shard, String> {
        let Some((k, n)) = s.split_once('/') else {
            return Err("expected K/N such as 2/8".into());
        };
        let number = |t: &str| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| format!("\"{t}\" is not a whole number (expected K/N such as 2/8)"))
        };
        Shard::new(number(k)?, number(n)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_good_shards() {
        assert_eq!("2/8".parse::<Shard>(), Ok(Shard { k: 2, n: 8 }));
        assert_eq!("1/1".parse::<Shard>(), Ok(Shard::WHOLE));
        assert_eq!("4/4".parse::<Shard>(), Ok(Shard { k: 4, n: 4 }));
    }

    #[test]
    fn rejects_malformed_shards() {
        for bad in ["3/2", "0/4", "a/b", "1/0", "2", "", "1/2/3", "-1/2", "1/"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn shards_partition_the_run_list() {
        for n in 1..6u32 {
            for index in 0..40 {
                let owners: Vec<u32> = (1..=n)
                    .filter(|&k| Shard { k, n }.contains(index))
                    .collect();
                assert_eq!(owners, vec![Shard::of(index, n)]);
            }
        }
        // Round-robin: consecutive runs go to consecutive shards.
        let first: Vec<u32> = (0..7).map(|i| Shard::of(i, 3)).collect();
        assert_eq!(first, [1, 2, 3, 1, 2, 3, 1]);
    }
}
