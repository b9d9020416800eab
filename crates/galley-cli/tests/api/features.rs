//! The feature store end to end through the HTTP API: applying definitions with plans and
//! refusals, a training set with hand-computed expectations, materialization, online reads in
//! Feast's layout with statuses and ttl, push, and bad input that changes nothing.

use serde_json::{json, Value};

use crate::app::{spawn_app, spawn_app_with, TestApp};
use crate::cli::galley_async;

const DRIVER_STATS: &str = "\
driver_id,event_timestamp,created,conv_rate,trips
1001,2024-01-01T00:00:00Z,2024-01-01T00:00:00Z,0.1,10
1001,2024-01-02T00:00:00Z,2024-01-02T00:00:00Z,0.2,20
1001,2024-01-02T00:00:00Z,2024-01-03T00:00:00Z,0.25,21
1002,2024-01-01T12:00:00Z,2024-01-01T12:00:00Z,0.5,50
";

fn definitions(dir: &std::path::Path, hourly_schema: &str) -> String {
    format!(
        r#"
entities:
  - {{name: driver, join_keys: [driver_id], value_type: int64}}
sources:
  - {{name: driver_stats, path: {}, timestamp_field: event_timestamp, created_timestamp_column: created}}
feature_views:
  - name: driver_hourly
    entities: [driver]
    source: driver_stats
    ttl: 1d
    schema: [{hourly_schema}]
  - name: driver_lifetime
    entities: [driver]
    source: driver_stats
    ttl: 0
    schema: [{{name: trips, dtype: int64}}]
feature_services:
  - {{name: model_a, features: [driver_hourly:conv_rate, driver_lifetime:trips]}}
"#,
        dir.join("driver_stats.csv").display()
    )
}

const FULL_SCHEMA: &str = "{name: conv_rate, dtype: float64}, {name: trips, dtype: int64}";

async fn apply(app: &TestApp, yaml: &str, query: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url(&format!("/api/v1/features/apply{query}")))
        .body(yaml.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn setup() -> TestApp {
    setup_app(spawn_app().await).await
}

async fn setup_app(app: TestApp) -> TestApp {
    std::fs::write(app.data_dir.path().join("driver_stats.csv"), DRIVER_STATS).unwrap();
    let (status, reply) = apply(&app, &definitions(app.data_dir.path(), FULL_SCHEMA), "").await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["applied"], true);
    app
}

async fn version(app: &TestApp) -> i64 {
    let (status, reply) = app.call("GET", "/api/v1/features", None).await;
    assert_eq!(status, 200, "{reply}");
    reply["version"].as_i64().unwrap()
}

