//! Galley's HTTP layer: the axum router for every wire format Galley speaks, error rendering,
//! request metrics and the OpenAPI document. Only this crate knows about HTTP and JSON.

pub mod error;
mod extract;
pub mod mlflow;
mod native;
pub mod observability;
mod oip;
mod routes;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};
use galley_artifacts::ArtifactStore;
use galley_compute_runtime::ComputeService;
use galley_features_runtime::FeatureService;
use galley_inference::ServingService;
use galley_monitoring_runtime::MonitoringService;
use galley_registry::RegistryService;
use galley_tracking::TrackingService;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// Checks the server's dependencies for `/health`.
pub type HealthCheck = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Everything a handler may use, shared: every request clones the state it is handed, so a
/// clone is one reference count, not one per service.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The domain services behind the routes.
pub struct Services {
    pub tracking: TrackingService,
    pub registry: RegistryService,
    pub serving: ServingService,
    pub monitoring: MonitoringService,
    pub compute: ComputeService,
    pub features: FeatureService,
    pub artifacts: ArtifactStore,
    pub prometheus: PrometheusHandle,
    pub health_check: HealthCheck,
}

/// JSON request bodies above this are refused; MLflow caps a log-batch at 1 MB, artifacts stream.
const JSON_BODY_LIMIT: usize = 16 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let tracking = mlflow::tracking_routes();
    let registry = mlflow::registry_routes();
    let artifacts = mlflow::artifact_routes();
    let models = native::model_routes();
    let deployments = native::deployment_routes();
    let monitoring = native::monitoring_routes();
    let compute = native::compute_routes();
    let features = native::feature_routes();
    let feast = native::feast_routes();
    let inference = oip::inference_routes();
    let openapi = Arc::new(routes::openapi(&[
        (mlflow::PREFIXES[0], &tracking),
        (mlflow::PREFIXES[0], &registry),
        (mlflow::ARTIFACT_PREFIXES[0], &artifacts),
        (native::PREFIX, &models),
        (native::PREFIX, &deployments),
        (native::PREFIX, &monitoring),
        (native::PREFIX, &compute),
        (native::PREFIX, &features),
        ("", &feast),
        ("", &inference),
    ]));

    let mut router = Router::new()
        .route("/health", get(observability::health))
        .route("/metrics", get(observability::metrics_endpoint))
        .route("/version", get(observability::version))
        .route(
            "/api/3.0/mlflow/server-info",
            get(observability::server_info),
        )
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(openapi.as_ref().clone()) }),
        );
    router = routes::mount(router, &mlflow::PREFIXES, &tracking);
    router = routes::mount(router, &mlflow::PREFIXES, &registry);
    router = routes::mount(router, &mlflow::ARTIFACT_PREFIXES, &artifacts);
    router = routes::mount(router, &[native::PREFIX], &models);
    router = routes::mount(router, &[native::PREFIX], &deployments);
    router = routes::mount(router, &[native::PREFIX], &monitoring);
    router = routes::mount(router, &[native::PREFIX], &compute);
    router = routes::mount(router, &[native::PREFIX], &features);
    router = routes::mount(router, &[""], &feast);
    router = routes::mount(router, &[""], &inference);
    router
        .fallback(error::endpoint_not_found)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(axum::middleware::from_fn(observability::record))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(|_| {
            use axum::response::IntoResponse as _;
            error::ApiError::new(galley_core::ErrorCode::InternalError, "internal error")
                .into_response()
        }))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
