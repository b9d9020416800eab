//! Times the join on generated data of the benchmark's shape (bench/features): 1,000,000 entity
//! rows against 10,000,000 feature rows over 3 views of 3 features each, one keyed by strings.
//! Ignored by default; run optimised:
//!
//! ```text
//! cargo test --release -p galley-features-offline --test bench -- --ignored --nocapture
//! ```
//!
//! `GALLEY_BENCH_ENTITY_ROWS`, `GALLEY_BENCH_FEATURE_ROWS` (over all views) and
//! `GALLEY_BENCH_BUDGET_MB` change the shape; `GALLEY_BENCH_DIR` keeps the generated files
//! there (and reuses them) instead of in a temporary folder.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{
    ArrayRef, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{Field, Schema};
use galley_features_offline::{
    point_in_time_join, write_output_file, EntityFrame, FeatureColumn, JoinOptions, OfflineSource,
    ViewJoin,
};
use galley_tables::Table;
use parquet::arrow::ArrowWriter;

const DAY_US: i64 = 86_400_000_000;
/// 2024-01-01T00:00:00Z.
const BASE_US: i64 = 1_704_067_200_000_000;
const SPAN_DAYS: i64 = 30;
const CHUNK: usize = 1 << 20;

struct Random(u64);

impl Random {
    fn next(&mut self, bound: u64) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    }

    fn unit(&mut self) -> f64 {
        self.next(1 << 53) as f64 / (1u64 << 53) as f64
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Writes `rows` rows made `CHUNK` at a time by `make(rows_in_chunk)`.
fn write(path: &Path, rows: usize, mut make: impl FnMut(usize) -> Vec<(&'static str, ArrayRef)>) {
    let mut writer: Option<ArrowWriter<File>> = None;
    let mut done = 0;
    while done < rows {
        let n = CHUNK.min(rows - done);
        let columns = make(n);
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(name, a)| Field::new(*name, a.data_type().clone(), false))
                .collect::<Vec<_>>(),
        ));
        let batch =
            RecordBatch::try_new(schema.clone(), columns.into_iter().map(|c| c.1).collect())
                .unwrap();
        let writer = writer.get_or_insert_with(|| {
            ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap()
        });
        writer.write(&batch).unwrap();
        done += n;
    }
    writer.unwrap().close().unwrap();
}

fn times(random: &mut Random, n: usize, from_day: i64) -> (ArrayRef, ArrayRef) {
    let span = ((SPAN_DAYS - from_day) * 86_400) as u64;
    let ts: Vec<i64> = (0..n)
        .map(|_| BASE_US + from_day * DAY_US + random.next(span) as i64 * 1_000_000)
        .collect();
    let created: Vec<i64> = ts
        .iter()
        .map(|t| t + random.next(3600) as i64 * 1_000_000)
        .collect();
    (
        Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
        Arc::new(TimestampMicrosecondArray::from(created).with_timezone("UTC")),
    )
}

fn customers(random: &mut Random, n: usize, count: u64) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(
        (0..n).map(|_| format!("c{}", random.next(count))),
    ))
}

fn generate(dir: &Path, entity_rows: usize, feature_rows: usize) {
    let marker = dir.join(format!("done-{entity_rows}-{feature_rows}"));
    if marker.exists() {
        return;
    }
    std::fs::create_dir_all(dir).unwrap();
    let per_view = feature_rows / 3;
    // About 33 rows per key and view, as bench/features does by default.
    let keys = (per_view as u64 / 33).max(1);
    let mut random = Random(42);
    write(&dir.join("driver_stats.parquet"), per_view, |n| {
        let (ts, created) = times(&mut random, n, 0);
        vec![
            (
                "driver_id",
                Arc::new(Int64Array::from_iter_values(
                    (0..n).map(|_| random.next(keys) as i64),
                )) as ArrayRef,
            ),
            ("event_timestamp", ts),
            ("created", created),
            (
                "conv_rate",
                Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|_| random.unit()),
                )),
            ),
            (
                "acc_rate",
                Arc::new(Float32Array::from_iter_values(
                    (0..n).map(|_| random.unit() as f32),
                )),
            ),
            (
                "trips",
                Arc::new(Int64Array::from_iter_values(
                    (0..n).map(|_| random.next(1000) as i64),
                )),
            ),
        ]
    });
    write(&dir.join("customer_profile.parquet"), per_view, |n| {
        let (ts, created) = times(&mut random, n, 0);
        let tiers = ["bronze", "silver", "gold"];
        vec![
            ("customer_id", customers(&mut random, n, keys)),
            ("event_timestamp", ts),
            ("created", created),
            (
                "tier",
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|_| tiers[random.next(3) as usize]),
                )) as ArrayRef,
            ),
            (
                "lifetime_value",
                Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|_| random.unit()),
                )),
            ),
            (
                "age",
                Arc::new(Int32Array::from_iter_values(
                    (0..n).map(|_| 18 + random.next(72) as i32),
                )),
            ),
        ]
    });
    write(&dir.join("driver_daily.parquet"), per_view, |n| {
        let (ts, created) = times(&mut random, n, 0);
        vec![
            (
                "driver_id",
                Arc::new(Int64Array::from_iter_values(
                    (0..n).map(|_| random.next(keys) as i64),
                )) as ArrayRef,
            ),
            ("event_timestamp", ts),
            ("created", created),
            (
                "rating",
                Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|_| random.unit()),
                )),
            ),
            (
                "cancellations",
                Arc::new(Int64Array::from_iter_values(
                    (0..n).map(|_| random.next(1000) as i64),
                )),
            ),
            (
                "online_hours",
                Arc::new(Float32Array::from_iter_values(
                    (0..n).map(|_| random.unit() as f32),
                )),
            ),
        ]
    });
    write(&dir.join("entity_df.parquet"), entity_rows, |n| {
        let (ts, _) = times(&mut random, n, 1);
        vec![
            (
                "driver_id",
                Arc::new(Int64Array::from_iter_values(
                    (0..n).map(|_| random.next(keys) as i64),
                )) as ArrayRef,
            ),
            ("customer_id", customers(&mut random, n, keys)),
            ("event_timestamp", ts),
            (
                "label",
                Arc::new(Int64Array::from_iter_values(
                    (0..n).map(|_| random.next(2) as i64),
                )),
            ),
        ]
    });
    File::create(marker).unwrap();
}

