//! Column profiles: each column summarised once (distinct values with counts, or category counts)
//! so drift tests, reports and window merges never re-read the rows.
//!
//! Missing values follow Evidently, which replaces ±inf by NaN and drops NaN before every test:
//! a numeric profile holds finite values only and counts the rest as missing.

use std::collections::BTreeMap;

use galley_core::{ErrorCode, HasErrorCode};
use serde::{Deserialize, Serialize};

/// Most distinct values a numeric profile keeps exactly. 2^18 points are 4 MiB in memory; past
/// this bound the profile is compressed (see [`NumericDistribution`]).
pub const EXACT_DISTINCT_LIMIT: usize = 1 << 18;

/// Values buffered before they are sorted into the profile: large enough that sorting dominates
/// the per-value cost, small next to the profile itself.
const PENDING_LIMIT: usize = 1 << 18;

/// The dtype pandas would give the column, which Evidently's column typing and numpy's histogram
/// rules depend on. An integer column with a missing cell is read by pandas as float64, so a
/// profile declared [`NumericDtype::Int`] reports `Float` as soon as it has a missing value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumericDtype {
    Int,
    Float,
}

/// The dtype of a non-numeric column: pandas `str`/`object` strings, or `bool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CategoricalDtype {
    String,
    Bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot merge a {left} profile with a {right} profile of the same column")]
    KindMismatch {
        left: &'static str,
        right: &'static str,
    },
    #[error("invalid numeric profile: {0}")]
    Invalid(String),
}

impl HasErrorCode for ProfileError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidParameterValue
    }
}

/// A column summarised once.
///
/// Which kind of profile a column gets is decided by its physical type, the way pandas reads the
/// same file: integer and float columns get [`ColumnValues::Numeric`] (declared
/// [`NumericDtype::Int`] or [`NumericDtype::Float`]); string columns get
/// [`ColumnValues::Categorical`] with [`CategoricalDtype::String`], boolean columns the same with
/// [`CategoricalDtype::Bool`]; empty cells are pushed as missing. Datetime columns get no profile
/// (Evidently leaves them out of drift). Whether a column is then *compared* as numerical or
/// categorical is Evidently's rule, applied by [`crate::drift::column_type`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Rows without a usable value: empty cells, NaN, ±inf.
    pub missing: u64,
    pub values: ColumnValues,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ColumnValues {
    Numeric(NumericDistribution),
    Categorical(CategoricalDistribution),
}

impl ColumnProfile {
    /// Rows with a value.
    pub fn count(&self) -> u64 {
        match &self.values {
            ColumnValues::Numeric(d) => d.count(),
            ColumnValues::Categorical(d) => d.count(),
        }
    }

    /// Distinct values; `None` for a compressed numeric profile, which has more than
    /// [`EXACT_DISTINCT_LIMIT`].
    pub fn n_unique(&self) -> Option<usize> {
        match &self.values {
            ColumnValues::Numeric(d) => d.n_unique(),
            ColumnValues::Categorical(d) => Some(d.n_unique()),
        }
    }

    /// The profile of both windows' rows together.
    pub fn merge(&self, other: &ColumnProfile) -> Result<ColumnProfile, ProfileError> {
        let values = match (&self.values, &other.values) {
            (ColumnValues::Numeric(a), ColumnValues::Numeric(b)) => {
                ColumnValues::Numeric(a.merge(b))
            }
            (ColumnValues::Categorical(a), ColumnValues::Categorical(b)) if a.dtype == b.dtype => {
                ColumnValues::Categorical(a.merge(b))
            }
            (a, b) => {
                return Err(ProfileError::KindMismatch {
                    left: a.kind(),
                    right: b.kind(),
                })
            }
        };
        Ok(ColumnProfile {
            missing: self.missing + other.missing,
            values,
        })
    }
}

impl ColumnValues {
    pub fn kind(&self) -> &'static str {
        match self {
            ColumnValues::Numeric(_) => "numeric",
            ColumnValues::Categorical(d) => match d.dtype {
                CategoricalDtype::String => "string",
                CategoricalDtype::Bool => "bool",
            },
        }
    }
}

