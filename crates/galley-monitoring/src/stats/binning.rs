//! Evidently's `get_binned_data`: the reference and current shares per bin that PSI and
//! Jensen-Shannon compare, with numpy's "sturges" bin edges reproduced bit for bit.

use super::{nonempty, shares, AlignedCounts, StatsError};
use crate::profile::{NumericDistribution, NumericDtype};

/// What Evidently bins: a numerical column's two distributions, or categories already aligned
/// (a categorical column, or a numeric one compared categorically).
#[derive(Debug, Clone, Copy)]
pub enum BinInput<'a> {
    Numerical {
        reference: &'a NumericDistribution,
        current: &'a NumericDistribution,
    },
    Categorical(&'a AlignedCounts),
}

/// A numerical column is histogrammed only when its reference has more than this many distinct
/// values; otherwise each value is its own bin.
const HISTOGRAM_MIN_UNIQUE: usize = 20;

/// Reference and current shares per bin. Numerical data with more than 20 distinct reference
/// values is cut by [`sturges_edges`] over both samples; anything else gets one bin per value in
/// the union. With `fill_zeroes` (PSI), empty bins get a small share so logarithms stay finite.
pub fn binned_shares(
    input: BinInput<'_>,
    fill_zeroes: bool,
) -> Result<(Vec<f64>, Vec<f64>), StatsError> {
    let (mut reference, mut current) = match input {
        BinInput::Numerical { reference, current } => {
            let many_values = reference
                .n_unique()
                .is_none_or(|unique| unique > HISTOGRAM_MIN_UNIQUE);
            if many_values {
                histogram_shares(reference, current)?
            } else {
                category_shares(&AlignedCounts::from_numeric(reference, current))?
            }
        }
        BinInput::Categorical(counts) => category_shares(counts)?,
    };
    if fill_zeroes {
        fill_empty_bins(&mut reference);
        fill_empty_bins(&mut current);
    }
    Ok((reference, current))
}

fn histogram_shares(
    reference: &NumericDistribution,
    current: &NumericDistribution,
) -> Result<(Vec<f64>, Vec<f64>), StatsError> {
    let (n_ref, n_cur) = nonempty(reference.count(), current.count())?;
    let edges = sturges_edges(reference, current)?;
    Ok((
        shares(&reference.histogram(&edges), n_ref),
        shares(&current.histogram(&edges), n_cur),
    ))
}

fn category_shares(counts: &AlignedCounts) -> Result<(Vec<f64>, Vec<f64>), StatsError> {
    let (n_ref, n_cur) = counts.totals()?;
    Ok((
        shares(&counts.reference, n_ref),
        shares(&counts.current, n_cur),
    ))
}

/// Evidently's `feel_zeroes`: an empty bin gets a millionth of the smallest non-empty share when
/// that share is at most 0.0001, else 0.0001.
pub(crate) fn fill_empty_bins(shares: &mut [f64]) {
    let smallest = shares
        .iter()
        .copied()
        .filter(|&s| s != 0.0)
        .fold(f64::INFINITY, f64::min);
    if smallest.is_infinite() {
        return;
    }
    let filler = if smallest <= 0.0001 {
        smallest / 1_000_000.0
    } else {
        0.0001
    };
    shares
        .iter_mut()
        .filter(|s| **s == 0.0)
        .for_each(|s| *s = filler);
}

/// `np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")` with numpy 2.4:
/// width `ptp / (log2(size) + 1)` (at least 1 when both columns are integer dtype, whose
/// concatenation stays integer), `ceil(range / width)` bins, edges from `np.linspace` (`i·step +
/// start`, the last edge exactly the maximum). A constant sample gets the range [v − 0.5, v + 0.5].
pub fn sturges_edges(
    reference: &NumericDistribution,
    current: &NumericDistribution,
) -> Result<Vec<f64>, StatsError> {
    let size = nonempty(reference.count(), current.count()).map(|(a, b)| a + b)?;
    let (min, max) = min_max(reference, current);
    let integer = reference.dtype() == NumericDtype::Int && current.dtype() == NumericDtype::Int;
    let (first, last) = if min == max {
        (min - 0.5, max + 0.5)
    } else {
        (min, max)
    };
    let mut width = (max - min) / ((size as f64).log2() + 1.0);
    let bins = if width != 0.0 {
        if integer && width < 1.0 {
            width = 1.0;
        }
        ((last - first) / width).ceil() as usize
    } else {
        1
    };
    let edges = linspace(first, last, bins + 1);
    if edges.windows(2).any(|w| w[0] >= w[1]) {
        return Err(StatsError::TooManyBins(bins));
    }
    Ok(edges)
}

