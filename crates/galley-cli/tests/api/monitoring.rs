//! Monitoring over HTTP: served requests logged and read back by a window evaluation against a
//! reference profile and labels; alert webhooks retried until delivered or given up; bad
//! requests answered with clear 4xx and no change.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use galley_core::time::now_millis;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::app::{spawn_app, TestApp};
use crate::serving::{deploy, fixture, infer, native, register_onnx, v2_request, LOGISTIC};

/// The fixture's 8 rows as a training CSV, with the model's own answers as the target.
fn reference_csv() -> String {
    let (rows, labels) = fixture();
    let mut csv = String::from("sepal_length,sepal_width,petal_length,petal_width,species\n");
    for (row, label) in rows.chunks(4).zip(&labels) {
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        csv.push_str(&format!("{},{label}\n", cells.join(",")));
    }
    csv
}

async fn put_reference(app: &TestApp, query: &str, body: &str) -> (u16, Value) {
    let response = app
        .http
        .put(app.url(&format!("/api/v1/models/iris/versions/1/reference?{query}")))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A deployed iris model with a reference profile.
async fn monitored_app() -> TestApp {
    let app = spawn_app().await;
    register_onnx(&app, "iris", LOGISTIC).await;
    deploy(
        &app,
        json!({ "name": "iris-api", "model": "iris", "version": 1 }),
    )
    .await;
    let (status, body) = put_reference(&app, "format=csv&target=species", &reference_csv()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reference"]["rows"], 8);
    app
}

/// Sends the fixture rows as two requests with ids `{prefix}-0` and `{prefix}-1` and waits until
/// the prediction log has written them.
async fn send_and_wait(app: &TestApp, prefix: &str) {
    let (rows, _) = fixture();
    let (_, before) = app
        .call("GET", "/api/v1/monitoring/prediction-log", None)
        .await;
    for (i, half) in rows.chunks(16).enumerate() {
        let mut request = v2_request(half);
        request["id"] = json!(format!("{prefix}-{i}"));
        let (status, reply) = infer(&app.http, &app.base, "iris-api", &request).await;
        assert_eq!(
            (status, reply["id"].as_str()),
            (200, Some(format!("{prefix}-{i}").as_str()))
        );
    }
    let target = before["rows_written"].as_u64().unwrap() + 8;
    for _ in 0..100 {
        let (_, counts) = app
            .call("GET", "/api/v1/monitoring/prediction-log", None)
            .await;
        if counts["rows_written"].as_u64().unwrap() >= target {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the prediction log never wrote the rows");
}

async fn results(app: &TestApp, metric: &str) -> Value {
    let path = format!("/api/v1/deployments/iris-api/monitoring/results?metric={metric}");
    app.call("GET", &path, None).await.1["points"].clone()
}

fn around_now() -> Value {
    json!({ "start": now_millis() - 60_000, "end": now_millis() + 60_000 })
}

#[tokio::test]
async fn logged_predictions_are_evaluated_against_the_reference_and_labels() {
    let app = monitored_app().await;
    send_and_wait(&app, "req").await;
    let window = around_now();

    // Before any label: drift, but no performance yet.
    let (_, reply) = native(
        &app,
        Method::POST,
        "deployments/iris-api/monitoring/evaluate",
        window.clone(),
    )
    .await;
    assert_eq!(reply["evaluation"]["performance"], Value::Null);
    assert_eq!(reply["evaluation"]["drift"]["dataset_drift"], false);

    // Labels arrive late; evaluating the same window again joins them.
    let (_, expected) = fixture();
    let labels: Vec<Value> = expected
        .iter()
        .enumerate()
        .map(|(i, label)| json!({ "request_id": format!("req-{}", i / 4), "row": i % 4, "label": label }))
        .collect();
    let (status, reply) = native(
        &app,
        Method::POST,
        "deployments/iris-api/labels",
        json!({ "labels": labels }),
    )
    .await;
    assert_eq!((status, reply), (200, json!({ "stored": 8 })));
    // One label wrong, sent again: a correction replaces the earlier label.
    let wrong = (expected[0] + 1) % 3;
    let (status, _) = native(
        &app,
        Method::POST,
        "deployments/iris-api/labels",
        json!({ "request_id": "req-0", "label": wrong }),
    )
    .await;
    assert_eq!(status, 200);

    let (status, reply) = native(
        &app,
        Method::POST,
        "deployments/iris-api/monitoring/evaluate",
        window.clone(),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let evaluation = &reply["evaluation"];
    assert_eq!(evaluation["rows"], 8);
    assert_eq!(evaluation["drift"]["dataset_drift"], false);
    assert_eq!(evaluation["drift"]["number_of_columns"], 4);
    assert_eq!(evaluation["performance"]["labeled_rows"], 8);
    let metrics: Vec<(String, f64)> =
        serde_json::from_value(evaluation["performance"]["metrics"].clone()).unwrap();
    let accuracy = metrics.iter().find(|(m, _)| m == "accuracy").unwrap().1;
    assert!((accuracy - 7.0 / 8.0).abs() < 1e-12, "{metrics:?}");

    // The window's stored results were replaced, not duplicated, and gained the accuracy.
    let rows = results(&app, "rows").await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["value"], 8.0);
    assert_eq!(results(&app, "accuracy").await.as_array().unwrap().len(), 1);

    // A window before the traffic has no rows and no verdict.
    let (_, reply) = native(
        &app,
        Method::POST,
        "deployments/iris-api/monitoring/evaluate",
        json!({ "start": 0, "end": 1000 }),
    )
    .await;
    assert_eq!(reply["evaluation"]["rows"], 0);
    assert_eq!(reply["evaluation"]["drift"], Value::Null);
}

#[tokio::test]
async fn bad_monitoring_requests_change_nothing() {
    let app = spawn_app().await;
    register_onnx(&app, "iris", LOGISTIC).await;
    deploy(
        &app,
        json!({ "name": "iris-api", "model": "iris", "version": 1 }),
    )
    .await;

    // No reference yet: the evaluation says what is missing.
    let (status, reply) = native(
        &app,
        Method::POST,
        "deployments/iris-api/monitoring/evaluate",
        json!({ "window": "1h" }),
    )
    .await;
    assert_eq!(
        (status, reply["error_code"].as_str()),
        (404, Some("RESOURCE_DOES_NOT_EXIST"))
    );
    assert!(
        reply["message"].as_str().unwrap().contains("reference"),
        "{reply}"
    );

    for (query, body, want) in [
        ("format=csv&target=nope", reference_csv(), 400),
        ("format=csv", "a,b\n1,2\n3\n".to_owned(), 400),
        ("format=parquet", "not parquet".to_owned(), 400),
        ("format=xlsx", reference_csv(), 400),
        ("run_id=abc", reference_csv(), 400),
        ("format=csv&task=clustering", reference_csv(), 400),
    ] {
        let (status, reply) = put_reference(&app, query, &body).await;
        assert_eq!(status, want, "{query}: {reply}");
    }
    let (status, _) = app
        .call("GET", "/api/v1/models/iris/versions/1/reference", None)
        .await;
    assert_eq!(status, 404, "failed uploads stored nothing");
    let (status, _) = app
        .call(
            "PUT",
            "/api/v1/models/iris/versions/7/reference?format=csv",
            None,
        )
        .await;
    assert_eq!(status, 404);

    let bad_labels = [
        json!({ "labels": [] }),
        json!({ "labels": [{ "request_id": "a", "label": 1 }, { "request_id": "", "label": 1 }] }),
        json!({ "request_id": "a", "row": -1, "label": 1 }),
        json!({ "request_id": "a", "label": [1] }),
        json!({ "request_id": "a" }),
    ];
    for body in bad_labels {
        let (status, reply) = native(
            &app,
            Method::POST,
            "deployments/iris-api/labels",
            body.clone(),
        )
        .await;
        assert_eq!(status, 400, "{body}: {reply}");
    }
    let (status, _) = native(
        &app,
        Method::POST,
        "deployments/nope/labels",
        json!({ "request_id": "a", "label": 1 }),
    )
    .await;
    assert_eq!(status, 404);

    for body in [
        json!({ "window": "5s" }),
        json!({ "window": "1h", "start": 1 }),
        json!({ "start": 10, "end": 5 }),
    ] {
        let (status, reply) = native(
            &app,
            Method::POST,
            "deployments/iris-api/monitoring/evaluate",
            body.clone(),
        )
        .await;
        assert_eq!(status, 400, "{body}: {reply}");
    }
    for body in [
        json!({ "metric": "drift_share", "threshold": "high" }),
        json!({ "metric": "drift_share", "threshold": 0.5, "window": "2s" }),
        json!({ "metric": "drift_share", "threshold": 0.5, "webhook_url": "file:///etc/passwd" }),
        json!({ "metric": "drift_share", "threshold": 0.5, "severity": "apocalyptic" }),
        json!({ "metric": "", "threshold": 0.5 }),
    ] {
        let (status, reply) = native(
            &app,
            Method::POST,
            "deployments/iris-api/alerts/rules",
            body.clone(),
        )
        .await;
        assert_eq!(status, 400, "{body}: {reply}");
    }
    let (_, rules) = app
        .call("GET", "/api/v1/deployments/iris-api/alerts/rules", None)
        .await;
    assert_eq!(rules["rules"], json!([]));
    let (status, _) = app
        .call(
            "DELETE",
            "/api/v1/deployments/iris-api/alerts/rules/missing",
            None,
        )
        .await;
    assert_eq!(status, 404);
}

/// A webhook receiver that answers the given statuses in turn (the last one from then on) and
/// records the bodies it was sent.
async fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        for attempt in 0.. {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 65536];
            // Read the head, then as many body bytes as Content-Length says.
            let body = loop {
                let n = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break body.to_owned();
                    }
                }
            };
            seen.lock()
                .unwrap()
                .push(serde_json::from_str(&body).unwrap());
            let status = statuses[attempt.min(statuses.len() - 1)];
            let reply =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            socket.write_all(reply.as_bytes()).await.unwrap();
        }
    });
    (url, bodies)
}

