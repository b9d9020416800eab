//! Registry store cases, driven through the registry service as the HTTP layer drives it.

use galley_registry::model::{ModelCard, Stage};
use galley_registry::service::CreateVersion;
use galley_registry::{RegistryError, RegistryService};
use galley_tracking::model::{Dataset, DatasetInput, KeyValue, Metric};
use galley_tracking::service::{CreateRun, NewLoggedModelRequest, SearchRequest};
use galley_tracking::TrackingService;

type Services = (RegistryService, TrackingService);

fn version(name: &str, source: &str, run_id: Option<&str>) -> CreateVersion {
    CreateVersion {
        name: name.into(),
        source: source.into(),
        run_id: run_id.map(str::to_string),
        ..Default::default()
    }
}

pub async fn registered_models_crud_and_rename_cascade((r, t): Services) {
    let created = r
        .create_registered_model(
            "fraud",
            Some("detects fraud"),
            &[KeyValue::new("team", "risk")],
        )
        .await
        .unwrap();
    assert_eq!(
        (created.description.as_str(), created.tags.len()),
        ("detects fraud", 1)
    );
    assert!(matches!(
        r.create_registered_model("fraud", None, &[]).await,
        Err(RegistryError::AlreadyExists(_))
    ));
    assert!(matches!(
        r.create_registered_model("a/b", None, &[]).await,
        Err(RegistryError::InvalidParameter(_))
    ));
    assert_eq!(
        r.update_registered_model("fraud", "v2 text")
            .await
            .unwrap()
            .description,
        "v2 text"
    );

    let run = t.create_run(CreateRun::default()).await.unwrap();
    let source = format!("runs:/{}/model", run.info.run_id);
    r.create_model_version(version("fraud", &source, Some(&run.info.run_id)))
        .await
        .unwrap();
    r.set_alias("fraud", "champion", "1").await.unwrap();
    r.set_model_version_tag("fraud", "1", &KeyValue::new("k", "v"))
        .await
        .unwrap();

    let renamed = r
        .rename_registered_model("fraud", "fraud-v2")
        .await
        .unwrap();
    assert_eq!(renamed.name, "fraud-v2");
    assert_eq!(renamed.tags, vec![KeyValue::new("team", "risk")]);
    let by_alias = r
        .get_version_by_alias("fraud-v2", "champion")
        .await
        .unwrap();
    assert_eq!((by_alias.version, by_alias.tags.len()), (1, 1));
    assert!(matches!(
        r.get_registered_model("fraud").await,
        Err(RegistryError::NotFound(_))
    ));
    r.create_registered_model("other", None, &[]).await.unwrap();
    assert!(matches!(
        r.rename_registered_model("other", "fraud-v2").await,
        Err(RegistryError::AlreadyExists(_))
    ));

    r.set_registered_model_tag("fraud-v2", &KeyValue::new("x", "1"))
        .await
        .unwrap();
    r.delete_registered_model_tag("fraud-v2", "x")
        .await
        .unwrap();
    r.delete_registered_model_tag("fraud-v2", "x")
        .await
        .expect("deleting a missing tag is a no-op");
    r.delete_registered_model("fraud-v2").await.unwrap();
    assert!(matches!(
        r.get_model_version("fraud-v2", "1").await,
        Err(RegistryError::NotFound(_))
    ));
    assert!(matches!(
        r.delete_registered_model("fraud-v2").await,
        Err(RegistryError::NotFound(_))
    ));
}