/// Finite values of a numeric column as distinct ascending values with their counts.
///
/// Exact while there are at most [`EXACT_DISTINCT_LIMIT`] distinct values. Past that the profile
/// is compressed: runs of adjacent points are merged into one point at their weighted mean with
/// their summed count, each run holding at most `ceil(4n / EXACT_DISTINCT_LIMIT)` values (a single
/// heavier point stays alone), which leaves at most half the limit, so memory stays bounded however
/// many rows arrive. Each merged point remembers the span `[lo, hi]` of the values it stands for,
/// and later values falling inside a span join that point, so in one stream spans never overlap.
///
/// Error bound. A value is misplaced relative to `x` only if it belongs to a point whose span
/// strictly contains `x`, so the empirical CDF is off by at most the weight of the points covering
/// `x` divided by n: [`Self::cdf_error_bound`] computes that maximum. For one stream it is the
/// heaviest merged point's share, a small multiple of `4 / EXACT_DISTINCT_LIMIT` ≈ 1.5e-5 (measured:
/// 5.5e-5 for 2·10^7 uniform values in random order, 1.5e-5 for the same count in sorted order);
/// a KS statistic moves by at most the sum of both profiles' bounds. Moving each
/// value to its point's mean moves it at most the span width, so a Wasserstein distance moves by at
/// most the sum of both profiles' [`Self::wasserstein_error_bound`]. `n`, min, max, the sum and the
/// standard deviation are tracked outside the points and stay exact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredNumericDistribution")]
pub struct NumericDistribution {
    dtype: NumericDtype,
    values: Vec<f64>,
    counts: Vec<u64>,
    /// `[lo, hi]` of the values behind each point; empty while exact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    spans: Vec<(f64, f64)>,
    n: u64,
    sum: f64,
    /// Sum of squared deviations from the mean, combined batch by batch with Chan's formula:
    /// a raw sum of squares minus n·mean² cancels catastrophically and would miss 1e-9.
    m2: f64,
}

/// A numeric profile as read back from storage, checked before use: every computation relies on
/// points being finite, ascending and consistent with `n`.
#[derive(Deserialize)]
struct StoredNumericDistribution {
    dtype: NumericDtype,
    values: Vec<f64>,
    counts: Vec<u64>,
    #[serde(default)]
    spans: Vec<(f64, f64)>,
    n: u64,
    sum: f64,
    m2: f64,
}

impl TryFrom<StoredNumericDistribution> for NumericDistribution {
    type Error = ProfileError;

    fn try_from(stored: StoredNumericDistribution) -> Result<Self, ProfileError> {
        let invalid = |reason: &str| Err(ProfileError::Invalid(reason.to_owned()));
        let total = stored
            .counts
            .iter()
            .try_fold(0u64, |acc, &c| acc.checked_add(c));
        if stored.values.len() != stored.counts.len() {
            return invalid("values and counts differ in length");
        }
        if !stored.spans.is_empty() && stored.spans.len() != stored.values.len() {
            return invalid("spans and values differ in length");
        }
        let spans_finite = stored
            .spans
            .iter()
            .all(|&(lo, hi)| lo.is_finite() && hi.is_finite() && lo <= hi);
        if !stored.values.iter().all(|v| v.is_finite()) || !spans_finite {
            return invalid("a value is not finite");
        }
        if stored.values.windows(2).any(|w| w[0] > w[1]) {
            return invalid("values are not ascending");
        }
        if stored.counts.contains(&0) || total != Some(stored.n) {
            return invalid("counts are not positive or do not add up to n");
        }
        if !(stored.sum.is_finite() && stored.m2.is_finite() && stored.m2 >= 0.0) {
            return invalid("sum or m2 is not a finite number");
        }
        Ok(NumericDistribution {
            dtype: stored.dtype,
            values: stored.values,
            counts: stored.counts,
            spans: stored.spans,
            n: stored.n,
            sum: stored.sum,
            m2: stored.m2,
        })
    }
}