#[tokio::test]
async fn alert_webhooks_are_retried_until_delivered_or_given_up() {
    let app = monitored_app().await;
    send_and_wait(&app, "a").await;
    let (flaky, flaky_bodies) = receiver(vec![500, 204]).await;
    let (down, down_bodies) = receiver(vec![503]).await;
    for (url, severity) in [(&flaky, "warning"), (&down, "critical")] {
        let rule = json!({ "metric": "rows", "comparison": "above", "threshold": 1, "severity": severity, "webhook_url": url });
        let (status, reply) = native(
            &app,
            Method::POST,
            "deployments/iris-api/alerts/rules",
            rule,
        )
        .await;
        assert_eq!(status, 200, "{reply}");
    }

    let (_, reply) = native(
        &app,
        Method::POST,
        "deployments/iris-api/monitoring/evaluate",
        around_now(),
    )
    .await;
    assert_eq!(reply["evaluation"]["alerts"].as_array().unwrap().len(), 2);

    let delivery = |events: &Value, severity: &str| {
        let event = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["severity"] == severity)
            .unwrap()
            .clone();
        (
            event["delivery"].as_str().unwrap().to_owned(),
            event["attempts"].as_u64().unwrap(),
        )
    };
    let mut events = Value::Null;
    for _ in 0..100 {
        (_, events) = app
            .call("GET", "/api/v1/deployments/iris-api/alerts/events", None)
            .await;
        if delivery(&events, "warning").0 != "pending"
            && delivery(&events, "critical").0 != "pending"
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivery(&events, "warning"), ("delivered".to_owned(), 2));
    assert_eq!(delivery(&events, "critical"), ("failed".to_owned(), 5));
    assert_eq!(flaky_bodies.lock().unwrap().len(), 2);
    assert_eq!(down_bodies.lock().unwrap().len(), 5);
    let payload = flaky_bodies.lock().unwrap()[1].clone();
    assert_eq!(payload["event"]["metric"], "rows");
    assert_eq!(payload["evaluation"]["deployment"], "iris-api");
}

