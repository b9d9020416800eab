//! Golden test: `drift::evaluate` against Evidently 0.7.23 and scipy on the datasets of
//! `scripts/drift_expected.py`, whose value counts and expected verdicts are in
//! `tests/fixtures/evidently_golden.json` (regenerate with
//! `python scripts/drift_expected.py OUT_DIR --fixture crates/galley-monitoring/tests/fixtures/evidently_golden.json`).

use galley_monitoring::drift::{evaluate, ColumnOptions, DatasetDrift, DriftOptions};
use galley_monitoring::profile::{
    CategoricalAccumulator, CategoricalDtype, ColumnProfile, NumericAccumulator, NumericDtype,
};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/evidently_golden.json");

fn profile(dtype: &str, side: &Value) -> ColumnProfile {
    let missing = side["missing"].as_u64().expect("missing count");
    match dtype {
        "int" | "float" => {
            let dtype = if dtype == "int" {
                NumericDtype::Int
            } else {
                NumericDtype::Float
            };
            let mut acc = NumericAccumulator::with_dtype(dtype);
            let values = side["values"].as_array().expect("values");
            let counts = side["counts"].as_array().expect("counts");
            for (value, count) in values.iter().zip(counts) {
                let value = value.as_f64().expect("numeric value");
                (0..count.as_u64().expect("count")).for_each(|_| acc.push(value));
            }
            (0..missing).for_each(|_| acc.push_missing());
            acc.finish()
        }
        "string" | "bool" => {
            let dtype = if dtype == "bool" {
                CategoricalDtype::Bool
            } else {
                CategoricalDtype::String
            };
            let mut acc = CategoricalAccumulator::with_dtype(dtype);
            for (category, count) in side["counts"].as_object().expect("category counts") {
                (0..count.as_u64().expect("count")).for_each(|_| acc.push(category));
            }
            (0..missing).for_each(|_| acc.push_missing());
            acc.finish()
        }
        other => panic!("unknown dtype {other}"),
    }
}

fn options(case: &Value) -> DriftOptions {
    let mut options = DriftOptions::default();
    for (column, test) in case["tests"].as_object().expect("tests") {
        let test = test
            .as_str()
            .expect("test name")
            .parse()
            .expect("known test");
        options
            .per_column
            .entry(column.clone())
            .or_insert_with(ColumnOptions::default)
            .test = Some(test);
    }
    for (column, threshold) in case["thresholds"].as_object().expect("thresholds") {
        options
            .per_column
            .entry(column.clone())
            .or_default()
            .threshold = threshold.as_f64();
    }
    options
}

fn close(actual: f64, expected: f64) -> bool {
    (actual.is_nan() && expected.is_nan())
        || (actual - expected).abs() <= (1e-9 * expected.abs()).max(1e-12)
}

fn check(name: &str, actual: &DatasetDrift, expected: &DatasetDrift) {
    assert_eq!(
        actual.columns.len(),
        expected.columns.len(),
        "{name}: columns"
    );
    for e in &expected.columns {
        let a = actual
            .columns
            .iter()
            .find(|a| a.column == e.column)
            .unwrap_or_else(|| panic!("{name}: column {} missing", e.column));
        let what = format!("{name}.{}", e.column);
        assert_eq!(
            (a.r#type, a.test, a.threshold),
            (e.r#type, e.test, e.threshold),
            "{what}"
        );
        assert!(
            close(a.score, e.score),
            "{what}: score {} expected {}",
            a.score,
            e.score
        );
        assert_eq!(
            a.drift_detected, e.drift_detected,
            "{what}: verdict (score {})",
            a.score
        );
    }
    assert_eq!(
        actual.number_of_columns, expected.number_of_columns,
        "{name}"
    );
    assert_eq!(
        actual.number_of_drifted_columns, expected.number_of_drifted_columns,
        "{name}"
    );
    assert!(
        close(actual.drift_share, expected.drift_share),
        "{name}: share"
    );
    assert_eq!(
        actual.drift_share_threshold, expected.drift_share_threshold,
        "{name}"
    );
    assert_eq!(
        actual.dataset_drift, expected.dataset_drift,
        "{name}: dataset verdict"
    );
}

#[test]
fn evaluate_matches_evidently_on_every_golden_case() {
    let fixture: Value = serde_json::from_str(FIXTURE).expect("fixture is JSON");
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 8);
    for case in cases {
        let name = case["name"].as_str().expect("case name");
        let profiles: Vec<(String, ColumnProfile, ColumnProfile)> = case["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().expect("column name").to_owned(),
                    profile(
                        c["reference_dtype"].as_str().expect("dtype"),
                        &c["reference"],
                    ),
                    profile(c["dtype"].as_str().expect("dtype"), &c["current"]),
                )
            })
            .collect();
        let pairs: Vec<(&str, &ColumnProfile, &ColumnProfile)> = profiles
            .iter()
            .map(|(n, r, c)| (n.as_str(), r, c))
            .collect();
        let actual = evaluate(&pairs, &options(case)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected: DatasetDrift =
            serde_json::from_value(case["expected"].clone()).expect("expected drift");
        check(name, &actual, &expected);
    }
}
