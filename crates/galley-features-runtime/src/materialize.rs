//! Materialization: the latest row per entity in a time window, read from a view's source and
//! written to the online store in streamed chunks, with statistics of what was written; and the
//! schedule that runs it incrementally.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use galley_core::time::now_millis;
use galley_core::LeaseStore;
use galley_features::definitions::{Definitions, FeatureView};
use galley_features::online::OnlineRow;
use galley_features::stats::FeatureStatistics;
use galley_features::store::Materialization;
use galley_features::value::{Dtype, EntityKey, Value};
use galley_features::{FeatureError, Result};
use galley_features_offline::{latest_per_entity, LatestSpec};
use tokio::sync::mpsc;

use crate::arrow_values::{time_at, value_at};
use crate::service::FeatureService;
use crate::sources::offline_error;

/// The lease whose holder runs scheduled materializations.
const MATERIALIZATION_LEASE: &str = "feature-materialization";

/// What to materialize. Without `start`, each view continues from where its last
/// materialization ended (or from `end - ttl`, or the beginning, the first time).
#[derive(Clone, Debug, Default)]
pub struct MaterializeRequest {
    /// Views to materialize; empty means every online view.
    pub views: Vec<String>,
    /// Nanoseconds since the epoch; the window is `start <= event time < end`.
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl FeatureService {
    pub async fn materialize(&self, request: &MaterializeRequest) -> Result<Vec<Materialization>> {
        let snapshot = self.snapshot();
        let definitions = &snapshot.definitions;
        let views: Vec<&FeatureView> = if request.views.is_empty() {
            definitions
                .feature_views
                .iter()
                .filter(|v| v.online)
                .collect()
        } else {
            request
                .views
                .iter()
                .map(|name| match definitions.view(name) {
                    Some(view) if view.online => Ok(view),
                    Some(_) => Err(FeatureError::InvalidInput(format!(
                        "feature view {name} is not online"
                    ))),
                    None => Err(FeatureError::NotFound(format!(
                        "unknown feature view {name:?}"
                    ))),
                })
                .collect::<Result<_>>()?
        };
        let end = request
            .end
            .unwrap_or_else(|| now_millis().saturating_mul(1_000_000));
        if request.start.is_some_and(|start| start >= end) {
            return Err(FeatureError::InvalidInput(
                "the window's start must be before its end".into(),
            ));
        }
        let mut done = Vec::with_capacity(views.len());
        for view in views {
            let start = match request.start {
                Some(start) => Some(start),
                None => self.incremental_start(view, end).await?,
            };
            done.push(self.materialize_view(definitions, view, start, end).await?);
        }
        Ok(done)
    }

    async fn incremental_start(&self, view: &FeatureView, end: i64) -> Result<Option<i64>> {
        let last = self.inner.store.materializations(&view.name, 1).await?;
        Ok(match last.first() {
            Some(previous) => Some(previous.end),
            None => view.ttl.as_nanos().map(|ttl| end.saturating_sub(ttl)),
        })
    }

    async fn materialize_view(
        &self,
        definitions: &Definitions,
        view: &FeatureView,
        start: Option<i64>,
        end: i64,
    ) -> Result<Materialization> {
        let began = Instant::now();
        let source = definitions
            .source(&view.source)
            .ok_or_else(|| FeatureError::NotFound(format!("unknown source {}", view.source)))?;
        let opened = self.inner.sources.open(source).await?;
        let spec = LatestSpec {
            join_keys: definitions.join_keys(view),
            timestamp_column: source.timestamp_field.clone(),
            created_column: source.created_timestamp_column.clone(),
            start_ns: start,
            end_ns: Some(end),
            features: view.schema.iter().map(|f| f.name.clone()).collect(),
        };
        let fields: Vec<(String, Dtype)> = view
            .schema
            .iter()
            .map(|f| (f.name.clone(), f.dtype))
            .collect();
        // The reader runs on a blocking thread and hands chunks over a short channel, so
        // memory holds at most a few chunks whatever the source's size.
        let (chunks, mut receive) = mpsc::channel::<Vec<(EntityKey, OnlineRow)>>(2);
        let reader = tokio::task::spawn_blocking(move || -> Result<Collected> {
            let mut collected = Collected::new(&fields);
            let batches = latest_per_entity(&opened.table, &spec).map_err(offline_error)?;
            for batch in batches {
                let batch = batch.map_err(offline_error)?;
                let rows = collected.rows(&batch, &spec)?;
                if chunks.blocking_send(rows).is_err() {
                    break;
                }
            }
            Ok(collected)
        });
        let mut written = 0;
        let mut write_error = None;
        while let Some(rows) = receive.recv().await {
            match self.inner.online.write(&view.name, rows).await {
                Ok(counts) => written += counts.written + counts.stale,
                Err(error) => {
                    write_error = Some(error);
                    break;
                }
            }
        }
        drop(receive);
        let collected = reader
            .await
            .map_err(|e| FeatureError::Unavailable(format!("materialization stopped: {e}")))??;
        if let Some(error) = write_error {
            return Err(error.into());
        }
        let materialization = Materialization {
            view: view.name.clone(),
            start,
            end,
            rows: written,
            newest_event: collected.newest_event,
            finished_at: now_millis(),
            statistics: collected.statistics(),
        };
        self.inner
            .store
            .record_materialization(&materialization)
            .await?;
        if let Some(newest) = collected.newest_event {
            self.saw_event(&view.name, newest);
        }
        let labels = [("view", view.name.clone())];
        metrics::counter!("galley_feature_materialized_rows_total", &labels).increment(written);
        metrics::histogram!("galley_feature_materialization_duration_seconds", &labels)
            .record(began.elapsed().as_secs_f64());
        tracing::info!(view = %view.name, rows = written, ?start, end, "materialized");
        Ok(materialization)
    }

    /// Every `interval`, materializes every online view up to now, incrementally. With several
    /// replicas, the one holding the `feature-materialization` lease does it.
    pub fn start_schedule(&self, interval: Duration, leases: Arc<dyn LeaseStore>) {
        let holder = uuid::Uuid::new_v4().simple().to_string();
        let interval_ms = interval.as_millis() as i64;
        self.every(interval, move |service| {
            let (leases, holder) = (leases.clone(), holder.clone());
            async move {
                let now = now_millis();
                // Held for two rounds, so one slow round does not hand the work over.
                match leases
                    .try_lease(MATERIALIZATION_LEASE, &holder, now, now + 2 * interval_ms)
                    .await
                {
                    Ok(true) => {
                        let all = MaterializeRequest::default();
                        if let Err(error) = service.materialize(&all).await {
                            tracing::warn!(%error, "scheduled materialization failed");
                        }
                    }
                    Ok(false) => tracing::debug!("another replica runs scheduled materializations"),
                    Err(error) => tracing::warn!(%error, "cannot take the materialization lease"),
                }
            }
        });
    }
}

/// What the reader learns while converting batches: values for statistics and the newest
/// event time.
struct Collected {
    fields: Vec<(String, Dtype)>,
    numbers: Vec<Vec<f64>>,
    counts: Vec<u64>,
    nulls: Vec<u64>,
    newest_event: Option<i64>,
}

impl Collected {
    fn new(fields: &[(String, Dtype)]) -> Self {
        Self {
            fields: fields.to_vec(),
            numbers: vec![Vec::new(); fields.len()],
            counts: vec![0; fields.len()],
            nulls: vec![0; fields.len()],
            newest_event: None,
        }
    }

