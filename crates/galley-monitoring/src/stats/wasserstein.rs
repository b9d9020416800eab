//! Wasserstein-1 distance: `scipy.stats.wasserstein_distance(u, v)` over two weighted
//! distributions, and Evidently's "wasserstein" drift score, that distance divided by
//! `max(np.std(reference), 0.001)`.

use super::{nonempty, union_points, StatsError};
use crate::profile::NumericDistribution;

/// The area between the two empirical CDFs: `Σ |U(x_i) − V(x_i)|·(x_{i+1} − x_i)` over the
/// sorted union of values, as scipy's `_cdf_distance(1, …)`.
pub fn wasserstein_distance(
    u: &NumericDistribution,
    v: &NumericDistribution,
) -> Result<f64, StatsError> {
    let (nu, nv) = nonempty(u.count(), v.count())?;
    let points = union_points(u, v);
    let (mut cu, mut cv, mut total) = (0u64, 0u64, 0.0);
    for pair in points.windows(2) {
        cu += pair[0].1;
        cv += pair[0].2;
        let gap = (cu as f64 / nu as f64 - cv as f64 / nv as f64).abs();
        total += gap * (pair[1].0 - pair[0].0);
    }
    Ok(total)
}

/// Evidently's "wasserstein" drift score.
pub fn wasserstein_drift(
    reference: &NumericDistribution,
    current: &NumericDistribution,
) -> Result<f64, StatsError> {
    let distance = wasserstein_distance(reference, current)?;
    let norm = reference.std().unwrap_or(0.0).max(0.001);
    Ok(distance / norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dist(values: &[f64]) -> NumericDistribution {
        NumericDistribution::from_values(values)
    }

    #[test]
    fn matches_evidently() {
        // Evidently _wasserstein_distance_norm(pd.Series([1., 2, 3, 4]), pd.Series([2., 3, 5]), ...)
        // -> 0.7453559924999299
        let score =
            wasserstein_drift(&dist(&[1.0, 2.0, 3.0, 4.0]), &dist(&[2.0, 3.0, 5.0])).unwrap();
        assert!((score - 0.7453559924999299).abs() < 1e-15, "{score}");
        // A constant reference is normed by 0.001:
        // _wasserstein_distance_norm(pd.Series([1., 1]), pd.Series([2., 3, 5]), ...) -> 2333.3333333333335
        let score = wasserstein_drift(&dist(&[1.0, 1.0]), &dist(&[2.0, 3.0, 5.0])).unwrap();
        assert!((score - 2333.3333333333335).abs() < 1e-9, "{score}");
    }

    proptest! {
        #[test]
        fn symmetric_and_zero_for_identical(
            a in prop::collection::vec(-1e3f64..1e3, 1..60),
            b in prop::collection::vec(-1e3f64..1e3, 1..60),
        ) {
            let (a, b) = (dist(&a), dist(&b));
            prop_assert_eq!(wasserstein_distance(&a, &a).unwrap(), 0.0);
            let ab = wasserstein_distance(&a, &b).unwrap();
            let ba = wasserstein_distance(&b, &a).unwrap();
            prop_assert!(ab >= 0.0);
            prop_assert!((ab - ba).abs() <= 1e-9 * (1.0 + ab));
        }
    }
}
