//! The MLflow-compatible REST surface: tracking, logged models, the model registry and the
//! artifact proxy, mounted
//! under both `/api/2.0/mlflow` and `/ajax-api/2.0/mlflow` as MLflow's server does.

mod artifacts;
mod logged_models;
mod registry;
pub mod registry_wire;
mod tracking;
pub mod wire;

use axum::routing::{delete, get, patch, post, put};

use crate::routes::{route, Route};

pub const PREFIXES: [&str; 2] = ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"];
pub const ARTIFACT_PREFIXES: [&str; 2] = [
    "/api/2.0/mlflow-artifacts",
    "/ajax-api/2.0/mlflow-artifacts",
];

/// Tracking and logged-model routes, relative to a prefix in [`PREFIXES`].
pub fn tracking_routes() -> Vec<Route> {
    use tracking as t;
    vec![
        route(
            "POST",
            "/experiments/create",
            "Create an experiment",
            post(t::create_experiment),
        ),
        route(
            "GET",
            "/experiments/get",
            "Get an experiment by id",
            get(t::get_experiment),
        ),
        route(
            "GET",
            "/experiments/get-by-name",
            "Get an experiment by name",
            get(t::get_experiment_by_name),
        ),
        route(
            "POST",
            "/experiments/search",
            "Search experiments",
            post(t::search_experiments_post),
        ),
        route(
            "GET",
            "/experiments/search",
            "Search experiments",
            get(t::search_experiments_get),
        ),
        route(
            "POST",
            "/experiments/update",
            "Rename an experiment",
            post(t::update_experiment),
        ),
        route(
            "POST",
            "/experiments/delete",
            "Delete an experiment and its runs",
            post(t::delete_experiment),
        ),
        route(
            "POST",
            "/experiments/restore",
            "Restore an experiment and its runs",
            post(t::restore_experiment),
        ),
        route(
            "POST",
            "/experiments/set-experiment-tag",
            "Set an experiment tag",
            post(t::set_experiment_tag),
        ),
        route(
            "POST",
            "/experiments/delete-experiment-tag",
            "Delete an experiment tag",
            post(t::delete_experiment_tag),
        ),
        route("POST", "/runs/create", "Create a run", post(t::create_run)),
        route(
            "GET",
            "/runs/get",
            "Get a run with its latest metrics",
            get(t::get_run),
        ),
        route(
            "POST",
            "/runs/update",
            "Update a run's status, end time or name",
            post(t::update_run),
        ),
        route("POST", "/runs/delete", "Delete a run", post(t::delete_run)),
        route(
            "POST",
            "/runs/restore",
            "Restore a run",
            post(t::restore_run),
        ),
        route(
            "POST",
            "/runs/search",
            "Search runs with MLflow's filter grammar",
            post(t::search_runs),
        ),
        route(
            "POST",
            "/runs/log-metric",
            "Log one metric value",
            post(t::log_metric),
        ),
        route(
            "POST",
            "/runs/log-parameter",
            "Log one param",
            post(t::log_param),
        ),
        route(
            "POST",
            "/runs/log-batch",
            "Log metrics, params and tags atomically",
            post(t::log_batch),
        ),
        route("POST", "/runs/set-tag", "Set a run tag", post(t::set_tag)),
        route(
            "POST",
            "/runs/delete-tag",
            "Delete a run tag",
            post(t::delete_tag),
        ),
        route(
            "POST",
            "/runs/log-inputs",
            "Log dataset and model inputs",
            post(t::log_inputs),
        ),
        route(
            "POST",
            "/runs/outputs",
            "Log model outputs",
            post(t::log_outputs),
        ),
        route(
            "GET",
            "/metrics/get-history",
            "Every value of one metric",
            get(t::get_metric_history),
        ),
        route(
            "POST",
            "/logged-models",
            "Create a logged model",
            post(logged_models::create),
        ),
        route(
            "POST",
            "/logged-models/search",
            "Search logged models",
            post(logged_models::search),
        ),
        route(
            "GET",
            "/logged-models/{model_id}",
            "Get a logged model",
            get(logged_models::get),
        ),
        route(
            "PATCH",
            "/logged-models/{model_id}",
            "Finalize a logged model",
            patch(logged_models::finalize),
        ),
        route(
            "DELETE",
            "/logged-models/{model_id}",
            "Delete a logged model",
            delete(logged_models::delete),
        ),
        route(
            "PATCH",
            "/logged-models/{model_id}/tags",
            "Set logged model tags",
            patch(logged_models::set_tags),
        ),
        route(
            "DELETE",
            "/logged-models/{model_id}/tags/{key}",
            "Delete a logged model tag",
            delete(logged_models::delete_tag),
        ),
        route(
            "POST",
            "/logged-models/{model_id}/params",
            "Log logged model params",
            post(logged_models::log_params),
        ),
    ]
}