pub async fn versions_resolve_sources_and_never_reuse_numbers((r, t): Services) {
    r.create_registered_model("m", None, &[]).await.unwrap();
    let run = t.create_run(CreateRun::default()).await.unwrap();
    let v1 = r
        .create_model_version(version(
            "m",
            &format!("runs:/{}/model", run.info.run_id),
            Some(&run.info.run_id),
        ))
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(v1.current_stage, Stage::None);
    assert_eq!(
        v1.storage_location,
        format!("{}/model", run.info.artifact_uri)
    );

    let logged = t
        .create_logged_model(NewLoggedModelRequest {
            experiment_id: "0".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut request = version("m", &format!("models:/{}", logged.model_id), None);
    request.model_id = Some(logged.model_id.clone());
    let v2 = r.create_model_version(request).await.unwrap();
    assert_eq!(
        (v2.version, v2.storage_location.as_str()),
        (2, logged.artifact_uri.as_str())
    );
    assert_eq!(v2.model_id.as_deref(), Some(logged.model_id.as_str()));

    r.delete_model_version("m", "2").await.unwrap();
    let v3 = r
        .create_model_version(version("m", "file:///models/x", None))
        .await
        .unwrap();
    assert_eq!(v3.version, 3, "numbers are never reused");
    assert_eq!(
        r.update_model_version("m", "3", "desc")
            .await
            .unwrap()
            .description,
        "desc"
    );

    assert!(matches!(
        r.create_model_version(version("missing", "s3://x", None))
            .await,
        Err(RegistryError::NotFound(_))
    ));
    assert!(matches!(
        r.create_model_version(version("m", "s3://x", Some("no-run")))
            .await,
        Err(RegistryError::Tracking(_))
    ));
    assert!(matches!(
        r.get_model_version("m", "2").await,
        Err(RegistryError::NotFound(_))
    ));
    assert!(matches!(
        r.get_model_version("m", "abc").await,
        Err(RegistryError::InvalidParameter(_))
    ));
    r.set_model_version_tag("m", "1", &KeyValue::new("a", "b"))
        .await
        .unwrap();
    r.delete_model_version_tag("m", "1", "a").await.unwrap();
    r.delete_model_version_tag("m", "1", "a")
        .await
        .expect("deleting a missing tag is a no-op");
}

pub async fn aliases((r, _t): Services) {
    r.create_registered_model("m", None, &[]).await.unwrap();
    for _ in 0..2 {
        r.create_model_version(version("m", "s3://b/m", None))
            .await
            .unwrap();
    }
    r.set_alias("m", "champion", "1").await.unwrap();
    r.set_alias("m", "champion", "2").await.unwrap();
    r.set_alias("m", "challenger", "1").await.unwrap();
    assert_eq!(
        r.get_version_by_alias("m", "champion")
            .await
            .unwrap()
            .version,
        2
    );
    let model = r.get_registered_model("m").await.unwrap();
    let aliases: Vec<(String, i64)> = model
        .aliases
        .iter()
        .map(|a| (a.alias.clone(), a.version))
        .collect();
    assert_eq!(
        aliases,
        vec![("challenger".to_string(), 1), ("champion".to_string(), 2)]
    );
    assert_eq!(
        r.get_model_version("m", "2").await.unwrap().aliases,
        vec!["champion".to_string()]
    );

    for reserved in ["latest", "v1", "V7", "bad alias"] {
        assert!(
            matches!(
                r.set_alias("m", reserved, "1").await,
                Err(RegistryError::InvalidParameter(_))
            ),
            "{reserved}"
        );
    }
    assert!(matches!(
        r.set_alias("m", "x", "9").await,
        Err(RegistryError::NotFound(_))
    ));
    r.delete_model_version("m", "2").await.unwrap();
    assert!(matches!(
        r.get_version_by_alias("m", "champion").await,
        Err(RegistryError::InvalidParameter(_))
    ));
    assert!(matches!(
        r.get_version_by_alias("nobody", "champion").await,
        Err(RegistryError::NotFound(_))
    ));
    r.delete_alias("m", "challenger").await.unwrap();
    assert!(r
        .get_registered_model("m")
        .await
        .unwrap()
        .aliases
        .is_empty());
}

pub async fn stages_and_latest_versions((r, _t): Services) {
    r.create_registered_model("m", None, &[]).await.unwrap();
    for _ in 0..3 {
        r.create_model_version(version("m", "s3://b/m", None))
            .await
            .unwrap();
    }
    r.transition_stage("m", "1", "production", false)
        .await
        .unwrap();
    r.transition_stage("m", "2", "Staging", false)
        .await
        .unwrap();
    let promoted = r
        .transition_stage("m", "3", "Production", true)
        .await
        .unwrap();
    assert_eq!(promoted.current_stage, Stage::Production);
    assert_eq!(
        r.get_model_version("m", "1").await.unwrap().current_stage,
        Stage::Archived
    );
    assert_eq!(
        r.get_model_version("m", "2").await.unwrap().current_stage,
        Stage::Staging
    );
    assert!(matches!(
        r.transition_stage("m", "1", "Shipped", false).await,
        Err(RegistryError::InvalidParameter(_))
    ));

    let production = r
        .latest_versions("m", &["Production".into()])
        .await
        .unwrap();
    assert_eq!(
        production.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![3]
    );
    let mut all: Vec<(i64, Stage)> = r
        .latest_versions("m", &[])
        .await
        .unwrap()
        .iter()
        .map(|v| (v.version, v.current_stage))
        .collect();
    all.sort_by_key(|(v, _)| *v);
    assert_eq!(
        all,
        vec![
            (1, Stage::Archived),
            (2, Stage::Staging),
            (3, Stage::Production)
        ]
    );
}

pub async fn search_registry((r, t): Services) {
    for (name, team) in [("alpha", "a"), ("alphabet", "b"), ("beta", "a")] {
        r.create_registered_model(name, None, &[KeyValue::new("team", team)])
            .await
            .unwrap();
    }
    let names = |page: galley_tracking::model::Page<galley_registry::model::RegisteredModel>| {
        page.items.into_iter().map(|m| m.name).collect::<Vec<_>>()
    };
    let request = |filter: &str, order: &[&str]| SearchRequest {
        filter: Some(filter.into()),
        order_by: order.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    assert_eq!(
        names(
            r.search_registered_models(&request("name LIKE 'alpha%'", &["name DESC"]))
                .await
                .unwrap()
        ),
        ["alphabet", "alpha"]
    );
    assert_eq!(
        names(
            r.search_registered_models(&request("tags.team = 'a'", &[]))
                .await
                .unwrap()
        ),
        ["alpha", "beta"]
    );
    r.create_registered_model("untagged", None, &[])
        .await
        .unwrap();
    assert_eq!(
        names(
            r.search_registered_models(&request("tags.team != 'a'", &[]))
                .await
                .unwrap()
        ),
        ["alphabet", "untagged"],
        "!= also matches models without the tag"
    );
    r.delete_registered_model("untagged").await.unwrap();
    let first = r
        .search_registered_models(&SearchRequest {
            max_results: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.next_offset.map(galley_core::page::encode);
    let rest = r
        .search_registered_models(&SearchRequest {
            max_results: Some(2),
            page_token: token,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(names(rest), ["beta"]);
    assert!(r
        .search_registered_models(&request("name >> 1", &[]))
        .await
        .is_err());

    let run = t.create_run(CreateRun::default()).await.unwrap();
    let run_id = run.info.run_id.clone();
    r.create_model_version(version("alpha", "s3://x", Some(&run_id)))
        .await
        .unwrap();
    r.create_model_version(version("alpha", "s3://y", None))
        .await
        .unwrap();
    r.create_model_version(version("beta", "s3://z", Some(&run_id)))
        .await
        .unwrap();
    r.set_model_version_tag("alpha", "2", &KeyValue::new("k", "v"))
        .await
        .unwrap();
    let versions = |filter: &str| {
        let r = r.clone();
        let filter = filter.to_string();
        async move {
            r.search_model_versions(&SearchRequest {
                filter: Some(filter),
                ..Default::default()
            })
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|v| format!("{}/{}", v.name, v.version))
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        versions(&format!("run_id = '{run_id}'")).await,
        ["alpha/1", "beta/1"]
    );
    assert_eq!(
        versions("name = 'alpha' AND tag.k = 'v'").await,
        ["alpha/2"]
    );
    assert_eq!(versions("version_number > 1").await, ["alpha/2"]);
    assert_eq!(versions("source_path LIKE 's3://%'").await.len(), 3);
}

pub async fn signatures_cards_and_lineage((r, t): Services) {
    let run = t.create_run(CreateRun::default()).await.unwrap();
    let run_id = run.info.run_id.clone();
    t.log_batch(
        &run_id,
        &[Metric {
            key: "auc".into(),
            value: 0.9,
            timestamp: 1,
            step: 0,
            model_id: None,
            dataset_name: None,
            dataset_digest: None,
        }],
        &[KeyValue::new("depth", "4")],
        &[],
    )
    .await
    .unwrap();
    let dataset = DatasetInput {
        tags: vec![KeyValue::new("mlflow.data.context", "training")],
        dataset: Dataset {
            name: "payments".into(),
            digest: "abc123".into(),
            source_type: "local".into(),
            source: "/data/payments.parquet".into(),
            schema: None,
            profile: None,
        },
    };
    t.log_inputs(&run_id, &[dataset], &[]).await.unwrap();
    r.create_registered_model("m", None, &[]).await.unwrap();

    let plain = r
        .create_model_version(version("m", "s3://bucket/model.pkl", Some(&run_id)))
        .await
        .unwrap();
    assert_eq!(plain.signature, None);
    let onnx = r
        .create_model_version(version("m", "s3://bucket/model.onnx", Some(&run_id)))
        .await
        .unwrap();
    let signature = onnx.signature.clone().expect("inspected at registration");
    assert_eq!(signature.inputs[0].shape, vec![None, Some(4)]);

    let card = ModelCard {
        intended_use: "Scoring payments".into(),
        owners: vec!["risk".into(), "ml-platform".into()],
        markdown: "Notes".into(),
        ..Default::default()
    };
    assert!(matches!(
        r.get_model_card("m", "2").await,
        Err(RegistryError::NotFound(_))
    ));
    r.put_model_card("m", "2", &card).await.unwrap();
    assert!(matches!(
        r.put_model_card("m", "9", &card).await,
        Err(RegistryError::NotFound(_))
    ));

    r.rename_registered_model("m", "m2").await.unwrap();
    let renamed = r.get_model_version("m2", "2").await.unwrap();
    assert_eq!(renamed.signature, Some(signature));
    assert_eq!(r.get_model_card("m2", "2").await.unwrap(), card);
    let markdown = r.render_model_card("m2", "2").await.unwrap();
    assert!(markdown.contains("Scoring payments") && markdown.contains("| auc | 0.9 |"));
    assert!(markdown.contains("payments (digest abc123"), "{markdown}");

    let lineage = r.lineage("m2", "2").await.unwrap();
    let run = lineage.run.expect("the version's run");
    assert_eq!(run.params, vec![KeyValue::new("depth", "4")]);
    assert_eq!(run.dataset_inputs[0].dataset.digest, "abc123");
    assert_eq!(
        lineage.experiment.unwrap().experiment_id,
        run.info.experiment_id
    );
    assert!(lineage.logged_model.is_none());

    // A deleted run drops out of the lineage instead of breaking it.
    t.delete_run(&run_id).await.unwrap();
    assert!(r.lineage("m2", "1").await.is_ok());

    r.delete_model_version("m2", "2").await.unwrap();
    r.create_model_version(version("m2", "s3://bucket/other.pkl", Some(&run_id)))
        .await
        .unwrap();
    assert!(matches!(
        r.get_model_card("m2", "3").await,
        Err(RegistryError::NotFound(_))
    ));
}