impl NumericDistribution {
    /// The exact distribution of `values`; non-finite values are ignored.
    pub fn from_values(values: &[f64]) -> NumericDistribution {
        let mut acc = NumericAccumulator::new();
        acc.extend(values);
        acc.into_distribution()
    }

    fn empty(dtype: NumericDtype) -> NumericDistribution {
        NumericDistribution {
            dtype,
            values: Vec::new(),
            counts: Vec::new(),
            spans: Vec::new(),
            n: 0,
            sum: 0.0,
            m2: 0.0,
        }
    }

    pub fn dtype(&self) -> NumericDtype {
        self.dtype
    }

    /// Distinct values (or merged points), ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// How many values each point of [`Self::values`] stands for.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    pub fn is_exact(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn n_unique(&self) -> Option<usize> {
        self.is_exact().then_some(self.values.len())
    }

    /// The smallest value; exact even when compressed (a merged point's span starts at it).
    pub fn min(&self) -> Option<f64> {
        if self.is_exact() {
            return self.values.first().copied();
        }
        self.spans.iter().map(|s| s.0).reduce(f64::min)
    }

    /// The largest value; exact even when compressed.
    pub fn max(&self) -> Option<f64> {
        if self.is_exact() {
            return self.values.last().copied();
        }
        self.spans.iter().map(|s| s.1).reduce(f64::max)
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// Population standard deviation (ddof = 0), as `np.std`.
    pub fn std(&self) -> Option<f64> {
        (self.n > 0).then(|| (self.m2 / self.n as f64).sqrt())
    }

    /// Largest error of the empirical CDF at any point caused by compression; 0 while exact.
    pub fn cdf_error_bound(&self) -> f64 {
        let mut events: Vec<(f64, i8, u64)> = Vec::new();
        for (&(lo, hi), &count) in self.spans.iter().zip(&self.counts) {
            if lo < hi {
                events.push((lo, 1, count));
                events.push((hi, -1, count));
            }
        }
        // Spans are open at both ends for this purpose, so closings sort before openings.
        events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (mut covering, mut worst) = (0u64, 0u64);
        for (_, delta, count) in events {
            if delta > 0 {
                covering += count;
                worst = worst.max(covering);
            } else {
                covering -= count;
            }
        }
        ratio(worst, self.n)
    }

    /// Largest change of a Wasserstein-1 distance caused by compression; 0 while exact.
    pub fn wasserstein_error_bound(&self) -> f64 {
        let moved: f64 = self
            .spans
            .iter()
            .zip(&self.counts)
            .map(|(&(lo, hi), &count)| (hi - lo) * count as f64)
            .sum();
        if self.n == 0 {
            0.0
        } else {
            moved / self.n as f64
        }
    }

    /// Counts per bin as `np.histogram(values, edges)`: bin i holds `edges[i] <= v < edges[i+1]`,
    /// the last bin is closed on the right, values outside are not counted. Edges must ascend;
    /// otherwise every count is 0.
    pub fn histogram(&self, edges: &[f64]) -> Vec<u64> {
        let bins = edges.len().saturating_sub(1);
        let descending = |w: &[f64]| {
            w[0].partial_cmp(&w[1])
                .is_none_or(|o| o == std::cmp::Ordering::Greater)
        };
        if bins == 0 || edges.windows(2).any(descending) {
            return vec![0; bins];
        }
        let cumulative = self.cumulative_counts();
        let below = |edge: f64| cumulative[self.values.partition_point(|&v| v < edge)];
        let at_or_below = |edge: f64| cumulative[self.values.partition_point(|&v| v <= edge)];
        (0..bins)
            .map(|i| {
                let upper = if i + 1 == bins {
                    at_or_below(edges[i + 1])
                } else {
                    below(edges[i + 1])
                };
                upper - below(edges[i])
            })
            .collect()
    }

    /// `cumulative[i]` = values in the first i points.
    fn cumulative_counts(&self) -> Vec<u64> {
        let mut total = 0;
        std::iter::once(0)
            .chain(self.counts.iter().map(|&c| {
                total += c;
                total
            }))
            .collect()
    }

    /// The distribution of both samples together.
    pub fn merge(&self, other: &NumericDistribution) -> NumericDistribution {
        let dtype = if self.dtype == NumericDtype::Int && other.dtype == NumericDtype::Int {
            NumericDtype::Int
        } else {
            NumericDtype::Float
        };
        let mut merged = NumericDistribution::empty(dtype);
        merged.absorb_moments(self.n, self.sum, self.m2);
        merged.absorb_moments(other.n, other.sum, other.m2);
        let compressed = !self.is_exact() || !other.is_exact();
        let points = merge_sorted(self.points(), other.points());
        merged.set_points(points, compressed);
        merged
    }

    fn points(&self) -> Vec<Point> {
        (0..self.values.len())
            .map(|i| Point {
                value: self.values[i],
                count: self.counts[i],
                span: self
                    .spans
                    .get(i)
                    .copied()
                    .unwrap_or((self.values[i], self.values[i])),
            })
            .collect()
    }

    fn set_points(&mut self, points: Vec<Point>, compressed: bool) {
        let points = if points.len() > EXACT_DISTINCT_LIMIT {
            compress(points, self.n)
        } else {
            points
        };
        let compressed = compressed || points.iter().any(|p| p.span.0 < p.span.1);
        self.values = points.iter().map(|p| p.value).collect();
        self.counts = points.iter().map(|p| p.count).collect();
        self.spans = if compressed {
            points.iter().map(|p| p.span).collect()
        } else {
            Vec::new()
        };
    }

    /// Chan et al.'s pairwise update of count, sum and m2.
    fn absorb_moments(&mut self, n: u64, sum: f64, m2: f64) {
        if n == 0 {
            return;
        }
        if self.n == 0 {
            (self.n, self.sum, self.m2) = (n, sum, m2);
            return;
        }
        let (na, nb) = (self.n as f64, n as f64);
        let delta = sum / nb - self.sum / na;
        self.m2 += m2 + delta * delta * na * nb / (na + nb);
        self.sum += sum;
        self.n += n;
    }

    /// Adds a batch of finite values, sorted ascending, to the profile.
    fn absorb_sorted_batch(&mut self, batch: &[f64]) {
        let runs = run_lengths(batch);
        let n = batch.len() as u64;
        let sum = compensated_sum(runs.iter().map(|&(v, c)| v * c as f64));
        let mean = sum / n as f64;
        let m2 = compensated_sum(
            runs.iter()
                .map(|&(v, c)| (v - mean) * (v - mean) * c as f64),
        );
        self.absorb_moments(n, sum, m2);
        let compressed = !self.is_exact();
        let incoming = runs.into_iter().map(|(value, count)| Point {
            value,
            count,
            span: (value, value),
        });
        let points = if compressed {
            absorb_into_spans(self.points(), incoming)
        } else {
            merge_sorted(self.points(), incoming.collect())
        };
        self.set_points(points, compressed);
    }
}

