//! Sources that are folders of files, and answers written as files.

mod common;

use std::path::Path;

use arrow_array::RecordBatch;
use common::*;
use galley_features_offline::{
    latest_per_entity, point_in_time_join, write_output, write_output_file, EntityFrame,
    LatestSpec, OfflineError, OfflineSource, OutputFormat,
};
use galley_tables::Table;

fn write_parquet(path: &Path, batch: RecordBatch) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, galley_tables::parquet_bytes(&[batch]).unwrap()).unwrap();
}

fn part(drivers: &[i64], times: &[i64], values: &[f64]) -> RecordBatch {
    batch(vec![
        (
            "driver_id",
            i64s(&drivers.iter().map(|&d| Some(d)).collect::<Vec<_>>()),
        ),
        (
            "ts",
            secs(&times.iter().map(|&t| Some(t)).collect::<Vec<_>>()),
        ),
        ("created", secs(&vec![None; drivers.len()])),
        ("v", f64s(values)),
    ])
}

#[test]
fn a_partitioned_folder_reads_as_one_table_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("stats");
    // Written out of order; read as date=1 then date=2. The later file's tie wins, as the
    // later row does.
    write_parquet(
        &root.join("date=2/part-0.parquet"),
        part(&[1, 2], &[10, 10], &[3.0, 4.0]),
    );
    write_parquet(
        &root.join("date=1/part-0.parquet"),
        part(&[1, 2], &[10, 5], &[1.0, 2.0]),
    );
    std::fs::write(root.join("_SUCCESS"), b"").unwrap();
    std::fs::write(root.join("date=1/.part-0.parquet.crc"), b"junk").unwrap();
    let source = OfflineSource::open(&root).unwrap();
    assert_eq!(source.files(), 2);

    let entity = entity(vec![
        ("driver_id", i64s(&[Some(1), Some(2), Some(2)])),
        ("event_timestamp", secs(&[Some(10), Some(9), Some(10)])),
    ]);
    let mut v = view("v", &["driver_id"], None, &[("v", "v")]);
    v.created_column = None;
    let out = join(&entity, &[(&source, &v)], &options()).unwrap();
    assert_eq!(f64_column(&out, "v"), vec![Some(3.0), Some(2.0), Some(4.0)]);

    let spec = LatestSpec {
        join_keys: vec!["driver_id".into()],
        timestamp_column: "ts".into(),
        created_column: None,
        start_ns: None,
        end_ns: None,
        features: vec!["v".into()],
    };
    let latest: Vec<RecordBatch> = latest_per_entity(&source, &spec)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(f64_column(&latest[0], "v"), vec![Some(3.0), Some(4.0)]);
}

#[test]
fn a_folder_with_a_different_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("a.parquet"), part(&[1], &[1], &[1.0]));
    write_parquet(
        &dir.path().join("b.parquet"),
        batch(vec![("driver_id", strs(&[Some("1")]))]),
    );
    let error = OfflineSource::open(dir.path()).err().unwrap();
    assert!(
        matches!(&error, OfflineError::SchemaMismatch { path, .. } if path.ends_with("b.parquet")),
        "{error}"
    );
    assert!(error.to_string().contains("b.parquet"));

    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        OfflineSource::open(empty.path()),
        Err(OfflineError::EmptyFolder { .. })
    ));
}

/// Hands a small training set to `write`.
fn with_training_set<T>(write: impl FnOnce(galley_features_offline::Joined) -> T) -> T {
    let entity = EntityFrame {
        table: table(vec![
            ("driver_id", i64s(&[Some(1), Some(2)])),
            ("event_timestamp", secs(&[Some(10), Some(1_700_000_000)])),
        ]),
        timestamp_column: "event_timestamp".into(),
    };
    let source = source(
        "s",
        vec![
            ("driver_id", i64s(&[Some(1)])),
            ("ts", secs(&[Some(5)])),
            ("created", secs(&[None])),
            ("v", f64s(&[0.5])),
        ],
    );
    let v = view(
        "v",
        &["driver_id"],
        None,
        &[("v", "v"), ("ts", "feature_ts")],
    );
    let views = [(&source, &v)];
    let options = options();
    write(point_in_time_join(&entity, &views, &options).unwrap())
}

#[test]
fn training_sets_write_as_csv_with_rfc3339_times_and_as_parquet() {
    let mut csv = Vec::new();
    assert_eq!(
        with_training_set(|joined| write_output(joined, OutputFormat::Csv, &mut csv)).unwrap(),
        2
    );
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        "driver_id,event_timestamp,v,feature_ts\n\
         1,1970-01-01T00:00:10Z,0.5,1970-01-01T00:00:05Z\n\
         2,2023-11-14T22:13:20Z,,\n"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.parquet");
    assert_eq!(
        with_training_set(|joined| write_output_file(joined, &path)).unwrap(),
        2
    );
    let back = Table::open(&path).unwrap();
    let names: Vec<String> = back
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["driver_id", "event_timestamp", "v", "feature_ts"]);

    let path = dir.path().join("out.csv");
    with_training_set(|joined| write_output_file(joined, &path)).unwrap();
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("driver_id,"));
    assert!(
        with_training_set(|joined| write_output_file(joined, &dir.path().join("out.txt"))).is_err()
    );
}
