//! The point-in-time join on small tables whose answers are worked out by hand.

mod common;

use std::sync::Arc;

use arrow_array::{Array, Date32Array, TimestampMillisecondArray};
use arrow_schema::DataType;
use common::*;
use galley_features_offline::{JoinOptions, OfflineError};

/// Driver 1's rows probe ties and the ttl's edges; driver 2 has one row 100 s before its
/// entity rows; driver 3 has none.
fn stats() -> galley_features_offline::OfflineSource {
    source(
        "stats.parquet",
        vec![
            (
                "driver_id",
                i64s(&[
                    Some(1),
                    Some(1),
                    Some(1),
                    Some(1),
                    Some(2),
                    Some(1),
                    Some(1),
                ]),
            ),
            (
                "ts",
                secs(&[
                    Some(100),
                    Some(100),
                    Some(100),
                    Some(200),
                    Some(50),
                    Some(300),
                    Some(300),
                ]),
            ),
            (
                "created",
                secs(&[Some(100), Some(105), None, Some(200), Some(50), None, None]),
            ),
            ("conv", f64s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])),
        ],
    )
}

#[test]
fn ties_ttl_edges_missing_entities_duplicates_and_no_ttl() {
    // Entity driver ids are int32 against the source's int64.
    let entity = entity(vec![
        (
            "driver_id",
            i32s(&[
                Some(1),
                Some(1),
                Some(1),
                Some(1),
                Some(2),
                Some(2),
                Some(3),
                Some(1),
                Some(1),
                Some(1),
                Some(1),
                None,
            ]),
        ),
        (
            "event_timestamp",
            ns(&[
                Some(100 * S),
                Some(199 * S),
                Some(200 * S),
                Some(300 * S),
                Some(150 * S),
                Some(150 * S + 1),
                Some(100 * S),
                Some(100 * S),
                Some(99 * S),
                Some(400 * S),
                Some(401 * S),
                Some(300 * S),
            ]),
        ),
        ("label", i64s(&(0..12).map(Some).collect::<Vec<_>>())),
    ]);
    let stats = stats();
    let windowed = view("stats", &["driver_id"], Some(100), &[("conv", "conv")]);
    let forever = view(
        "stats_forever",
        &["driver_id"],
        None,
        &[("conv", "conv_any")],
    );
    let zero = view(
        "stats_zero",
        &["driver_id"],
        Some(0),
        &[("conv", "conv_zero")],
    );
    let out = join(
        &entity,
        &[(&stats, &windowed), (&stats, &forever), (&stats, &zero)],
        &options(),
    )
    .unwrap();

    assert_eq!(out.num_rows(), 12);
    // Entity columns unchanged, types included, in order; then the features.
    let schema = out.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "driver_id",
            "event_timestamp",
            "label",
            "conv",
            "conv_any",
            "conv_zero"
        ]
    );
    assert_eq!(column(&out, "driver_id").data_type(), &DataType::Int32);
    assert_eq!(
        i64_column(&out, "label"),
        (0..12).map(Some).collect::<Vec<_>>()
    );
    let expected = vec![
        Some(2.0), // T=100: three rows at 100; created 105 beats 100 and null
        Some(2.0), // T=199: still those, 99 s old
        Some(4.0), // T=200: the row at 200
        Some(7.0), // T=300: two rows at 300, both created null: the later row
        Some(5.0), // driver 2, T=150: the row at 50 is exactly T - ttl, included
        None,      // T=150 s + 1 ns: the row is 1 ns too old
        None,      // driver 3 has no rows
        Some(2.0), // a duplicate of the first row gets the same answer
        None,      // T=99: every row is later
        Some(7.0), // T=400: the rows at 300 are exactly T - ttl
        None,      // T=401: only rows outside the ttl; the row is kept
        None,      // a null key matches nothing
    ];
    assert_eq!(f64_column(&out, "conv"), expected);
    assert_eq!(
        f64_column(&out, "conv_any"),
        vec![
            Some(2.0),
            Some(2.0),
            Some(4.0),
            Some(7.0),
            Some(5.0),
            Some(5.0),
            None,
            Some(2.0),
            None,
            Some(7.0),
            Some(7.0),
            None
        ]
    );
    assert_eq!(f64_column(&out, "conv_any"), f64_column(&out, "conv_zero"));
}

