//! Freshness: the age of each online view's newest value, as Prometheus gauges
//! (`galley_feature_freshness_seconds{view}`) refreshed on a timer, since age grows by itself.

use std::time::Duration;

use galley_core::time::now_millis;

use crate::service::FeatureService;

impl FeatureService {
    /// The newest event time seen online per view (materialized or pushed). Views not seen
    /// since this server started are looked up in their last materialization.
    pub async fn newest_events(&self) -> Vec<(String, Option<i64>)> {
        let snapshot = self.snapshot();
        let mut answer = Vec::new();
        for view in snapshot
            .definitions
            .feature_views
            .iter()
            .filter(|v| v.online)
        {
            let known = self
                .inner
                .newest_event
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&view.name)
                .copied();
            let newest = match known {
                Some(newest) => Some(newest),
                None => {
                    let last = self.inner.store.materializations(&view.name, 1).await;
                    let newest = last
                        .ok()
                        .and_then(|m| m.first().and_then(|m| m.newest_event));
                    if let Some(newest) = newest {
                        self.saw_event(&view.name, newest);
                    }
                    newest
                }
            };
            answer.push((view.name.clone(), newest));
        }
        answer
    }

    /// Sets the freshness gauges every `interval`.
    pub fn start_freshness_gauges(&self, interval: Duration) {
        self.every(interval, |service| async move {
            for (view, newest) in service.newest_events().await {
                if let Some(newest) = newest {
                    set_gauge(&view, newest);
                }
            }
        });
    }
}

/// Sets `view`'s freshness gauge to the age of `newest` (nanoseconds since the epoch).
pub(crate) fn set_gauge(view: &str, newest: i64) {
    let now_ns = now_millis().saturating_mul(1_000_000);
    let age = (now_ns - newest).max(0) as f64 / 1e9;
    metrics::gauge!("galley_feature_freshness_seconds", "view" => view.to_string()).set(age);
}
