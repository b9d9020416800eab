//! Statistics of a feature's values (counts, nulls, range, mean, a histogram), computed when a
//! feature view is materialized.

use serde::{Deserialize, Serialize};

/// Equal-width bins between the minimum and maximum.
pub const HISTOGRAM_BINS: usize = 10;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureStatistics {
    pub feature: String,
    pub count: u64,
    pub nulls: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric: Option<NumericStatistics>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumericStatistics {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// `HISTOGRAM_BINS + 1` edges; the last bin includes the maximum.
    pub bin_edges: Vec<f64>,
    pub bin_counts: Vec<u64>,
}

impl FeatureStatistics {
    /// Statistics of a numeric feature; NaN counts as null, as pandas' `count` does.
    pub fn of_numbers(feature: &str, values: &[f64], nulls: u64) -> Self {
        let finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        let nulls = nulls + (values.len() - finite.len()) as u64;
        let numeric = (!finite.is_empty()).then(|| {
            let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
            let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mean = finite.iter().sum::<f64>() / finite.len() as f64;
            let (bin_edges, bin_counts) = histogram(&finite, min, max);
            NumericStatistics {
                min,
                max,
                mean,
                bin_edges,
                bin_counts,
            }
        });
        Self {
            feature: feature.to_string(),
            count: finite.len() as u64,
            nulls,
            numeric,
        }
    }

    /// Statistics of a feature that is not numeric: counts only.
    pub fn of_other(feature: &str, count: u64, nulls: u64) -> Self {
        Self {
            feature: feature.to_string(),
            count,
            nulls,
            numeric: None,
        }
    }
}

fn histogram(values: &[f64], min: f64, max: f64) -> (Vec<f64>, Vec<u64>) {
    let width = (max - min) / HISTOGRAM_BINS as f64;
    let edges = (0..=HISTOGRAM_BINS)
        .map(|i| {
            if i == HISTOGRAM_BINS {
                max
            } else {
                min + width * i as f64
            }
        })
        .collect();
    let mut counts = vec![0; HISTOGRAM_BINS];
    for &v in values {
        let bin = if width > 0.0 && width.is_finite() {
            (((v - min) / width) as usize).min(HISTOGRAM_BINS - 1)
        } else {
            0
        };
        counts[bin] += 1;
    }
    (edges, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_range_mean_and_bins() {
        let values: Vec<f64> = (0..=100).map(f64::from).chain([f64::NAN]).collect();
        let stats = FeatureStatistics::of_numbers("x", &values, 2);
        assert_eq!(stats.count, 101);
        assert_eq!(stats.nulls, 3);
        let numeric = stats.numeric.unwrap();
        assert_eq!((numeric.min, numeric.max, numeric.mean), (0.0, 100.0, 50.0));
        assert_eq!(numeric.bin_counts.iter().sum::<u64>(), 101);
        assert_eq!(numeric.bin_counts[9], 11, "the last bin holds the maximum");
        assert_eq!(numeric.bin_edges.len(), HISTOGRAM_BINS + 1);
    }

    #[test]
    fn a_constant_or_empty_column() {
        let constant = FeatureStatistics::of_numbers("x", &[2.0, 2.0], 0);
        assert_eq!(constant.numeric.unwrap().bin_counts[0], 2);
        assert!(FeatureStatistics::of_numbers("x", &[], 4).numeric.is_none());
    }
}
