//! Data drift as Evidently 0.7.23's `DataDriftPreset` decides it: how each column is typed,
//! which test applies (Evidently's defaults, overridable per column), its score and verdict, and
//! the dataset verdict from the share of drifted columns.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use galley_core::{ErrorCode, HasErrorCode};
use serde::{Deserialize, Serialize};

use crate::profile::{
    CategoricalDtype, ColumnProfile, ColumnValues, NumericDistribution, NumericDtype,
};
use crate::stats::binning::BinInput;
use crate::stats::{self, AlignedCounts, StatsError};

/// How a column is compared: Evidently's `ColumnType`, inferred from the current data the way
/// Evidently 0.7's `DataDefinition()` infers it (`infer_column_type` on the current dataset):
///
/// - float dtype → numerical;
/// - integer dtype → categorical when the current column has at most 10 distinct values,
///   numerical otherwise (an integer column with a missing cell is float64 in pandas, see
///   [`NumericDtype`]);
/// - bool dtype → categorical; a boolean column with a missing cell is `object` dtype in pandas,
///   which Evidently types "unknown" and leaves out of the report, and so does Galley;
/// - strings → categorical. Evidently types a string column "text" when more than half of its
///   current values are distinct and runs a text-content drift test (a classifier on the raw
///   text) on it; Galley cannot reproduce that and compares such a column as categorical;
/// - datetimes → left out (the I/O layer does not profile them).
///
/// So the I/O layer only has to profile each column by its physical type: integer and float
/// columns with [`crate::profile::NumericAccumulator::with_dtype`], strings and booleans with
/// [`crate::profile::CategoricalAccumulator::with_dtype`], empty cells as missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Numerical,
    Categorical,
}

impl ColumnType {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Numerical => "numerical",
            ColumnType::Categorical => "categorical",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Evidently types integer columns with at most this many distinct values as categorical.
const INTEGER_CARDINALITY_LIMIT: usize = 10;

/// Evidently's type for a column, from its current profile; `None` when Evidently leaves the
/// column out of drift (see [`ColumnType`]).
pub fn column_type(current: &ColumnProfile) -> Option<ColumnType> {
    match &current.values {
        ColumnValues::Numeric(d) => Some(match (d.dtype(), d.n_unique()) {
            (NumericDtype::Int, Some(unique)) if unique <= INTEGER_CARDINALITY_LIMIT => {
                ColumnType::Categorical
            }
            _ => ColumnType::Numerical,
        }),
        ColumnValues::Categorical(d)
            if d.dtype() == CategoricalDtype::Bool && current.missing > 0 =>
        {
            None
        }
        ColumnValues::Categorical(_) => Some(ColumnType::Categorical),
    }
}

/// The drift tests Galley runs. The first six are Evidently's stattests of the same name; the
/// last is Galley's decile-binned PSI ([`stats::psi::psi_reference_deciles`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftTest {
    Ks,
    Chisquare,
    Z,
    Wasserstein,
    Jensenshannon,
    Psi,
    PsiReferenceDeciles,
}