#[test]
fn views_with_different_keys_string_and_composite_keys() {
    let entity = entity(vec![
        ("driver_id", i64s(&[Some(1), Some(2), Some(1), Some(1)])),
        (
            "customer_id",
            strs(&[Some("a"), Some("a"), Some("b"), None]),
        ),
        (
            "event_timestamp",
            secs(&[Some(10), Some(10), Some(20), Some(20)]),
        ),
    ]);
    let drivers = source(
        "drivers",
        vec![
            ("driver_id", i64s(&[Some(1), Some(2), Some(1)])),
            ("ts", secs(&[Some(5), Some(9), Some(15)])),
            ("created", secs(&[None, None, None])),
            ("rating", f64s(&[1.5, 2.5, 3.5])),
        ],
    );
    let customers = source(
        "customers",
        vec![
            (
                "customer_id",
                strs(&[Some("a"), Some("b"), Some("ab"), None]),
            ),
            ("ts", secs(&[Some(1), Some(1), Some(1), Some(1)])),
            ("created", secs(&[None, None, None, None])),
            (
                "tier",
                strs(&[Some("gold"), Some("silver"), Some("bronze"), Some("none")]),
            ),
        ],
    );
    // (driver, customer) pairs; ("1", "a") must not meet ("1a", "") or the like.
    let pairs = source(
        "pairs",
        vec![
            ("driver_id", i64s(&[Some(1), Some(1), Some(2), Some(1)])),
            (
                "customer_id",
                strs(&[Some("a"), Some("b"), Some("b"), Some("a")]),
            ),
            ("ts", secs(&[Some(1), Some(2), Some(3), Some(11)])),
            ("created", secs(&[None, None, None, None])),
            ("trips", i64s(&[Some(10), Some(20), Some(30), Some(40)])),
        ],
    );
    let by_driver = view("drivers", &["driver_id"], None, &[("rating", "rating")]);
    let by_customer = view("customers", &["customer_id"], None, &[("tier", "tier")]);
    let by_pair = view(
        "pairs",
        &["driver_id", "customer_id"],
        None,
        &[("trips", "trips")],
    );
    let out = join(
        &entity,
        &[
            (&drivers, &by_driver),
            (&customers, &by_customer),
            (&pairs, &by_pair),
        ],
        &options(),
    )
    .unwrap();
    assert_eq!(
        f64_column(&out, "rating"),
        vec![Some(1.5), Some(2.5), Some(3.5), Some(3.5)]
    );
    assert_eq!(
        str_column(&out, "tier"),
        vec![
            Some("gold".into()),
            Some("gold".into()),
            Some("silver".into()),
            None
        ]
    );
    assert_eq!(
        i64_column(&out, "trips"),
        vec![Some(10), None, Some(20), None]
    );
    assert_eq!(column(&out, "trips").data_type(), &DataType::Int64);
    assert_eq!(column(&out, "tier").data_type(), &DataType::Utf8);
}

#[test]
fn created_cutoff_keeps_backfills_out_of_the_past() {
    let entity = entity(vec![
        ("driver_id", i64s(&[Some(1), Some(1), Some(2), Some(2)])),
        (
            "event_timestamp",
            secs(&[Some(200), Some(600), Some(130), Some(160)]),
        ),
    ]);
    let backfilled = source(
        "backfilled",
        vec![
            ("driver_id", i64s(&[Some(1), Some(1), Some(2), Some(2)])),
            ("ts", secs(&[Some(100), Some(50), Some(100), Some(100)])),
            (
                "created",
                secs(&[Some(500), Some(60), Some(150), Some(120)]),
            ),
            ("v", f64s(&[1.0, 2.0, 3.0, 4.0])),
        ],
    );
    let join_view = view("v", &["driver_id"], None, &[("v", "v")]);
    let views = [(&backfilled, &join_view)];
    let plain = join(&entity, &views, &options()).unwrap();
    // Without the cutoff the created time only breaks ties.
    assert_eq!(
        f64_column(&plain, "v"),
        vec![Some(1.0), Some(1.0), Some(3.0), Some(3.0)]
    );
    let cut = join(
        &entity,
        &views,
        &JoinOptions {
            created_cutoff: true,
            ..options()
        },
    )
    .unwrap();
    assert_eq!(
        f64_column(&cut, "v"),
        vec![Some(2.0), Some(1.0), Some(4.0), Some(3.0)]
    );
}

#[test]
fn zoned_and_naive_times_are_the_same_instants() {
    // 100 s after the epoch, shown at +02:00; the source's naive times are UTC.
    let zoned =
        Arc::new(TimestampMillisecondArray::from(vec![100_000, 99_999]).with_timezone("+02:00"));
    let entity = entity(vec![
        ("driver_id", i64s(&[Some(1), Some(1)])),
        ("event_timestamp", zoned),
    ]);
    let naive = source(
        "naive",
        vec![
            ("driver_id", i64s(&[Some(1)])),
            ("ts", secs(&[Some(100)])),
            ("created", secs(&[None])),
            ("v", f64s(&[1.0])),
        ],
    );
    let v = view("v", &["driver_id"], Some(10), &[("v", "v")]);
    let out = join(&entity, &[(&naive, &v)], &options()).unwrap();
    assert_eq!(f64_column(&out, "v"), vec![Some(1.0), None]);
    assert!(matches!(
        column(&out, "event_timestamp").data_type(),
        DataType::Timestamp(_, Some(tz)) if tz.as_ref() == "+02:00"
    ));

    // Dates are midnight UTC.
    let daily = source(
        "daily",
        vec![
            ("driver_id", i64s(&[Some(1)])),
            ("ts", Arc::new(Date32Array::from(vec![0]))),
            ("created", secs(&[None])),
            ("v", f64s(&[9.0])),
        ],
    );
    let v = view("v", &["driver_id"], Some(100), &[("v", "v")]);
    let out = join(&entity, &[(&daily, &v)], &options()).unwrap();
    assert_eq!(f64_column(&out, "v"), vec![Some(9.0), Some(9.0)]);
}

