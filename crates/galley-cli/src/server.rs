//! Composition root: opens the metadata store and artifact store named by the configuration,
//! builds the services and serves HTTP until shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use galley_artifacts::ArtifactStore;
use galley_compute::job::JobSpec;
use galley_compute_runtime::{
    ComputeService, ComputeSettings, Executor, KubernetesExecutor, KubernetesSettings,
    LocalExecutor, RayExecutor,
};
use galley_features::OnlineStore;
use galley_features_runtime::FeatureService;
use galley_http::{AppState, Services};
use galley_inference::{ArtifactInspector, ServingService};
use galley_monitoring::alerts::{AlertEvent, RetrainLauncher};
use galley_monitoring_runtime::{
    DeliverySettings, MonitoringService, PredictionWriter, WriterSettings,
};
use galley_online::{EmbeddedOnlineStore, RedisOnlineStore};
use galley_registry::RegistryService;
use galley_store::{SqlStore, SqliteSync};
use galley_tracking::TrackingService;
use tokio::net::TcpListener;

/// Experiments created without a location keep their artifacts behind the server's artifact
/// proxy, so clients need no credentials for the storage behind it.
const PROXIED_ARTIFACT_ROOT: &str = "mlflow-artifacts:";

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; defaults to `<data_dir>/galley.db`.
    pub database_url: Option<String>,
    /// A folder or `file://` URL; defaults to `<data_dir>/artifacts`.
    pub artifact_root: Option<String>,
    pub sqlite_sync: SqliteSync,
    /// How the prediction log batches sampled requests into files.
    pub prediction_log: WriterSettings,
    /// How often every monitored deployment is evaluated; `None`: only on demand.
    pub evaluation_interval: Option<Duration>,
    pub alert_delivery: DeliverySettings,
    /// How often the job scheduler runs a round when nothing wakes it sooner.
    pub scheduler_interval: Duration,
    /// A Ray cluster's dashboard URL: jobs may then ask for `executor: ray`.
    pub ray_address: Option<String>,
    /// A Kubernetes API (through `kubectl proxy`): jobs may then ask for `executor: kubernetes`.
    pub kubernetes: Option<KubernetesSettings>,
    /// `redis://...` for online features in Redis; default: a file in the data dir.
    pub online_store: Option<String>,
    /// How often every online feature view is materialized incrementally; `None`: on demand.
    pub materialize_interval: Option<Duration>,
}

/// A server bound to its port, not yet serving.
pub struct Server {
    listener: TcpListener,
    state: AppState,
    store: SqlStore,
    prediction_writer: PredictionWriter,
    features: FeatureService,
    scheduler: tokio::task::JoinHandle<()>,
    stop_scheduler: tokio::sync::watch::Sender<bool>,
}

