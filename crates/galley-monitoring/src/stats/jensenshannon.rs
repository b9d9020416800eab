//! Jensen-Shannon distance: `scipy.spatial.distance.jensenshannon` (natural logarithm) over
//! Evidently's binned shares, which is Evidently's "jensenshannon" drift score.

use super::binning::{binned_shares, BinInput};
use super::StatsError;

/// `scipy.spatial.distance.jensenshannon(p, q)`: both vectors are normalised to sum to 1, then
/// `sqrt((KL(p‖m) + KL(q‖m)) / 2)` with `m = (p + q) / 2`.
pub fn jensenshannon(p: &[f64], q: &[f64]) -> f64 {
    let (p_total, q_total): (f64, f64) = (p.iter().sum(), q.iter().sum());
    let (mut left, mut right) = (0.0, 0.0);
    for (&pi, &qi) in p.iter().zip(q) {
        let (pi, qi) = (pi / p_total, qi / q_total);
        let m = (pi + qi) / 2.0;
        left += rel_entr(pi, m);
        right += rel_entr(qi, m);
    }
    ((left + right) / 2.0).sqrt()
}

/// `scipy.special.rel_entr(x, y)`: `x·ln(x/y)`, 0 when x is 0, ∞ where undefined.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Evidently's "jensenshannon" drift score: [`jensenshannon`] over
/// `get_binned_data(..., feel_zeroes=False)`.
pub fn jensenshannon_drift(input: BinInput<'_>) -> Result<f64, StatsError> {
    let (reference, current) = binned_shares(input, false)?;
    Ok(jensenshannon(&reference, &current))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::NumericDistribution;
    use crate::stats::AlignedCounts;
    use proptest::prelude::*;

    #[test]
    fn matches_evidently_on_categories() {
        // Evidently _jensenshannon(pd.Series(list("aab")), pd.Series(list("abc")), Categorical, 0.1)
        // -> 0.37926380822046607
        let counts = AlignedCounts {
            reference: vec![2, 1, 0],
            current: vec![1, 1, 1],
        };
        let score = jensenshannon_drift(BinInput::Categorical(&counts)).unwrap();
        assert!((score - 0.37926380822046607).abs() < 1e-15, "{score}");
    }

    #[test]
    fn disjoint_distributions_reach_sqrt_ln2() {
        assert!((jensenshannon(&[1.0, 0.0], &[0.0, 1.0]) - 2f64.ln().sqrt()).abs() < 1e-15);
        assert_eq!(jensenshannon(&[0.2, 0.8], &[0.2, 0.8]), 0.0);
    }

    proptest! {
        #[test]
        fn symmetric_and_bounded(
            a in prop::collection::vec(-30i32..30, 1..80),
            b in prop::collection::vec(-30i32..30, 1..80),
        ) {
            let a = NumericDistribution::from_values(&a.into_iter().map(f64::from).collect::<Vec<_>>());
            let b = NumericDistribution::from_values(&b.into_iter().map(f64::from).collect::<Vec<_>>());
            let ab = jensenshannon_drift(BinInput::Numerical { reference: &a, current: &b }).unwrap();
            prop_assert!((0.0..=2f64.ln().sqrt() + 1e-12).contains(&ab));
            let counts = AlignedCounts::from_numeric(&a, &b);
            let swapped = AlignedCounts { reference: counts.current.clone(), current: counts.reference.clone() };
            let forward = jensenshannon_drift(BinInput::Categorical(&counts)).unwrap();
            let backward = jensenshannon_drift(BinInput::Categorical(&swapped)).unwrap();
            prop_assert!((forward - backward).abs() <= 1e-12);
        }
    }
}
