//! The Open Inference Protocol (V2, KServe/Triton) REST API, with Triton's binary tensor
//! extension, and the KServe V1-style `:predict` route. Mounted at the server root.

pub mod codec;
mod routes;

use axum::routing::{get, post};

use crate::routes::{route, Route};

/// Inference routes; a deployment's name is the protocol's model name.
pub fn inference_routes() -> Vec<Route> {
    use routes as r;
    vec![
        route("GET", "/v2/health/live", "Server liveness", get(r::live)),
        route("GET", "/v2/health/ready", "Server readiness", get(r::ready)),
        route(
            "GET",
            "/v2",
            "Server metadata and protocol extensions",
            get(r::server_metadata),
        ),
        route(
            "GET",
            "/v2/models/{name}",
            "A deployment's inputs, outputs and loaded versions",
            get(r::model_metadata),
        ),
        route(
            "GET",
            "/v2/models/{name}/versions/{version}",
            "Metadata of one loaded version",
            get(r::version_metadata),
        ),
        route(
            "GET",
            "/v2/models/{name}/ready",
            "200 when the deployment is loaded",
            get(r::model_ready_route),
        ),
        route(
            "GET",
            "/v2/models/{name}/versions/{version}/ready",
            "200 when the version is loaded",
            get(r::version_ready_route),
        ),
        route(
            "POST",
            "/v2/models/{name}/infer",
            "Inference (JSON or binary tensors); canary and shadow apply",
            post(r::infer_route),
        ),
        route(
            "POST",
            "/v2/models/{name}/versions/{version}/infer",
            "Inference on one loaded version",
            post(r::version_infer_route),
        ),
        route(
            "POST",
            "/v1/models/{target}",
            "KServe V1-style prediction: POST /v1/models/NAME:predict {\"instances\": [...]}",
            post(r::predict),
        ),
    ]
}
