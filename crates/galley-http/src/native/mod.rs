//! Galley's native REST API under `/api/v1`: what no existing client covers. Errors use the same
//! `{"error_code", "message"}` body and status table as the MLflow routes.

mod models;

use axum::routing::{get, put, MethodRouter};

use crate::routes::Route;
use crate::AppState;

pub const PREFIX: &str = "/api/v1";

fn route(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    handler: MethodRouter<AppState>,
) -> Route {
    Route {
        method,
        path,
        summary,
        handler,
    }
}

/// Registry extras: lineage, model cards and detected signatures, relative to [`PREFIX`].
pub fn model_routes() -> Vec<Route> {
    use models as m;
    vec![
        route(
            "GET",
            "/models/{name}/versions/{version}/lineage",
            "The run, experiment, parameters, metrics, datasets and logged model behind a version",
            get(m::lineage),
        ),
        route(
            "GET",
            "/models/{name}/versions/{version}/card",
            "A version's model card",
            get(m::get_card),
        ),
        route(
            "PUT",
            "/models/{name}/versions/{version}/card",
            "Replace a version's model card",
            put(m::put_card),
        ),
        route(
            "GET",
            "/models/{name}/versions/{version}/card/markdown",
            "The model card rendered as markdown, with facts from the registry and the run",
            get(m::card_markdown),
        ),
        route(
            "GET",
            "/models/{name}/versions/{version}/signature",
            "The format and input/output tensors found in a version's files",
            get(m::signature),
        ),
    ]
}
