//! The prediction log: sampled requests queue in a bounded channel (serving never waits; a full
//! queue drops the record and counts it), and one task batches them per deployment into Parquet
//! files in the artifact store, indexed in the metadata store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use galley_artifacts::{validate, ArtifactStore};
use galley_core::time::now_millis;
use galley_inference::{PredictionRecord, PredictionSink};
use galley_monitoring::model::PredictionFile;
use galley_monitoring::MonitoringStore;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::columns::{Layout, RowBuffer};

#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Records waiting to be written at most; beyond it records are dropped, not queued.
    pub queue_capacity: usize,
    /// A deployment's rows are written once this many are buffered...
    pub flush_rows: usize,
    /// ...or once the oldest has waited this long.
    pub flush_interval: Duration,
}

impl Default for WriterSettings {
    fn default() -> Self {
        WriterSettings {
            queue_capacity: 8_192,
            flush_rows: 50_000,
            flush_interval: Duration::from_secs(10),
        }
    }
}

/// Counts since the server started, for the API and for tests.
#[derive(Debug, Default)]
pub struct WriterCounts {
    /// Rows written to Parquet files.
    pub rows_written: AtomicU64,
    /// Records dropped because the queue was full or a file could not be written.
    pub records_dropped: AtomicU64,
    pub files_written: AtomicU64,
}

/// The serving side: implements the sink serving offers records to.
pub struct PredictionLog {
    sender: mpsc::Sender<PredictionRecord>,
    counts: Arc<WriterCounts>,
}

impl PredictionLog {
    pub fn counts(&self) -> &WriterCounts {
        &self.counts
    }
}

fn count_drop(counts: &WriterCounts, deployment: &str, reason: &'static str, records: u64) {
    counts.records_dropped.fetch_add(records, Ordering::Relaxed);
    metrics::counter!(
        "galley_monitoring_predictions_dropped_total",
        "deployment" => deployment.to_owned(),
        "reason" => reason
    )
    .increment(records);
}

impl PredictionSink for PredictionLog {
    fn offer(&self, record: PredictionRecord) {
        if let Err(error) = self.sender.try_send(record) {
            let (reason, record) = match error {
                mpsc::error::TrySendError::Full(record) => ("queue_full", record),
                mpsc::error::TrySendError::Closed(record) => ("shut_down", record),
            };
            count_drop(&self.counts, &record.deployment, reason, 1);
        }
    }
}

/// The writing side: stop it to write out what is buffered.
pub struct PredictionWriter {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl PredictionWriter {
    /// Starts the writer task; the returned log is what serving offers records to.
    pub fn start(
        settings: WriterSettings,
        artifacts: ArtifactStore,
        store: Arc<dyn MonitoringStore>,
    ) -> (Arc<PredictionLog>, PredictionWriter) {
        let (sender, receiver) = mpsc::channel(settings.queue_capacity);
        let (stop, stopped) = oneshot::channel();
        let counts = Arc::new(WriterCounts::default());
        let files = FileWriter {
            artifacts,
            store,
            counts: counts.clone(),
        };
        let task = tokio::spawn(run(settings, receiver, stopped, files));
        (
            Arc::new(PredictionLog { sender, counts }),
            PredictionWriter { stop, task },
        )
    }

    /// Writes every record already queued or buffered, then ends the task.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(error) = self.task.await {
            tracing::error!(%error, "prediction writer task failed");
        }
    }
}

struct Pending {
    buffer: RowBuffer,
    records: u64,
    opened: Instant,
}

/// How often the writer takes what serving queued. The writer never waits on the queue itself:
/// a task parked in `recv` is woken by every send, and at tens of thousands of requests a second
/// that wake-up per request cost serving more than the logging did.
const DRAIN_INTERVAL: Duration = Duration::from_millis(20);

async fn run(
    settings: WriterSettings,
    mut receiver: mpsc::Receiver<PredictionRecord>,
    mut stopped: oneshot::Receiver<()>,
    files: FileWriter,
) {
    let mut pending: HashMap<String, Pending> = HashMap::new();
    let mut drain = tokio::time::interval(DRAIN_INTERVAL);
    drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let flush_check_every = settings.flush_interval.min(Duration::from_secs(1));
    let mut flush_check = Instant::now();
    loop {
        let stopping = tokio::select! {
            _ = drain.tick() => false,
            _ = &mut stopped => true,
        };
        let open = take_queued(&mut receiver, &mut pending, settings.flush_rows, &files).await;
        if stopping || !open {
            break;
        }
        if flush_check.elapsed() >= flush_check_every {
            flush_check = Instant::now();
            let due: Vec<String> = pending
                .iter()
                .filter(|(_, p)| p.opened.elapsed() >= settings.flush_interval)
                .map(|(deployment, _)| deployment.clone())
                .collect();
            for deployment in due {
                if let Some(p) = pending.remove(&deployment) {
                    files.write((deployment, p)).await;
                }
            }
        }
    }
    for entry in pending.drain() {
        files.write(entry).await;
    }
}

