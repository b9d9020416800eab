//! Conformance cases for the monitoring store: the prediction-file index by time, label upserts,
//! reference records and result time series.

use std::sync::Arc;

use galley_monitoring::alerts::*;
use galley_monitoring::model::*;
use galley_monitoring::{MonitoringError, MonitoringStore};

type Store = Arc<dyn MonitoringStore>;

fn file(path: &str, first_at: i64, last_at: i64) -> PredictionFile {
    PredictionFile {
        deployment: "fraud-api".into(),
        path: path.into(),
        row_count: 10,
        first_at,
        last_at,
        created_at: last_at + 1,
    }
}

fn label(request_id: &str, row: i64, value: &str, at: i64) -> Label {
    Label {
        request_id: request_id.into(),
        row,
        label: value.into(),
        labeled_at: at,
    }
}

pub async fn prediction_files_by_window(store: Store) {
    for f in [file("a", 0, 99), file("b", 100, 199), file("c", 200, 299)] {
        store.add_prediction_file(&f).await.unwrap();
    }
    let mut other = file("z", 0, 1_000);
    other.deployment = "other".into();
    store.add_prediction_file(&other).await.unwrap();
    assert!(store.add_prediction_file(&file("a", 0, 99)).await.is_err());

    let paths = |files: Vec<PredictionFile>| files.into_iter().map(|f| f.path).collect::<Vec<_>>();
    let window = |start, end| Window { start, end };
    assert_eq!(
        paths(
            store
                .prediction_files("fraud-api", window(150, 250))
                .await
                .unwrap()
        ),
        ["b", "c"]
    );
    // Half-open: a file that starts at the window's end is outside it; one that ends at its start is in.
    assert_eq!(
        paths(
            store
                .prediction_files("fraud-api", window(99, 100))
                .await
                .unwrap()
        ),
        ["a"]
    );
    assert_eq!(
        store
            .prediction_files("fraud-api", window(0, 1_000))
            .await
            .unwrap()[0],
        file("a", 0, 99)
    );
    assert!(store
        .prediction_files("fraud-api", window(300, 400))
        .await
        .unwrap()
        .is_empty());
}

pub async fn labels_upsert_in_bulk(store: Store) {
    let first: Vec<Label> = (0..1_200)
        .map(|i| label(&format!("r{i}"), 0, "0", 1))
        .collect();
    store.put_labels("fraud-api", &first).await.unwrap();
    // A correction replaces the earlier label; a second row of the same request is its own label.
    store
        .put_labels(
            "fraud-api",
            &[label("r7", 0, "1", 2), label("r7", 1, "0", 2)],
        )
        .await
        .unwrap();
    store
        .put_labels("other", &[label("r7", 0, "other", 3)])
        .await
        .unwrap();

    let ids: Vec<String> = ["r7", "r1199", "unknown"].map(String::from).to_vec();
    let mut found = store.labels("fraud-api", &ids).await.unwrap();
    found.sort_by(|a, b| (&a.request_id, a.row).cmp(&(&b.request_id, b.row)));
    assert_eq!(
        found,
        [
            label("r1199", 0, "0", 1),
            label("r7", 0, "1", 2),
            label("r7", 1, "0", 2)
        ]
    );
    let all: Vec<String> = (0..1_200).map(|i| format!("r{i}")).collect();
    assert_eq!(store.labels("fraud-api", &all).await.unwrap().len(), 1_201);
    assert!(store.labels("fraud-api", &[]).await.unwrap().is_empty());
}

pub async fn references_replace(store: Store) {
    assert!(matches!(
        store.reference("fraud", 1).await,
        Err(MonitoringError::NotFound(_))
    ));
    let mut reference = ReferenceRecord {
        model: "fraud".into(),
        version: 1,
        source: "runs:/abc/train.csv".into(),
        row_count: 5_000,
        profile_path: "monitoring/references/fraud/1.json".into(),
        created_at: 1,
    };
    store.put_reference(&reference).await.unwrap();
    assert_eq!(store.reference("fraud", 1).await.unwrap(), reference);
    reference.row_count = 6_000;
    reference.created_at = 2;
    store.put_reference(&reference).await.unwrap();
    assert_eq!(store.reference("fraud", 1).await.unwrap(), reference);
    assert!(store.reference("fraud", 2).await.is_err());
}