    fn rows(
        &mut self,
        batch: &RecordBatch,
        spec: &LatestSpec,
    ) -> Result<Vec<(EntityKey, OnlineRow)>> {
        let column = |name: &str| {
            batch.column_by_name(name).cloned().ok_or_else(|| {
                FeatureError::Unavailable(format!("materialization lost column {name}"))
            })
        };
        let keys = spec
            .join_keys
            .iter()
            .map(|k| column(k))
            .collect::<Result<Vec<_>>>()?;
        let event = column(&spec.timestamp_column)?;
        let created = spec.created_column.as_deref().map(column).transpose()?;
        let features = self
            .fields
            .iter()
            .map(|(name, _)| column(name))
            .collect::<Result<Vec<_>>>()?;
        let mut rows = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let key_values: Vec<Value> = keys
                .iter()
                .map(|k| value_at(k, row, key_dtype(k.data_type())))
                .collect();
            let Ok(key) = EntityKey::encode(&key_values) else {
                continue;
            };
            let Some(event_ts) = time_at(&event, row) else {
                continue;
            };
            self.newest_event = Some(self.newest_event.map_or(event_ts, |n| n.max(event_ts)));
            let mut values = Vec::with_capacity(self.fields.len());
            for (i, feature) in features.iter().enumerate() {
                let value = value_at(feature, row, self.fields[i].1);
                self.observe(i, &value);
                values.push((self.fields[i].0.clone(), value));
            }
            let created_ts = created.as_ref().and_then(|c| time_at(c, row));
            rows.push((
                key,
                OnlineRow {
                    event_ts,
                    created_ts,
                    values,
                },
            ));
        }
        Ok(rows)
    }

    fn observe(&mut self, feature: usize, value: &Value) {
        let number = match value {
            Value::Null => {
                self.nulls[feature] += 1;
                return;
            }
            Value::Int32(v) => Some(f64::from(*v)),
            Value::Int64(v) => Some(*v as f64),
            Value::Float32(v) => Some(f64::from(*v)),
            Value::Float64(v) => Some(*v),
            _ => None,
        };
        match number {
            Some(n) => self.numbers[feature].push(n),
            None => self.counts[feature] += 1,
        }
    }

    fn statistics(&self) -> Vec<FeatureStatistics> {
        self.fields
            .iter()
            .enumerate()
            .map(|(i, (name, dtype))| match dtype {
                Dtype::Int32 | Dtype::Int64 | Dtype::Float32 | Dtype::Float64 => {
                    FeatureStatistics::of_numbers(name, &self.numbers[i], self.nulls[i])
                }
                _ => FeatureStatistics::of_other(name, self.counts[i], self.nulls[i]),
            })
            .collect()
    }
}

/// Join keys are read as what they are: integers as int64, text as string.
fn key_dtype(data_type: &arrow_schema::DataType) -> Dtype {
    if data_type.is_integer() {
        Dtype::Int64
    } else {
        Dtype::String
    }
}