fn view(name: &str, key: &str, ttl_days: i64, features: &[&str]) -> ViewJoin {
    ViewJoin {
        name: name.into(),
        join_keys: vec![key.into()],
        timestamp_column: "event_timestamp".into(),
        created_column: Some("created".into()),
        ttl_ns: Some(ttl_days * DAY_US * 1_000),
        features: features
            .iter()
            .map(|f| FeatureColumn {
                source_column: f.to_string(),
                output_name: format!("{name}__{f}"),
            })
            .collect(),
    }
}

/// The process's peak resident memory since the last reset, in MiB.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[test]
#[ignore = "a benchmark: run with --release -- --ignored --nocapture"]
fn join_of_the_benchmark_shape() {
    let entity_rows = env("GALLEY_BENCH_ENTITY_ROWS", 1_000_000);
    let feature_rows = env("GALLEY_BENCH_FEATURE_ROWS", 10_000_000);
    let budget = env("GALLEY_BENCH_BUDGET_MB", 2048) << 20;
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("GALLEY_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| temp.path().to_path_buf());
    let started = Instant::now();
    generate(&dir, entity_rows, feature_rows);
    eprintln!(
        "data: {entity_rows} entity rows, {feature_rows} feature rows over 3 views, in {} ({:.1} s)",
        dir.display(),
        started.elapsed().as_secs_f64()
    );

    // Only the join's own peak from here (Linux: writing 5 resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    let entity = EntityFrame {
        table: Table::open(&dir.join("entity_df.parquet")).unwrap(),
        timestamp_column: "event_timestamp".into(),
    };
    let sources: Vec<OfflineSource> = ["driver_stats", "customer_profile", "driver_daily"]
        .iter()
        .map(|s| OfflineSource::open(&dir.join(format!("{s}.parquet"))).unwrap())
        .collect();
    let views = [
        view(
            "driver_stats",
            "driver_id",
            3,
            &["conv_rate", "acc_rate", "trips"],
        ),
        view(
            "customer_profile",
            "customer_id",
            7,
            &["tier", "lifetime_value", "age"],
        ),
        view(
            "driver_daily",
            "driver_id",
            30,
            &["rating", "cancellations", "online_hours"],
        ),
    ];
    let pairs: Vec<(&OfflineSource, &ViewJoin)> = sources.iter().zip(&views).collect();
    let spill = tempfile::tempdir().unwrap();
    let options = JoinOptions {
        created_cutoff: false,
        memory_budget_bytes: budget,
        spill_dir: spill.path().to_path_buf(),
        entity_rows_per_pass: None,
    };
    let joined = point_in_time_join(&entity, &pairs, &options).unwrap();
    let join_s = started.elapsed().as_secs_f64();
    let out = dir.join("training_set.parquet");
    let rows = write_output_file(joined, &out).unwrap();
    let total_s = started.elapsed().as_secs_f64();
    assert_eq!(rows as usize, entity_rows);
    eprintln!(
        "join {join_s:.2} s, + writing {rows} rows as Parquet {:.2} s = {total_s:.2} s; \
         budget {} MiB; peak RSS {} MiB",
        total_s - join_s,
        budget >> 20,
        peak_rss_mib().map_or("?".into(), |m| m.to_string()),
    );
}
