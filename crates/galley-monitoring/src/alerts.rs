//! Alert rules on evaluation results: which metric of which deployment, compared how with what
//! threshold, over which window, at what severity; and which results make a rule fire.

use serde::{Deserialize, Serialize};

use crate::error::{MonitoringError, Result};
use crate::model::{MetricPoint, Window};
use crate::validation::parse_window;

pub const MAX_RULES_PER_DEPLOYMENT: usize = 100;
const MAX_URL_LENGTH: usize = 2048;

/// `as_str` and `parse` for an enum stored as its snake_case name.
macro_rules! stored_names {
    ($type:ident { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $type {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($type::$variant => $name,)*
                }
            }

            pub fn parse(text: &str) -> Option<$type> {
                match text {
                    $($name => Some($type::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Fires when the value is at or above the threshold (drift scores, drift share, errors).
    Above,
    /// Fires when the value is at or below the threshold (p-values, accuracy, F1).
    Below,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// What a user asks for; the rule adds an id and a creation time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    pub name: String,
    /// An evaluation metric: `drift_share`, `dataset_drift`, `drift_score`, `prediction_drift_score`,
    /// `accuracy`, `f1`, `roc_auc`, `rmse`, ...
    pub metric: String,
    /// For per-column metrics: the column; `None` matches every column (and dataset metrics).
    pub column: Option<String>,
    pub comparison: Comparison,
    pub threshold: f64,
    /// The evaluation window the rule judges, e.g. `1h` or `24h`.
    pub window: String,
    pub severity: Severity,
    /// Where a firing is POSTed as JSON, retried with backoff.
    pub webhook_url: Option<String>,
    /// A job to submit when the rule fires (a retraining job): the compute layer's job spec, as
    /// JSON; monitoring only hands it to a [`RetrainLauncher`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrain_job: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    pub id: String,
    pub deployment: String,
    #[serde(flatten)]
    pub spec: RuleSpec,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// No webhook configured: the event is the record.
    None,
    Pending,
    Delivered,
    Failed,
}

stored_names!(Comparison { Above => "above", Below => "below" });
stored_names!(Severity { Info => "info", Warning => "warning", Critical => "critical" });
stored_names!(Delivery { None => "none", Pending => "pending", Delivered => "delivered", Failed => "failed" });

/// One firing of a rule for one evaluated window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub id: String,
    pub rule_id: String,
    pub deployment: String,
    pub metric: String,
    pub column: String,
    pub value: f64,
    pub threshold: f64,
    pub severity: Severity,
    pub window: Window,
    pub fired_at: i64,
    pub delivery: Delivery,
    pub attempts: u32,
    /// The retraining job this firing submitted, when its rule has one and submission worked.
    #[serde(default)]
    pub retrain_job_id: Option<String>,
}

/// Starts the retraining job an alert rule names when it fires; the compute layer implements it,
/// so monitoring knows nothing of jobs.
#[async_trait::async_trait]
pub trait RetrainLauncher: Send + Sync + 'static {
    /// Why `job` could not be submitted, checked when a rule is created; `Ok` when it could.
    async fn check(&self, job: &serde_json::Value) -> std::result::Result<(), String>;
    /// Submits `job` for `event`; answers the new job's id.
    async fn launch(
        &self,
        job: &serde_json::Value,
        event: &AlertEvent,
    ) -> std::result::Result<String, String>;
}

pub fn validate_rule(spec: &RuleSpec) -> Result<i64> {
    let invalid = |m: String| Err(MonitoringError::InvalidInput(m));
    if spec.name.is_empty() || spec.name.len() > 256 {
        return invalid("an alert rule needs a name of 1 to 256 characters".to_owned());
    }
    if spec.metric.is_empty() || spec.metric.len() > 256 {
        return invalid("an alert rule needs a metric, e.g. drift_share or accuracy".to_owned());
    }
    if !spec.threshold.is_finite() {
        return invalid("an alert rule's threshold must be a finite number".to_owned());
    }
    if let Some(url) = &spec.webhook_url {
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        if !scheme_ok || url.len() > MAX_URL_LENGTH {
            return invalid(format!(
                "webhook_url must be an http(s) URL of at most {MAX_URL_LENGTH} characters"
            ));
        }
    }
    parse_window(&spec.window)
}

impl RuleSpec {
    fn breached_by(&self, value: f64) -> bool {
        match self.comparison {
            Comparison::Above => value >= self.threshold,
            Comparison::Below => value <= self.threshold,
        }
    }

    /// The points of one evaluation that make this rule fire: the rule's metric, its column (any
    /// column when none is named), past the threshold.
    pub fn breaches<'p>(&self, points: &'p [MetricPoint]) -> Vec<&'p MetricPoint> {
        points
            .iter()
            .filter(|p| p.metric == self.metric)
            .filter(|p| self.column.as_ref().is_none_or(|c| *c == p.column))
            .filter(|p| self.breached_by(p.value))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        metric: &str,
        column: Option<&str>,
        comparison: Comparison,
        threshold: f64,
    ) -> RuleSpec {
        RuleSpec {
            name: "r".into(),
            metric: metric.into(),
            column: column.map(Into::into),
            comparison,
            threshold,
            window: "1h".into(),
            severity: Severity::Warning,
            webhook_url: None,
            retrain_job: None,
        }
    }

    fn point(metric: &str, column: &str, value: f64) -> MetricPoint {
        MetricPoint {
            window: Window { start: 0, end: 1 },
            metric: metric.into(),
            column: column.into(),
            value,
            evaluated_at: 1,
        }
    }

    #[test]
    fn rules_fire_on_their_metric_column_and_side_of_the_threshold() {
        let points = [
            point("drift_share", "", 0.5),
            point("drift_score", "age", 0.2),
            point("drift_score", "income", 0.01),
            point("accuracy", "", 0.7),
        ];
        let above = spec("drift_share", None, Comparison::Above, 0.5);
        assert_eq!(above.breaches(&points).len(), 1, "the bound is inclusive");
        let any_column = spec("drift_score", None, Comparison::Above, 0.1);
        assert_eq!(any_column.breaches(&points)[0].column, "age");
        let one_column = spec("drift_score", Some("income"), Comparison::Above, 0.1);
        assert!(one_column.breaches(&points).is_empty());
        let below = spec("accuracy", None, Comparison::Below, 0.8);
        assert_eq!(below.breaches(&points).len(), 1);
        assert!(spec("rmse", None, Comparison::Above, 0.0)
            .breaches(&points)
            .is_empty());
    }

    #[test]
    fn rules_are_validated() {
        assert_eq!(
            validate_rule(&spec("drift_share", None, Comparison::Above, 0.5)).unwrap(),
            3_600_000
        );
        let mut bad = spec("drift_share", None, Comparison::Above, f64::NAN);
        assert!(validate_rule(&bad).is_err());
        bad.threshold = 0.5;
        bad.window = "1s".into();
        assert!(validate_rule(&bad).is_err());
        bad.window = "1h".into();
        bad.webhook_url = Some("ftp://x".into());
        assert!(validate_rule(&bad).is_err());
        bad.webhook_url = Some("http://127.0.0.1:9/hook".into());
        bad.name = String::new();
        assert!(validate_rule(&bad).is_err());
    }
}