/// Buffers every record queued now, writing buffers that fill; false once serving's side of the
/// queue is gone.
async fn take_queued(
    receiver: &mut mpsc::Receiver<PredictionRecord>,
    pending: &mut HashMap<String, Pending>,
    flush_rows: usize,
    files: &FileWriter,
) -> bool {
    loop {
        match receiver.try_recv() {
            Ok(record) => {
                if let Some(full) = add(pending, record, flush_rows) {
                    files.write(full).await;
                }
            }
            Err(mpsc::error::TryRecvError::Empty) => return true,
            Err(mpsc::error::TryRecvError::Disconnected) => return false,
        }
    }
}

/// Buffers `record`; returns a buffer to write when it is full or the layout changed.
fn add(
    pending: &mut HashMap<String, Pending>,
    record: PredictionRecord,
    flush_rows: usize,
) -> Option<(String, Pending)> {
    // The common case, a record like the ones before it, allocates nothing here.
    if let Some(entry) = pending.get_mut(&record.deployment) {
        if entry.buffer.push(&record) {
            entry.records += 1;
            if entry.buffer.row_count() < flush_rows {
                return None;
            }
            return pending.remove_entry(&record.deployment);
        }
    }
    // A new deployment, or a buffer of another layout: that one is written out and a buffer of
    // this layout begins.
    let layout = Layout::of(&record)?;
    let ready = pending.remove_entry(&record.deployment);
    let mut buffer = RowBuffer::new(layout);
    let fits = buffer.push(&record);
    debug_assert!(fits, "a layout describes the record it was made from");
    let fresh = Pending {
        buffer,
        records: 1,
        opened: Instant::now(),
    };
    if ready.is_none() && fresh.buffer.row_count() >= flush_rows {
        return Some((record.deployment, fresh));
    }
    pending.insert(record.deployment, fresh);
    ready
}

struct FileWriter {
    artifacts: ArtifactStore,
    store: Arc<dyn MonitoringStore>,
    counts: Arc<WriterCounts>,
}

impl FileWriter {
    async fn write(&self, (deployment, pending): (String, Pending)) {
        let rows = pending.buffer.row_count();
        let (first_at, last_at) = (pending.buffer.first_at, pending.buffer.last_at);
        let batch = pending.buffer.finish();
        let path = format!(
            "monitoring/predictions/{deployment}/{first_at}-{}.parquet",
            uuid::Uuid::new_v4().simple()
        );
        let written = async {
            // Encoding tens of thousands of rows takes milliseconds: off the async threads, which
            // are answering requests meanwhile.
            let bytes = tokio::task::spawn_blocking(move || galley_tables::parquet_bytes(&[batch]))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let key = validate(&path).map_err(|e| e.to_string())?;
            self.artifacts
                .put_bytes(&key, bytes.into())
                .await
                .map_err(|e| e.to_string())?;
            let file = PredictionFile {
                deployment: deployment.clone(),
                path: path.clone(),
                row_count: rows as i64,
                first_at,
                last_at,
                created_at: now_millis(),
            };
            self.store
                .add_prediction_file(&file)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        match written {
            Ok(()) => {
                self.counts
                    .rows_written
                    .fetch_add(rows as u64, Ordering::Relaxed);
                self.counts.files_written.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(
                    "galley_monitoring_prediction_rows_written_total",
                    "deployment" => deployment.clone()
                )
                .increment(rows as u64);
                tracing::debug!(%deployment, rows, %path, "prediction log written");
            }
            Err(error) => {
                count_drop(&self.counts, &deployment, "write_failed", pending.records);
                tracing::error!(%deployment, rows, %error, "cannot write prediction log");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use galley_onnx::Tensor;

    fn record(deployment: &str) -> PredictionRecord {
        PredictionRecord {
            deployment: deployment.into(),
            model: "m".into(),
            version: 1,
            request_id: "r".into(),
            received_at: 0,
            latency_seconds: 0.0,
            inputs: vec![("X".into(), Tensor::new(vec![1, 1], vec![1.0f32]).unwrap())],
            outputs: Default::default(),
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (sender, mut receiver) = mpsc::channel(2);
        let log = PredictionLog {
            sender,
            counts: Arc::new(WriterCounts::default()),
        };
        for _ in 0..5 {
            log.offer(record("d"));
        }
        assert_eq!(log.counts().records_dropped.load(Ordering::Relaxed), 3);
        assert!(receiver.try_recv().is_ok() && receiver.try_recv().is_ok());
        drop(receiver);
        log.offer(record("d"));
        assert_eq!(log.counts().records_dropped.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn buffers_flush_when_full_or_when_the_layout_changes() {
        let mut pending = HashMap::new();
        assert!(add(&mut pending, record("d"), 2).is_none());
        let (deployment, full) = add(&mut pending, record("d"), 2).expect("two rows fill it");
        assert_eq!((deployment.as_str(), full.buffer.row_count()), ("d", 2));

        assert!(add(&mut pending, record("d"), 10).is_none());
        let mut wider = record("d");
        wider.inputs[0].1 = Tensor::new(vec![1, 2], vec![1.0f32, 2.0]).unwrap();
        let (_, previous) = add(&mut pending, wider, 10).expect("a new layout starts a new file");
        assert_eq!(previous.buffer.row_count(), 1);
        assert_eq!(pending["d"].buffer.row_count(), 1);
        // Requests without rows are not logged.
        let mut empty = record("e");
        empty.inputs[0].1 = Tensor::new(vec![0, 1], Vec::<f32>::new()).unwrap();
        assert!(add(&mut pending, empty, 1).is_none());
        assert!(!pending.contains_key("e"));
    }
}
