//! The online store conformance suite: one set of cases run against every backend, so the
//! embedded store and Redis cannot drift apart. Redis cases need `GALLEY_TEST_REDIS_URL`; without
//! it they report that they skipped. `benchmark` holds the ignored read-latency benchmark.

mod backend;
mod benchmark;
mod cases;

/// Declares every case once per backend, under `embedded::` and `redis::`. Every case runs on
/// several worker threads so the concurrent-writer case really races.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let mut backend = crate::backend::Backend::embedded().await;
                    crate::cases::$case(&mut backend).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(mut backend) = crate::backend::Backend::redis(stringify!($case)).await
                    else {
                        return;
                    };
                    crate::cases::$case(&mut backend).await;
                }
            )*
        }
    };
}

conformance!(
    write_then_read_back,
    empty_writes_and_reads,
    missing_keys_read_as_none_in_order,
    keys_read_in_the_asked_order_with_duplicates,
    later_event_wins,
    same_event_later_created_wins,
    stale_rows_are_ignored_and_counted,
    repeats_in_one_batch_compare_with_the_row_before,
    views_are_isolated,
    delete_view_removes_only_that_view,
    concurrent_writers_keep_the_superseding_row,
    large_batches,
    data_survives_reopening,
);

/// Redis forgets its scripts when it restarts (or on SCRIPT FLUSH); a write then loads the
/// script again instead of failing.
#[tokio::test]
async fn redis_writes_after_the_script_cache_is_flushed() {
    let Some(mut backend) = backend::Backend::redis("script_cache_flushed").await else {
        return;
    };
    backend.flush_redis_scripts();
    cases::later_event_wins(&mut backend).await;
}

/// An unreachable server is a failure worth retrying, not an internal error.
#[tokio::test]
async fn unreachable_redis_is_unavailable() {
    let refused = galley_online::RedisOnlineStore::connect("redis://127.0.0.1:1", "galley").await;
    assert!(matches!(
        refused.err(),
        Some(galley_features::online::OnlineStoreError::Unavailable(_))
    ));
}