/// Model-registry routes, relative to a prefix in [`PREFIXES`].
pub fn registry_routes() -> Vec<Route> {
    use registry as r;
    vec![
        route(
            "POST",
            "/registered-models/create",
            "Create a registered model",
            post(r::create_model),
        ),
        route(
            "GET",
            "/registered-models/get",
            "Get a registered model with its aliases and latest versions",
            get(r::get_model),
        ),
        route(
            "PATCH",
            "/registered-models/update",
            "Update a registered model's description",
            patch(r::update_model),
        ),
        route(
            "POST",
            "/registered-models/rename",
            "Rename a registered model; versions, tags and aliases follow",
            post(r::rename_model),
        ),
        route(
            "DELETE",
            "/registered-models/delete",
            "Delete a registered model with its versions and aliases",
            delete(r::delete_model),
        ),
        route(
            "POST",
            "/registered-models/set-tag",
            "Set a registered model tag",
            post(r::set_model_tag),
        ),
        route(
            "DELETE",
            "/registered-models/delete-tag",
            "Delete a registered model tag",
            delete(r::delete_model_tag),
        ),
        route(
            "GET",
            "/registered-models/search",
            "Search registered models with MLflow's filter grammar",
            get(r::search_models),
        ),
        route(
            "POST",
            "/registered-models/get-latest-versions",
            "The newest version in each stage",
            post(r::latest_versions_post),
        ),
        route(
            "GET",
            "/registered-models/get-latest-versions",
            "The newest version in each stage",
            get(r::latest_versions_get),
        ),
        route(
            "POST",
            "/registered-models/alias",
            "Point an alias at a version",
            post(r::set_alias),
        ),
        route(
            "DELETE",
            "/registered-models/alias",
            "Delete an alias",
            delete(r::delete_alias),
        ),
        route(
            "GET",
            "/registered-models/alias",
            "Get the version an alias points at",
            get(r::get_by_alias),
        ),
        route(
            "POST",
            "/model-versions/create",
            "Register a version from a run, a logged model or any artifact URI",
            post(r::create_version),
        ),
        route(
            "GET",
            "/model-versions/get",
            "Get a model version",
            get(r::get_version),
        ),
        route(
            "PATCH",
            "/model-versions/update",
            "Update a version's description",
            patch(r::update_version),
        ),
        route(
            "DELETE",
            "/model-versions/delete",
            "Delete a model version",
            delete(r::delete_version),
        ),
        route(
            "POST",
            "/model-versions/transition-stage",
            "Move a version to another stage",
            post(r::transition_stage),
        ),
        route(
            "POST",
            "/model-versions/set-tag",
            "Set a model version tag",
            post(r::set_version_tag),
        ),
        route(
            "DELETE",
            "/model-versions/delete-tag",
            "Delete a model version tag",
            delete(r::delete_version_tag),
        ),
        route(
            "GET",
            "/model-versions/search",
            "Search model versions with MLflow's filter grammar",
            get(r::search_versions),
        ),
        route(
            "GET",
            "/model-versions/get-download-uri",
            "Where a version's files are",
            get(r::download_uri),
        ),
    ]
}

/// Artifact proxy routes, relative to a prefix in [`ARTIFACT_PREFIXES`].
pub fn artifact_routes() -> Vec<Route> {
    use artifacts as a;
    vec![
        route(
            "GET",
            "/artifacts",
            "List a directory (?path=)",
            get(a::list),
        ),
        route(
            "PUT",
            "/artifacts/{*path}",
            "Upload an artifact (streamed)",
            put(a::upload),
        ),
        route(
            "GET",
            "/artifacts/{*path}",
            "Download an artifact (streamed)",
            get(a::download),
        ),
        route(
            "DELETE",
            "/artifacts/{*path}",
            "Delete an artifact or directory",
            delete(a::delete),
        ),
        route(
            "POST",
            "/mpu/create/{*path}",
            "Multipart upload (not supported: clients fall back to PUT)",
            post(a::multipart_unsupported),
        ),
        route(
            "POST",
            "/mpu/complete/{*path}",
            "Multipart upload (not supported)",
            post(a::multipart_unsupported),
        ),
        route(
            "POST",
            "/mpu/abort/{*path}",
            "Multipart upload (not supported)",
            post(a::multipart_unsupported),
        ),
    ]
}
