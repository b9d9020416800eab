//! Population Stability Index: Evidently's "psi" and Galley's "psi_reference_deciles" variant.
//!
//! Both compute `Σ (r − c)·ln(r / c)` over bins of reference shares `r` and current shares `c`,
//! with Evidently's filler share in empty bins so every term is finite.

use super::binning::{binned_shares, BinInput};
use super::{nonempty, shares, StatsError};
use crate::profile::NumericDistribution;

/// `Σ (r − c)·ln(r / c)`; the shares must be positive.
pub fn psi(reference_shares: &[f64], current_shares: &[f64]) -> f64 {
    reference_shares
        .iter()
        .zip(current_shares)
        .map(|(&r, &c)| (r - c) * (r / c).ln())
        .sum()
}

/// Evidently's "psi" drift score: [`psi`] over `get_binned_data(..., feel_zeroes=True)`, i.e.
/// sturges histogram bins of both samples for a numerical column with more than 20 distinct
/// reference values, otherwise one bin per value or category.
pub fn psi_drift(input: BinInput<'_>) -> Result<f64, StatsError> {
    let (reference, current) = binned_shares(input, true)?;
    Ok(psi(&reference, &current))
}

/// Galley's variant: [`psi`] over ten bins cut at the reference deciles, the binning most PSI
/// references describe, so a current window is judged against the reference's own quantiles
/// whatever the current range. The cut points are `np.quantile(reference, [0.1, 0.2, …, 0.9])`
/// (linear interpolation), duplicates dropped; the outer bins reach to ±∞; a bin holds
/// `cut[i] <= v < cut[i+1]`. Empty bins get Evidently's filler share.
pub fn psi_reference_deciles(
    reference: &NumericDistribution,
    current: &NumericDistribution,
) -> Result<f64, StatsError> {
    let (n_ref, n_cur) = nonempty(reference.count(), current.count())?;
    let edges = reference_decile_edges(reference);
    let mut reference_shares = shares(&reference.histogram(&edges), n_ref);
    let mut current_shares = shares(&current.histogram(&edges), n_cur);
    super::binning::fill_empty_bins(&mut reference_shares);
    super::binning::fill_empty_bins(&mut current_shares);
    Ok(psi(&reference_shares, &current_shares))
}

fn reference_decile_edges(reference: &NumericDistribution) -> Vec<f64> {
    let mut edges = vec![f64::NEG_INFINITY];
    for decile in 1..10 {
        let q = quantile(reference, f64::from(decile) / 10.0);
        if edges.last().is_some_and(|&last| last < q) {
            edges.push(q);
        }
    }
    edges.push(f64::INFINITY);
    edges
}

/// `np.quantile(values, q)` with the default "linear" method, for a non-empty distribution.
fn quantile(dist: &NumericDistribution, q: f64) -> f64 {
    let last = dist.count().saturating_sub(1) as f64;
    let virtual_index = last * q;
    let (previous, next) = if virtual_index >= last {
        (last, last)
    } else {
        (virtual_index.floor(), virtual_index.floor() + 1.0)
    };
    let gamma = virtual_index - virtual_index.floor();
    let (a, b) = (
        order_statistic(dist, previous as u64),
        order_statistic(dist, next as u64),
    );
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// The `k`-th smallest value (0-based).
fn order_statistic(dist: &NumericDistribution, k: u64) -> f64 {
    let mut seen = 0;
    for (&value, &count) in dist.values().iter().zip(dist.counts()) {
        seen += count;
        if k < seen {
            return value;
        }
    }
    dist.values().last().copied().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::AlignedCounts;
    use proptest::prelude::*;

    fn dist(values: &[f64]) -> NumericDistribution {
        NumericDistribution::from_values(values)
    }

    #[test]
    fn psi_of_hand_made_shares() {
        // (0.5-0.25)·ln 2 + (0.5-0.75)·ln(2/3)
        let expected = 0.25 * 2f64.ln() - 0.25 * (2.0f64 / 3.0).ln();
        assert!((psi(&[0.5, 0.5], &[0.25, 0.75]) - expected).abs() < 1e-15);
        assert_eq!(psi(&[0.3, 0.7], &[0.3, 0.7]), 0.0);
    }

    #[test]
    fn categorical_psi_fills_empty_categories() {
        // Evidently _psi(pd.Series(list("aab")), pd.Series(list("abc")), Categorical, 0.1)
        // -> 2.9341472484810085
        let counts = AlignedCounts {
            reference: vec![2, 1, 0],
            current: vec![1, 1, 1],
        };
        let score = psi_drift(BinInput::Categorical(&counts)).unwrap();
        assert!((score - 2.9341472484810085).abs() < 1e-12, "{score}");
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        // np.quantile([1, 2, 3, 4, 10], [0.1, 0.5, 0.9]) -> [1.4, 3.0, 7.6]
        let d = dist(&[1.0, 2.0, 3.0, 4.0, 10.0]);
        let got: Vec<f64> = [0.1, 0.5, 0.9].iter().map(|&q| quantile(&d, q)).collect();
        for (g, e) in got.iter().zip([1.4, 3.0, 7.6]) {
            assert!((g - e).abs() < 1e-12, "{got:?}");
        }
    }

    #[test]
    fn decile_psi_is_zero_for_identical_data_and_grows_with_a_shift() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let shifted: Vec<f64> = a.iter().map(|v| v + 30.0).collect();
        assert_eq!(psi_reference_deciles(&dist(&a), &dist(&a)).unwrap(), 0.0);
        assert!(psi_reference_deciles(&dist(&a), &dist(&shifted)).unwrap() > 0.1);
        assert_eq!(
            psi_reference_deciles(&dist(&a), &dist(&[])),
            Err(StatsError::EmptyCurrent)
        );
    }

    proptest! {
        #[test]
        fn psi_is_never_negative(
            a in prop::collection::vec(-100i32..100, 1..80),
            b in prop::collection::vec(-100i32..100, 1..80),
        ) {
            let a = dist(&a.into_iter().map(f64::from).collect::<Vec<_>>());
            let b = dist(&b.into_iter().map(f64::from).collect::<Vec<_>>());
            let input = BinInput::Numerical { reference: &a, current: &b };
            prop_assert!(psi_drift(input).unwrap() >= 0.0);
            prop_assert!(psi_reference_deciles(&a, &b).unwrap() >= 0.0);
        }
    }
}
