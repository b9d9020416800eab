//! Conformance cases for the compute store: versioned configurations, job documents, listing,
//! and compare-and-set state changes with their events.

use std::sync::Arc;

use galley_compute::config::ComputeConfig;
use galley_compute::inventory::Node;
use galley_compute::job::{Job, JobEvent, JobSpec, JobState};
use galley_compute::store::JobFilter;
use galley_compute::{submit, ComputeError, ComputeStore};

fn machine() -> Vec<Node> {
    vec![Node {
        name: "local".into(),
        cpu_millis: 8_000,
        memory_bytes: 16 << 30,
        gpus: vec![],
    }]
}

fn job(id: &str, submitted_at: i64, team: Option<&str>, config: &ComputeConfig) -> Job {
    let spec = JobSpec {
        command: vec!["python".into(), "train.py".into()],
        team: team.map(str::to_string),
        ..JobSpec::default()
    };
    submit::prepare(spec, config, Some(&machine()), id.into(), submitted_at).unwrap()
}

fn event(job: &str, at: i64, kind: &str) -> JobEvent {
    JobEvent {
        job_id: job.into(),
        at,
        kind: kind.into(),
        message: format!("{kind} at {at}"),
    }
}

pub async fn configurations_are_versioned(store: Arc<dyn ComputeStore>) {
    assert!(store.config().await.unwrap().is_none());
    let first = ComputeConfig::for_inventory(&machine());
    assert_eq!(store.put_config(&first, 0, 10).await.unwrap(), 1);
    let second = ComputeConfig::parse(
        "teams:\n  - {name: vision, queues: [{name: vision, quota: {cpu: 4, memory: 8Gi}}]}\n",
    )
    .unwrap();
    assert_eq!(store.put_config(&second, 1, 20).await.unwrap(), 2);
    // An apply based on a stale version loses, and changes nothing.
    let stale = store.put_config(&first, 1, 30).await.unwrap_err();
    assert!(matches!(stale, ComputeError::Conflict(_)), "{stale}");
    let stored = store.config().await.unwrap().unwrap();
    assert_eq!((stored.version, stored.applied_at), (2, 20));
    assert_eq!(stored.config, second);
}

pub async fn jobs_round_trip_and_list_newest_first(store: Arc<dyn ComputeStore>) {
    let config = ComputeConfig::parse(
        "teams:\n  - {name: default, queues: [{name: default, quota: {cpu: 8, memory: 16Gi}}]}\n  - {name: nlp, queues: [{name: nlp, quota: {cpu: 8, memory: 16Gi}}]}\n",
    )
    .unwrap();
    for (i, team) in [None, Some("nlp"), None, Some("nlp"), None]
        .into_iter()
        .enumerate()
    {
        let job = job(&format!("job-{i}"), 100 + i as i64, team, &config);
        store
            .insert_job(&job, &event(&job.id, job.submitted_at, "submitted"))
            .await
            .unwrap();
    }
    let dup = job("job-0", 1, None, &config);
    let err = store
        .insert_job(&dup, &event("job-0", 1, "submitted"))
        .await
        .unwrap_err();
    assert!(matches!(err, ComputeError::Conflict(_)), "{err}");

    let stored = store.job("job-3").await.unwrap();
    assert_eq!(stored, job("job-3", 103, Some("nlp"), &config));
    assert!(matches!(
        store.job("nope").await.unwrap_err(),
        ComputeError::NotFound(_)
    ));

    let page = |max_results, page_token: Option<String>| JobFilter {
        max_results,
        page_token,
        ..JobFilter::default()
    };
    let (first, token) = store.jobs(&page(2, None)).await.unwrap();
    let ids: Vec<_> = first.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["job-4", "job-3"]);
    let (rest, token) = store.jobs(&page(10, token)).await.unwrap();
    assert_eq!(rest.len(), 3);
    assert!(token.is_none());
    let nlp = JobFilter {
        team: Some("nlp".into()),
        max_results: 10,
        ..JobFilter::default()
    };
    assert_eq!(store.jobs(&nlp).await.unwrap().0.len(), 2);
    let finished = JobFilter {
        states: vec![JobState::Succeeded, JobState::Failed],
        max_results: 10,
        ..JobFilter::default()
    };
    assert!(store.jobs(&finished).await.unwrap().0.is_empty());
    let active: Vec<_> = store
        .active_jobs()
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(
        active,
        ["job-0", "job-1", "job-2", "job-3", "job-4"],
        "oldest first"
    );
}

pub async fn state_changes_are_compare_and_set(store: Arc<dyn ComputeStore>) {
    let config = ComputeConfig::for_inventory(&machine());
    let mut job = job("job-a", 100, None, &config);
    store
        .insert_job(&job, &event("job-a", 100, "submitted"))
        .await
        .unwrap();

    job.state = JobState::Admitted;
    let admitted = event("job-a", 110, "admitted");
    assert!(store
        .update_job(&job, (JobState::Pending, 1), &[admitted])
        .await
        .unwrap());
    // A second writer that still believes the job is pending changes nothing.
    let mut cancelled = job.clone();
    cancelled.state = JobState::Cancelled;
    let stale = store
        .update_job(
            &cancelled,
            (JobState::Pending, 1),
            &[event("job-a", 111, "cancelled")],
        )
        .await
        .unwrap();
    assert!(!stale);
    assert_eq!(store.job("job-a").await.unwrap().state, JobState::Admitted);

    // A retry moves to the next attempt; the attempt is part of the comparison.
    job.state = JobState::Pending;
    job.attempt = 2;
    let requeued = [
        event("job-a", 120, "failed"),
        event("job-a", 120, "retrying"),
    ];
    assert!(store
        .update_job(&job, (JobState::Admitted, 1), &requeued)
        .await
        .unwrap());
    job.state = JobState::Cancelled;
    assert!(!store
        .update_job(&job, (JobState::Pending, 1), &[])
        .await
        .unwrap());
    assert!(store
        .update_job(
            &job,
            (JobState::Pending, 2),
            &[event("job-a", 130, "cancelled")]
        )
        .await
        .unwrap());

    let kinds: Vec<_> = store
        .job_events("job-a")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        ["submitted", "admitted", "failed", "retrying", "cancelled"]
    );
    assert!(store.active_jobs().await.unwrap().is_empty());
}
