//! A write the embedded store acknowledged survives the process dying without closing the file:
//! a child process (this test binary again) writes and aborts, and the parent reopens the file.

use std::process::Command;

use galley_features::online::{OnlineRow, OnlineStore};
use galley_features::value::{EntityKey, Value};
use galley_online::EmbeddedOnlineStore;

/// Where the child writes; the child test does nothing when it is unset.
const CHILD_PATH: &str = "GALLEY_ONLINE_CRASH_TEST_PATH";

fn rows(ids: std::ops::Range<i64>, event_ts: i64) -> Vec<(EntityKey, OnlineRow)> {
    ids.map(|id| {
        let row = OnlineRow {
            event_ts,
            created_ts: None,
            values: vec![("x".into(), Value::Float64(id as f64))],
        };
        (EntityKey::encode(&[Value::Int64(id)]).unwrap(), row)
    })
    .collect()
}

#[tokio::test]
async fn acknowledged_writes_survive_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("online.redb");
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "write_then_abort",
            "--include-ignored",
            "--nocapture",
        ])
        .env(CHILD_PATH, &path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(!child.status.success(), "the child did not abort: {stderr}");
    assert!(
        stderr.contains("acknowledged"),
        "the child failed early: {stderr}"
    );

    let store = EmbeddedOnlineStore::open(&path).await.unwrap();
    let keys: Vec<EntityKey> = rows(0..10_000, 0).into_iter().map(|(key, _)| key).collect();
    let read = store.read("view", &keys).await.unwrap();
    for (id, row) in read.iter().enumerate() {
        let row = row.as_ref().unwrap_or_else(|| panic!("row {id} was lost"));
        let expected = if id < 10 { 2 } else { 1 };
        assert_eq!(row.event_ts, expected, "row {id}");
    }
}

#[test]
#[ignore = "the child process of acknowledged_writes_survive_an_abort"]
fn write_then_abort() {
    let Ok(path) = std::env::var(CHILD_PATH) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = EmbeddedOnlineStore::open(&path).await.unwrap();
        store.write("view", rows(0..10_000, 1)).await.unwrap();
        store.write("view", rows(0..10, 2)).await.unwrap();
        eprintln!("acknowledged");
        // Neither the store nor the runtime is dropped: the file is left as a crash leaves it.
        std::process::abort();
    });
}