#[derive(Debug, Clone, Copy)]
struct Point {
    value: f64,
    count: u64,
    span: (f64, f64),
}

impl Point {
    fn join(&mut self, other: &Point) {
        let total = self.count + other.count;
        let mean =
            (self.value * self.count as f64 + other.value * other.count as f64) / total as f64;
        self.span = (self.span.0.min(other.span.0), self.span.1.max(other.span.1));
        self.value = mean.clamp(self.span.0, self.span.1);
        self.count = total;
    }

    fn is_merged(&self) -> bool {
        self.span.0 < self.span.1
    }

    fn spans_over(&self, value: f64) -> bool {
        self.is_merged() && self.span.0 <= value && value <= self.span.1
    }
}

/// Both ascending point lists in one ascending list, in linear time; equal exact values become
/// one point.
fn merge_sorted(a: Vec<Point>, b: Vec<Point>) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if y.value < x.value => b.next(),
            (Some(_), _) => a.next(),
            (None, _) => b.next(),
        };
        let Some(p) = next else {
            return out;
        };
        match out.last_mut() {
            Some(last) if last.value == p.value && !last.is_merged() && !p.is_merged() => {
                last.count += p.count
            }
            _ => out.push(p),
        }
    }
}

/// Adds new exact points to a compressed list: a value inside a merged point's span joins that
/// point, so spans stay disjoint and the CDF error bound keeps holding.
fn absorb_into_spans(existing: Vec<Point>, incoming: impl Iterator<Item = Point>) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::with_capacity(existing.len());
    let mut rest = existing.into_iter().peekable();
    for p in incoming {
        while let Some(next) = rest.next_if(|e| e.value < p.value && !e.spans_over(p.value)) {
            out.push(next);
        }
        if let Some(last) = out
            .last_mut()
            .filter(|l| l.spans_over(p.value) || l.value == p.value)
        {
            last.join(&p);
        } else if let Some(next) = rest
            .peek_mut()
            .filter(|e| e.spans_over(p.value) || e.value == p.value)
        {
            next.join(&p);
        } else {
            out.push(p);
        }
    }
    out.extend(rest);
    // A join moves a point's mean within its span, which may reorder points of overlapping spans
    // (only possible after merging two compressed profiles).
    if !out.is_sorted_by(|x, y| x.value <= y.value) {
        out.sort_by(|x, y| x.value.total_cmp(&y.value));
    }
    out
}