#[tokio::test]
async fn a_firing_rule_submits_its_retraining_job() {
    let app = monitored_app().await;
    send_and_wait(&app, "a").await;
    let retrain = json!({
        "command": ["/bin/sh", "-c", "echo retraining $GALLEY_ALERT_DEPLOYMENT on $GALLEY_ALERT_METRIC"],
        "resources": {"cpu": "100m", "memory": "64Mi"}
    });
    let rule =
        json!({ "metric": "rows", "comparison": "above", "threshold": 1, "retrain_job": retrain });
    let (status, reply) = native(
        &app,
        Method::POST,
        "deployments/iris-api/alerts/rules",
        rule,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    // A job that could never be submitted is refused with the rule.
    let bad = json!({ "metric": "rows", "threshold": 1, "retrain_job": { "team": "ghosts", "command": ["true"] } });
    let (status, reply) =
        native(&app, Method::POST, "deployments/iris-api/alerts/rules", bad).await;
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("unknown team"),
        "{reply}"
    );

    let (_, reply) = native(
        &app,
        Method::POST,
        "deployments/iris-api/monitoring/evaluate",
        around_now(),
    )
    .await;
    let job_id = reply["evaluation"]["alerts"][0]["retrain_job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no retraining job: {reply}"))
        .to_string();
    let (_, events) = app
        .call("GET", "/api/v1/deployments/iris-api/alerts/events", None)
        .await;
    assert_eq!(events["events"][0]["retrain_job_id"], job_id.as_str());
    let mut state = String::new();
    for _ in 0..100 {
        let (_, job) = app
            .call("GET", &format!("/api/v1/jobs/{job_id}"), None)
            .await;
        state = job["job"]["state"].as_str().unwrap_or_default().to_string();
        if state == "succeeded" || state == "failed" {
            assert_eq!(job["job"]["name"], "retrain-iris-api");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "succeeded");
    let logs = app
        .http
        .get(app.url(&format!("/api/v1/jobs/{job_id}/logs")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(logs.contains("retraining iris-api on rows"), "{logs}");
}
