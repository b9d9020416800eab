//! The serving service: creates, changes and deletes deployments, keeps their versions loaded,
//! routes each request (canary, sticky key, shadow copy) and swaps versions without dropping a
//! request.
//!
//! A deployment's live state is an immutable `Endpoint` behind an `Arc`; a change builds a new
//! endpoint beside the old one (loading and warming up only the versions it does not share),
//! swaps the `Arc` in one step, then drains the versions the new endpoint no longer uses. A
//! request that raced the swap and met a draining version is retried once on the new endpoint.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use galley_artifacts::ArtifactStore;
use galley_core::time::now_millis;
use galley_registry::RegistryService;
use galley_serving::model::*;
use galley_serving::validation::{validate_deployment, validate_name};
use galley_serving::{DeploymentStore, ServingError};

use crate::batcher::{Inputs, Outputs};
use crate::loaded::LoadedVersion;
use crate::prediction_log::{PredictionRecord, PredictionSink};
use crate::routing;
use crate::scaling::next_replicas;
use crate::shadow::{compare, ShadowLog, ShadowRecord};
use crate::signature_check::check_inputs;

type Result<T, E = ServingError> = std::result::Result<T, E>;

/// How often the autoscaler looks at queues.
const AUTOSCALE_INTERVAL: Duration = Duration::from_millis(500);

/// What a user asks for when creating or updating a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentRequest {
    pub name: String,
    pub model: String,
    pub selector: VersionSelector,
    pub batch: BatchSettings,
    pub scale: ScaleSettings,
    pub canary: Option<TrafficShare>,
    pub shadow: Option<TrafficShare>,
    pub log_sample_rate: f64,
}

/// A deployment's live state, never mutated: changes build a new one.
struct Endpoint {
    deployment: Deployment,
    versions: HashMap<i64, Arc<LoadedVersion>>,
    shadow_log: Arc<ShadowLog>,
}

/// Per version of a deployment: what is loaded and how busy it is.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionStatus {
    pub version: i64,
    pub replicas: usize,
    pub busy: usize,
    pub queued: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentStatus {
    pub deployment: Deployment,
    /// `false` when the deployment is stored but could not be loaded (see the server log).
    pub ready: bool,
    pub versions: Vec<VersionStatus>,
}

/// One answered request.
pub struct Inference {
    pub model: String,
    pub version: i64,
    /// The id the caller gave, or the one made up for it.
    pub request_id: String,
    /// Shared with the prediction log when the request is logged.
    pub outputs: Arc<Outputs>,
}

#[derive(Clone)]
pub struct ServingService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn DeploymentStore>,
    registry: RegistryService,
    artifacts: ArtifactStore,
    live: RwLock<HashMap<String, Arc<Endpoint>>>,
    predictions: Option<Arc<dyn PredictionSink>>,
}

impl ServingService {
    pub fn new(
        store: Arc<dyn DeploymentStore>,
        registry: RegistryService,
        artifacts: ArtifactStore,
    ) -> Self {
        ServingService {
            inner: Arc::new(Inner {
                store,
                registry,
                artifacts,
                live: RwLock::new(HashMap::new()),
                predictions: None,
            }),
        }
    }

    /// Sends each deployment's sampled requests (its `log_sample_rate`) to `sink`. Call before
    /// the service is shared.
    pub fn with_prediction_sink(mut self, sink: Arc<dyn PredictionSink>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the prediction sink is set before the service is shared")
            .predictions = Some(sink);
        self
    }