/// Greedily merges adjacent points into runs of total weight at most `ceil(4n / limit)`. Any two
/// consecutive runs together exceed that weight, so at most `limit / 2 + 1` runs remain.
fn compress(points: Vec<Point>, n: u64) -> Vec<Point> {
    let cap = n
        .saturating_mul(4)
        .div_ceil(EXACT_DISTINCT_LIMIT as u64)
        .max(1);
    let mut out: Vec<Point> = Vec::with_capacity(EXACT_DISTINCT_LIMIT / 2 + 1);
    for p in points {
        match out.last_mut() {
            Some(last) if last.count + p.count <= cap => last.join(&p),
            _ => out.push(p),
        }
    }
    out
}

fn run_lengths(sorted: &[f64]) -> Vec<(f64, u64)> {
    let mut runs: Vec<(f64, u64)> = Vec::new();
    for &v in sorted {
        match runs.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => runs.push((v, 1)),
        }
    }
    runs
}

/// Neumaier's compensated sum: the profile's sum must not depend on how rows were batched.
pub(crate) fn compensated_sum(terms: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut compensation) = (0.0f64, 0.0f64);
    for t in terms {
        let next = sum + t;
        compensation += if sum.abs() >= t.abs() {
            (sum - next) + t
        } else {
            (t - next) + sum
        };
        sum = next;
    }
    sum + compensation
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Builds a numeric [`ColumnProfile`] row by row or slice by slice with bounded memory.
#[derive(Debug, Clone)]
pub struct NumericAccumulator {
    dist: NumericDistribution,
    pending: Vec<f64>,
    missing: u64,
}

impl NumericAccumulator {
    /// A float column's accumulator; integer columns should use [`Self::with_dtype`] so that
    /// Evidently's typing of low-cardinality integers as categorical can apply.
    pub fn new() -> NumericAccumulator {
        NumericAccumulator::with_dtype(NumericDtype::Float)
    }

    /// `dtype` is the column's physical type (integer or float), see [`NumericDtype`].
    pub fn with_dtype(dtype: NumericDtype) -> NumericAccumulator {
        NumericAccumulator {
            dist: NumericDistribution::empty(dtype),
            pending: Vec::new(),
            missing: 0,
        }
    }

    /// NaN and ±inf count as missing, as in Evidently.
    pub fn push(&mut self, value: f64) {
        if !value.is_finite() {
            self.push_missing();
            return;
        }
        // pandas counts -0.0 and 0.0 as one value.
        self.pending.push(value + 0.0);
        if self.pending.len() >= PENDING_LIMIT {
            self.flush();
        }
    }

