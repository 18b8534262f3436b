//! Small statistics for comparing strategies over replicates: means and the half-width
//! of a Student-t 95 % confidence interval, with our own t-quantile table (no stats
//! dependency, and numbers that cannot drift with a library upgrade).

/// The 0.975 quantile of Student's t with 1..=30 degrees of freedom (standard tables,
/// e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
const T975: [f64; 30] = [
    12.706_204_736,
    4.302_652_730,
    3.182_446_305,
    2.776_445_105,
    2.570_581_836,
    2.446_911_851,
    2.364_624_252,
    2.306_004_135,
    2.262_157_163,
    2.228_138_852,
    2.200_985_160,
    2.178_812_830,
    2.160_368_656,
    2.144_786_688,
    2.131_449_546,
    2.119_905_299,
    2.109_815_578,
    2.100_922_040,
    2.093_024_054,
    2.085_963_447,
    2.079_613_845,
    2.073_873_068,
    2.068_657_610,
    2.063_898_562,
    2.059_538_553,
    2.055_529_439,
    2.051_830_516,
    2.048_407_142,
    2.045_229_642,
    2.042_272_456,
];

/// The 0.975 quantile of the standard normal distribution.
const Z975: f64 = 1.959_963_985;

/// The 0.975 quantile of Student's t with `df` degrees of freedom (the multiplier of a
/// two-sided 95 % interval). Exact table values up to 30; beyond, the Cornish–Fisher
/// expansion in 1/df (Abramowitz & Stegun 26.7.5), accurate to better than 1e-5 there.
/// `df = 0` has no interval: infinity.
pub fn t_quantile_975(df: u32) -> f64 {
    match df {
        0 => f64::INFINITY,
        1..=30 => T975[df as usize - 1],
        _ => {
            let z = Z975;
            let n = f64::from(df);
            let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
            z + (z3 + z) / (4.0 * n)
                + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * n * n)
                + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * n * n * n)
        }
    }
}

/// The mean of `values`; `None` for none.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The half-width of the 95 % confidence interval of the mean of `values` (Student t,
/// sample standard deviation): `t(n−1) · s / √n`. `None` below two values.
pub fn ci95_half_width(values: &[f64]) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let m = mean(values)?;
    let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some(t_quantile_975(n as u32 - 1) * (var / n as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_published_values() {
        // (df, t_0.975) from standard tables.
        for (df, t) in [
            (1, 12.7062),
            (2, 4.3027),
            (5, 2.5706),
            (9, 2.2622),
            (10, 2.2281),
            (30, 2.0423),
            (40, 2.0211),
            (60, 2.0003),
            (120, 1.9799),
            (1000, 1.9623),
        ] {
            let got = t_quantile_975(df);
            assert!((got - t).abs() < 1e-4, "df {df}: {got} vs {t}");
        }
        assert!(t_quantile_975(0).is_infinite());
        assert!((t_quantile_975(u32::MAX) - Z975).abs() < 1e-6);
        // Decreasing in df, also across the table's edge.
        let ts: Vec<f64> = (1..200).map(t_quantile_975).collect();
        assert!(ts.windows(2).all(|w| w[1] < w[0]));
    }

    #[test]
    fn the_interval_of_a_known_sample() {
        // 1..=5: mean 3, s = √2.5, half-width t(4) · s / √5 = 2.776445 · 0.707107.
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(mean(&v), Some(3.0));
        let h = ci95_half_width(&v).unwrap();
        assert!((h - 1.963_243_16).abs() < 1e-6, "{h}");
        assert_eq!(ci95_half_width(&[3.0]), None);
        assert_eq!(mean(&[]), None);
        assert_eq!(ci95_half_width(&[2.0, 2.0, 2.0]), Some(0.0));
    }
}