#[tokio::test]
async fn applies_are_planned_idempotent_and_refuse_breaking_or_bad_changes() {
    let app = setup().await;
    let dir = app.data_dir.path();
    assert_eq!(version(&app).await, 1);

    // The same file again: nothing to do.
    let (status, reply) = apply(&app, &definitions(dir, FULL_SCHEMA), "").await;
    assert_eq!((status, &reply["applied"]), (200, &json!(false)), "{reply}");

    // Removing a feature breaks readers: refused, then shown in a dry run, then forced.
    let narrower = definitions(dir, "{name: conv_rate, dtype: float64}");
    let (status, reply) = apply(&app, &narrower, "").await;
    assert_eq!(status, 409, "{reply}");
    assert_eq!(reply["error_code"], "RESOURCE_CONFLICT");
    assert!(reply["message"]
        .as_str()
        .unwrap()
        .contains("feature trips removed"));
    let (status, reply) = apply(&app, &narrower, "?dry_run=true&force=true").await;
    assert_eq!((status, &reply["applied"]), (200, &json!(false)), "{reply}");
    assert!(reply["plan"].to_string().contains("BREAKING"), "{reply}");
    assert_eq!(version(&app).await, 1);

    // A feature the source does not have, and a type the column cannot hold: 400, nothing applied.
    let wrong = definitions(
        dir,
        "{name: conv_rate, dtype: int64}, {name: speed, dtype: float64}",
    );
    let (status, reply) = apply(&app, &wrong, "?force=true").await;
    assert_eq!(status, 400, "{reply}");
    let message = reply["message"].as_str().unwrap();
    assert!(message.contains("no feature column \"speed\""), "{message}");
    assert!(message.contains("\"conv_rate\" is Float64"), "{message}");
    let (status, reply) = apply(&app, "feature_views: [{name: v}]", "").await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(version(&app).await, 1);

    let (status, reply) = apply(&app, &narrower, "?force=true").await;
    assert_eq!((status, &reply["version"]), (200, &json!(2)), "{reply}");

    let (status, reply) = app
        .call("GET", "/api/v1/features/objects/driver_hourly", None)
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["kind"], "feature_view");
    assert_eq!(reply["join_keys"], json!(["driver_id"]));
    let (status, _) = app.call("GET", "/api/v1/features/objects/nope", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn training_sets_are_point_in_time_correct_and_keep_every_entity_row() {
    let app = setup().await;
    let entity_df = "\
driver_id,event_timestamp,label
1001,2024-01-02T00:00:00Z,1
1001,2024-01-01T12:00:00Z,0
1001,2024-01-01T12:00:00Z,0
1002,2024-01-03T00:00:00Z,1
1003,2024-01-02T00:00:00Z,0
1002,2024-01-02T12:00:00Z,1
";
    let response = app
        .http
        .post(app.url("/api/v1/features/historical"))
        .query(&[
            ("feature_service", "model_a"),
            ("full_feature_names", "true"),
        ])
        .header("content-type", "text/csv")
        .header("accept", "text/csv")
        .body(entity_df)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let csv = response.text().await.unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "driver_id",
            "event_timestamp",
            "label",
            "driver_hourly__conv_rate",
            "driver_lifetime__trips"
        ]
    );
    let cells: Vec<(String, String)> = lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[3].to_string(), fields[4].to_string())
        })
        .collect();
    let expected = [
        // The correction (same event time, created later) wins the tie.
        ("0.25", "21"),
        ("0.1", "10"),
        // A duplicate entity row is kept.
        ("0.1", "10"),
        // 1.5 days old: outside the hourly view's 1d ttl, inside the lifetime view's none.
        ("", "50"),
        // An entity with no rows at all.
        ("", ""),
        // Exactly one ttl old: the bound is inclusive.
        ("0.5", "50"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(cells, expected, "{csv}");

    // The CLI streams the same request up and the answer down into a file.
    let dir = app.data_dir.path();
    let (entity_path, output) = (dir.join("entity.csv"), dir.join("training.csv"));
    std::fs::write(&entity_path, entity_df).unwrap();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let (entity_arg, output_arg) = (path(&entity_path), path(&output));
    let args = [
        "features",
        "get-historical",
        "--entity-df",
        &entity_arg,
        "--feature-service",
        "model_a",
        "--full-feature-names",
        "--output",
        &output_arg,
    ];
    let (ok, _, stderr) = galley_async(&app.base, &args).await;
    assert!(ok, "{stderr}");
    assert_eq!(std::fs::read_to_string(&output).unwrap(), csv);
    // A refused request leaves no file behind, whole or partial.
    let refused = dir.join("refused.csv");
    let refused_arg = path(&refused);
    let args = [
        "features",
        "get-historical",
        "--entity-df",
        &entity_arg,
        "--features",
        "driver_hourly:speed",
        "--output",
        &refused_arg,
    ];
    let (ok, _, stderr) = galley_async(&app.base, &args).await;
    assert!(!ok && stderr.contains("speed"), "{stderr}");
    assert!(!refused.exists() && !dir.join("refused.csv.partial").exists());

    // Bad input: unknown features, a missing timestamp column, a malformed file.
    let ask = |query: Vec<(&'static str, &'static str)>, body: &'static str| {
        app.http
            .post(app.url("/api/v1/features/historical"))
            .query(&query)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    let unknown = ask(vec![("features", "driver_hourly:speed")], entity_df)
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let no_time = ask(
        vec![("features", "driver_hourly:conv_rate")],
        "driver_id\n1001\n",
    )
    .await
    .unwrap();
    assert_eq!(no_time.status(), 400);
    let body: Value = no_time.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("event_timestamp"),
        "{body}"
    );
    let malformed = app
        .http
        .post(app.url("/api/v1/features/historical"))
        .query(&[("features", "driver_hourly:conv_rate")])
        .header("content-type", "application/vnd.apache.parquet")
        .body("not a parquet file")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
}

