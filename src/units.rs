//! Quantities with their units: sizes ([`Bytes`]), rates ([`Rate`]), instants and
//! durations of (simulated or scenario) time ([`SimTime`], [`SimDuration`]).
//!
//! Time is an integer number of microseconds, never a float, so that a simulation is
//! reproducible to the bit. Rates are integer bits per second: every rate a scenario can
//! write (`bit/s` up to `GiB/s`) is a whole number of bits per second.
//!
//! Each type parses the strict, unit-carrying text of scenario files (`"64 MiB"`,
//! `"2 Mbit/s"`, `"20 ms"`) through [`std::str::FromStr`]; the error says what was
//! expected and, where it can guess, what the user probably meant.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

/// A size in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub u64);

/// A data rate in bits per second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(pub u64);

/// An instant: microseconds since the start of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of time in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

/// Arrivals per second, as a rational number of arrivals per `per` microseconds,
/// kept exact so that `"3/h"` does not become a rounded float.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrivalRate {
    /// Arrivals in one period.
    pub count: u64,
    /// The period.
    pub per: SimDuration,
}

/// `a * b / d` rounded down, exactly, saturating at `u64::MAX` (`d` of zero gives
/// `u64::MAX`). In 64 bits when the product fits, which on the engine's hot paths it
/// nearly always does: a 128-bit division is a library call several times slower.
pub fn mul_div(a: u64, b: u64, d: u64) -> u64 {
    match (a.checked_mul(b), d) {
        (_, 0) => u64::MAX,
        (Some(p), d) => p / d,
        (None, d) => {
            u64::try_from(u128::from(a) * u128::from(b) / u128::from(d)).unwrap_or(u64::MAX)
        }
    }
}

impl Bytes {
    /// One kibibyte.
    pub const KIB: Bytes = Bytes(1024);
    /// One mebibyte.
    pub const MIB: Bytes = Bytes(1024 * 1024);
    /// The number of bits.
    pub fn bits(self) -> u128 {
        self.0 as u128 * 8
    }
}

impl Rate {
    /// Rate from bits per second.
    pub const fn bits_per_sec(bps: u64) -> Rate {
        Rate(bps)
    }
    /// Rate from megabits per second.
    pub const fn mbit(m: u64) -> Rate {
        Rate(m * 1_000_000)
    }
    /// Bits per second as a float, for reports only.
    pub fn as_f64(self) -> f64 {
        self.0 as f64
    }
    /// Bytes per second as a float, for reports only.
    pub fn bytes_per_sec_f64(self) -> f64 {
        self.0 as f64 / 8.0
    }
    /// How long `size` takes at this rate, rounded up to the next microsecond.
    /// `None` for a zero rate.
    pub fn time_for(self, size: Bytes) -> Option<SimDuration> {
        if self.0 == 0 {
            return None;
        }
        let ubits = size.bits() * 1_000_000;
        let us = ubits.div_ceil(self.0 as u128);
        Some(SimDuration(us.min(u64::MAX as u128) as u64))
    }
}

impl SimTime {
    /// The start of a run.
    pub const ZERO: SimTime = SimTime(0);
    /// Never: later than any instant a run reaches.
    pub const NEVER: SimTime = SimTime(u64::MAX);
    /// Seconds as a float, for reports only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    /// The time elapsed since `earlier`, or zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);
    /// Whole seconds.
    pub const fn from_secs(s: u64) -> SimDuration {
        SimDuration(s * 1_000_000)
    }
    /// Milliseconds.
    pub const fn from_millis(ms: u64) -> SimDuration {
        SimDuration(ms * 1_000)
    }
    /// Seconds as a float, for reports only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.since(earlier)
    }
}

impl ArrivalRate {
    /// Mean time between arrivals.
    pub fn mean_gap(self) -> SimDuration {
        SimDuration(self.per.0 / self.count.max(1))
    }
}

// ---------------------------------------------------------------- display

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        for (scale, unit) in UNITS {
            if self.0 >= scale && self.0.is_multiple_of(scale) {
                return write!(f, "{} {unit}", self.0 / scale);
            }
        }
        write!(f, "{} B", self.0)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [
            (1_000_000_000, "Gbit/s"),
            (1_000_000, "Mbit/s"),
            (1_000, "kbit/s"),
        ];
        for (scale, unit) in UNITS {
            if self.0 >= scale && self.0.is_multiple_of(scale) {
                return write!(f, "{} {unit}", self.0 / scale);
            }
        }
        write!(f, "{} bit/s", self.0)
    }
}

fn fmt_duration(us: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    const UNITS: [(u64, &str); 4] = [
        (3_600_000_000, "h"),
        (60_000_000, "min"),
        (1_000_000, "s"),
        (1_000, "ms"),
    ];
    for (scale, unit) in UNITS {
        if us >= scale && us.is_multiple_of(scale) {
            return write!(f, "{} {unit}", us / scale);
        }
    }
    write!(f, "{us} us")
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_duration(self.0, f)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} s", self.as_secs_f64())
    }
}