impl DriftTest {
    pub const ALL: [DriftTest; 7] = [
        DriftTest::Ks,
        DriftTest::Chisquare,
        DriftTest::Z,
        DriftTest::Wasserstein,
        DriftTest::Jensenshannon,
        DriftTest::Psi,
        DriftTest::PsiReferenceDeciles,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DriftTest::Ks => "ks",
            DriftTest::Chisquare => "chisquare",
            DriftTest::Z => "z",
            DriftTest::Wasserstein => "wasserstein",
            DriftTest::Jensenshannon => "jensenshannon",
            DriftTest::Psi => "psi",
            DriftTest::PsiReferenceDeciles => "psi_reference_deciles",
        }
    }

    /// Whether the score is a p-value (drift when small) rather than a distance (drift when large).
    pub fn is_p_value(self) -> bool {
        matches!(self, DriftTest::Ks | DriftTest::Chisquare | DriftTest::Z)
    }

    /// Evidently's default thresholds: 0.05 for p-values, 0.1 for distances and PSI.
    pub fn default_threshold(self) -> f64 {
        if self.is_p_value() {
            0.05
        } else {
            0.1
        }
    }

    /// The column types Evidently registers the test for. Its default choice may still run
    /// chi-square or Z on a numerical column with few values; an explicit choice may not.
    pub fn applies_to(self, column_type: ColumnType) -> bool {
        match self {
            DriftTest::Ks | DriftTest::Wasserstein | DriftTest::PsiReferenceDeciles => {
                column_type == ColumnType::Numerical
            }
            DriftTest::Chisquare | DriftTest::Z => column_type == ColumnType::Categorical,
            DriftTest::Jensenshannon | DriftTest::Psi => true,
        }
    }

    /// Evidently's comparison, which differs by test: K-S drifts at `p <= threshold`, chi-square
    /// and Z at `p < threshold`, distances and PSI at `score >= threshold`. NaN never drifts.
    pub fn detects(self, score: f64, threshold: f64) -> bool {
        match self {
            DriftTest::Ks => score <= threshold,
            DriftTest::Chisquare | DriftTest::Z => score < threshold,
            _ => score >= threshold,
        }
    }
}

impl fmt::Display for DriftTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DriftTest {
    type Err = DriftError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DriftTest::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| DriftError::UnknownTest { name: s.to_owned() })
    }
}

/// A column's overrides of the default test and threshold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnOptions {
    #[serde(default)]
    pub test: Option<DriftTest>,
    #[serde(default)]
    pub threshold: Option<f64>,
}

/// Evidently's `DataDriftPreset` options that Galley supports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftOptions {
    /// The threshold of every column without its own; `None` keeps each test's default.
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(default)]
    pub per_column: BTreeMap<String, ColumnOptions>,
    /// The dataset drifts when at least this share of its columns drift.
    #[serde(default = "default_drift_share")]
    pub drift_share: f64,
}

fn default_drift_share() -> f64 {
    0.5
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            threshold: None,
            per_column: BTreeMap::new(),
            drift_share: default_drift_share(),
        }
    }
}

/// One column's verdict; the field names are the CLI's JSON contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    pub column: String,
    pub r#type: ColumnType,
    pub test: DriftTest,
    /// Evidently's `drift_score`: the p-value for ks/chisquare/z, the distance or PSI otherwise.
    pub score: f64,
    pub threshold: f64,
    pub drift_detected: bool,
}

/// The dataset's verdict; the field names are the CLI's JSON contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    pub dataset_drift: bool,
    /// The measured share of drifted columns.
    pub drift_share: f64,
    pub drift_share_threshold: f64,
    pub number_of_columns: usize,
    pub number_of_drifted_columns: usize,
    pub columns: Vec<ColumnDrift>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriftError {
    #[error(
        "column '{column}' is {reference} in the reference data but {current} in the current data"
    )]
    TypeMismatch {
        column: String,
        reference: &'static str,
        current: &'static str,
    },
    #[error(
        "column '{column}' has no values in the {side} data (missing values and ±inf are dropped)"
    )]
    EmptyColumn { column: String, side: &'static str },
    #[error("drift options name column '{column}', which is not among the compared columns")]
    UnknownColumn { column: String },
    #[error("unknown drift test '{name}'; expected one of: ks, chisquare, z, wasserstein, jensenshannon, psi, psi_reference_deciles")]
    UnknownTest { name: String },
    #[error("test '{test}' does not apply to {column_type} column '{column}'")]
    InvalidTest {
        column: String,
        test: DriftTest,
        column_type: ColumnType,
    },
    #[error("the reference profile of column '{column}' has more distinct values than a profile keeps exactly, so it cannot be compared category by category")]
    CompressedProfile { column: String },
    #[error("{what} must be {expected}, got {value}")]
    InvalidOption {
        what: String,
        expected: &'static str,
        value: f64,
    },
    #[error("no columns to compare")]
    NoColumns,
    #[error("column '{column}': {source}")]
    Stats { column: String, source: StatsError },
}

