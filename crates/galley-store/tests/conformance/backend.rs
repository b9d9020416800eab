//! Fresh, isolated stores for each test: a temp SQLite file, or a new PostgreSQL schema.

use std::sync::Arc;

use galley_compute::ComputeStore;
use galley_core::LeaseStore;
use galley_features::FeatureRegistryStore;
use galley_monitoring::MonitoringStore;
use galley_registry::model::{ModelSignature, TensorSpec};
use galley_registry::{ModelInspector, RegistryService};
use galley_serving::DeploymentStore;
use galley_store::{SqlStore, SqliteSync};
use galley_tracking::TrackingService;

pub struct Backend {
    pub store: SqlStore,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl Backend {
    pub async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("galley.db").display());
        Backend {
            store: SqlStore::connect(&url, SqliteSync::Normal).await.unwrap(),
            _dir: Some(dir),
            schema: None,
        }
    }

    pub async fn postgres() -> Option<Backend> {
        let Ok(base) = std::env::var("GALLEY_TEST_POSTGRES_URL") else {
            eprintln!("SKIPPED: PostgreSQL conformance case (GALLEY_TEST_POSTGRES_URL is not set)");
            return None;
        };
        let schema = format!("galley_test_{}", galley_core::ids::new_run_id());
        let admin = admin_pool(&base).await;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        Some(Backend {
            store: SqlStore::connect(&url, SqliteSync::Normal).await.unwrap(),
            _dir: None,
            schema: Some((base, schema)),
        })
    }

    pub fn tracking(&self) -> TrackingService {
        TrackingService::new(Arc::new(self.store.clone()), "mlflow-artifacts:")
    }

    pub fn deployments(&self) -> Arc<dyn DeploymentStore> {
        Arc::new(self.store.clone())
    }

    pub fn compute(&self) -> Arc<dyn ComputeStore> {
        Arc::new(self.store.clone())
    }

    pub fn features(&self) -> Arc<dyn FeatureRegistryStore> {
        Arc::new(self.store.clone())
    }

    pub fn leases(&self) -> Arc<dyn LeaseStore> {
        Arc::new(self.store.clone())
    }

    pub fn monitoring(&self) -> Arc<dyn MonitoringStore> {
        Arc::new(self.store.clone())
    }

    pub fn registry(&self) -> (RegistryService, TrackingService) {
        let tracking = self.tracking();
        (
            RegistryService::new(
                Arc::new(self.store.clone()),
                tracking.clone(),
                Arc::new(OnnxByName),
            ),
            tracking,
        )
    }

    pub async fn drop_schema(self) {
        self.store.close().await;
        if let Some((base, schema)) = self.schema {
            let admin = admin_pool(&base).await;
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
    }
}

async fn admin_pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url).await.unwrap()
}

/// Stands in for the serving layer's inspector: any location ending in `.onnx` "holds" a model
/// with one FP32 input, so the cases can check that signatures are stored and travel.
struct OnnxByName;

#[async_trait::async_trait]
impl ModelInspector for OnnxByName {
    async fn inspect(&self, storage_location: &str) -> Option<ModelSignature> {
        storage_location.ends_with(".onnx").then(|| ModelSignature {
            format: "onnx".into(),
            path: String::new(),
            inputs: vec![TensorSpec {
                name: "x".into(),
                datatype: "FP32".into(),
                shape: vec![None, Some(4)],
            }],
            outputs: vec![],
        })
    }
}
