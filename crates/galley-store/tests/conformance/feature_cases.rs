//! Conformance cases for the feature registry store: versioned definitions replaced by
//! compare-and-set, and materialization records per view.

use std::sync::Arc;

use galley_features::definitions::Definitions;
use galley_features::stats::FeatureStatistics;
use galley_features::store::Materialization;
use galley_features::{FeatureError, FeatureRegistryStore};

fn definitions(feature: &str) -> Definitions {
    Definitions::parse_yaml(&format!(
        r#"
entities: [{{name: driver, join_keys: [driver_id], value_type: int64}}]
sources: [{{name: s, path: /data/x.parquet, timestamp_field: ts, created_timestamp_column: created}}]
feature_views:
  - {{name: v, entities: [driver], source: s, ttl: 1d, tags: {{team: a}}, schema: [{{name: {feature}, dtype: float64}}]}}
feature_services: [{{name: svc, features: ["v:{feature}"]}}]
"#
    ))
    .unwrap()
}

pub async fn definitions_are_versioned_and_compare_and_set(store: Arc<dyn FeatureRegistryStore>) {
    assert!(store.definitions().await.unwrap().is_none());
    let first = definitions("rate");
    assert_eq!(store.put_definitions(&first, 0, 10).await.unwrap(), 1);
    let stored = store.definitions().await.unwrap().unwrap();
    assert_eq!((stored.version, stored.applied_at), (1, 10));
    assert_eq!(stored.definitions, first);

    // A second apply from the same starting version loses and writes nothing.
    let second = definitions("trips");
    assert_eq!(store.put_definitions(&second, 1, 20).await.unwrap(), 2);
    let lost = store.put_definitions(&first, 1, 30).await;
    assert!(matches!(lost, Err(FeatureError::Conflict(_))), "{lost:?}");
    let stored = store.definitions().await.unwrap().unwrap();
    assert_eq!((stored.version, stored.definitions), (2, second));
}

fn materialization(view: &str, end: i64, finished_at: i64) -> Materialization {
    Materialization {
        view: view.into(),
        start: (end > 100).then_some(end - 100),
        end,
        rows: 3,
        newest_event: Some(end - 1),
        finished_at,
        statistics: vec![FeatureStatistics::of_numbers(
            "rate",
            &[1.0, 2.0, f64::NAN],
            1,
        )],
    }
}

pub async fn materializations_newest_first_per_view(store: Arc<dyn FeatureRegistryStore>) {
    assert!(store.materializations("v", 10).await.unwrap().is_empty());
    let records = [
        materialization("v", 100, 1),
        materialization("v", 300, 3),
        materialization("v", 200, 2),
        materialization("w", 900, 4),
    ];
    for record in &records {
        store.record_materialization(record).await.unwrap();
    }
    let listed = store.materializations("v", 10).await.unwrap();
    let ends: Vec<i64> = listed.iter().map(|m| m.end).collect();
    assert_eq!(ends, vec![300, 200, 100]);
    assert_eq!(listed[0], records[1], "statistics round-trip");
    assert_eq!(store.materializations("v", 1).await.unwrap().len(), 1);
    assert_eq!(store.materializations("w", 10).await.unwrap().len(), 1);
}
