//! The read-latency benchmark (ignored by default): 100,000 entities of 25 float64 features
//! written in 10,000-row chunks, then 100,000 single-key reads timed one by one. Run it with
//! `cargo test --release -p galley-online --test conformance -- --ignored --nocapture benchmark`.

use std::time::{Duration, Instant};

use galley_features::online::OnlineRow;
use galley_features::value::{EntityKey, Value};

use crate::backend::Backend;

const ENTITIES: i64 = 100_000;
const FEATURES: usize = 25;
const CHUNK: usize = 10_000;
const READS: i64 = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark; run with --release --ignored --nocapture"]
async fn embedded() {
    run("embedded", Backend::embedded().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark; run with --release --ignored --nocapture"]
async fn redis() {
    if let Some(backend) = Backend::redis("benchmark").await {
        run("redis", backend).await;
    }
}

async fn run(name: &str, backend: Backend) {
    let store = backend.store();
    let key = |id: i64| EntityKey::encode(&[Value::Int64(id)]).unwrap();
    let names: Vec<String> = (0..FEATURES).map(|f| format!("feature_{f:02}")).collect();
    let rows: Vec<_> = (0..ENTITIES)
        .map(|id| {
            let values = names
                .iter()
                .enumerate()
                .map(|(f, name)| (name.clone(), Value::Float64(id as f64 * 0.5 + f as f64)))
                .collect();
            let row = OnlineRow {
                event_ts: 1_700_000_000_000_000_000 + id,
                created_ts: None,
                values,
            };
            (key(id), row)
        })
        .collect();

    let started = Instant::now();
    let mut chunk_times = Vec::new();
    for chunk in rows.chunks(CHUNK) {
        let chunk_started = Instant::now();
        store.write("bench", chunk.to_vec()).await.unwrap();
        chunk_times.push(chunk_started.elapsed());
    }
    let writing = started.elapsed();

    // A stride through the keys, so reads do not walk the tree in order.
    let keys: Vec<EntityKey> = (0..READS).map(|i| key(i * 7919 % ENTITIES)).collect();
    let mut latencies = Vec::with_capacity(keys.len());
    let started = Instant::now();
    for key in &keys {
        let read_started = Instant::now();
        let read = store
            .read("bench", std::slice::from_ref(key))
            .await
            .unwrap();
        latencies.push(read_started.elapsed());
        assert_eq!(read[0].as_ref().map(|row| row.values.len()), Some(FEATURES));
    }
    let reading = started.elapsed();
    latencies.sort();
    chunk_times.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    eprintln!(
        "{name}: wrote {ENTITIES} rows x {FEATURES} float64 in {CHUNK}-row chunks in {:.2} s \
         ({:.0} rows/s; chunk median {:.1} ms, max {:.1} ms)",
        writing.as_secs_f64(),
        ENTITIES as f64 / writing.as_secs_f64(),
        chunk_times[chunk_times.len() / 2].as_secs_f64() * 1e3,
        chunk_times[chunk_times.len() - 1].as_secs_f64() * 1e3,
    );
    eprintln!(
        "{name}: {READS} single-key reads in {:.2} s ({:.0} reads/s, one at a time); latency \
         p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us",
        reading.as_secs_f64(),
        READS as f64 / reading.as_secs_f64(),
        micros(at(0.5)),
        micros(at(0.99)),
        micros(at(0.999)),
        micros(latencies[latencies.len() - 1]),
    );
}