impl fmt::Display for ArrivalRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.0 {
            1_000_000 => "s",
            60_000_000 => "min",
            3_600_000_000 => "h",
            _ => return write!(f, "{}/{}", self.count, self.per),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

// ---------------------------------------------------------------- parsing

/// Why a quantity did not parse: a sentence fit to follow `"<text>" is not a …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitError(pub String);

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnitError {}

/// Splits `"2.5 Mbit/s"` into the number 2.5 (as an exact decimal) and the unit.
/// Accepts an optional single space; rejects signs, exponents and empty parts.
fn split_quantity(text: &str) -> Option<(Decimal, &str)> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (num, rest) = text.split_at(end);
    let unit = rest.strip_prefix(' ').unwrap_or(rest);
    Some((Decimal::parse(num)?, unit))
}

/// A non-negative decimal number kept exact as `mantissa / 10^scale`.
#[derive(Clone, Copy, Debug)]
struct Decimal {
    mantissa: u128,
    scale: u32,
}

impl Decimal {
    fn parse(s: &str) -> Option<Decimal> {
        if s.is_empty() || s.starts_with('.') || s.ends_with('.') {
            return None;
        }
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if frac.contains('.') || frac.len() > 9 {
            return None;
        }
        let digits: String = [int, frac].concat();
        let mantissa: u128 = digits.parse().ok()?;
        Some(Decimal {
            mantissa,
            scale: frac.len() as u32,
        })
    }

    /// `self × factor`, which must come out a whole number that fits in a u64.
    fn times(self, factor: u128) -> Option<u64> {
        let scaled = self.mantissa.checked_mul(factor)?;
        let div = 10u128.pow(self.scale);
        if scaled % div != 0 {
            return None;
        }
        u64::try_from(scaled / div).ok()
    }
}

fn quantity(text: &str, what: &str, units: &[(&str, u128)], hint: &str) -> Result<u64, UnitError> {
    let Some((number, unit)) = split_quantity(text) else {
        return Err(UnitError(format!("\"{text}\" is not {what} ({hint})")));
    };
    let Some(&(_, factor)) = units.iter().find(|(name, _)| *name == unit) else {
        let suggestion = suggest_unit(unit, units)
            .map(|u| format!("try \"{} {u}\"", trim_number(text)))
            .unwrap_or_else(|| hint.to_string());
        return Err(UnitError(format!(
            "\"{text}\" is not {what} ({suggestion})"
        )));
    };
    number.times(factor).ok_or_else(|| {
        UnitError(format!(
            "\"{text}\" is not {what} (too precise or too large for whole {})",
            units.last().map(|u| u.0).unwrap_or("units")
        ))
    })
}

fn trim_number(text: &str) -> &str {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The unit the user most likely meant, for common misspellings (`Mbps`, `mb/s`, `sec`).
fn suggest_unit<'a>(unit: &str, units: &[(&'a str, u128)]) -> Option<&'a str> {
    let lower = unit.to_ascii_lowercase();
    let normalized = lower
        .replace("bps/s", "bit/s")
        .replace("bps", "bit/s")
        .replace("bits", "bit")
        .replace("/sec", "/s")
        .replace("seconds", "s")
        .replace("second", "s")
        .replace("secs", "s")
        .replace("sec", "s")
        .replace("mins", "min")
        .replace("minutes", "min")
        .replace("minute", "min")
        .replace("hours", "h")
        .replace("hour", "h")
        .replace("bytes", "b")
        .replace("byte", "b");
    units
        .iter()
        .map(|(name, _)| *name)
        .find(|name| name.to_ascii_lowercase() == normalized)
        .or_else(|| {
            units
                .iter()
                .map(|(name, _)| *name)
                .find(|name| name.eq_ignore_ascii_case(unit))
        })
}

const SIZE_UNITS: &[(&str, u128)] = &[
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("kB", 1_000),
    ("B", 1),
];

/// Rates are stored in bits per second; byte rates multiply by eight.
const RATE_UNITS: &[(&str, u128)] = &[
    ("Gbit/s", 1_000_000_000),
    ("Mbit/s", 1_000_000),
    ("kbit/s", 1_000),
    ("MiB/s", 8 << 20),
    ("KiB/s", 8 << 10),
    ("MB/s", 8_000_000),
    ("kB/s", 8_000),
    ("B/s", 8),
    ("bit/s", 1),
];

const DURATION_UNITS: &[(&str, u128)] = &[
    ("h", 3_600_000_000),
    ("min", 60_000_000),
    ("s", 1_000_000),
    ("ms", 1_000),
    ("us", 1),
];

impl FromStr for Bytes {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        quantity(
            s,
            "a size",
            SIZE_UNITS,
            "write a number and one of B KiB MiB GiB kB MB GB, e.g. \"64 MiB\"",
        )
        .map(Bytes)
    }
}

impl FromStr for Rate {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        quantity(
            s,
            "a rate",
            RATE_UNITS,
            "write a number and one of bit/s kbit/s Mbit/s Gbit/s B/s KiB/s MiB/s kB/s MB/s, e.g. \"10 Mbit/s\"",
        )
        .map(Rate)
    }
}