    pub fn push_missing(&mut self) {
        self.missing += 1;
    }

    pub fn extend(&mut self, values: &[f64]) {
        for &v in values {
            self.push(v);
        }
    }

    pub fn finish(self) -> ColumnProfile {
        let missing = self.missing;
        ColumnProfile {
            missing,
            values: ColumnValues::Numeric(self.into_distribution()),
        }
    }

    fn into_distribution(mut self) -> NumericDistribution {
        self.flush();
        if self.missing > 0 {
            self.dist.dtype = NumericDtype::Float;
        }
        self.dist
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.pending.sort_unstable_by(f64::total_cmp);
        self.dist.absorb_sorted_batch(&self.pending);
        self.pending.clear();
    }
}

impl Default for NumericAccumulator {
    fn default() -> Self {
        NumericAccumulator::new()
    }
}

/// Category counts of a string or boolean column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalDistribution {
    dtype: CategoricalDtype,
    counts: BTreeMap<String, u64>,
}

impl CategoricalDistribution {
    pub fn from_counts(dtype: CategoricalDtype, counts: BTreeMap<String, u64>) -> Self {
        let counts = counts.into_iter().filter(|&(_, c)| c > 0).collect();
        CategoricalDistribution { dtype, counts }
    }

    pub fn dtype(&self) -> CategoricalDtype {
        self.dtype
    }

    /// Category -> count, categories ascending.
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }

    pub fn count(&self) -> u64 {
        self.counts.values().sum()
    }

    pub fn n_unique(&self) -> usize {
        self.counts.len()
    }

    pub fn merge(&self, other: &CategoricalDistribution) -> CategoricalDistribution {
        let mut counts = self.counts.clone();
        for (k, &c) in &other.counts {
            *counts.entry(k.clone()).or_default() += c;
        }
        CategoricalDistribution {
            dtype: self.dtype,
            counts,
        }
    }
}

/// Builds a categorical [`ColumnProfile`]; memory grows with the number of categories only.
#[derive(Debug, Clone)]
pub struct CategoricalAccumulator {
    dist: CategoricalDistribution,
    missing: u64,
}

impl CategoricalAccumulator {
    /// A string column's accumulator; boolean columns should use [`Self::with_dtype`].
    pub fn new() -> CategoricalAccumulator {
        CategoricalAccumulator::with_dtype(CategoricalDtype::String)
    }

    pub fn with_dtype(dtype: CategoricalDtype) -> CategoricalAccumulator {
        CategoricalAccumulator {
            dist: CategoricalDistribution {
                dtype,
                counts: BTreeMap::new(),
            },
            missing: 0,
        }
    }

    pub fn push(&mut self, category: &str) {
        match self.dist.counts.get_mut(category) {
            Some(c) => *c += 1,
            None => {
                self.dist.counts.insert(category.to_owned(), 1);
            }
        }
    }

    pub fn push_missing(&mut self) {
        self.missing += 1;
    }

    pub fn finish(self) -> ColumnProfile {
        ColumnProfile {
            missing: self.missing,
            values: ColumnValues::Categorical(self.dist),
        }
    }
}

