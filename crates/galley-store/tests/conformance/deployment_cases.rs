//! Deployment store cases, driven through the `DeploymentStore` port.

use std::sync::Arc;

use galley_serving::model::*;
use galley_serving::{DeploymentStore, ServingError};

type Store = Arc<dyn DeploymentStore>;

fn deployment(name: &str) -> Deployment {
    Deployment {
        name: name.into(),
        model: "fraud".into(),
        selector: VersionSelector::Alias("champion".into()),
        version: 3,
        previous_version: None,
        batch: BatchSettings {
            max_batch_size: 16,
            max_batch_delay_ms: 5,
            max_queue: 100,
        },
        scale: ScaleSettings {
            min_replicas: 1,
            max_replicas: 4,
        },
        canary: Some(TrafficShare {
            version: 4,
            percent: 10,
        }),
        shadow: None,
        log_sample_rate: 0.25,
        created_at: 1,
        updated_at: 1,
    }
}

pub async fn deployments_round_trip(store: Store) {
    let d = deployment("fraud-api");
    store.create_deployment(&d).await.unwrap();
    assert!(matches!(
        store.create_deployment(&d).await,
        Err(ServingError::AlreadyExists(_))
    ));
    assert_eq!(store.get_deployment("fraud-api").await.unwrap(), d);

    let mut changed = d.clone();
    changed.selector = VersionSelector::Version(4);
    changed.previous_version = Some(3);
    changed.version = 4;
    changed.canary = None;
    changed.shadow = Some(TrafficShare {
        version: 5,
        percent: 100,
    });
    changed.updated_at = 2;
    store.update_deployment(&changed).await.unwrap();
    assert_eq!(store.get_deployment("fraud-api").await.unwrap(), changed);

    store
        .create_deployment(&deployment("a-first"))
        .await
        .unwrap();
    let names: Vec<String> = store
        .list_deployments()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["a-first", "fraud-api"]);

    store.delete_deployment("fraud-api").await.unwrap();
    for result in [
        store.get_deployment("fraud-api").await.map(|_| ()),
        store.delete_deployment("fraud-api").await,
        store.update_deployment(&changed).await,
    ] {
        assert!(matches!(result, Err(ServingError::NotFound(_))));
    }
}
