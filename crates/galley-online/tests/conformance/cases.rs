//! The behaviours every online store must show, written once against the `OnlineStore` port.

use galley_features::online::{OnlineRow, WriteCounts};
use galley_features::value::{EntityKey, Value};

use crate::backend::Backend;

fn key(id: i64) -> EntityKey {
    EntityKey::encode(&[Value::Int64(id)]).unwrap()
}

fn row(event_ts: i64, created_ts: Option<i64>, label: &str) -> OnlineRow {
    OnlineRow {
        event_ts,
        created_ts,
        values: vec![("label".into(), Value::String(label.into()))],
    }
}

/// The label of each row read, `None` where there is no row.
fn labels(rows: &[Option<OnlineRow>]) -> Vec<Option<String>> {
    rows.iter()
        .map(|row| {
            row.as_ref().map(|row| match &row.values[..] {
                [(_, Value::String(label))] => label.clone(),
                other => panic!("unexpected values {other:?}"),
            })
        })
        .collect()
}

fn counts(written: u64, stale: u64) -> WriteCounts {
    WriteCounts { written, stale }
}

/// Nanoseconds in 2023, beyond what a double holds exactly.
const T: i64 = 1_700_000_000_123_456_789;

pub async fn write_then_read_back(backend: &mut Backend) {
    let store = backend.store();
    let every_kind = OnlineRow {
        event_ts: T,
        created_ts: Some(T + 1),
        values: vec![
            ("null".into(), Value::Null),
            ("yes".into(), Value::Bool(true)),
            ("no".into(), Value::Bool(false)),
            ("i32".into(), Value::Int32(i32::MIN)),
            ("i64".into(), Value::Int64(i64::MAX)),
            ("f32".into(), Value::Float32(f32::NEG_INFINITY)),
            ("f64".into(), Value::Float64(1.5e-300)),
            ("nan".into(), Value::Float64(f64::NAN)),
            ("inf".into(), Value::Float64(f64::INFINITY)),
            ("empty".into(), Value::String(String::new())),
            ("text".into(), Value::String("naïve ✓".into())),
            ("bytes".into(), Value::Bytes(vec![0, 255, 10])),
            ("no_bytes".into(), Value::Bytes(Vec::new())),
            ("ts".into(), Value::Timestamp(-T)),
        ],
    };
    let text_key = EntityKey::encode(&[Value::String("driver:7".into()), Value::Int32(3)]).unwrap();
    let written = store
        .write(
            "drivers",
            vec![
                (key(1), every_kind.clone()),
                (text_key.clone(), row(T, None, "text key")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(written, counts(2, 0));
    let read = store.read("drivers", &[key(1), text_key]).await.unwrap();
    // Debug output compares NaN as written, where `==` would not.
    assert_eq!(format!("{:?}", read[0]), format!("{:?}", Some(every_kind)));
    assert_eq!(labels(&read[1..]), [Some("text key".to_string())]);
}

pub async fn empty_writes_and_reads(backend: &mut Backend) {
    let store = backend.store();
    assert_eq!(
        store.write("drivers", Vec::new()).await.unwrap(),
        counts(0, 0)
    );
    assert!(store.read("drivers", &[]).await.unwrap().is_empty());
    assert_eq!(
        store.read("never_written", &[key(1)]).await.unwrap(),
        [None]
    );
}

pub async fn missing_keys_read_as_none_in_order(backend: &mut Backend) {
    let store = backend.store();
    store
        .write(
            "drivers",
            vec![
                (key(2), row(T, None, "two")),
                (key(4), row(T, None, "four")),
            ],
        )
        .await
        .unwrap();
    let read = store
        .read("drivers", &[key(1), key(2), key(3), key(4), key(5)])
        .await
        .unwrap();
    assert_eq!(
        labels(&read),
        [None, Some("two".into()), None, Some("four".into()), None]
    );
}

pub async fn keys_read_in_the_asked_order_with_duplicates(backend: &mut Backend) {
    let store = backend.store();
    let rows = (0..5).map(|id| (key(id), row(T, None, &id.to_string())));
    store.write("drivers", rows.collect()).await.unwrap();
    let read = store
        .read("drivers", &[key(3), key(0), key(3), key(9), key(4), key(0)])
        .await
        .unwrap();
    let expected = [Some("3"), Some("0"), Some("3"), None, Some("4"), Some("0")];
    assert_eq!(labels(&read), expected.map(|l| l.map(String::from)));
}

pub async fn later_event_wins(backend: &mut Backend) {
    let store = backend.store();
    store
        .write("drivers", vec![(key(1), row(T, Some(T + 50), "first"))])
        .await
        .unwrap();
    // One nanosecond later: equal as doubles, so only an exact comparison sees it.
    let later = store
        .write("drivers", vec![(key(1), row(T + 1, None, "later"))])
        .await
        .unwrap();
    assert_eq!(later, counts(1, 0));
    let read = store.read("drivers", &[key(1)]).await.unwrap();
    assert_eq!(labels(&read), [Some("later".into())]);
    assert_eq!(read[0].as_ref().unwrap().event_ts, T + 1);
    assert_eq!(read[0].as_ref().unwrap().created_ts, None);
}

pub async fn same_event_later_created_wins(backend: &mut Backend) {
    let store = backend.store();
    store
        .write("drivers", vec![(key(1), row(T, None, "no created time"))])
        .await
        .unwrap();
    let corrected = store
        .write("drivers", vec![(key(1), row(T, Some(i64::MIN), "created"))])
        .await
        .unwrap();
    assert_eq!(corrected, counts(1, 0), "any created time beats none");
    let again = store
        .write("drivers", vec![(key(1), row(T, Some(T + 1), "corrected"))])
        .await
        .unwrap();
    assert_eq!(again, counts(1, 0));
    let equal = store
        .write(
            "drivers",
            vec![(key(1), row(T, Some(T + 1), "last of equals"))],
        )
        .await
        .unwrap();
    assert_eq!(equal, counts(1, 0), "a row equal on both times is kept");
    let read = store.read("drivers", &[key(1)]).await.unwrap();
    assert_eq!(labels(&read), [Some("last of equals".into())]);
}

pub async fn stale_rows_are_ignored_and_counted(backend: &mut Backend) {
    let store = backend.store();
    store
        .write(
            "drivers",
            vec![
                (key(1), row(T, Some(T), "current")),
                (key(2), row(-5, None, "negative time")),
            ],
        )
        .await
        .unwrap();
    let write = store
        .write(
            "drivers",
            vec![
                (key(1), row(T - 1, Some(i64::MAX), "older event")),
                (key(1), row(T, Some(T - 1), "older correction")),
                (key(1), row(T, None, "no created time")),
                (key(2), row(-6, None, "earlier negative time")),
                (key(3), row(i64::MIN, None, "new entity")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(write, counts(1, 4));
    let read = store
        .read("drivers", &[key(1), key(2), key(3)])
        .await
        .unwrap();
    assert_eq!(
        labels(&read),
        [
            Some("current".into()),
            Some("negative time".into()),
            Some("new entity".into())
        ]
    );
}

pub async fn repeats_in_one_batch_compare_with_the_row_before(backend: &mut Backend) {
    let store = backend.store();
    let write = store
        .write(
            "drivers",
            vec![
                (key(1), row(T + 1, None, "a")),
                (key(2), row(T, None, "x")),
                (key(1), row(T + 3, None, "b")),
                (key(1), row(T + 2, None, "stale in batch")),
                (key(2), row(T, None, "y")),
                (key(1), row(T + 3, None, "c")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(write, counts(5, 1));
    let read = store.read("drivers", &[key(1), key(2)]).await.unwrap();
    assert_eq!(labels(&read), [Some("c".into()), Some("y".into())]);
}

pub async fn views_are_isolated(backend: &mut Backend) {
    let store = backend.store();
    // `a` and `a:b` must not share keys, whatever a store builds its keys from.
    for view in ["a", "a:b", "b"] {
        store
            .write(view, vec![(key(1), row(T, None, view))])
            .await
            .unwrap();
    }
    let stale_elsewhere = store
        .write("b", vec![(key(1), row(T - 1, None, "older"))])
        .await
        .unwrap();
    assert_eq!(stale_elsewhere, counts(0, 1));
    for view in ["a", "a:b", "b"] {
        let read = store.read(view, &[key(1)]).await.unwrap();
        assert_eq!(labels(&read), [Some(view.to_string())]);
    }
    assert_eq!(store.read("c", &[key(1)]).await.unwrap(), [None]);
}

pub async fn delete_view_removes_only_that_view(backend: &mut Backend) {
    let store = backend.store();
    for view in ["a", "a:b", "ab"] {
        let rows = (0..2500).map(|id| (key(id), row(T, None, view))).collect();
        store.write(view, rows).await.unwrap();
    }
    store.delete_view("a").await.unwrap();
    let keys: Vec<EntityKey> = (0..2500).map(key).collect();
    let gone = store.read("a", &keys).await.unwrap();
    assert!(gone.iter().all(Option::is_none));
    for view in ["a:b", "ab"] {
        let kept = store.read(view, &keys).await.unwrap();
        assert!(kept.iter().all(Option::is_some), "{view} lost rows");
    }
    store.delete_view("never_written").await.unwrap();
    // A deleted view starts again from nothing: an old row is not stale against it.
    let rewrite = store
        .write("a", vec![(key(1), row(i64::MIN, None, "again"))])
        .await
        .unwrap();
    assert_eq!(rewrite, counts(1, 0));
    let read = store.read("a", &[key(1), key(2)]).await.unwrap();
    assert_eq!(labels(&read), [Some("again".into()), None]);
}

pub async fn concurrent_writers_keep_the_superseding_row(backend: &mut Backend) {
    let store = backend.store();
    let writers = 32;
    let rows_each = 20;
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut total = WriteCounts::default();
                for n in 0..rows_each {
                    // Interleaved event times, with created times that differ per writer so the
                    // winner is unique: event T + 19, created by writer 31.
                    let event = T + (n + writer) % rows_each;
                    let created = Some(writer);
                    let label = format!("{event}/{writer}");
                    let counts = store
                        .write("drivers", vec![(key(1), row(event, created, &label))])
                        .await
                        .unwrap();
                    total.written += counts.written;
                    total.stale += counts.stale;
                }
                total
            })
        })
        .collect();
    let mut total = WriteCounts::default();
    for task in tasks {
        let counts = task.await.unwrap();
        total.written += counts.written;
        total.stale += counts.stale;
    }
    assert_eq!(total.written + total.stale, (writers * rows_each) as u64);
    assert!(total.written >= 1);
    let read = store.read("drivers", &[key(1)]).await.unwrap();
    let winner = format!("{}/{}", T + rows_each - 1, writers - 1);
    assert_eq!(labels(&read), [Some(winner)]);
}

pub async fn large_batches(backend: &mut Backend) {
    let store = backend.store();
    let features = |id: i64| -> Vec<(String, Value)> {
        (0..25)
            .map(|f| {
                (
                    format!("feature_{f:02}"),
                    Value::Float64(id as f64 + f as f64 / 100.0),
                )
            })
            .collect()
    };
    let rows: Vec<_> = (0..25_000)
        .map(|id| {
            let row = OnlineRow {
                event_ts: T,
                created_ts: None,
                values: features(id),
            };
            (key(id), row)
        })
        .collect();
    assert_eq!(store.write("wide", rows).await.unwrap(), counts(25_000, 0));
    let keys: Vec<EntityKey> = (0..25_000).rev().step_by(97).map(key).collect();
    let read = store.read("wide", &keys).await.unwrap();
    for (row, id) in read.iter().zip((0..25_000).rev().step_by(97)) {
        assert_eq!(row.as_ref().unwrap().values, features(id));
    }
}

pub async fn data_survives_reopening(backend: &mut Backend) {
    backend
        .store()
        .write(
            "drivers",
            vec![
                (key(1), row(T, Some(T), "kept")),
                (key(2), row(T, None, "two")),
            ],
        )
        .await
        .unwrap();
    backend.store().delete_view("nothing").await.unwrap();
    backend.reopen().await;
    let store = backend.store();
    let read = store.read("drivers", &[key(1), key(2)]).await.unwrap();
    assert_eq!(labels(&read), [Some("kept".into()), Some("two".into())]);
    let stale = store
        .write("drivers", vec![(key(1), row(T, Some(T - 1), "stale"))])
        .await
        .unwrap();
    assert_eq!(
        stale,
        counts(0, 1),
        "the supersede rule holds across a reopen"
    );
}