impl Server {
    pub async fn build(config: &ServerConfig) -> anyhow::Result<Server> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
        let database_url = config
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", config.data_dir.join("galley.db").display()));
        let store = SqlStore::connect(&database_url, config.sqlite_sync)
            .await
            .context("opening the metadata store")?;
        let artifact_root = config
            .artifact_root
            .clone()
            .unwrap_or_else(|| config.data_dir.join("artifacts").display().to_string());
        let artifacts =
            ArtifactStore::open(&artifact_root).context("opening the artifact store")?;
        let probe = store.clone();
        let tracking = TrackingService::new(Arc::new(store.clone()), PROXIED_ARTIFACT_ROOT);
        let registry = RegistryService::new(
            Arc::new(store.clone()),
            tracking.clone(),
            Arc::new(ArtifactInspector::new(artifacts.clone())),
        );
        let (prediction_log, prediction_writer) = PredictionWriter::start(
            config.prediction_log,
            artifacts.clone(),
            Arc::new(store.clone()),
        );
        let serving =
            ServingService::new(Arc::new(store.clone()), registry.clone(), artifacts.clone())
                .with_prediction_sink(prediction_log.clone());
        serving.start().await.context("loading deployments")?;
        let monitoring = MonitoringService::new(
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            artifacts.clone(),
            prediction_log,
            config.alert_delivery,
        );
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
        let compute = compute_service(config, &listener, &store, &artifacts, &tracking).await?;
        let monitoring = monitoring.with_retrain_launcher(Arc::new(RetrainJobs(compute.clone())));
        if let Some(interval) = config.evaluation_interval {
            monitoring.start_schedule(interval, Arc::new(store.clone()));
        }
        let features = feature_service(config, &store, &artifacts).await?;
        let (stop_scheduler, stopped) = tokio::sync::watch::channel(false);
        let scheduler = compute.spawn_scheduler(config.scheduler_interval, stopped);
        let state = AppState::new(Services {
            registry,
            serving,
            monitoring,
            compute,
            features: features.clone(),
            tracking,
            artifacts,
            prometheus: galley_http::observability::prometheus(),
            health_check: Arc::new(move || {
                let probe = probe.clone();
                Box::pin(async move { probe.ping().await })
            }),
        });
        tracing::info!(
            address = %listener.local_addr()?,
            database = %redact(&database_url),
            artifacts = %artifact_root,
            "galley server ready"
        );
        Ok(Server {
            listener,
            state,
            store,
            prediction_writer,
            features,
            scheduler,
            stop_scheduler,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests, stops the job
    /// scheduler (jobs keep running; a restarted server picks them up) and the feature store's
    /// loops (releasing the embedded online store), writes out the buffered
    /// prediction log and closes the store.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        galley_http::serve(self.listener, self.state, shutdown).await?;
        self.features.stop().await;
        let _ = self.stop_scheduler.send(true);
        let _ = self.scheduler.await;
        self.prediction_writer.stop().await;
        self.store.close().await;
        tracing::info!("galley server stopped");
        Ok(())
    }
}

/// How often a replica looks for definitions another replica applied.
const DEFINITIONS_REFRESH: Duration = Duration::from_secs(5);
/// How often feature freshness gauges are recomputed.
const FRESHNESS_INTERVAL: Duration = Duration::from_secs(15);

/// The feature store on the embedded online store (`<data dir>/online-features.redb`) or Redis,
/// with its spill and download space under `<data dir>/features`.
async fn feature_service(
    config: &ServerConfig,
    store: &SqlStore,
    artifacts: &ArtifactStore,
) -> anyhow::Result<FeatureService> {
    let online: Arc<dyn OnlineStore> = match config.online_store.as_deref() {
        Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => Arc::new(
            RedisOnlineStore::connect(url, "galley")
                .await
                .context("connecting to the Redis online store")?,
        ),
        Some(other) => anyhow::bail!("--online-store must be a redis:// URL, got {other}"),
        None => Arc::new(
            EmbeddedOnlineStore::open(config.data_dir.join("online-features.redb"))
                .await
                .context("opening the embedded online store")?,
        ),
    };
    let features = FeatureService::new(
        Arc::new(store.clone()),
        online,
        artifacts.clone(),
        config.data_dir.join("features"),
    )
    .await
    .context("loading the feature definitions")?;
    features.start_refresh(DEFINITIONS_REFRESH);
    features.start_freshness_gauges(FRESHNESS_INTERVAL);
    if let Some(interval) = config.materialize_interval {
        features.start_schedule(interval, Arc::new(store.clone()));
    }
    Ok(features)
}

/// The compute layer with the local executor, running jobs under `<data dir>/jobs`, and Ray when
/// configured; jobs are pointed at this server for tracking.
async fn compute_service(
    config: &ServerConfig,
    listener: &TcpListener,
    store: &SqlStore,
    artifacts: &ArtifactStore,
    tracking: &TrackingService,
) -> anyhow::Result<ComputeService> {
    let address = listener.local_addr()?;
    let host = if address.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        address.ip().to_string()
    };
    let local: Arc<dyn Executor> = Arc::new(LocalExecutor::new(
        config.data_dir.join("jobs"),
        Duration::from_secs(10),
    ));
    let mut executors = std::collections::BTreeMap::from([("local".to_string(), local)]);
    if let Some(address) = &config.ray_address {
        let ray: Arc<dyn Executor> =
            Arc::new(RayExecutor::new(address).context("the Ray address")?);
        executors.insert("ray".to_string(), ray);
    }
    if let Some(settings) = &config.kubernetes {
        let kubernetes: Arc<dyn Executor> = Arc::new(
            KubernetesExecutor::new(settings.clone())
                .context("the Kubernetes executor settings")?,
        );
        executors.insert("kubernetes".to_string(), kubernetes);
    }
    let machine = galley_compute_runtime::machine::discover().await;
    tracing::info!(
        cpus = machine.cpu_millis / 1000,
        memory_bytes = machine.memory_bytes,
        gpus = machine.gpus.len(),
        "local executor inventory"
    );
    Ok(ComputeService::new(ComputeSettings {
        store: Arc::new(store.clone()),
        leases: Arc::new(store.clone()),
        executors,
        machine,
        artifacts: artifacts.clone(),
        tracking: tracking.clone(),
        tracking_uri: format!("http://{host}:{}", address.port()),
        holder: format!("{}-{}", std::process::id(), galley_core::ids::new_run_id()),
    }))
}

/// Alert rules' retraining jobs, submitted to the compute layer with what fired them in the
/// environment (`GALLEY_ALERT_DEPLOYMENT`, `_METRIC`, `_COLUMN`, `_VALUE`, `_WINDOW_START`,
/// `_WINDOW_END`).
struct RetrainJobs(ComputeService);

impl RetrainJobs {
    fn spec(job: &serde_json::Value) -> Result<JobSpec, String> {
        serde_json::from_value(job.clone()).map_err(|e| e.to_string())
    }
}

#[async_trait::async_trait]
impl RetrainLauncher for RetrainJobs {
    async fn check(&self, job: &serde_json::Value) -> Result<(), String> {
        let spec = Self::spec(job)?;
        self.0
            .prepare(spec)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn launch(&self, job: &serde_json::Value, event: &AlertEvent) -> Result<String, String> {
        let mut spec = Self::spec(job)?;
        spec.name
            .get_or_insert_with(|| format!("retrain-{}", event.deployment));
        for (key, value) in [
            ("GALLEY_ALERT_DEPLOYMENT", event.deployment.clone()),
            ("GALLEY_ALERT_METRIC", event.metric.clone()),
            ("GALLEY_ALERT_COLUMN", event.column.clone()),
            ("GALLEY_ALERT_VALUE", event.value.to_string()),
            ("GALLEY_ALERT_WINDOW_START", event.window.start.to_string()),
            ("GALLEY_ALERT_WINDOW_END", event.window.end.to_string()),
        ] {
            spec.env.insert(key.to_string(), value);
        }
        self.0
            .submit(spec)
            .await
            .map(|job| job.id)
            .map_err(|e| e.to_string())
    }
}

/// Hides a password in a database URL before it is logged.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
