//! Health, metrics, probes and the OpenAPI document.

use crate::app::spawn_app;

#[tokio::test]
async fn health_version_server_info_and_openapi() {
    let app = spawn_app().await;
    let health = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let version = app
        .http
        .get(app.url("/version"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(version.starts_with("3."), "{version}");
    let info: serde_json::Value = app
        .http
        .get(app.url("/api/3.0/mlflow/server-info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["multipart_uploads_enabled"], false);
    let openapi: serde_json::Value = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");
    assert!(openapi["paths"]["/api/2.0/mlflow/runs/search"]["post"].is_object());
    assert!(openapi["paths"]["/api/2.0/mlflow-artifacts/artifacts/{*path}"]["put"].is_object());
}

#[tokio::test]
async fn metrics_count_requests_per_route() {
    let app = spawn_app().await;
    app.get("experiments/get", &[("experiment_id", "0")]).await;
    app.get("experiments/get", &[("experiment_id", "404")])
        .await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(
        r#"galley_http_requests_total{method="GET",route="/api/2.0/mlflow/experiments/get",status="200"}"#
    ), "{text}");
    assert!(text.contains(r#"route="/api/2.0/mlflow/experiments/get",status="404"}"#));
    assert!(text.contains("galley_http_request_duration_seconds_bucket"));
}