#[tokio::test]
async fn scheduled_materialization_fills_the_online_store_and_reports_freshness() {
    let app = spawn_app_with(|config| {
        config.materialize_interval = Some(std::time::Duration::from_millis(200))
    })
    .await;
    let app = setup_app(app).await;
    let mut materialized = Value::Null;
    for _ in 0..100 {
        let (_, reply) = app
            .call("GET", "/api/v1/features/objects/driver_lifetime", None)
            .await;
        if reply["materializations"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
        {
            materialized = reply;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // No ttl: the first scheduled run reads from the beginning.
    assert_eq!(
        materialized["materializations"][0]["rows"], 2,
        "{materialized}"
    );
    assert_eq!(materialized["newest_event"], "2024-01-02T00:00:00Z");
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("galley_feature_freshness_seconds{view=\"driver_lifetime\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("galley_feature_materialized_rows_total"));
}

async fn online(app: &TestApp, request: Value) -> Value {
    let (status, reply) = app
        .call("POST", "/get-online-features", Some(&request))
        .await;
    assert_eq!(status, 200, "{reply}");
    reply
}

#[tokio::test]
async fn materialized_and_pushed_rows_are_served_online_with_ttl_and_statuses() {
    let app = setup().await;
    let (status, reply) = app
        .call(
            "POST",
            "/api/v1/features/materialize",
            Some(&json!({"start": "2024-01-01T00:00:00Z", "end": "2024-01-04T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let done = reply["materializations"].as_array().unwrap();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0]["rows"], 2, "{reply}");
    let stats = &done[0]["statistics"][0];
    assert_eq!(
        (stats["feature"].as_str(), stats["count"].as_u64()),
        (Some("conv_rate"), Some(2))
    );

    let request = json!({
        "feature_service": "model_a",
        "entities": {"driver_id": [1001, 1002, 1003]},
    });
    let reply = online(&app, request.clone()).await;
    assert_eq!(
        reply["metadata"]["feature_names"],
        json!(["driver_id", "conv_rate", "trips"])
    );
    let results = reply["results"].as_array().unwrap();
    assert_eq!(results[0]["values"], json!([1001, 1002, 1003]));
    // 2024's rows are far older than the hourly view's 1d ttl.
    assert_eq!(
        results[1]["statuses"],
        json!(["OUTSIDE_MAX_AGE", "OUTSIDE_MAX_AGE", "NOT_FOUND"])
    );
    assert_eq!(results[2]["values"], json!([21, 50, null]));
    assert_eq!(
        results[2]["statuses"],
        json!(["PRESENT", "PRESENT", "NOT_FOUND"])
    );
    assert_eq!(results[2]["event_timestamps"][0], "2024-01-02T00:00:00Z");

    // A fresh push is served at once; an older one does not overwrite it.
    let now = chrono_now();
    let push = |time: &str, rate: f64| {
        json!({"feature_view": "driver_hourly", "df": {
            "driver_id": [1001], "event_timestamp": [time], "conv_rate": [rate], "trips": [7]
        }})
    };
    let (status, reply) = app
        .call("POST", "/api/v1/features/push", Some(&push(&now, 0.9)))
        .await;
    assert_eq!((status, &reply["written"]), (200, &json!(1)), "{reply}");
    let (status, reply) = app
        .call(
            "POST",
            "/api/v1/features/push",
            Some(&push("2024-06-01T00:00:00Z", 0.3)),
        )
        .await;
    assert_eq!((status, &reply["stale"]), (200, &json!(1)), "{reply}");
    let reply = online(&app, request).await;
    assert_eq!(reply["results"][1]["values"][0], 0.9);
    assert_eq!(reply["results"][1]["statuses"][0], "PRESENT");

    // The native layout: one vector per entity.
    let (status, reply) = app
        .call(
            "POST",
            "/api/v1/features/online",
            Some(
                &json!({"features": ["driver_lifetime:trips"], "entities": {"driver_id": [1002]}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["vectors"][0]["values"], json!([1002, 50]));

    // Bad input changes nothing: a wrong type, a missing join key, an unknown view.
    let bad_type = json!({"feature_view": "driver_hourly", "df": {
        "driver_id": [1001], "event_timestamp": [now], "conv_rate": ["fast"], "trips": [1]
    }});
    let (status, reply) = app
        .call("POST", "/api/v1/features/push", Some(&bad_type))
        .await;
    assert_eq!(status, 400, "{reply}");
    let no_key = json!({"features": ["driver_hourly:conv_rate"], "entities": {"rider_id": [1]}});
    let (status, reply) = app
        .call("POST", "/get-online-features", Some(&no_key))
        .await;
    assert_eq!(status, 400, "{reply}");
    let unknown = json!({"features": ["nope:x"], "entities": {"driver_id": [1]}});
    let (status, _) = app
        .call("POST", "/get-online-features", Some(&unknown))
        .await;
    assert_eq!(status, 404);
    let reply = online(
        &app,
        json!({"features": ["driver_hourly:conv_rate"], "entities": {"driver_id": [1001]}}),
    )
    .await;
    assert_eq!(reply["results"][1]["values"][0], 0.9);

    // Incremental materialization continues from the last end.
    let (status, reply) = app
        .call(
            "POST",
            "/api/v1/features/materialize",
            Some(&json!({"views": ["driver_lifetime"]})),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let next = &reply["materializations"][0];
    assert_eq!(next["start"], done[1]["end"], "{reply}");
    assert_eq!(next["rows"], 0);
}

fn chrono_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    galley_features_runtime::format_time(now)
}