#[test]
fn an_empty_entity_dataframe_gives_an_empty_training_set() {
    let entity = entity(vec![
        ("driver_id", i64s(&[])),
        ("event_timestamp", secs(&[])),
    ]);
    let stats = stats();
    let v = view("v", &["driver_id"], None, &[("conv", "conv")]);
    let out = join(&entity, &[(&stats, &v)], &options()).unwrap();
    assert_eq!(out.num_rows(), 0);
    assert_eq!(out.num_columns(), 3);
}

#[test]
fn forced_spilling_gives_the_same_answer() {
    let entity = entity(vec![
        (
            "driver_id",
            i64s(&(0..500).map(|i| Some(i % 7)).collect::<Vec<_>>()),
        ),
        (
            "event_timestamp",
            secs(&(0..500).map(|i| Some(i * 3 % 101)).collect::<Vec<_>>()),
        ),
    ]);
    let n = 3_000;
    let rows = source(
        "rows",
        vec![
            (
                "driver_id",
                i64s(&(0..n).map(|i| Some(i * 13 % 9)).collect::<Vec<_>>()),
            ),
            (
                "ts",
                secs(&(0..n).map(|i| Some(i * 31 % 97)).collect::<Vec<_>>()),
            ),
            (
                "created",
                secs(&(0..n).map(|i| Some(i * 17 % 5)).collect::<Vec<_>>()),
            ),
            ("row", i64s(&(0..n).map(Some).collect::<Vec<_>>())),
        ],
    );
    let v = view("v", &["driver_id"], Some(20), &[("row", "row")]);
    let dir = tempfile::tempdir().unwrap();
    let big = join(&entity, &[(&rows, &v)], &options()).unwrap();
    for budget in [0, 1_000, 40_000] {
        let spilled = join(
            &entity,
            &[(&rows, &v)],
            &JoinOptions {
                memory_budget_bytes: budget,
                spill_dir: dir.path().join("spill"),
                ..options()
            },
        )
        .unwrap();
        assert_eq!(i64_column(&spilled, "row"), i64_column(&big, "row"));
    }
    // An entity dataframe longer than a pass is joined in passes, each reading the source
    // again; passes end inside batches and between them.
    for rows_per_pass in [1, 7, 499, 500] {
        let passes = join(
            &entity,
            &[(&rows, &v)],
            &JoinOptions {
                memory_budget_bytes: 1_000,
                spill_dir: dir.path().join("spill"),
                entity_rows_per_pass: Some(rows_per_pass),
                ..options()
            },
        )
        .unwrap();
        assert_eq!(i64_column(&passes, "row"), i64_column(&big, "row"));
    }
    assert!(i64_column(&big, "row").iter().any(Option::is_some));
    // Unnamed spill files leave nothing behind.
    assert_eq!(
        std::fs::read_dir(dir.path().join("spill")).unwrap().count(),
        0
    );
}

#[test]
fn features_keep_their_arrow_types_and_nulls() {
    let entity = entity(vec![
        ("driver_id", i64s(&[Some(1), Some(2)])),
        ("event_timestamp", secs(&[Some(10), Some(10)])),
    ]);
    let typed = source(
        "typed",
        vec![
            ("driver_id", i64s(&[Some(1), Some(2)])),
            ("ts", secs(&[Some(1), Some(1)])),
            ("created", secs(&[None, None])),
            ("small", i32s(&[Some(3), None])),
            ("when", secs(&[Some(7), Some(8)])),
        ],
    );
    let v = view(
        "v",
        &["driver_id"],
        None,
        &[
            ("small", "small"),
            ("when", "when"),
            ("small", "small_again"),
        ],
    );
    let out = join(&entity, &[(&typed, &v)], &options()).unwrap();
    assert_eq!(column(&out, "small").data_type(), &DataType::Int32);
    assert_eq!(i64_column(&out, "small"), vec![Some(3), None]);
    assert_eq!(i64_column(&out, "small_again"), vec![Some(3), None]);
    let when = column(&out, "when");
    assert!(matches!(when.data_type(), DataType::Timestamp(_, None)));
    assert_eq!(when.null_count(), 0);
}

