//! The drift tests and distances, one file per test, each matching the scipy 1.17 / Evidently
//! 0.7.23 computation it names; they read profiles, never rows.
//!
//! Each file's `*_drift` function returns the score Evidently reports as `drift_score` (a
//! p-value for tests, a distance for distances) for data already cleaned of missing values.

pub mod binning;
pub mod chisquare;
pub mod jensenshannon;
pub mod ks;
pub mod psi;
pub mod wasserstein;
pub mod ztest;

use crate::profile::{CategoricalDistribution, NumericDistribution};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    #[error("the reference sample is empty")]
    EmptyReference,
    #[error("the current sample is empty")]
    EmptyCurrent,
    /// numpy's `ValueError` when the data range is too narrow for the bins the rule asks for.
    #[error("too many bins for the data range: cannot create {0} finite-sized bins")]
    TooManyBins(usize),
}

/// Counts of the same categories in the reference and the current data, aligned by position over
/// the union of both; position 0 is the smallest category (numeric order for numbers, code-point
/// order for strings, as Python's `sorted`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlignedCounts {
    pub reference: Vec<u64>,
    pub current: Vec<u64>,
}

impl AlignedCounts {
    /// Each distinct value is a category, as when Evidently treats a numeric column categorically.
    pub fn from_numeric(reference: &NumericDistribution, current: &NumericDistribution) -> Self {
        let points = union_points(reference, current);
        AlignedCounts {
            reference: points.iter().map(|p| p.1).collect(),
            current: points.iter().map(|p| p.2).collect(),
        }
    }

    pub fn from_categorical(
        reference: &CategoricalDistribution,
        current: &CategoricalDistribution,
    ) -> Self {
        let mut keys: Vec<&String> = reference
            .counts()
            .keys()
            .chain(current.counts().keys())
            .collect();
        keys.sort();
        keys.dedup();
        let count =
            |d: &CategoricalDistribution, k: &String| d.counts().get(k).copied().unwrap_or(0);
        AlignedCounts {
            reference: keys.iter().map(|k| count(reference, k)).collect(),
            current: keys.iter().map(|k| count(current, k)).collect(),
        }
    }

    fn totals(&self) -> Result<(u64, u64), StatsError> {
        nonempty(self.reference.iter().sum(), self.current.iter().sum())
    }
}

fn nonempty(reference: u64, current: u64) -> Result<(u64, u64), StatsError> {
    match (reference, current) {
        (0, _) => Err(StatsError::EmptyReference),
        (_, 0) => Err(StatsError::EmptyCurrent),
        counts => Ok(counts),
    }
}

/// The union of both distributions' points in ascending order, as `(value, reference count,
/// current count)`; equal values are one entry.
pub(crate) fn union_points(
    a: &NumericDistribution,
    b: &NumericDistribution,
) -> Vec<(f64, u64, u64)> {
    let (av, ac, bv, bc) = (a.values(), a.counts(), b.values(), b.counts());
    let (mut i, mut j) = (0, 0);
    let mut out: Vec<(f64, u64, u64)> = Vec::with_capacity(av.len() + bv.len());
    while i < av.len() || j < bv.len() {
        let take_a = j == bv.len() || (i < av.len() && av[i] <= bv[j]);
        let take_b = i == av.len() || (j < bv.len() && bv[j] <= av[i]);
        let value = if take_a { av[i] } else { bv[j] };
        let (ca, cb) = (
            if take_a { ac[i] } else { 0 },
            if take_b { bc[j] } else { 0 },
        );
        i += usize::from(take_a);
        j += usize::from(take_b);
        match out.last_mut() {
            Some(last) if last.0 == value => {
                last.1 += ca;
                last.2 += cb;
            }
            _ => out.push((value, ca, cb)),
        }
    }
    out
}

/// Shares of each count in its total, as `counts / len(data)` in Evidently.
fn shares(counts: &[u64], total: u64) -> Vec<f64> {
    counts.iter().map(|&c| c as f64 / total as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::CategoricalDtype;
    use std::collections::BTreeMap;

    #[test]
    fn union_points_merges_equal_values() {
        let a = NumericDistribution::from_values(&[1.0, 2.0, 2.0, 5.0]);
        let b = NumericDistribution::from_values(&[2.0, 3.0, 5.0, 5.0]);
        assert_eq!(
            union_points(&a, &b),
            vec![(1.0, 1, 0), (2.0, 2, 1), (3.0, 0, 1), (5.0, 1, 2)]
        );
    }

    #[test]
    fn categorical_alignment_sorts_the_union() {
        let dist = |pairs: &[(&str, u64)]| {
            let counts: BTreeMap<String, u64> =
                pairs.iter().map(|&(k, c)| (k.to_owned(), c)).collect();
            CategoricalDistribution::from_counts(CategoricalDtype::String, counts)
        };
        let aligned = AlignedCounts::from_categorical(
            &dist(&[("b", 2), ("c", 1)]),
            &dist(&[("a", 4), ("b", 1)]),
        );
        assert_eq!(aligned.reference, vec![0, 2, 1]);
        assert_eq!(aligned.current, vec![4, 1, 0]);
    }
}
