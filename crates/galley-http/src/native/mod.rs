//! Galley's native REST API under `/api/v1`: what no existing client covers. Errors use the same
//! `{"error_code", "message"}` body and status table as the MLflow routes.

mod compute;
mod deployments;
mod features;
mod models;
mod monitoring;

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

/// Monitoring: labels, reference profiles, window evaluations, results and reports, relative to
/// [`PREFIX`].
pub fn monitoring_routes() -> Vec<Route> {
    use monitoring as m;
    vec![
        route(
            "POST",
            "/deployments/{name}/labels",
            "Ground truth for answered requests, by request id (one label, or many under 'labels')",
            post(m::put_labels),
        ),
        route(
            "POST",
            "/deployments/{name}/monitoring/evaluate",
            "Evaluate a window of logged predictions: drift against the reference, performance against labels",
            post(m::evaluate),
        ),
        route(
            "GET",
            "/deployments/{name}/monitoring/report",
            "A window's drift report as JSON or a self-contained HTML page (format=html)",
            get(m::report),
        ),
        route(
            "GET",
            "/deployments/{name}/monitoring/results",
            "Stored evaluation results as time series (metric, start, end)",
            get(m::results),
        ),
        route(
            "PUT",
            "/models/{name}/versions/{version}/reference",
            "Profile reference data (a CSV/Parquet body or a run artifact) for a version",
            put(m::put_reference),
        ),
        route(
            "GET",
            "/models/{name}/versions/{version}/reference",
            "A version's reference profile summary",
            get(m::get_reference),
        ),
        route(
            "POST",
            "/deployments/{name}/alerts/rules",
            "Add an alert rule: metric, column, above/below a threshold, window, severity, webhook",
            post(m::create_rule),
        ),
        route(
            "GET",
            "/deployments/{name}/alerts/rules",
            "A deployment's alert rules",
            get(m::rules),
        ),
        route(
            "DELETE",
            "/deployments/{name}/alerts/rules/{id}",
            "Remove an alert rule",
            delete(m::delete_rule),
        ),
        route(
            "GET",
            "/deployments/{name}/alerts/events",
            "Alerts fired, newest first, with their webhook delivery state",
            get(m::events),
        ),
        route(
            "GET",
            "/monitoring/prediction-log",
            "Rows and files written by the prediction log, and records dropped",
            get(m::prediction_log),
        ),
    ]
}

/// Jobs, queues and the inventory, relative to [`PREFIX`].
pub fn compute_routes() -> Vec<Route> {
    use compute as c;
    vec![
        route(
            "POST",
            "/jobs",
            "Submit a job to a team's queue",
            post(c::submit),
        ),
        route(
            "GET",
            "/jobs",
            "List jobs, newest first, by team, queue and state",
            get(c::list),
        ),
        route(
            "GET",
            "/jobs/{id}",
            "A job, why it waits or how it ended, and its events",
            get(c::get),
        ),
        route("POST", "/jobs/{id}/cancel", "Cancel a job", post(c::cancel)),
        route(
            "GET",
            "/jobs/{id}/logs",
            "A replica's output from a byte offset (live while it runs)",
            get(c::logs),
        ),
        route(
            "GET",
            "/queues",
            "Queues with quotas, usage and job counts",
            get(c::queues),
        ),
        route(
            "GET",
            "/queues/{name}",
            "A queue and its pending and running jobs",
            get(c::queue),
        ),
        route(
            "POST",
            "/queues/apply",
            "Apply a queues file (teams, queues, quotas, policy); dry_run shows the plan",
            post(c::apply),
        ),
        route(
            "GET",
            "/compute/inventory",
            "The nodes and GPUs admission places jobs on",
            get(c::inventory),
        ),
    ]
}

/// The feature store, relative to [`PREFIX`].
pub fn feature_routes() -> Vec<Route> {
    use features as f;
    vec![
        route(
            "POST",
            "/features/apply",
            "Apply a definitions file (entities, sources, feature views, services); dry_run shows the plan, force allows breaking changes",
            post(f::apply),
        ),
        route(
            "GET",
            "/features",
            "Every definition, with the definitions version",
            get(f::list),
        ),
        route(
            "GET",
            "/features/objects/{name}",
            "A feature view (with materializations and freshness), service, entity or source",
            get(f::show),
        ),
        route(
            "POST",
            "/features/historical",
            "A point-in-time-correct training set for an uploaded entity dataframe (Parquet or CSV)",
            post(f::historical),
        ),
        route(
            "POST",
            "/features/materialize",
            "Write the latest row per entity in a window (or since the last run) to the online store",
            post(f::materialize),
        ),
        route(
            "POST",
            "/features/push",
            "Write fresh rows of a feature view to the online store",
            post(f::push),
        ),
        route(
            "POST",
            "/features/online",
            "Online features, one vector per entity row",
            post(f::online_vectors),
        ),
    ]
}

/// Feast's feature-server route, at the root.
pub fn feast_routes() -> Vec<Route> {
    vec![route(
        "POST",
        "/get-online-features",
        "Online features in Feast's response layout",
        post(features::get_online_features),
    )]
}