#[test]
fn errors_name_what_is_wrong() {
    let good = entity(vec![
        ("driver_id", i64s(&[Some(1)])),
        ("customer_id", strs(&[Some("a")])),
        ("event_timestamp", secs(&[Some(1)])),
        ("label", f64s(&[1.0])),
    ]);
    let stats = stats();
    let v = view("v", &["driver_id"], None, &[("conv", "conv")]);
    let fail = |entity: &galley_features_offline::EntityFrame,
                source: &galley_features_offline::OfflineSource,
                view: &galley_features_offline::ViewJoin| {
        match join(entity, &[(source, view)], &options()) {
            Err(e) => e,
            Ok(_) => panic!("the join should fail"),
        }
    };

    // A key missing from the source: named, with the source.
    let mut missing = v.clone();
    missing.join_keys = vec!["customer_id".into()];
    let error = fail(&good, &stats, &missing);
    assert!(
        matches!(&error, OfflineError::MissingColumn { table, column }
            if table == "stats.parquet" && column == "customer_id"),
        "{error}"
    );
    assert!(error.to_string().contains("customer_id"));

    // A key missing from the entity dataframe.
    let mut missing = v.clone();
    missing.join_keys = vec!["conv".into()];
    let error = fail(&good, &stats, &missing);
    assert!(
        matches!(&error, OfflineError::MissingColumn { table, column }
            if table == "the entity dataframe" && column == "conv"),
        "{error}"
    );

    // A feature the source lacks.
    let mut missing = v.clone();
    missing.features[0].source_column = "nope".into();
    let error = fail(&good, &stats, &missing);
    assert!(matches!(&error, OfflineError::MissingColumn { column, .. } if column == "nope"));

    // The entity time column missing, or not a time.
    let mut no_time = entity(vec![
        ("driver_id", i64s(&[Some(1)])),
        ("event_timestamp", secs(&[Some(1)])),
    ]);
    no_time.timestamp_column = "when".into();
    let error = fail(&no_time, &stats, &v);
    assert!(matches!(&error, OfflineError::MissingColumn { column, .. } if column == "when"));
    let mut label_time = good;
    label_time.timestamp_column = "label".into();
    let error = fail(&label_time, &stats, &v);
    assert!(
        matches!(&error, OfflineError::NotATime { column, table, .. }
            if column == "label" && table == "the entity dataframe"),
        "{error}"
    );

    // A source timestamp that is not a time.
    let mut bad_ts = v.clone();
    bad_ts.timestamp_column = "conv".into();
    let good = entity(vec![
        ("driver_id", i64s(&[Some(1)])),
        ("customer_id", strs(&[Some("a")])),
        ("event_timestamp", secs(&[Some(1)])),
    ]);
    let error = fail(&good, &stats, &bad_ts);
    assert!(
        matches!(&error, OfflineError::NotATime { column, table, data_type }
            if column == "conv" && table == "stats.parquet" && data_type == "Float64"),
        "{error}"
    );

    // A string key against an integer key.
    let text_ids = entity(vec![
        ("driver_id", strs(&[Some("1")])),
        ("event_timestamp", secs(&[Some(1)])),
    ]);
    let error = fail(&text_ids, &stats, &v);
    assert!(
        matches!(&error, OfflineError::KeyMismatch { column, .. } if column == "driver_id"),
        "{error}"
    );

    // A key of a type that cannot key anything.
    let float_ids = entity(vec![
        ("driver_id", f64s(&[1.0])),
        ("event_timestamp", secs(&[Some(1)])),
    ]);
    let error = fail(&float_ids, &stats, &v);
    assert!(matches!(&error, OfflineError::KeyType { data_type, .. } if data_type == "Float64"));

    // A null entity time, with its row.
    let null_time = entity(vec![
        ("driver_id", i64s(&[Some(1), Some(1), Some(1)])),
        ("event_timestamp", secs(&[Some(1), Some(2), None])),
    ]);
    let error = fail(&null_time, &stats, &v);
    assert!(
        matches!(&error, OfflineError::NullEntityTime { row: 2, column } if column == "event_timestamp"),
        "{error}"
    );
    // Found in a later pass, it fails the answer's stream, still with its row.
    let in_passes = JoinOptions {
        entity_rows_per_pass: Some(2),
        ..options()
    };
    let error = join(&null_time, &[(&stats, &v)], &in_passes).unwrap_err();
    assert!(
        matches!(&error, OfflineError::NullEntityTime { row: 2, .. }),
        "{error}"
    );

    // Two columns under one name.
    let mut clash = v.clone();
    clash.features[0].output_name = "driver_id".into();
    let error = fail(&good, &stats, &clash);
    assert!(matches!(&error, OfflineError::DuplicateColumn { column } if column == "driver_id"));
}