impl HasErrorCode for DriftError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidParameterValue
    }
}

/// Compares each `(column, reference, current)` profile pair and gives Evidently's verdicts.
/// Columns Evidently leaves out (see [`ColumnType`]) are left out of the result.
pub fn evaluate(
    columns: &[(&str, &ColumnProfile, &ColumnProfile)],
    options: &DriftOptions,
) -> Result<DatasetDrift, DriftError> {
    validate(columns, options)?;
    let mut results = Vec::with_capacity(columns.len());
    for &(name, reference, current) in columns {
        if let Some(result) = column_drift(name, reference, current, options)? {
            results.push(result);
        }
    }
    if results.is_empty() {
        return Err(DriftError::NoColumns);
    }
    let drifted = results.iter().filter(|c| c.drift_detected).count();
    let share = drifted as f64 / results.len() as f64;
    Ok(DatasetDrift {
        dataset_drift: share >= options.drift_share,
        drift_share: share,
        drift_share_threshold: options.drift_share,
        number_of_columns: results.len(),
        number_of_drifted_columns: drifted,
        columns: results,
    })
}

fn validate(
    columns: &[(&str, &ColumnProfile, &ColumnProfile)],
    options: &DriftOptions,
) -> Result<(), DriftError> {
    if !(0.0..=1.0).contains(&options.drift_share) {
        return Err(DriftError::InvalidOption {
            what: "the drift share".to_owned(),
            expected: "between 0 and 1",
            value: options.drift_share,
        });
    }
    // Distances and PSI may sensibly be compared with thresholds above 1.
    let threshold = |what: String, value: f64| {
        if value.is_finite() && value >= 0.0 {
            Ok(())
        } else {
            Err(DriftError::InvalidOption {
                what,
                expected: "a finite number of at least 0",
                value,
            })
        }
    };
    if let Some(value) = options.threshold {
        threshold("the drift threshold".to_owned(), value)?;
    }
    for (column, overrides) in &options.per_column {
        if !columns.iter().any(|(name, _, _)| name == column) {
            return Err(DriftError::UnknownColumn {
                column: column.clone(),
            });
        }
        if let Some(value) = overrides.threshold {
            threshold(format!("the threshold of column '{column}'"), value)?;
        }
    }
    Ok(())
}

/// A column's values in the form its type compares them.
enum Compared<'a> {
    Numerical {
        reference: &'a NumericDistribution,
        current: &'a NumericDistribution,
    },
    Categorical(AlignedCounts),
}

fn column_drift(
    column: &str,
    reference: &ColumnProfile,
    current: &ColumnProfile,
    options: &DriftOptions,
) -> Result<Option<ColumnDrift>, DriftError> {
    let empty = |side| DriftError::EmptyColumn {
        column: column.to_owned(),
        side,
    };
    if current.count() == 0 {
        return Err(empty("current"));
    }
    let Some(column_type) = column_type(current) else {
        return Ok(None);
    };
    if reference.count() == 0 {
        return Err(empty("reference"));
    }
    let compared = compared(column, column_type, reference, current)?;
    let overrides = options.per_column.get(column).cloned().unwrap_or_default();
    let test = match overrides.test {
        Some(test) if !test.applies_to(column_type) => {
            return Err(DriftError::InvalidTest {
                column: column.to_owned(),
                test,
                column_type,
            })
        }
        Some(test) => test,
        None => default_test(column_type, reference.count(), &compared),
    };
    let score = score(test, &compared).map_err(|source| DriftError::Stats {
        column: column.to_owned(),
        source,
    })?;
    let threshold = overrides
        .threshold
        .or(options.threshold)
        .unwrap_or(test.default_threshold());
    Ok(Some(ColumnDrift {
        column: column.to_owned(),
        r#type: column_type,
        test,
        score,
        threshold,
        drift_detected: test.detects(score, threshold),
    }))
}