    /// Loads every stored deployment (a server restart) and starts the autoscaler. A deployment
    /// that fails to load stays stored and answers 503 until it is updated.
    pub async fn start(&self) -> Result<()> {
        for deployment in self.inner.store.list_deployments().await? {
            let name = deployment.name.clone();
            match self.build_endpoint(deployment, None).await {
                Ok(endpoint) => {
                    self.install(endpoint);
                }
                Err(error) => tracing::error!(deployment = %name, %error, "cannot load deployment"),
            }
        }
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(AUTOSCALE_INTERVAL);
            let mut last = Instant::now();
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                ServingService { inner }.autoscale(last.elapsed());
                last = Instant::now();
            }
        });
        Ok(())
    }

    fn endpoint(&self, name: &str) -> Option<Arc<Endpoint>> {
        self.read_live().get(name).cloned()
    }

    fn read_live(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Endpoint>>> {
        self.inner.live.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `endpoint` live and returns the one it replaced.
    fn install(&self, endpoint: Endpoint) -> Option<Arc<Endpoint>> {
        let mut live = self.inner.live.write().unwrap_or_else(|p| p.into_inner());
        live.insert(endpoint.deployment.name.clone(), Arc::new(endpoint))
    }

    async fn resolve(&self, model: &str, selector: &VersionSelector) -> Result<i64> {
        let version = match selector {
            VersionSelector::Version(v) => {
                self.inner
                    .registry
                    .get_model_version(model, &v.to_string())
                    .await?
            }
            VersionSelector::Alias(alias) => {
                self.inner
                    .registry
                    .get_version_by_alias(model, alias)
                    .await?
            }
        };
        Ok(version.version)
    }

    /// Loads what `deployment` needs, reusing versions of `previous` whose batching is unchanged.
    async fn build_endpoint(
        &self,
        deployment: Deployment,
        previous: Option<&Endpoint>,
    ) -> Result<Endpoint> {
        let mut versions = HashMap::new();
        for version in deployment.versions() {
            let reusable = previous
                .and_then(|p| p.versions.get(&version))
                .filter(|loaded| loaded.batch == deployment.batch)
                .cloned();
            let loaded = match reusable {
                Some(loaded) => loaded,
                None => Arc::new(
                    LoadedVersion::load(
                        &self.inner.registry,
                        &self.inner.artifacts,
                        &deployment.name,
                        &deployment.model,
                        version,
                        deployment.batch,
                        deployment.scale,
                    )
                    .await?,
                ),
            };
            versions.insert(version, loaded);
        }
        Ok(Endpoint {
            shadow_log: previous.map_or_else(Default::default, |p| p.shadow_log.clone()),
            deployment,
            versions,
        })
    }

    /// Drains the versions of `old` that `current` no longer serves, then lets them go; their
    /// memory is released once the last in-flight request holding them finishes.
    fn retire(&self, old: Option<Arc<Endpoint>>, current: Option<&Endpoint>) {
        let Some(old) = old else { return };
        let retired: Vec<Arc<LoadedVersion>> = old
            .versions
            .values()
            .filter(|v| {
                current
                    .and_then(|c| c.versions.get(&v.version))
                    .is_none_or(|kept| !Arc::ptr_eq(kept, v))
            })
            .cloned()
            .collect();
        drop(old);
        if retired.is_empty() {
            return;
        }
        tokio::spawn(async move {
            for version in retired {
                version.batcher.drain().await;
                tracing::info!(version = version.version, "model version unloaded");
            }
        });
    }

    pub async fn create(&self, request: DeploymentRequest) -> Result<Deployment> {
        validate_name(&request.name)?;
        match self.inner.store.get_deployment(&request.name).await {
            Ok(_) => {
                return Err(ServingError::AlreadyExists(format!(
                    "Deployment '{}' already exists",
                    request.name
                )))
            }
            Err(ServingError::NotFound(_)) => {}
            Err(other) => return Err(other),
        }
        let now = now_millis();
        let deployment = Deployment {
            version: self.resolve(&request.model, &request.selector).await?,
            name: request.name,
            model: request.model,
            selector: request.selector,
            previous_version: None,
            batch: request.batch,
            scale: request.scale,
            canary: request.canary,
            shadow: request.shadow,
            log_sample_rate: request.log_sample_rate,
            created_at: now,
            updated_at: now,
        };
        validate_deployment(&deployment)?;
        self.check_shares_exist(&deployment).await?;
        let endpoint = self.build_endpoint(deployment.clone(), None).await?;
        self.inner.store.create_deployment(&deployment).await?;
        let replaced = self.install(endpoint);
        self.retire(replaced, None);
        Ok(deployment)
    }

    async fn check_shares_exist(&self, deployment: &Deployment) -> Result<()> {
        for share in [deployment.canary, deployment.shadow].into_iter().flatten() {
            self.inner
                .registry
                .get_model_version(&deployment.model, &share.version.to_string())
                .await?;
        }
        Ok(())
    }

    /// Changes a deployment: a new version (or alias, re-resolved), batching, scaling, canary
    /// or shadow. The old version keeps serving until the new one is loaded and warm.
    pub async fn update(&self, request: DeploymentRequest) -> Result<Deployment> {
        let current = self.inner.store.get_deployment(&request.name).await?;
        if request.model != current.model {
            return Err(ServingError::InvalidInput(format!(
                "Deployment '{}' serves model '{}'; create a new deployment for '{}'",
                current.name, current.model, request.model
            )));
        }
        let version = self.resolve(&request.model, &request.selector).await?;
        let previous_version = if version == current.version {
            current.previous_version
        } else {
            Some(current.version)
        };
        let next = Deployment {
            version,
            previous_version,
            selector: request.selector,
            batch: request.batch,
            scale: request.scale,
            canary: request.canary,
            shadow: request.shadow,
            log_sample_rate: request.log_sample_rate,
            updated_at: now_millis(),
            ..current
        };
        self.apply(next).await
    }

    /// Serves the version that was serving before the last version change.
    pub async fn rollback(&self, name: &str) -> Result<Deployment> {
        let current = self.inner.store.get_deployment(name).await?;
        let Some(previous) = current.previous_version else {
            return Err(ServingError::InvalidInput(format!(
                "Deployment '{name}' has no earlier version to roll back to"
            )));
        };
        let next = Deployment {
            selector: VersionSelector::Version(previous),
            version: previous,
            previous_version: Some(current.version),
            canary: current.canary.filter(|c| c.version != previous),
            shadow: current.shadow.filter(|s| s.version != previous),
            updated_at: now_millis(),
            ..current
        };
        self.apply(next).await
    }

    async fn apply(&self, next: Deployment) -> Result<Deployment> {
        validate_deployment(&next)?;
        self.check_shares_exist(&next).await?;
        let previous = self.endpoint(&next.name);
        let endpoint = self
            .build_endpoint(next.clone(), previous.as_deref())
            .await?;
        self.inner.store.update_deployment(&next).await?;
        let replaced = self.install(endpoint);
        let current = self.endpoint(&next.name);
        self.retire(replaced, current.as_deref());
        tracing::info!(deployment = %next.name, version = next.version, "deployment updated");
        Ok(next)
    }

    pub async fn delete(&self, name: &str) -> Result<()> {
        self.inner.store.delete_deployment(name).await?;
        let removed = self
            .inner
            .live
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        self.retire(removed, None);
        Ok(())
    }

    pub async fn get(&self, name: &str) -> Result<DeploymentStatus> {
        let deployment = self.inner.store.get_deployment(name).await?;
        Ok(self.status(deployment))
    }

    pub async fn list(&self) -> Result<Vec<DeploymentStatus>> {
        let deployments = self.inner.store.list_deployments().await?;
        Ok(deployments.into_iter().map(|d| self.status(d)).collect())
    }

    /// `deployment` with what is loaded for it now.
    pub fn status(&self, deployment: Deployment) -> DeploymentStatus {
        let endpoint = self.endpoint(&deployment.name);
        let mut versions: Vec<VersionStatus> = endpoint
            .iter()
            .flat_map(|e| e.versions.values())
            .map(|v| VersionStatus {
                version: v.version,
                replicas: v.batcher.replicas(),
                busy: v.batcher.busy_workers(),
                queued: v.batcher.queue_depth(),
            })
            .collect();
        versions.sort_by_key(|v| v.version);
        DeploymentStatus {
            ready: endpoint.is_some_and(|e| e.deployment == deployment),
            deployment,
            versions,
        }
    }

    /// Every live deployment's name, for the Open Inference Protocol's server-level readiness.
    pub fn live_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read_live().keys().cloned().collect();
        names.sort();
        names
    }

    /// The loaded version that `version` names (or the serving one), for metadata and
    /// readiness: its signature and number.
    pub fn loaded(&self, name: &str, version: Option<i64>) -> Result<(String, Arc<LoadedVersion>)> {
        let endpoint = self.endpoint(name).ok_or_else(|| not_served(name))?;
        let version = version.unwrap_or(endpoint.deployment.version);
        let loaded = endpoint
            .versions
            .get(&version)
            .cloned()
            .ok_or_else(|| version_not_served(name, version))?;
        Ok((endpoint.deployment.model.clone(), loaded))
    }

    /// Refuses a request at the door, before its body is decoded, when every version it could
    /// be routed to has a full queue: under overload the excess then costs reading its bytes,
    /// not parsing them, and is answered at once. A request let in may still be refused by a
    /// queue that filled meanwhile; an unknown deployment or version is left to `infer`.
    pub fn refuse_when_full(&self, name: &str, version: Option<i64>) -> Result<()> {
        let Some(endpoint) = self.endpoint(name) else {
            return Ok(());
        };
        let deployment = &endpoint.deployment;
        let primary = version.unwrap_or(deployment.version);
        let canary = deployment
            .canary
            .filter(|_| version.is_none())
            .map(|c| c.version);
        let full = |v: i64| {
            endpoint
                .versions
                .get(&v)
                .is_some_and(|l| l.batcher.is_full())
        };
        if full(primary) && canary.is_none_or(full) {
            count_request(name, primary, "rejected");
            return Err(ServingError::Overloaded(name.to_string()));
        }
        Ok(())
    }

    /// The versions a deployment keeps loaded, ascending.
    pub fn loaded_versions(&self, name: &str) -> Result<Vec<i64>> {
        let endpoint = self.endpoint(name).ok_or_else(|| not_served(name))?;
        let mut versions: Vec<i64> = endpoint.versions.keys().copied().collect();
        versions.sort_unstable();
        Ok(versions)
    }

    pub fn shadow_records(&self, name: &str) -> Result<Vec<ShadowRecord>> {
        let endpoint = self.endpoint(name).ok_or_else(|| not_served(name))?;
        Ok(endpoint.shadow_log.recent())
    }

    /// Answers one request. `version` pins a loaded version (the V2 `/versions/{v}/infer`
    /// route); otherwise the canary share and `routing_key` decide. `request_id` is the caller's
    /// id for the request; without one, a new id is made up.
    pub async fn infer(
        &self,
        name: &str,
        version: Option<i64>,
        routing_key: Option<&str>,
        request_id: Option<String>,
        inputs: Inputs,
    ) -> Result<Inference> {
        let started = Instant::now();
        let received_at = now_millis();
        let mut endpoint = self.endpoint(name).ok_or_else(|| not_served(name))?;
        let request_id = request_id.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        // Only a logged request pays for a copy of its inputs.
        let logged = match &self.inner.predictions {
            Some(sink) if routing::sampled(endpoint.deployment.log_sample_rate) => {
                Some((sink.clone(), inputs.clone()))
            }
            _ => None,
        };
        // Only a mirrored request pays for a copy of its inputs.
        let shadow = if version.is_none() {
            let roll = routing::roll(routing_key.map(|k| format!("shadow:{k}")).as_deref());
            routing::mirrored(endpoint.deployment.shadow, roll).map(|v| (v, inputs.clone()))
        } else {
            None
        };
        let mut inputs = inputs;
        let mut retried = false;
        let (answered_by, result) = loop {
            let chosen = version.unwrap_or_else(|| {
                routing::answering_version(
                    endpoint.deployment.version,
                    endpoint.deployment.canary,
                    routing::roll(routing_key),
                )
            });
            let loaded = endpoint
                .versions
                .get(&chosen)
                .cloned()
                .ok_or_else(|| version_not_served(name, chosen))?;
            if let Err(invalid) = check_inputs(loaded.signature(), &inputs) {
                break (chosen, Err(invalid));
            }
            match loaded.batcher.submit(inputs) {
                Ok(answer) => break (chosen, answer.await),
                Err(refused) => {
                    // The version was retired by a swap after this request picked it: retry on
                    // the endpoint that replaced it, so hot swaps drop nothing.
                    let swapped = self
                        .endpoint(name)
                        .filter(|current| !Arc::ptr_eq(current, &endpoint));
                    match swapped {
                        Some(current)
                            if !retried
                                && matches!(refused.error, ServingError::Unavailable(_)) =>
                        {
                            endpoint = current;
                            inputs = refused.inputs;
                            retried = true;
                        }
                        _ => break (chosen, Err(refused.error)),
                    }
                }
            };
        };
        let status = match &result {
            Ok(_) => "ok",
            Err(ServingError::InvalidInput(_)) => "invalid",
            Err(ServingError::Overloaded(_)) => "rejected",
            Err(_) => "error",
        };
        let labels = [
            ("deployment", name.to_string()),
            ("version", answered_by.to_string()),
        ];
        count_request(name, answered_by, status);
        metrics::histogram!("galley_serving_request_duration_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
        let outputs = Arc::new(result?);
        if let Some((shadow_version, copy)) = shadow {
            mirror(&endpoint, shadow_version, answered_by, copy, &outputs);
        }
        if let Some((sink, inputs)) = logged {
            sink.offer(PredictionRecord {
                deployment: name.to_owned(),
                model: endpoint.deployment.model.clone(),
                version: answered_by,
                request_id: request_id.clone(),
                received_at,
                latency_seconds: started.elapsed().as_secs_f64(),
                inputs,
                outputs: outputs.clone(),
            });
        }
        Ok(Inference {
            model: endpoint.deployment.model.clone(),
            version: answered_by,
            request_id,
            outputs,
        })
    }

    /// One autoscaler pass over every loaded version, from their load over the `interval` since
    /// the last pass, and the queue and replica gauges.
    fn autoscale(&self, interval: Duration) {
        let endpoints: Vec<Arc<Endpoint>> = self.read_live().values().cloned().collect();
        for endpoint in endpoints {
            let scale = endpoint.deployment.scale;
            for loaded in endpoint.versions.values() {
                let batcher = &loaded.batcher;
                let load = batcher.load_over(interval);
                let idle = loaded.reset_idle();
                let (replicas, idle) = next_replicas(
                    load,
                    scale.min_replicas as usize,
                    scale.max_replicas as usize,
                    idle,
                );
                loaded
                    .idle_ticks
                    .store(idle, std::sync::atomic::Ordering::Relaxed);
                if replicas != load.replicas {
                    batcher.set_replicas(replicas);
                    tracing::info!(
                        deployment = %endpoint.deployment.name,
                        version = loaded.version,
                        from = load.replicas,
                        to = replicas,
                        "replicas scaled"
                    );
                }
                let labels = [
                    ("deployment", endpoint.deployment.name.clone()),
                    ("version", loaded.version.to_string()),
                ];
                metrics::gauge!("galley_serving_queue_depth", &labels)
                    .set(batcher.queue_depth() as f64);
                metrics::gauge!("galley_serving_replicas", &labels).set(replicas as f64);
            }
        }
    }
}

/// One request to `deployment` answered by (or refused for) `version`, by outcome.
fn count_request(deployment: &str, version: i64, status: &'static str) {
    metrics::counter!(
        "galley_serving_requests_total",
        "deployment" => deployment.to_string(),
        "version" => version.to_string(),
        "status" => status
    )
    .increment(1);
}

/// Sends the copy of a request to the shadow version, off the caller's path, and records how its
/// answer compares with the served one.
fn mirror(
    endpoint: &Endpoint,
    version: i64,
    served_version: i64,
    inputs: Inputs,
    served: &Outputs,
) {
    let Some(shadow) = endpoint.versions.get(&version).cloned() else {
        return;
    };
    let log = endpoint.shadow_log.clone();
    let served = served.clone();
    tokio::spawn(async move {
        let record = match shadow.batcher.infer(inputs).await {
            Ok(outputs) => {
                let (max_abs_diff, labels_agree) = compare(&served, &outputs);
                ShadowRecord {
                    at_ms: now_millis(),
                    version,
                    served_version,
                    error: None,
                    max_abs_diff,
                    labels_agree,
                }
            }
            Err(error) => ShadowRecord {
                at_ms: now_millis(),
                version,
                served_version,
                error: Some(error.to_string()),
                max_abs_diff: None,
                labels_agree: None,
            },
        };
        log.push(record);
    });
}

fn not_served(name: &str) -> ServingError {
    ServingError::NotFound(format!("Deployment '{name}' not found or not loaded"))
}

fn version_not_served(name: &str, version: i64) -> ServingError {
    ServingError::NotFound(format!(
        "Deployment '{name}' does not serve version {version}"
    ))
}
