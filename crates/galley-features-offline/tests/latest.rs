//! The latest row per entity in a window, for materialization.

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_array::RecordBatch;
use arrow_schema::{DataType, TimeUnit};
use common::*;
use galley_features_offline::{
    latest_per_entity, LatestSpec, OfflineError, OfflineSource, LATEST_CHUNK_ROWS,
};

fn spec(start: Option<i64>, end: Option<i64>) -> LatestSpec {
    LatestSpec {
        join_keys: vec!["driver_id".into()],
        timestamp_column: "ts".into(),
        created_column: Some("created".into()),
        start_ns: start.map(|s| s * S),
        end_ns: end.map(|e| e * S),
        features: vec!["v".into()],
    }
}

fn latest(source: &OfflineSource, spec: &LatestSpec) -> RecordBatch {
    let rows = latest_per_entity(source, spec).unwrap();
    let schema = rows.schema().clone();
    let batches: Vec<RecordBatch> = rows.collect::<Result<_, _>>().unwrap();
    arrow_select::concat::concat_batches(&schema, &batches).unwrap()
}

/// (driver, v) pairs, sorted by driver, of an answer.
fn winners(batch: &RecordBatch) -> Vec<(i64, f64)> {
    let drivers = i64_column(batch, "driver_id");
    let values = f64_column(batch, "v");
    let mut out: Vec<(i64, f64)> = drivers
        .into_iter()
        .zip(values)
        .map(|(d, v)| (d.unwrap(), v.unwrap()))
        .collect();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

fn rows() -> OfflineSource {
    source(
        "rows",
        vec![
            (
                "driver_id",
                i64s(&[
                    Some(1),
                    Some(1),
                    Some(1),
                    Some(2),
                    Some(2),
                    None,
                    Some(3),
                    Some(3),
                ]),
            ),
            (
                "ts",
                secs(&[
                    Some(10),
                    Some(20),
                    Some(20),
                    Some(10),
                    Some(30),
                    Some(15),
                    None,
                    Some(5),
                ]),
            ),
            (
                "created",
                secs(&[Some(1), Some(3), Some(2), None, Some(1), None, None, None]),
            ),
            ("v", f64s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])),
        ],
    )
}

#[test]
fn the_window_starts_inclusive_and_ends_exclusive_and_created_breaks_ties() {
    let source = rows();
    // All time: driver 1's two rows at 20 tie, the one created at 3 wins.
    assert_eq!(
        winners(&latest(&source, &spec(None, None))),
        vec![(1, 2.0), (2, 5.0), (3, 8.0)]
    );
    // [10, 30): driver 2's row at 30 is out, its row at exactly 10 is in; driver 3's at 5 is out.
    assert_eq!(
        winners(&latest(&source, &spec(Some(10), Some(30)))),
        vec![(1, 2.0), (2, 4.0)]
    );
    // [11, 20): only rows before 20 and from 11 on: none for driver 1, none for 2.
    assert!(winners(&latest(&source, &spec(Some(11), Some(20)))).is_empty());
    // [20, ..): driver 1's tie and driver 2's row at 30.
    assert_eq!(
        winners(&latest(&source, &spec(Some(20), None))),
        vec![(1, 2.0), (2, 5.0)]
    );
}

#[test]
fn times_come_back_as_utc_nanoseconds() {
    let out = latest(&rows(), &spec(None, Some(11)));
    let utc = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    assert_eq!(column(&out, "ts").data_type(), &utc);
    assert_eq!(column(&out, "created").data_type(), &utc);
    assert_eq!(column(&out, "driver_id").data_type(), &DataType::Int64);
    let names: Vec<String> = out
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["driver_id", "ts", "created", "v"]);
    // Source order: driver 1's row at 10, driver 2's, driver 3's.
    assert_eq!(f64_column(&out, "v"), vec![Some(1.0), Some(4.0), Some(8.0)]);
    let ts = column(&out, "ts").as_primitive::<TimestampNanosecondType>();
    assert_eq!(ts.values().to_vec(), vec![10 * S, 10 * S, 5 * S]);
    let created = column(&out, "created");
    assert_eq!(created.null_count(), 2);
}

#[test]
fn answers_come_in_chunks() {
    let n = 25_000;
    let source = source(
        "many",
        vec![
            (
                "driver_id",
                i64s(&(0..n).map(|i| Some(i / 2)).collect::<Vec<_>>()),
            ),
            ("ts", secs(&(0..n).map(|i| Some(i % 2)).collect::<Vec<_>>())),
            ("created", secs(&vec![None; n as usize])),
            ("v", f64s(&(0..n).map(|i| i as f64).collect::<Vec<_>>())),
        ],
    );
    let rows = latest_per_entity(&source, &spec(None, None)).unwrap();
    assert_eq!(rows.num_rows(), 12_500);
    let sizes: Vec<usize> = rows.map(|b| b.unwrap().num_rows()).collect();
    assert_eq!(sizes, vec![LATEST_CHUNK_ROWS, 2_500]);
    let out = latest(&source, &spec(None, None));
    // Each driver's second row (time 1) wins.
    assert_eq!(
        f64_column(&out, "v"),
        (0..12_500)
            .map(|i| Some((2 * i + 1) as f64))
            .collect::<Vec<_>>()
    );
}

#[test]
fn composite_and_string_keys_and_errors() {
    let source = source(
        "pairs",
        vec![
            ("a", strs(&[Some("x"), Some("x"), Some("y")])),
            ("b", i64s(&[Some(1), Some(2), Some(1)])),
            ("ts", secs(&[Some(1), Some(2), Some(3)])),
            ("v", f64s(&[1.0, 2.0, 3.0])),
        ],
    );
    let mut pairs = spec(None, None);
    pairs.join_keys = vec!["a".into(), "b".into()];
    pairs.created_column = None;
    assert_eq!(latest(&source, &pairs).num_rows(), 3);
    pairs.join_keys = vec!["a".into()];
    assert_eq!(
        f64_column(&latest(&source, &pairs), "v"),
        vec![Some(2.0), Some(3.0)]
    );

    pairs.features = vec!["nope".into()];
    assert!(matches!(
        latest_per_entity(&source, &pairs),
        Err(OfflineError::MissingColumn { column, .. }) if column == "nope"
    ));
    pairs.features = vec!["v".into()];
    pairs.timestamp_column = "v".into();
    assert!(matches!(
        latest_per_entity(&source, &pairs),
        Err(OfflineError::NotATime { column, .. }) if column == "v"
    ));
}