pub async fn results_are_time_series(store: Store) {
    let point = |start: i64, metric: &str, column: &str, value: f64| MetricPoint {
        window: Window {
            start,
            end: start + 100,
        },
        metric: metric.into(),
        column: column.into(),
        value,
        evaluated_at: start + 100,
    };
    store
        .put_results(
            "fraud-api",
            &[
                point(0, "drift_score", "amount", 0.5),
                point(0, "drift_share", "", 0.25),
                point(100, "drift_score", "amount", 0.01),
            ],
        )
        .await
        .unwrap();
    // Re-evaluating a window replaces its value.
    store
        .put_results("fraud-api", &[point(100, "drift_score", "amount", 0.02)])
        .await
        .unwrap();

    let everything = Window {
        start: 0,
        end: 1_000,
    };
    assert_eq!(
        store.results("fraud-api", None, everything).await.unwrap(),
        [
            point(0, "drift_score", "amount", 0.5),
            point(0, "drift_share", "", 0.25),
            point(100, "drift_score", "amount", 0.02),
        ]
    );
    assert_eq!(
        store
            .results("fraud-api", Some("drift_share"), everything)
            .await
            .unwrap(),
        [point(0, "drift_share", "", 0.25)]
    );
    // Windows are selected by their end.
    let later = Window {
        start: 100,
        end: 200,
    };
    assert_eq!(
        store.results("fraud-api", None, later).await.unwrap(),
        [point(100, "drift_score", "amount", 0.02)]
    );
    assert!(store
        .results("other", None, everything)
        .await
        .unwrap()
        .is_empty());
}

fn rule(id: &str, created_at: i64) -> AlertRule {
    AlertRule {
        id: id.into(),
        deployment: "fraud-api".into(),
        spec: RuleSpec {
            name: format!("rule {id}"),
            metric: "drift_share".into(),
            column: (id == "b").then(|| "amount".to_owned()),
            comparison: Comparison::Above,
            threshold: 0.5,
            window: "1h".into(),
            severity: Severity::Critical,
            webhook_url: (id == "a").then(|| "http://127.0.0.1:9/hook".to_owned()),
            retrain_job: (id == "a")
                .then(|| serde_json::json!({ "command": ["python", "retrain.py"] })),
        },
        created_at,
    }
}

fn event(id: &str, rule_id: &str, window_start: i64, fired_at: i64) -> AlertEvent {
    AlertEvent {
        id: id.into(),
        rule_id: rule_id.into(),
        deployment: "fraud-api".into(),
        metric: "drift_share".into(),
        column: String::new(),
        value: 0.75,
        threshold: 0.5,
        severity: Severity::Critical,
        window: Window {
            start: window_start,
            end: window_start + 100,
        },
        fired_at,
        delivery: Delivery::Pending,
        attempts: 0,
        retrain_job_id: None,
    }
}

pub async fn alert_rules_and_events(store: Store) {
    store.create_rule(&rule("b", 2)).await.unwrap();
    store.create_rule(&rule("a", 1)).await.unwrap();
    assert!(store.create_rule(&rule("a", 1)).await.is_err());
    assert_eq!(
        store.rules("fraud-api").await.unwrap(),
        [rule("a", 1), rule("b", 2)]
    );
    store.delete_rule("fraud-api", "b").await.unwrap();
    assert!(matches!(
        store.delete_rule("fraud-api", "b").await,
        Err(MonitoringError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_rule("other", "a").await,
        Err(MonitoringError::NotFound(_))
    ));
    assert_eq!(store.rules("fraud-api").await.unwrap(), [rule("a", 1)]);

    assert!(store.add_event(&event("e1", "a", 0, 10)).await.unwrap());
    // The same rule and window again: one alert per window, however often it is evaluated.
    assert!(!store.add_event(&event("e2", "a", 0, 11)).await.unwrap());
    assert!(store.add_event(&event("e3", "a", 100, 12)).await.unwrap());
    store
        .set_delivery("e1", Delivery::Delivered, 2)
        .await
        .unwrap();
    assert!(store
        .set_delivery("missing", Delivery::Failed, 1)
        .await
        .is_err());

    store
        .set_retrain_job("e1", "job-0123456789ab")
        .await
        .unwrap();
    assert!(store.set_retrain_job("missing", "job-x").await.is_err());

    let mut delivered = event("e1", "a", 0, 10);
    delivered.delivery = Delivery::Delivered;
    delivered.attempts = 2;
    delivered.retrain_job_id = Some("job-0123456789ab".into());
    assert_eq!(
        store.events("fraud-api", 10).await.unwrap(),
        [event("e3", "a", 100, 12), delivered]
    );
    assert_eq!(store.events("fraud-api", 1).await.unwrap().len(), 1);
    assert!(store.events("other", 10).await.unwrap().is_empty());
}
