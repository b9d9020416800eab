//! Tracking store cases, driven through the tracking service as the HTTP layer drives it.

use galley_tracking::model::*;
use galley_tracking::service::{CreateRun, SearchRequest};
use galley_tracking::{TrackingError, TrackingService};

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue::new(key, value)
}

fn metric(key: &str, value: f64, timestamp: i64, step: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp,
        step,
        model_id: None,
        dataset_name: None,
        dataset_digest: None,
    }
}

async fn new_run(t: &TrackingService, experiment_id: &str, name: &str) -> Run {
    t.create_run(CreateRun {
        experiment_id: Some(experiment_id.into()),
        run_name: Some(name.into()),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn search(filter: &str, order_by: &[&str]) -> SearchRequest {
    SearchRequest {
        filter: Some(filter.into()),
        order_by: order_by.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

async fn run_names(
    t: &TrackingService,
    experiment_id: &str,
    request: &SearchRequest,
) -> Vec<String> {
    t.search_runs(vec![experiment_id.into()], request)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.info.run_name)
        .collect()
}

pub async fn default_experiment_exists(t: TrackingService) {
    let default = t.get_experiment("0").await.unwrap();
    assert_eq!(default.name, "Default");
    assert_eq!(default.artifact_location, "mlflow-artifacts:/0");
    assert!(matches!(
        t.delete_experiment("0").await,
        Err(TrackingError::InvalidParameter(_))
    ));
}

pub async fn experiments_crud(t: TrackingService) {
    let id = t
        .create_experiment("exp", None, &[kv("team", "a")])
        .await
        .unwrap();
    let e = t.get_experiment(&id).await.unwrap();
    assert_eq!(e.artifact_location, format!("mlflow-artifacts:/{id}"));
    assert_eq!(e.tags, vec![kv("team", "a")]);
    assert_eq!(
        t.get_experiment_by_name("exp").await.unwrap().experiment_id,
        id
    );
    assert!(matches!(
        t.create_experiment("exp", None, &[]).await,
        Err(TrackingError::AlreadyExists(_))
    ));
    let explicit = t
        .create_experiment("located", Some("s3://bucket/x"), &[])
        .await
        .unwrap();
    assert_eq!(
        t.get_experiment(&explicit).await.unwrap().artifact_location,
        "s3://bucket/x"
    );

    t.rename_experiment(&id, "renamed").await.unwrap();
    assert_eq!(t.get_experiment(&id).await.unwrap().name, "renamed");
    assert!(matches!(
        t.rename_experiment(&id, "located").await,
        Err(TrackingError::AlreadyExists(_))
    ));
    assert!(matches!(
        t.get_experiment_by_name("exp").await,
        Err(TrackingError::NotFound(_))
    ));

    t.set_experiment_tag(&id, &kv("team", "b")).await.unwrap();
    t.set_experiment_tag(&id, &kv("x", "y")).await.unwrap();
    assert_eq!(
        t.get_experiment(&id).await.unwrap().tags,
        vec![kv("team", "b"), kv("x", "y")]
    );
    t.delete_experiment_tag(&id, "x").await.unwrap();
    assert!(matches!(
        t.delete_experiment_tag(&id, "x").await,
        Err(TrackingError::NotFound(_))
    ));

    for missing in ["999", "abc"] {
        assert!(matches!(
            t.get_experiment(missing).await,
            Err(TrackingError::NotFound(_))
        ));
    }
}

pub async fn experiment_delete_cascades_to_runs(t: TrackingService) {
    let id = t.create_experiment("doomed", None, &[]).await.unwrap();
    let run = new_run(&t, &id, "r").await;
    t.delete_experiment(&id).await.unwrap();
    assert_eq!(
        t.get_experiment(&id).await.unwrap().lifecycle_stage,
        LifecycleStage::Deleted
    );
    assert_eq!(
        t.get_run(&run.info.run_id)
            .await
            .unwrap()
            .info
            .lifecycle_stage,
        LifecycleStage::Deleted
    );
    assert!(t
        .create_run(CreateRun {
            experiment_id: Some(id.clone()),
            ..Default::default()
        })
        .await
        .is_err());
    t.restore_experiment(&id).await.unwrap();
    assert_eq!(
        t.get_run(&run.info.run_id)
            .await
            .unwrap()
            .info
            .lifecycle_stage,
        LifecycleStage::Active
    );
}

pub async fn search_experiments_filters_orders_and_pages(t: TrackingService) {
    for name in ["alpha", "beta", "alphabet", "gamma"] {
        let id = t
            .create_experiment(name, None, &[kv("kind", &name[..1])])
            .await
            .unwrap();
        if name == "gamma" {
            t.delete_experiment(&id).await.unwrap();
        }
    }
    let names = |page: Page<Experiment>| page.items.into_iter().map(|e| e.name).collect::<Vec<_>>();
    let got = t
        .search_experiments(&search("name LIKE 'alpha%'", &["name DESC"]))
        .await
        .unwrap();
    assert_eq!(names(got), vec!["alphabet", "alpha"]);
    let got = t
        .search_experiments(&search("tags.kind = 'b'", &[]))
        .await
        .unwrap();
    assert_eq!(names(got), vec!["beta"]);
    let got = t
        .search_experiments(&search("name ILIKE 'ALPHA'", &[]))
        .await
        .unwrap();
    assert_eq!(names(got), vec!["alpha"]);
    let got = t
        .search_experiments(&search("name LIKE 'ALPHA'", &[]))
        .await
        .unwrap();
    assert!(got.items.is_empty(), "LIKE is case-sensitive");
    let deleted = SearchRequest {
        view_type: ViewType::DeletedOnly,
        ..Default::default()
    };
    assert_eq!(
        names(t.search_experiments(&deleted).await.unwrap()),
        vec!["gamma"]
    );

    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let request = SearchRequest {
            max_results: Some(2),
            page_token: token.clone(),
            order_by: vec!["name ASC".into()],
            ..Default::default()
        };
        let page = t.search_experiments(&request).await.unwrap();
        seen.extend(page.items.into_iter().map(|e| e.name));
        match page.next_offset {
            Some(offset) => token = Some(galley_core::page::encode(offset)),
            None => break,
        }
    }
    assert_eq!(seen, vec!["Default", "alpha", "alphabet", "beta"]);
    assert!(t
        .search_experiments(&search("name >> 'x'", &[]))
        .await
        .is_err());
}

pub async fn run_lifecycle(t: TrackingService) {
    let unnamed = t.create_run(CreateRun::default()).await.unwrap();
    assert_eq!(unnamed.info.experiment_id, "0");
    assert!(!unnamed.info.run_name.is_empty());
    assert!(unnamed
        .tags
        .contains(&kv("mlflow.runName", &unnamed.info.run_name)));
    assert_eq!(
        unnamed.info.artifact_uri,
        format!("mlflow-artifacts:/0/{}/artifacts", unnamed.info.run_id)
    );

    let id = unnamed.info.run_id;
    let update = RunUpdate {
        status: Some(RunStatus::Finished),
        end_time: Some(42),
        run_name: Some("final".into()),
    };
    let info = t.update_run(&id, update).await.unwrap();
    assert_eq!(
        (info.status, info.end_time, info.run_name.as_str()),
        (RunStatus::Finished, Some(42), "final")
    );
    assert!(t
        .get_run(&id)
        .await
        .unwrap()
        .tags
        .contains(&kv("mlflow.runName", "final")));

    t.delete_run(&id).await.unwrap();
    assert_eq!(
        t.get_run(&id).await.unwrap().info.lifecycle_stage,
        LifecycleStage::Deleted
    );
    t.restore_run(&id).await.unwrap();
    assert_eq!(
        t.get_run(&id).await.unwrap().info.lifecycle_stage,
        LifecycleStage::Active
    );
    assert!(matches!(
        t.get_run("nope").await,
        Err(TrackingError::NotFound(_))
    ));
    assert!(matches!(
        t.delete_run("nope").await,
        Err(TrackingError::NotFound(_))
    ));

    let clash = CreateRun {
        run_name: Some("a".into()),
        tags: vec![kv("mlflow.runName", "b")],
        ..Default::default()
    };
    assert!(matches!(
        t.create_run(clash).await,
        Err(TrackingError::InvalidParameter(_))
    ));
}

pub async fn latest_metrics_follow_mlflow_order(t: TrackingService) {
    let run = new_run(&t, "0", "m").await;
    let id = &run.info.run_id;
    t.log_batch(
        id,
        &[metric("loss", 3.0, 10, 0), metric("loss", 2.0, 20, 1)],
        &[],
        &[],
    )
    .await
    .unwrap();
    // An older step logged later does not replace the latest value.
    t.log_batch(id, &[metric("loss", 9.0, 30, 0)], &[], &[])
        .await
        .unwrap();
    // Same step, later timestamp wins; same step and timestamp, larger value wins.
    t.log_batch(
        id,
        &[metric("loss", 1.5, 25, 1), metric("loss", 1.0, 25, 1)],
        &[],
        &[],
    )
    .await
    .unwrap();
    let latest = t.get_run(id).await.unwrap().metrics;
    assert_eq!(latest.len(), 1);
    assert_eq!(
        (latest[0].value, latest[0].step, latest[0].timestamp),
        (1.5, 1, 25)
    );

    // Logging the identical point twice keeps one copy.
    t.log_batch(id, &[metric("loss", 2.0, 20, 1)], &[], &[])
        .await
        .unwrap();
    let history = t.get_metric_history(id, "loss").await.unwrap();
    let points: Vec<(i64, i64, f64)> = history
        .iter()
        .map(|m| (m.step, m.timestamp, m.value))
        .collect();
    assert_eq!(
        points,
        vec![
            (0, 10, 3.0),
            (0, 30, 9.0),
            (1, 20, 2.0),
            (1, 25, 1.0),
            (1, 25, 1.5)
        ]
    );
    assert!(t.get_metric_history(id, "absent").await.unwrap().is_empty());
    assert!(matches!(
        t.get_metric_history("nope", "loss").await,
        Err(TrackingError::NotFound(_))
    ));
}

pub async fn non_finite_metrics_round_trip(t: TrackingService) {
    let run = new_run(&t, "0", "nan").await;
    let id = &run.info.run_id;
    let values = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.5];
    let metrics: Vec<Metric> = values
        .iter()
        .enumerate()
        .map(|(i, v)| metric(&format!("m{i}"), *v, 1, 0))
        .collect();
    t.log_batch(id, &metrics, &[], &[]).await.unwrap();
    let latest = t.get_run(id).await.unwrap().metrics;
    assert!(latest[0].value.is_nan());
    assert_eq!(latest[1].value, f64::INFINITY);
    assert_eq!(latest[2].value, f64::NEG_INFINITY);
    assert_eq!(latest[3].value, -0.5);
    assert!(t.get_metric_history(id, "m0").await.unwrap()[0]
        .value
        .is_nan());
}

pub async fn params_are_immutable_and_a_failed_batch_writes_nothing(t: TrackingService) {
    let run = new_run(&t, "0", "p").await;
    let id = &run.info.run_id;
    t.log_batch(id, &[], &[kv("lr", "0.1")], &[]).await.unwrap();
    t.log_batch(id, &[], &[kv("lr", "0.1")], &[]).await.unwrap();
    let conflicting = t
        .log_batch(
            id,
            &[metric("acc", 0.5, 1, 0)],
            &[kv("new", "x"), kv("lr", "0.2")],
            &[kv("t", "v")],
        )
        .await;
    assert!(
        matches!(conflicting, Err(TrackingError::InvalidParameter(_))),
        "{conflicting:?}"
    );
    let after = t.get_run(id).await.unwrap();
    assert_eq!(after.params, vec![kv("lr", "0.1")]);
    assert!(after.metrics.is_empty());
    assert!(!after.tags.iter().any(|tag| tag.key == "t"));

    let too_many: Vec<Metric> = (0..1001).map(|i| metric("m", 0.0, i, 0)).collect();
    assert!(matches!(
        t.log_batch(id, &too_many, &[], &[]).await,
        Err(TrackingError::InvalidParameter(_))
    ));
    assert!(t.get_metric_history(id, "m").await.unwrap().is_empty());
    let bad_key = t
        .log_batch(id, &[metric("../escape", 1.0, 1, 0)], &[], &[])
        .await;
    assert!(matches!(bad_key, Err(TrackingError::InvalidParameter(_))));
}

pub async fn tags_upsert_and_run_name_tag_renames(t: TrackingService) {
    let run = new_run(&t, "0", "before").await;
    let id = &run.info.run_id;
    t.log_batch(id, &[], &[], &[kv("k", "1"), kv("k", "2")])
        .await
        .unwrap();
    t.log_batch(id, &[], &[], &[kv("mlflow.runName", "after")])
        .await
        .unwrap();
    let got = t.get_run(id).await.unwrap();
    assert!(got.tags.contains(&kv("k", "2")));
    assert_eq!(got.info.run_name, "after");
    t.delete_run_tag(id, "k").await.unwrap();
    assert!(matches!(
        t.delete_run_tag(id, "k").await,
        Err(TrackingError::NotFound(_))
    ));
}

pub async fn writes_to_deleted_runs_are_rejected(t: TrackingService) {
    let run = new_run(&t, "0", "gone").await;
    let id = &run.info.run_id;
    t.delete_run(id).await.unwrap();
    let attempt = t.log_batch(id, &[metric("m", 1.0, 1, 0)], &[], &[]).await;
    assert!(matches!(attempt, Err(TrackingError::InvalidParameter(_))));
    assert!(matches!(
        t.log_batch("missing", &[], &[kv("a", "b")], &[]).await,
        Err(TrackingError::NotFound(_))
    ));
}

/// Five runs with known metrics, params and tags in a fresh experiment.
async fn seeded(t: &TrackingService) -> String {
    let exp = t.create_experiment("search", None, &[]).await.unwrap();
    for (i, (name, acc, model)) in [
        ("r0", 0.1, "rf"),
        ("r1", 0.9, "lr"),
        ("r2", 0.5, "rf"),
        ("r3", 0.7, "RF"),
        ("r4", f64::NAN, "lr"),
    ]
    .into_iter()
    .enumerate()
    {
        let run = t
            .create_run(CreateRun {
                experiment_id: Some(exp.clone()),
                run_name: Some(name.into()),
                start_time: Some(1000 + i as i64),
                tags: vec![kv("team", if i % 2 == 0 { "vision" } else { "nlp" })],
                ..Default::default()
            })
            .await
            .unwrap();
        t.log_batch(
            &run.info.run_id,
            &[metric("acc", acc, 1, 0)],
            &[kv("model", model)],
            &[],
        )
        .await
        .unwrap();
        if i == 2 {
            t.update_run(
                &run.info.run_id,
                RunUpdate {
                    status: Some(RunStatus::Finished),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
    }
    new_run(t, &exp, "no-metrics").await;
    exp
}

pub async fn search_runs_filters(t: TrackingService) {
    let exp = seeded(&t).await;
    let check = |filter: &'static str, expected: &'static [&'static str]| {
        let t = t.clone();
        let exp = exp.clone();
        async move {
            let mut got = run_names(&t, &exp, &search(filter, &[])).await;
            got.sort();
            assert_eq!(got, expected, "filter: {filter}");
        }
    };
    check("metrics.acc > 0.6", &["r1", "r3"]).await;
    check("metrics.acc >= 0.5 AND metrics.acc < 0.9", &["r2", "r3"]).await;
    check("metrics.acc != 0.1", &["r1", "r2", "r3"]).await;
    check("params.model = 'rf'", &["r0", "r2"]).await;
    check("params.model ILIKE 'rf'", &["r0", "r2", "r3"]).await;
    check("params.model LIKE 'R%'", &["r3"]).await;
    check("params.model != 'rf'", &["r1", "r3", "r4"]).await;
    check("tags.team = 'nlp' AND metrics.acc > 0.8", &["r1"]).await;
    check("attributes.status = 'FINISHED'", &["r2"]).await;
    check(
        "run_name LIKE 'r%' AND attributes.start_time >= 1003",
        &["r3", "r4"],
    )
    .await;
    check("tags.`mlflow.runName` = 'no-metrics'", &["no-metrics"]).await;

    let all = t
        .search_runs(vec![exp.clone()], &SearchRequest::default())
        .await
        .unwrap()
        .items;
    let ids: Vec<String> = all
        .iter()
        .filter(|r| r.info.run_name.as_str() < "r2")
        .map(|r| r.info.run_id.clone())
        .collect();
    let filter = format!("attributes.run_id IN ('{}', '{}')", ids[0], ids[1]);
    assert_eq!(run_names(&t, &exp, &search(&filter, &[])).await.len(), 2);
    let filter = format!("attributes.run_id NOT IN ('{}')", ids[0]);
    assert_eq!(
        run_names(&t, &exp, &search(&filter, &[])).await.len(),
        all.len() - 1
    );

    for bad in [
        "metrics.acc >> 1",
        "params.a = 'x' OR params.b = 'y'",
        "metrics.acc = 'text'",
        "nonsense.key = 1",
    ] {
        assert!(
            matches!(
                t.search_runs(vec![exp.clone()], &search(bad, &[])).await,
                Err(TrackingError::Search(_))
            ),
            "{bad}"
        );
    }
}

/// Every page of a search, `size` runs at a time, concatenated.
async fn paged(
    t: &TrackingService,
    experiment_id: &str,
    filter: &str,
    order_by: &[&str],
    size: u32,
) -> Vec<String> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let request = SearchRequest {
            max_results: Some(size),
            page_token: token.clone(),
            ..search(filter, order_by)
        };
        let page = t
            .search_runs(vec![experiment_id.into()], &request)
            .await
            .unwrap();
        names.extend(page.items.into_iter().map(|r| r.info.run_name));
        match page.next_offset {
            Some(offset) => token = Some(galley_core::page::encode(offset)),
            None => return names,
        }
    }
}

/// A search ordered first by a metric runs as one query per segment (numbers, NaN, missing):
/// pages of any size, with filters and second keys, must add up to the whole answer.
pub async fn search_runs_by_metric_pages_across_segments(t: TrackingService) {
    let exp = seeded(&t).await;
    for order_by in [
        &["metrics.acc DESC"][..],
        &["metrics.acc ASC"],
        &["metrics.acc DESC", "params.model ASC"],
    ] {
        for filter in ["", "tags.team = 'vision'", "metrics.acc > 0.3"] {
            let whole = run_names(&t, &exp, &search(filter, order_by)).await;
            for size in [1, 2, 3, 5] {
                assert_eq!(
                    paged(&t, &exp, filter, order_by, size).await,
                    whole,
                    "{order_by:?} {filter:?} in pages of {size}"
                );
            }
        }
    }
    let whole = run_names(&t, &exp, &search("", &["metrics.acc DESC"])).await;
    assert_eq!(
        &whole[..5],
        ["r1", "r3", "r2", "r0", "r4"],
        "numbers, then NaN"
    );
    let filtered = run_names(&t, &exp, &search("metrics.acc > 0.3", &["metrics.acc"])).await;
    assert_eq!(filtered, ["r2", "r3", "r1"]);
}

pub async fn search_runs_orders_and_pages(t: TrackingService) {
    let exp = seeded(&t).await;
    // Runs without the metric (and NaN) sort after every number, in both directions.
    let desc = run_names(&t, &exp, &search("", &["metrics.acc DESC"])).await;
    assert_eq!(&desc[..4], ["r1", "r3", "r2", "r0"]);
    let asc = run_names(&t, &exp, &search("", &["metrics.acc"])).await;
    assert_eq!(&asc[..4], ["r0", "r2", "r3", "r1"]);
    assert_eq!(asc.len(), 6);
    let by_param = run_names(
        &t,
        &exp,
        &search("", &["params.model ASC", "attributes.start_time DESC"]),
    )
    .await;
    assert_eq!(&by_param[..5], ["r3", "r4", "r1", "r2", "r0"]);
    // Default order: newest start first.
    let default = run_names(&t, &exp, &search("run_name LIKE 'r%'", &[])).await;
    assert_eq!(default, ["r4", "r3", "r2", "r1", "r0"]);

    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let request = SearchRequest {
            max_results: Some(4),
            page_token: token.clone(),
            order_by: vec!["metrics.acc DESC".into()],
            ..Default::default()
        };
        let page = t.search_runs(vec![exp.clone()], &request).await.unwrap();
        seen.extend(page.items.into_iter().map(|r| r.info.run_name));
        match page.next_offset {
            Some(offset) => token = Some(galley_core::page::encode(offset)),
            None => break,
        }
    }
    assert_eq!(seen, desc);

    let victim = t
        .search_runs(vec![exp.clone()], &search("run_name = 'r0'", &[]))
        .await
        .unwrap()
        .items[0]
        .info
        .run_id
        .clone();
    t.delete_run(&victim).await.unwrap();
    assert_eq!(run_names(&t, &exp, &search("", &[])).await.len(), 5);
    let deleted = SearchRequest {
        view_type: ViewType::DeletedOnly,
        ..Default::default()
    };
    assert_eq!(run_names(&t, &exp, &deleted).await, ["r0"]);
    let all = SearchRequest {
        view_type: ViewType::All,
        ..Default::default()
    };
    assert_eq!(run_names(&t, &exp, &all).await.len(), 6);
    assert!(t
        .search_runs(
            vec![exp.clone()],
            &SearchRequest {
                max_results: Some(50_001),
                ..Default::default()
            }
        )
        .await
        .is_err());
    assert!(t
        .search_runs(
            vec![exp.clone()],
            &SearchRequest {
                page_token: Some("garbage".into()),
                ..Default::default()
            }
        )
        .await
        .is_err());
}

pub async fn dataset_inputs(t: TrackingService) {
    let run = new_run(&t, "0", "data").await;
    let id = &run.info.run_id;
    let input = DatasetInput {
        tags: vec![kv("mlflow.data.context", "training")],
        dataset: Dataset {
            name: "iris".into(),
            digest: "abc123".into(),
            source_type: "code".into(),
            source: "{}".into(),
            schema: Some("{\"mlflow_colspec\": []}".into()),
            profile: None,
        },
    };
    t.log_inputs(id, std::slice::from_ref(&input), &["m-1".into()])
        .await
        .unwrap();
    t.log_inputs(id, std::slice::from_ref(&input), &["m-1".into()])
        .await
        .unwrap();
    let got = t.get_run(id).await.unwrap();
    assert_eq!(got.dataset_inputs, vec![input]);
    assert_eq!(got.model_inputs, vec!["m-1".to_string()]);
    assert_eq!(
        run_names(&t, "0", &search("datasets.name = 'iris'", &[])).await,
        ["data"]
    );
    assert_eq!(
        run_names(&t, "0", &search("datasets.context = 'training'", &[])).await,
        ["data"]
    );
    assert!(run_names(&t, "0", &search("datasets.digest = 'zzz'", &[]))
        .await
        .is_empty());
    t.log_outputs(
        id,
        &[ModelOutput {
            model_id: "m-2".into(),
            step: 3,
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        t.get_run(id).await.unwrap().model_outputs,
        vec![ModelOutput {
            model_id: "m-2".into(),
            step: 3
        }]
    );
}

fn order(field_name: &str, ascending: bool) -> LoggedModelOrderRequest {
    LoggedModelOrderRequest {
        field_name: field_name.into(),
        ascending,
        dataset_name: None,
        dataset_digest: None,
    }
}

pub async fn logged_models(t: TrackingService) {
    let run = new_run(&t, "0", "trainer").await;
    let request = galley_tracking::service::NewLoggedModelRequest {
        experiment_id: "0".into(),
        name: Some("model".into()),
        model_type: Some("sklearn".into()),
        source_run_id: Some(run.info.run_id.clone()),
        params: vec![kv("C", "1.0")],
        tags: vec![kv("stage", "dev")],
    };
    let model = t.create_logged_model(request.clone()).await.unwrap();
    assert!(model.model_id.starts_with("m-"));
    assert_eq!(model.status, LoggedModelStatus::Pending);
    assert_eq!(
        model.artifact_uri,
        format!("mlflow-artifacts:/0/models/{}/artifacts", model.model_id)
    );
    let ready = t
        .finalize_logged_model(&model.model_id, LoggedModelStatus::Ready)
        .await
        .unwrap();
    assert_eq!(ready.status, LoggedModelStatus::Ready);

    t.set_logged_model_tags(&model.model_id, &[kv("stage", "prod"), kv("x", "1")])
        .await
        .unwrap();
    t.delete_logged_model_tag(&model.model_id, "x")
        .await
        .unwrap();
    t.log_logged_model_params(&model.model_id, &[kv("max_iter", "100")])
        .await
        .unwrap();
    let mut scored = metric("acc", 0.93, 5, 0);
    scored.model_id = Some(model.model_id.clone());
    t.log_batch(&run.info.run_id, &[scored], &[], &[])
        .await
        .unwrap();
    let got = t.get_logged_model(&model.model_id).await.unwrap();
    assert_eq!(got.tags, vec![kv("stage", "prod")]);
    assert_eq!(got.params, vec![kv("C", "1.0"), kv("max_iter", "100")]);
    assert_eq!(got.metrics.len(), 1);
    assert_eq!(got.metrics[0].metric.value, 0.93);
    assert_eq!(got.metrics[0].run_id, run.info.run_id);

    let second = t.create_logged_model(request).await.unwrap();
    let page = t
        .search_logged_models(vec!["0".into()], None, &[], Some(1), None)
        .await
        .unwrap();
    assert_eq!(page.items[0].model_id, second.model_id);
    assert!(page.next_offset.is_some());
    let oldest_first = [order("creation_timestamp", true)];
    let filter = format!(
        "source_run_id = '{}' AND metrics.acc > 0.9 AND tags.stage = 'prod'",
        run.info.run_id
    );
    let found = t
        .search_logged_models(vec!["0".into()], Some(&filter), &oldest_first, None, None)
        .await
        .unwrap();
    assert_eq!(
        found.items.iter().map(|m| &m.model_id).collect::<Vec<_>>(),
        vec![&model.model_id]
    );
    let none = t
        .search_logged_models(vec!["0".into()], Some("params.C = '2.0'"), &[], None, None)
        .await
        .unwrap();
    assert!(none.items.is_empty());
    assert!(t
        .search_logged_models(vec!["0".into()], Some("bogus = 1"), &[], None, None)
        .await
        .is_err());

    t.delete_logged_model(&model.model_id).await.unwrap();
    assert!(matches!(
        t.get_logged_model(&model.model_id).await,
        Err(TrackingError::NotFound(_))
    ));
    assert!(matches!(
        t.finalize_logged_model("m-none", LoggedModelStatus::Ready)
            .await,
        Err(TrackingError::NotFound(_))
    ));
    let missing_run = galley_tracking::service::NewLoggedModelRequest {
        experiment_id: "0".into(),
        source_run_id: Some("nope".into()),
        ..Default::default()
    };
    assert!(matches!(
        t.create_logged_model(missing_run).await,
        Err(TrackingError::NotFound(_))
    ));
}

/// MLflow's order for `metrics.<key>`: each model's latest value (latest timestamp, then step),
/// optionally only values logged against one dataset; models without the metric last.
pub async fn logged_models_order_by_metrics(t: TrackingService) {
    let run = new_run(&t, "0", "trainer").await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        let request = galley_tracking::service::NewLoggedModelRequest {
            experiment_id: "0".into(),
            name: Some("model".into()),
            model_type: None,
            source_run_id: Some(run.info.run_id.clone()),
            params: vec![],
            tags: vec![],
        };
        ids.push(t.create_logged_model(request).await.unwrap().model_id);
    }
    let scored = |model: &str, value: f64, timestamp: i64, dataset: &str| {
        let mut m = metric("acc", value, timestamp, 0);
        m.model_id = Some(model.to_owned());
        m.dataset_name = Some(dataset.to_owned());
        m.dataset_digest = Some(format!("{dataset}-digest"));
        m
    };
    let metrics = [
        // ids[0]: 0.9 earlier, 0.5 latest (the latest counts); 0.99 on the test set.
        scored(&ids[0], 0.9, 1, "train"),
        scored(&ids[0], 0.5, 2, "train"),
        scored(&ids[0], 0.99, 3, "test"),
        scored(&ids[1], 0.7, 1, "train"),
        scored(&ids[2], 0.8, 1, "train"),
        // ids[3] has no acc at all.
    ];
    t.log_batch(&run.info.run_id, &metrics, &[], &[])
        .await
        .unwrap();
    let sorted = |order_by: Vec<LoggedModelOrderRequest>| {
        let t = t.clone();
        async move {
            t.search_logged_models(vec!["0".into()], None, &order_by, None, None)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|m| m.model_id)
                .collect::<Vec<_>>()
        }
    };
    let on_train = |ascending| LoggedModelOrderRequest {
        dataset_name: Some("train".into()),
        ..order("metrics.acc", ascending)
    };
    assert_eq!(
        sorted(vec![on_train(false)]).await,
        [
            ids[2].clone(),
            ids[1].clone(),
            ids[0].clone(),
            ids[3].clone()
        ]
    );
    assert_eq!(
        sorted(vec![on_train(true)]).await,
        [
            ids[0].clone(),
            ids[1].clone(),
            ids[2].clone(),
            ids[3].clone()
        ]
    );
    // Without a dataset, ids[0]'s latest acc is the test-set 0.99.
    assert_eq!(
        sorted(vec![order("metrics.acc", false)]).await,
        [
            ids[0].clone(),
            ids[2].clone(),
            ids[1].clone(),
            ids[3].clone()
        ]
    );
    for bad in ["params.C", "metrics.", "bogus"] {
        assert!(t
            .search_logged_models(vec!["0".into()], None, &[order(bad, true)], None, None)
            .await
            .is_err());
    }
}