fn min_max(reference: &NumericDistribution, current: &NumericDistribution) -> (f64, f64) {
    let lows = [reference.min(), current.min()];
    let highs = [reference.max(), current.max()];
    let min = lows.into_iter().flatten().fold(f64::INFINITY, f64::min);
    let max = highs
        .into_iter()
        .flatten()
        .fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

/// `np.linspace(start, stop, num, endpoint=True)` for scalars.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let div = num.saturating_sub(1);
    let delta = stop - start;
    let step = delta / div as f64;
    let mut y: Vec<f64> = (0..num)
        .map(|i| {
            if step == 0.0 {
                i as f64 / div as f64 * delta + start
            } else {
                i as f64 * step + start
            }
        })
        .collect();
    if let Some(end) = y.last_mut().filter(|_| num > 1) {
        *end = stop;
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::NumericAccumulator;

    fn dist(dtype: NumericDtype, values: &[f64]) -> NumericDistribution {
        let mut acc = NumericAccumulator::with_dtype(dtype);
        acc.extend(values);
        match acc.finish().values {
            crate::profile::ColumnValues::Numeric(d) => d,
            crate::profile::ColumnValues::Categorical(_) => unreachable!(),
        }
    }

    #[test]
    fn sturges_edges_match_numpy() {
        // np.histogram_bin_edges(np.concatenate([np.arange(30.) / 7, [0.5, 10.25]]), bins="sturges")
        // -> 6 bins: [0.0, 1.7083333333333333, 3.4166666666666665, 5.125, 6.833333333333333,
        //             8.541666666666666, 10.25]
        let reference: Vec<f64> = (0..30).map(|i| f64::from(i) / 7.0).collect();
        let edges = sturges_edges(
            &dist(NumericDtype::Float, &reference),
            &dist(NumericDtype::Float, &[0.5, 10.25]),
        )
        .unwrap();
        assert_eq!(
            edges,
            vec![
                0.0,
                1.7083333333333333,
                3.4166666666666665,
                5.125,
                6.833333333333333,
                8.541666666666666,
                10.25
            ]
        );
    }

    #[test]
    fn integer_columns_never_get_bins_narrower_than_one() {
        // np.histogram_bin_edges(np.arange(21).repeat(40000), bins="sturges"): ptp 20 over
        // log2(840000) + 1 ≈ 20.68 would give width < 1; integer data keep width 1, so 20 bins.
        let values: Vec<f64> = (0..21)
            .flat_map(|v| std::iter::repeat_n(f64::from(v), 40_000))
            .collect();
        let (half_a, half_b) = values.split_at(values.len() / 2);
        let int_edges = sturges_edges(
            &dist(NumericDtype::Int, half_a),
            &dist(NumericDtype::Int, half_b),
        )
        .unwrap();
        assert_eq!(int_edges.len(), 21);
        let float_edges = sturges_edges(
            &dist(NumericDtype::Float, half_a),
            &dist(NumericDtype::Float, half_b),
        )
        .unwrap();
        assert_eq!(float_edges.len(), 22);
    }

    #[test]
    fn constant_data_get_one_unit_bin() {
        let d = dist(NumericDtype::Float, &[3.0, 3.0]);
        assert_eq!(sturges_edges(&d, &d).unwrap(), vec![2.5, 3.5]);
    }

    #[test]
    fn fill_zeroes_uses_evidently_rule() {
        let mut shares = vec![0.5, 0.0, 0.5];
        fill_empty_bins(&mut shares);
        assert_eq!(shares, vec![0.5, 0.0001, 0.5]);
        let mut tiny = vec![0.00005, 0.0, 0.99995];
        fill_empty_bins(&mut tiny);
        assert_eq!(tiny[1], 0.00005 / 1e6);
    }
}
