//! Galley's native REST API under `/api/v1`: what no existing client covers. Errors use the same
//! `{"error_code", "message"}` body and status table as the MLflow routes.

mod deployments;
mod models;

use axum::routing::{delete, get, patch, post, put};

use crate::routes::{route, Route};

pub const PREFIX: &str = "/api/v1";

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

/// Deployments of registry versions, relative to [`PREFIX`].
pub fn deployment_routes() -> Vec<Route> {
    use deployments as d;
    vec![
        route(
            "POST",
            "/deployments",
            "Deploy a registered model version (by number or alias)",
            post(d::create),
        ),
        route("GET", "/deployments", "List deployments", get(d::list)),
        route(
            "GET",
            "/deployments/{name}",
            "A deployment with its loaded versions, replicas and queues",
            get(d::get),
        ),
        route(
            "PATCH",
            "/deployments/{name}",
            "Change version, batching, replicas, canary or shadow; the old version serves until the new one is warm",
            patch(d::update),
        ),
        route(
            "DELETE",
            "/deployments/{name}",
            "Delete a deployment and unload its versions",
            delete(d::delete),
        ),
        route(
            "POST",
            "/deployments/{name}/rollback",
            "Serve the version that served before the last change",
            post(d::rollback),
        ),
        route(
            "GET",
            "/deployments/{name}/shadow",
            "The latest shadow answers, compared with the served ones",
            get(d::shadow),
        ),
    ]
}
