//! The metadata store conformance suite: the same cases run against every backend, so SQLite and
//! PostgreSQL cannot drift apart. PostgreSQL cases need `GALLEY_TEST_POSTGRES_URL`; without it they
//! report that they skipped.

mod backend;
mod tracking;

/// Declares every case once per backend.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let backend = crate::backend::Backend::sqlite().await;
                    crate::tracking::$case(backend.service()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(backend) = crate::backend::Backend::postgres().await else { return };
                    crate::tracking::$case(backend.service()).await;
                    backend.drop_schema().await;
                }
            )*
        }
    };
}

conformance!(
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
    dataset_inputs,
    logged_models,
);
