//! Pearson's chi-square goodness-of-fit test, `scipy.stats.chisquare(f_obs, f_exp)`, and
//! Evidently's "chisquare" drift test built on it.

use super::{AlignedCounts, StatsError};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChisquareResult {
    pub statistic: f64,
    pub pvalue: f64,
}

/// `scipy.stats.chisquare(observed, expected)`: `Σ (o − e)² / e` against a chi-square
/// distribution with `k − 1` degrees of freedom. A zero expectation makes the statistic infinite
/// and the p-value 0, as in scipy.
pub fn chisquare(observed: &[f64], expected: &[f64]) -> ChisquareResult {
    let statistic: f64 = observed
        .iter()
        .zip(expected)
        .map(|(&o, &e)| (o - e) * (o - e) / e)
        .sum();
    let df = observed.len().saturating_sub(1) as f64;
    ChisquareResult {
        statistic,
        pvalue: chi2_sf(df, statistic),
    }
}

/// Evidently's "chisquare" drift score: observed = current counts, expected = reference counts
/// scaled by `n_current / n_reference`, over the union of categories.
pub fn chisquare_drift(counts: &AlignedCounts) -> Result<f64, StatsError> {
    let (n_ref, n_cur) = counts.totals()?;
    let scale = n_cur as f64 / n_ref as f64;
    let expected: Vec<f64> = counts.reference.iter().map(|&c| c as f64 * scale).collect();
    let observed: Vec<f64> = counts.current.iter().map(|&c| c as f64).collect();
    Ok(chisquare(&observed, &expected).pvalue)
}

/// `scipy.special.chdtrc(df, x)`, the chi-square survival function, as cephes' `igamc(df/2, x/2)`
/// including its edge cases; the regularized gamma function itself is statrs'.
pub(crate) fn chi2_sf(df: f64, x: f64) -> f64 {
    if df.is_nan() || x.is_nan() || df < 0.0 {
        return f64::NAN;
    }
    if x < 0.0 {
        return 1.0;
    }
    if df == 0.0 {
        return if x > 0.0 { 0.0 } else { f64::NAN };
    }
    if x == 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    statrs::function::gamma::checked_gamma_ur(df / 2.0, x / 2.0).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-9 * expected.abs() + 1e-300
    }

    #[test]
    fn matches_evidently() {
        // Evidently _chi_stat_test(pd.Series(list("aabbbc")), pd.Series(list("abccc")), ...)
        // -> 0.03337326996032611
        let counts = AlignedCounts {
            reference: vec![2, 3, 1],
            current: vec![1, 1, 3],
        };
        let p = chisquare_drift(&counts).unwrap();
        assert!(close(p, 0.03337326996032611), "{p}");
    }

    #[test]
    fn edge_cases_follow_scipy() {
        // scipy.stats.chisquare([5], [5.0]) -> (0.0, nan); chisquare([5, 1], [6.0, 0.0]) -> (inf, 0.0)
        assert!(chisquare(&[5.0], &[5.0]).pvalue.is_nan());
        assert_eq!(chisquare(&[5.0, 1.0], &[6.0, 0.0]).pvalue, 0.0);
        assert_eq!(chi2_sf(2.0, 0.0), 1.0);
    }

    #[test]
    fn chi2_sf_matches_scipy_across_regimes() {
        // scipy.special.chdtrc(df, x)
        let cases = [
            (1.0, 0.5, 0.47950012218695337),
            (2.0, 3.0, 0.22313016014842982),
            (4.0, 30.0, 4.894437128029217e-06),
            (9.0, 2.0, 0.9914676066288135),
            (99.0, 150.0, 0.0007204453957169282),
            (999.0, 1000.0, 0.48513148927490146),
            (5.0, 400.0, 2.9666446590828377e-84),
        ];
        for (df, x, expected) in cases {
            let actual = chi2_sf(df, x);
            assert!(
                close(actual, expected),
                "chdtrc({df}, {x}) = {actual}, scipy {expected}"
            );
        }
    }
}
