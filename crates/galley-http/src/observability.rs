//! Request metrics (`galley_http_*`), the Prometheus recorder, and the health and probe endpoints.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::AppState;

/// Latency buckets from 100µs to 10s: tracking calls are sub-millisecond, artifact transfers are not.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The process-wide Prometheus recorder; installed once, shared by every server in the process.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .expect("latency buckets are non-empty");
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is already global (embedding); render an empty one of our own.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// Counts and times every request by method, route template and status.
pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!("galley_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("galley_http_request_duration_seconds", "method" => method, "route" => route).record(elapsed);
    response
}

pub async fn metrics_endpoint(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        s.prometheus.render(),
    )
}

pub async fn health(State(s): State<AppState>) -> Response {
    if (s.health_check)().await {
        Json(json!({ "status": "ok" })).into_response()
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": "metadata store unreachable" })),
        )
            .into_response()
    }
}

/// The MLflow version whose server behaviour Galley reproduces. Below 3.4 on purpose: from 3.4
/// clients upload traces over OTLP, which Galley does not accept yet.
pub const MLFLOW_COMPAT_VERSION: &str = "3.3.2";

pub async fn version() -> &'static str {
    MLFLOW_COMPAT_VERSION
}

pub async fn server_info() -> Json<serde_json::Value> {
    Json(json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
    }))
}
