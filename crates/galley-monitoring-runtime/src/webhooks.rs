//! Webhook delivery of alert events: a JSON POST per event, retried with exponential backoff,
//! its outcome recorded on the event. Delivery runs beside the evaluation, never inside it.

use std::sync::Arc;
use std::time::Duration;

use galley_monitoring::alerts::{AlertEvent, Delivery};
use galley_monitoring::MonitoringStore;
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles for each later one.
    pub first_backoff: Duration,
    pub timeout: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            max_attempts: 5,
            first_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
pub struct WebhookSender {
    http: reqwest::Client,
    store: Arc<dyn MonitoringStore>,
    settings: DeliverySettings,
}

impl WebhookSender {
    pub fn new(store: Arc<dyn MonitoringStore>, settings: DeliverySettings) -> Self {
        WebhookSender {
            http: reqwest::Client::new(),
            store,
            settings,
        }
    }

    /// Starts delivering `payload` for `event` to `url` in the background.
    pub fn send(&self, url: String, event: AlertEvent, payload: Value) {
        let sender = self.clone();
        tokio::spawn(async move { sender.deliver(&url, &event, &payload).await });
    }

    async fn deliver(&self, url: &str, event: &AlertEvent, payload: &Value) {
        let mut backoff = self.settings.first_backoff;
        for attempt in 1..=self.settings.max_attempts {
            let outcome = self
                .http
                .post(url)
                .timeout(self.settings.timeout)
                .json(payload)
                .send()
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| match r.status() {
                    s if s.is_success() => Ok(()),
                    s => Err(format!("status {s}")),
                });
            match outcome {
                Ok(()) => {
                    self.record(event, Delivery::Delivered, attempt, "delivered")
                        .await;
                    return;
                }
                Err(error) => {
                    tracing::warn!(event = %event.id, url, attempt, %error, "alert webhook failed");
                    if attempt < self.settings.max_attempts {
                        tokio::time::sleep(backoff).await;
                        backoff = backoff.saturating_mul(2);
                    }
                }
            }
        }
        self.record(
            event,
            Delivery::Failed,
            self.settings.max_attempts,
            "failed",
        )
        .await;
    }

    async fn record(
        &self,
        event: &AlertEvent,
        delivery: Delivery,
        attempts: u32,
        outcome: &'static str,
    ) {
        metrics::counter!("galley_monitoring_webhook_deliveries_total", "outcome" => outcome)
            .increment(1);
        if let Err(error) = self.store.set_delivery(&event.id, delivery, attempts).await {
            tracing::error!(event = %event.id, %error, "cannot record the webhook outcome");
        }
    }
}
