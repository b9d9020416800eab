//! The metadata store conformance suite: the same cases run against every backend, so SQLite and
//! PostgreSQL cannot drift apart. PostgreSQL cases need `GALLEY_TEST_POSTGRES_URL`; without it they
//! report that they skipped.

mod backend;
mod compute_cases;
mod deployment_cases;
mod feature_cases;
mod lease_cases;
mod monitoring_cases;
mod registry_cases;
mod tracking_cases;

/// Declares every case in `$cases` once per backend, under `$domain::{sqlite,postgres}`;
/// `$service` names the `Backend` method that builds what the cases drive.
macro_rules! conformance {
    ($domain:ident, $cases:ident, $service:ident: $($case:ident),* $(,)?) => {
        mod $domain {
            mod sqlite {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let backend = crate::backend::Backend::sqlite().await;
                        crate::$cases::$case(backend.$service()).await;
                    }
                )*
            }
            mod postgres {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let Some(backend) = crate::backend::Backend::postgres().await else { return };
                        crate::$cases::$case(backend.$service()).await;
                        backend.drop_schema().await;
                    }
                )*
            }
        }
    };
}

conformance!(
    registry,
    registry_cases,
    registry:
    registered_models_crud_and_rename_cascade,
    versions_resolve_sources_and_never_reuse_numbers,
    aliases,
    stages_and_latest_versions,
    search_registry,
    signatures_cards_and_lineage,
);

conformance!(
    deployments,
    deployment_cases,
    deployments:
    deployments_round_trip,
);

conformance!(
    compute,
    compute_cases,
    compute:
    configurations_are_versioned,
    jobs_round_trip_and_list_newest_first,
    state_changes_are_compare_and_set,
);

conformance!(
    features,
    feature_cases,
    features:
    definitions_are_versioned_and_compare_and_set,
    materializations_newest_first_per_view,
);

conformance!(
    leases,
    lease_cases,
    leases:
    one_holder_until_expiry,
);

conformance!(
    monitoring,
    monitoring_cases,
    monitoring:
    prediction_files_by_window,
    labels_upsert_in_bulk,
    references_replace,
    results_are_time_series,
    alert_rules_and_events,
);

conformance!(
    tracking,
    tracking_cases,
    tracking:
    default_experiment_exists,
    experiments_crud,
    experiment_delete_cascades_to_runs,
    search_experiments_filters_orders_and_pages,
    run_lifecycle,
    latest_metrics_follow_mlflow_order,
    non_finite_metrics_round_trip,
    params_are_immutable_and_a_failed_batch_writes_nothing,
    tags_upsert_and_run_name_tag_renames,
    writes_to_deleted_runs_are_rejected,
    search_runs_filters,
    search_runs_orders_and_pages,
    search_runs_by_metric_pages_across_segments,
    dataset_inputs,
    logged_models,
    logged_models_order_by_metrics,
);