fn compared<'a>(
    column: &str,
    column_type: ColumnType,
    reference: &'a ColumnProfile,
    current: &'a ColumnProfile,
) -> Result<Compared<'a>, DriftError> {
    match (column_type, &reference.values, &current.values) {
        (ColumnType::Numerical, ColumnValues::Numeric(r), ColumnValues::Numeric(c)) => {
            Ok(Compared::Numerical {
                reference: r,
                current: c,
            })
        }
        (ColumnType::Categorical, ColumnValues::Numeric(r), ColumnValues::Numeric(c)) => {
            if r.is_exact() {
                Ok(Compared::Categorical(AlignedCounts::from_numeric(r, c)))
            } else {
                Err(DriftError::CompressedProfile {
                    column: column.to_owned(),
                })
            }
        }
        (ColumnType::Categorical, ColumnValues::Categorical(r), ColumnValues::Categorical(c)) => {
            Ok(Compared::Categorical(AlignedCounts::from_categorical(r, c)))
        }
        (_, r, c) => Err(DriftError::TypeMismatch {
            column: column.to_owned(),
            reference: r.kind(),
            current: c.kind(),
        }),
    }
}

/// Evidently's `_get_default_stattest`. "Reference rows" are the reference's non-missing
/// values (Evidently drops NaN before choosing); distinct values are counted over both samples.
fn default_test(
    column_type: ColumnType,
    reference_rows: u64,
    compared: &Compared<'_>,
) -> DriftTest {
    let n_unique = match compared {
        Compared::Numerical { reference, current } => {
            match (reference.is_exact(), current.is_exact()) {
                (true, true) => stats::union_points(reference, current).len(),
                _ => usize::MAX,
            }
        }
        Compared::Categorical(counts) => counts.reference.len(),
    };
    let few_values = column_type == ColumnType::Categorical || n_unique <= 5;
    match (reference_rows <= 1000, few_values) {
        (true, true) if n_unique > 2 => DriftTest::Chisquare,
        (true, true) => DriftTest::Z,
        (true, false) => DriftTest::Ks,
        (false, true) => DriftTest::Jensenshannon,
        (false, false) => DriftTest::Wasserstein,
    }
}

fn score(test: DriftTest, compared: &Compared<'_>) -> Result<f64, StatsError> {
    match compared {
        Compared::Numerical { reference, current } => numerical_score(test, reference, current),
        Compared::Categorical(counts) => categorical_score(test, counts),
    }
}

fn numerical_score(
    test: DriftTest,
    reference: &NumericDistribution,
    current: &NumericDistribution,
) -> Result<f64, StatsError> {
    let binned = BinInput::Numerical { reference, current };
    match test {
        DriftTest::Ks => stats::ks::ks_drift(reference, current),
        DriftTest::Wasserstein => stats::wasserstein::wasserstein_drift(reference, current),
        DriftTest::PsiReferenceDeciles => stats::psi::psi_reference_deciles(reference, current),
        DriftTest::Jensenshannon => stats::jensenshannon::jensenshannon_drift(binned),
        DriftTest::Psi => stats::psi::psi_drift(binned),
        DriftTest::Chisquare | DriftTest::Z => {
            categorical_score(test, &AlignedCounts::from_numeric(reference, current))
        }
    }
}