impl Default for CategoricalAccumulator {
    fn default() -> Self {
        CategoricalAccumulator::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn numeric(values: &[f64]) -> NumericDistribution {
        NumericDistribution::from_values(values)
    }

    #[test]
    fn distinct_values_are_sorted_with_counts_and_non_finite_is_missing() {
        let mut acc = NumericAccumulator::new();
        acc.extend(&[3.0, 1.0, f64::NAN, 3.0, f64::INFINITY, -0.0, 0.0]);
        acc.push_missing();
        let profile = acc.finish();
        assert_eq!(profile.missing, 3);
        let ColumnValues::Numeric(d) = &profile.values else {
            panic!("numeric profile expected")
        };
        assert_eq!(d.values(), &[0.0, 1.0, 3.0]);
        assert_eq!(d.counts(), &[2, 1, 2]);
        assert_eq!((d.min(), d.max(), d.count()), (Some(0.0), Some(3.0), 5));
        assert_eq!(d.mean(), Some(7.0 / 5.0));
        assert!(d.is_exact());
    }

    #[test]
    fn std_is_population_std() {
        // np.std([2, 4, 4, 4, 5, 5, 7, 9]) == 2.0
        let d = numeric(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(d.std(), Some(2.0));
        assert_eq!(numeric(&[]).std(), None);
        assert_eq!(numeric(&[5.0]).std(), Some(0.0));
    }

    #[test]
    fn std_survives_a_large_offset() {
        // np.std(1e9 + np.array([1., 2., 3., 4.])) == 1.118033988749895
        let d = numeric(&[1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0, 1e9 + 4.0]);
        assert!((d.std().unwrap() - 1.118033988749895).abs() < 1e-12);
    }

    #[test]
    fn int_dtype_becomes_float_with_a_missing_value() {
        let mut acc = NumericAccumulator::with_dtype(NumericDtype::Int);
        acc.push(1.0);
        let ColumnValues::Numeric(d) = acc.clone().finish().values else {
            unreachable!()
        };
        assert_eq!(d.dtype(), NumericDtype::Int);
        acc.push_missing();
        let ColumnValues::Numeric(d) = acc.finish().values else {
            unreachable!()
        };
        assert_eq!(d.dtype(), NumericDtype::Float);
    }

    #[test]
    fn histogram_matches_numpy_edges_semantics() {
        // np.histogram([0, 1, 1, 2, 3, 4], bins=[0, 1, 2, 4]) -> [1, 2, 3]
        let d = numeric(&[0.0, 1.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(d.histogram(&[0.0, 1.0, 2.0, 4.0]), vec![1, 2, 3]);
        assert_eq!(d.histogram(&[0.5, 1.5]), vec![2]);
        assert_eq!(d.histogram(&[2.0, 1.0]), vec![0]);
        assert_eq!(d.histogram(&[1.0]), Vec::<u64>::new());
    }

    #[test]
    fn categorical_profiles_count_and_merge() {
        let mut acc = CategoricalAccumulator::new();
        for c in ["b", "a", "b"] {
            acc.push(c);
        }
        acc.push_missing();
        let p = acc.finish();
        assert_eq!((p.count(), p.missing, p.n_unique()), (3, 1, Some(2)));
        let merged = p.merge(&p).unwrap();
        assert_eq!((merged.count(), merged.missing), (6, 2));
        let numeric_profile = NumericAccumulator::new().finish();
        assert_eq!(
            p.merge(&numeric_profile),
            Err(ProfileError::KindMismatch {
                left: "string",
                right: "numeric"
            })
        );
    }

    #[test]
    fn profiles_round_trip_through_json() {
        let mut acc = NumericAccumulator::with_dtype(NumericDtype::Int);
        acc.extend(&[1.0, 2.0, 2.0]);
        let p = acc.finish();
        let json = serde_json::to_string(&p).unwrap();
        let corrupt = json.replace("[1,2]", "[1,3]");
        let error = serde_json::from_str::<ColumnProfile>(&corrupt).unwrap_err();
        assert!(error.to_string().contains("do not add up to n"), "{error}");
        assert_eq!(
            json,
            r#"{"missing":0,"values":{"kind":"numeric","dtype":"int","values":[1.0,2.0],"counts":[1,2],"n":3,"sum":5.0,"m2":0.6666666666666666}}"#
        );
        assert_eq!(serde_json::from_str::<ColumnProfile>(&json).unwrap(), p);
    }

    #[test]
    fn compression_bounds_memory_and_keeps_totals() {
        let mut acc = NumericAccumulator::new();
        let n = 3 * EXACT_DISTINCT_LIMIT as u64;
        // A deterministic scramble of 0..n so values do not arrive sorted.
        for i in 0..n {
            acc.push(((i * 2_654_435_761) % n) as f64);
        }
        let ColumnValues::Numeric(d) = acc.finish().values else {
            unreachable!()
        };
        assert!(!d.is_exact());
        assert!(d.values().len() <= EXACT_DISTINCT_LIMIT);
        assert_eq!(d.count(), n);
        assert_eq!(d.counts().iter().sum::<u64>(), n);
        assert_eq!((d.min(), d.max()), (Some(0.0), Some((n - 1) as f64)));
        let exact_mean = (n - 1) as f64 / 2.0;
        assert!((d.mean().unwrap() - exact_mean).abs() < 1e-9 * exact_mean);
        let exact_std = (((n * n - 1) as f64) / 12.0).sqrt();
        assert!((d.std().unwrap() - exact_std).abs() < 1e-9 * exact_std);
        assert!(d.values().windows(2).all(|w| w[0] < w[1]));
        let bound = d.cdf_error_bound();
        assert!(
            bound > 0.0 && bound <= 3.0 * 4.0 / EXACT_DISTINCT_LIMIT as f64,
            "{bound}"
        );
        assert!(d.wasserstein_error_bound() > 0.0);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(
            serde_json::from_str::<NumericDistribution>(&json).unwrap(),
            d
        );

        let both = d.merge(&d);
        assert_eq!(both.count(), 2 * n);
        assert!(both.values().len() <= EXACT_DISTINCT_LIMIT);
        assert_eq!((both.min(), both.max()), (d.min(), d.max()));
        assert!((both.mean().unwrap() - exact_mean).abs() < 1e-9 * exact_mean);
        assert!(both.cdf_error_bound() < 1e-3);
    }

    proptest! {
        #[test]
        fn merge_equals_profile_of_concatenation(
            a in prop::collection::vec(-50i32..50, 0..200),
            b in prop::collection::vec(-50i32..50, 0..200),
        ) {
            let a: Vec<f64> = a.into_iter().map(|v| f64::from(v) / 4.0).collect();
            let b: Vec<f64> = b.into_iter().map(|v| f64::from(v) / 4.0).collect();
            let merged = numeric(&a).merge(&numeric(&b));
            let whole = numeric(&[a.clone(), b].concat());
            prop_assert_eq!(merged.values(), whole.values());
            prop_assert_eq!(merged.counts(), whole.counts());
            prop_assert_eq!(merged.count(), whole.count());
            prop_assert!((merged.sum() - whole.sum()).abs() <= 1e-9);
            if let (Some(x), Some(y)) = (merged.std(), whole.std()) {
                prop_assert!((x - y).abs() <= 1e-9 * (1.0 + y));
            }
        }

        #[test]
        fn histogram_counts_every_value_once_over_the_full_range(
            values in prop::collection::vec(-1e6f64..1e6, 1..100),
            bins in 1usize..10,
        ) {
            let d = numeric(&values);
            let (lo, hi) = (d.min().unwrap(), d.max().unwrap());
            let edges: Vec<f64> = (0..=bins).map(|i| lo + (hi - lo) * i as f64 / bins as f64).collect();
            let mut edges = edges;
            edges[bins] = hi;
            if hi > lo {
                prop_assert_eq!(d.histogram(&edges).iter().sum::<u64>(), d.count());
            }
        }

    }

    proptest! {
        // Each case pushes more than EXACT_DISTINCT_LIMIT values.
        #![proptest_config(ProptestConfig::with_cases(6))]
        #[test]
        fn compression_keeps_count_min_max_and_weight(
            seed in 0u64..1000,
            extra in 0usize..1000,
        ) {
            let n = EXACT_DISTINCT_LIMIT + 1 + extra;
            let values: Vec<f64> = (0..n as u64)
                .map(|i| ((i.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(seed)) >> 11) as f64)
                .collect();
            let d = numeric(&values);
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert_eq!(d.count(), n as u64);
            prop_assert_eq!(d.counts().iter().sum::<u64>(), n as u64);
            prop_assert_eq!((d.min(), d.max()), (Some(min), Some(max)));
            prop_assert!(d.values().len() <= EXACT_DISTINCT_LIMIT);
        }
    }
}