impl FromStr for SimDuration {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        quantity(
            s,
            "a duration",
            DURATION_UNITS,
            "write a number and one of us ms s min h, e.g. \"10 s\"",
        )
        .map(SimDuration)
    }
}

impl FromStr for ArrivalRate {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        let hint = || {
            UnitError(format!(
                "\"{s}\" is not an arrival rate (write arrivals per s, min or h, e.g. \"0.5/s\")"
            ))
        };
        let (num, per) = s.trim().split_once('/').ok_or_else(hint)?;
        let per = match per.trim() {
            "s" => SimDuration::from_secs(1),
            "min" => SimDuration::from_secs(60),
            "h" => SimDuration::from_secs(3600),
            _ => return Err(hint()),
        };
        let number = Decimal::parse(num.trim()).ok_or_else(hint)?;
        // Keep it exact: 0.5/s becomes 5 per 10 s.
        let scale = 10u64.pow(number.scale);
        let count = u64::try_from(number.mantissa).map_err(|_| hint())?;
        if count == 0 {
            return Err(UnitError(format!(
                "\"{s}\" is not an arrival rate (it must be greater than zero)"
            )));
        }
        Ok(ArrivalRate {
            count,
            per: SimDuration(per.0.checked_mul(scale).ok_or_else(hint)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_exactly() {
        assert_eq!("64 MiB".parse::<Bytes>(), Ok(Bytes(64 << 20)));
        assert_eq!("256KiB".parse::<Bytes>(), Ok(Bytes(256 << 10)));
        assert_eq!("1.5 kB".parse::<Bytes>(), Ok(Bytes(1500)));
        assert!("lots MiB".parse::<Bytes>().is_err());
        assert!("1.5 B".parse::<Bytes>().is_err());
        assert!("-1 MiB".parse::<Bytes>().is_err());
        assert!("".parse::<Bytes>().is_err());
    }

    #[test]
    fn rates_parse_to_bits_per_second() {
        assert_eq!("2 Mbit/s".parse::<Rate>(), Ok(Rate(2_000_000)));
        assert_eq!("1 MiB/s".parse::<Rate>(), Ok(Rate(8 << 20)));
        assert_eq!("0.5 Mbit/s".parse::<Rate>(), Ok(Rate(500_000)));
        let err = "10 Mbps/s".parse::<Rate>().unwrap_err();
        assert!(err.0.contains("try \"10 Mbit/s\""), "{err}");
    }

    #[test]
    fn durations_parse_to_microseconds() {
        assert_eq!("20 ms".parse(), Ok(SimDuration(20_000)));
        assert_eq!("30 min".parse(), Ok(SimDuration::from_secs(1800)));
        assert_eq!("1.5 s".parse(), Ok(SimDuration(1_500_000)));
        assert!(
            "10 sec"
                .parse::<SimDuration>()
                .unwrap_err()
                .0
                .contains("try \"10 s\"")
        );
    }

    #[test]
    fn arrival_rates_stay_exact() {
        let r: ArrivalRate = "0.5/s".parse().unwrap();
        assert_eq!(r.mean_gap(), SimDuration::from_secs(2));
        let r: ArrivalRate = "3/h".parse().unwrap();
        assert_eq!(r.mean_gap(), SimDuration::from_secs(1200));
        assert!("0/s".parse::<ArrivalRate>().is_err());
        assert!("fast".parse::<ArrivalRate>().is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "64 MiB",
            "300 B",
            "2 Mbit/s",
            "1500 bit/s",
            "20 ms",
            "30 min",
            "7 us",
        ] {
            let shown = if let Ok(b) = s.parse::<Bytes>() {
                b.to_string()
            } else if let Ok(r) = s.parse::<Rate>() {
                r.to_string()
            } else {
                s.parse::<SimDuration>().unwrap().to_string()
            };
            assert_eq!(shown, s);
        }
    }

    #[test]
    fn mul_div_is_exact_past_64_bits() {
        assert_eq!(mul_div(7, 3, 2), 10);
        assert_eq!(mul_div(u64::MAX, 4, 8), u64::MAX / 2);
        assert_eq!(mul_div(u64::MAX, 2, 1), u64::MAX);
        assert_eq!(mul_div(1, 1, 0), u64::MAX);
        for (a, b, d) in [
            (1u64 << 40, 1u64 << 30, 3u64 << 10),
            (123_456_789, 987_654_321, 1_000_000),
        ] {
            let exact = u128::from(a) * u128::from(b) / u128::from(d);
            assert_eq!(u128::from(mul_div(a, b, d)), exact);
        }
    }

    #[test]
    fn transfer_time_rounds_up() {
        let t = Rate::mbit(2).time_for(Bytes(256 << 10)).unwrap();
        assert_eq!(t, SimDuration(1_048_576)); // 2 Mibit at 2 Mbit/s
        assert_eq!(Rate(0).time_for(Bytes(1)), None);
    }
}