/// Tests that need an order (ks, wasserstein, decile PSI) never reach here: a categorical column
/// rejects them as overrides and never gets them by default.
fn categorical_score(test: DriftTest, counts: &AlignedCounts) -> Result<f64, StatsError> {
    match test {
        DriftTest::Z => stats::ztest::z_test_drift(counts),
        DriftTest::Jensenshannon => {
            stats::jensenshannon::jensenshannon_drift(BinInput::Categorical(counts))
        }
        DriftTest::Psi => stats::psi::psi_drift(BinInput::Categorical(counts)),
        _ => stats::chisquare::chisquare_drift(counts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{CategoricalAccumulator, NumericAccumulator};

    fn numeric(dtype: NumericDtype, values: &[f64]) -> ColumnProfile {
        let mut acc = NumericAccumulator::with_dtype(dtype);
        acc.extend(values);
        acc.finish()
    }

    fn floats(values: &[f64]) -> ColumnProfile {
        numeric(NumericDtype::Float, values)
    }

    fn strings(values: &[&str]) -> ColumnProfile {
        let mut acc = CategoricalAccumulator::new();
        values.iter().for_each(|v| acc.push(v));
        acc.finish()
    }

    fn spread(n: usize, offset: f64) -> Vec<f64> {
        (0..n).map(|i| (i % 97) as f64 + offset).collect()
    }

    fn only(result: &DatasetDrift) -> &ColumnDrift {
        &result.columns[0]
    }

    #[test]
    fn default_tests_follow_evidently() {
        let run = |r: &ColumnProfile, c: &ColumnProfile| {
            let result = evaluate(&[("x", r, c)], &DriftOptions::default()).unwrap();
            (only(&result).r#type, only(&result).test)
        };
        let small = floats(&spread(200, 0.0));
        let large = floats(&spread(2000, 0.0));
        assert_eq!(run(&small, &small), (ColumnType::Numerical, DriftTest::Ks));
        assert_eq!(
            run(&large, &large),
            (ColumnType::Numerical, DriftTest::Wasserstein)
        );
        let five = floats(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(
            run(&five, &five),
            (ColumnType::Numerical, DriftTest::Chisquare)
        );
        let two = floats(&[1.0, 2.0]);
        assert_eq!(run(&two, &two), (ColumnType::Numerical, DriftTest::Z));
        let many_twos = floats(&[1.0, 2.0].repeat(600));
        assert_eq!(
            run(&many_twos, &two),
            (ColumnType::Numerical, DriftTest::Jensenshannon)
        );
        let cats = strings(&["a", "b", "c"]);
        assert_eq!(
            run(&cats, &cats),
            (ColumnType::Categorical, DriftTest::Chisquare)
        );
        let ints = numeric(NumericDtype::Int, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            run(&ints, &ints),
            (ColumnType::Categorical, DriftTest::Chisquare)
        );
        let many_ints = numeric(NumericDtype::Int, &spread(50, 0.0));
        assert_eq!(
            run(&many_ints, &many_ints),
            (ColumnType::Numerical, DriftTest::Ks)
        );
    }

    #[test]
    fn reference_rows_are_counted_after_dropping_missing_values() {
        let mut acc = NumericAccumulator::new();
        acc.extend(&spread(1000, 0.0));
        (0..500).for_each(|_| acc.push_missing());
        let reference = acc.finish();
        let result = evaluate(&[("x", &reference, &reference)], &DriftOptions::default()).unwrap();
        assert_eq!(only(&result).test, DriftTest::Ks);
    }

    #[test]
    fn dataset_drifts_at_exactly_the_share() {
        let base = floats(&spread(200, 0.0));
        let moved = floats(&spread(200, 50.0));
        let result = evaluate(
            &[("a", &base, &moved), ("b", &base, &base)],
            &DriftOptions::default(),
        )
        .unwrap();
        assert_eq!(
            (result.number_of_drifted_columns, result.number_of_columns),
            (1, 2)
        );
        assert_eq!(result.drift_share, 0.5);
        assert!(result.dataset_drift);
    }

    #[test]
    fn overrides_change_test_and_threshold() {
        let base = floats(&spread(200, 0.0));
        let mut options = DriftOptions::default();
        options.per_column.insert(
            "x".to_owned(),
            ColumnOptions {
                test: Some(DriftTest::Psi),
                threshold: Some(0.2),
            },
        );
        let result = evaluate(&[("x", &base, &base)], &options).unwrap();
        assert_eq!(
            (only(&result).test, only(&result).threshold),
            (DriftTest::Psi, 0.2)
        );
        assert_eq!(only(&result).score, 0.0);
    }

    #[test]
    fn invalid_requests_are_clear_errors() {
        let nums = floats(&[1.0, 2.0, 3.0]);
        let cats = strings(&["a", "b"]);
        let empty = floats(&[f64::NAN]);
        let default = DriftOptions::default();
        assert!(matches!(
            evaluate(&[("x", &cats, &nums)], &default),
            Err(DriftError::TypeMismatch { .. })
        ));
        assert_eq!(
            evaluate(&[("x", &nums, &empty)], &default),
            Err(DriftError::EmptyColumn {
                column: "x".to_owned(),
                side: "current"
            })
        );
        assert_eq!(evaluate(&[], &default), Err(DriftError::NoColumns));
        let mut options = DriftOptions::default();
        options
            .per_column
            .insert("y".to_owned(), ColumnOptions::default());
        assert_eq!(
            evaluate(&[("x", &nums, &nums)], &options),
            Err(DriftError::UnknownColumn {
                column: "y".to_owned()
            })
        );
        let mut options = DriftOptions::default();
        options.per_column.entry("x".to_owned()).or_default().test = Some(DriftTest::Ks);
        let error = evaluate(&[("x", &cats, &cats)], &options).unwrap_err();
        assert_eq!(
            error.to_string(),
            "test 'ks' does not apply to categorical column 'x'"
        );
        options.per_column.entry("x".to_owned()).or_default().test = Some(DriftTest::Z);
        assert!(matches!(
            evaluate(&[("x", &nums, &nums)], &options),
            Err(DriftError::InvalidTest { .. })
        ));
        let options = DriftOptions {
            drift_share: f64::NAN,
            ..DriftOptions::default()
        };
        assert!(matches!(
            evaluate(&[("x", &nums, &nums)], &options),
            Err(DriftError::InvalidOption { .. })
        ));
    }

    #[test]
    fn boolean_columns_with_missing_values_are_left_out() {
        let mut acc = CategoricalAccumulator::with_dtype(CategoricalDtype::Bool);
        acc.push("True");
        acc.push_missing();
        let with_missing = acc.finish();
        let nums = floats(&[1.0, 2.0, 3.0]);
        let result = evaluate(
            &[("b", &with_missing, &with_missing), ("x", &nums, &nums)],
            &DriftOptions::default(),
        )
        .unwrap();
        assert_eq!(result.number_of_columns, 1);
        assert_eq!(result.columns[0].column, "x");
    }

    #[test]
    fn tests_parse_and_serialize_by_name() {
        for test in DriftTest::ALL {
            assert_eq!(test.as_str().parse::<DriftTest>().unwrap(), test);
            assert_eq!(serde_json::to_string(&test).unwrap(), format!("\"{test}\""));
        }
        assert!("kolmogorov".parse::<DriftTest>().is_err());
    }

    #[test]
    fn output_has_the_cli_json_shape() {
        let base = floats(&[1.0, 2.0, 3.0]);
        let result = evaluate(&[("x", &base, &base)], &DriftOptions::default()).unwrap();
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "dataset_drift": false,
                "drift_share": 0.0,
                "drift_share_threshold": 0.5,
                "number_of_columns": 1,
                "number_of_drifted_columns": 0,
                "columns": [{
                    "column": "x",
                    "type": "numerical",
                    "test": "chisquare",
                    "score": 1.0,
                    "threshold": 0.05,
                    "drift_detected": false
                }]
            })
        );
    }
}
