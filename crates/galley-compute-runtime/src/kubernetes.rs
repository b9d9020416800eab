//! The Kubernetes executor: each attempt of a job is one `batch/v1` Job, created, polled, read
//! and deleted through the Kubernetes REST API, with Kueue's labels so a cluster running Kueue
//! admits it against its own quota as well.
//!
//! **Transport.** This build's HTTP client has no TLS (the workspace builds reqwest without a TLS
//! stack), so the API server must be reached over plain `http://`: `kubectl proxy` (it holds the
//! credentials and speaks TLS to the cluster; `--kubernetes-api http://127.0.0.1:8001`), or the
//! same proxy as a sidecar when Galley runs in a pod. An `https://` address is refused when the
//! executor is made, with that advice. A bearer token, when set, is still sent on every request,
//! for proxies that forward it. [`KubernetesSettings::in_cluster`] reads the pod's
//! service-account token and namespace, and names the API server as the cluster advertises it
//! (`https://`), so in a pod the address must be replaced by the proxy's.
//!
//! **Rendering** ([`render_job`], pure). The Job is named `galley-<job id>-<attempt>`, so a start
//! retried after a crash finds the Job it already created (a 409 counts as started) instead of
//! running the attempt twice. A gang of N replicas is one Indexed Job with N completions run in
//! parallel, which Kueue admits as one workload, all pods or none; each pod reads its replica
//! index from the Job's completion-index annotation. `backoffLimit` is 0, because a failed attempt
//! is Galley's to retry (as a new attempt, under a new name), and a gang fails as a whole when one
//! pod fails. `activeDeadlineSeconds` is the job's max runtime; Galley enforces it too. With Kueue
//! managing admission (the default) the Job is created suspended and Kueue unsuspends it; Galley
//! counts the attempt as running from creation, so a job that waits in Kueue spends its max
//! runtime waiting.
//!
//! The image is the job's `GALLEY_IMAGE` env var when set, otherwise the executor's default, so
//! one server serves jobs built on different images. Resources are per pod: cpu and memory
//! requests, a memory limit equal to the request (cpu is left unlimited, so a job is not
//! throttled below what its node has spare), and `nvidia.com/gpu` for GPUs. A job's GPU flavor
//! is recorded in the `galley.dev/gpu-flavor` label; node labels for GPU models differ from
//! cluster to cluster (and Kueue's ResourceFlavors add their own node selectors on admission), so
//! a flavor reaches a node selector only through the settings' `flavor_node_selectors` map.
//! `CUDA_VISIBLE_DEVICES` is not set: the device plugin exposes exactly the pod's GPUs.
//!
//! Nothing here has run against a live cluster; tests check the rendered manifests against the
//! Kubernetes OpenAPI schema and the status mapping against sample API objects.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use galley_compute::job::Job;
use galley_compute::resources::{format_cpu, format_memory};
use galley_compute::{ComputeError, Result};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::executor::{AttemptStatus, Executor, LiveAttempt};
use crate::rest::{truncate, RestClient};

/// What the run loop reads of a log in one call, as the other executors.
const MAX_LOG_READ: u64 = 4 << 20;
/// Condition messages can be long; the job's message keeps only this much.
const MAX_MESSAGE: usize = 1_000;
/// Job names stay this short so that an indexed pod's hostname, `<job name>-<index>`, fits in a
/// 63-character DNS label.
const MAX_JOB_NAME: usize = 52;
/// The one container of every pod; logs are read from it.
const CONTAINER: &str = "main";
/// A job env var that picks the image instead of the executor's default.
pub const IMAGE_ENV: &str = "GALLEY_IMAGE";

const QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";
const PRIORITY_CLASS_LABEL: &str = "kueue.x-k8s.io/priority-class";
const JOB_ID_LABEL: &str = "galley.dev/job-id";
const ATTEMPT_LABEL: &str = "galley.dev/attempt";
const TEAM_LABEL: &str = "galley.dev/team";
const FLAVOR_LABEL: &str = "galley.dev/gpu-flavor";
/// Set by the Job controller on each pod of an Indexed Job.
const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// Set by the Job controller on each pod of a Job; the legacy key, present in every version.
const JOB_NAME_LABEL: &str = "job-name";

const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Where and how Jobs are created.
#[derive(Clone, Debug, PartialEq)]
pub struct KubernetesSettings {
    /// `http://` only in this build (see the module comment), e.g. `http://127.0.0.1:8001`.
    pub api_server: String,
    pub namespace: String,
    /// Sent as `Authorization: Bearer` when set.
    pub token: Option<String>,
    /// The default image; a job's `GALLEY_IMAGE` env var overrides it.
    pub image: String,
    /// Create Jobs suspended with Kueue's queue label, for Kueue to admit (default true).
    pub manage_with_kueue: bool,
    /// Also label Jobs with the job's priority class as Kueue's WorkloadPriorityClass (default
    /// false): Kueue holds a Job whose class it does not know, so only turn this on in a cluster
    /// that defines WorkloadPriorityClasses with Galley's class names.
    pub kueue_priority_classes: bool,
    /// How long Kubernetes keeps a finished Job and its pods (default one day); Galley reads
    /// outcomes and logs as soon as a Job finishes, so this only needs to outlast a server
    /// restart.
    pub ttl_seconds_after_finished: u32,
    /// A GPU flavor's node selector (e.g. `nvidia-h100` → `{"nvidia.com/gpu.product":
    /// "NVIDIA-H100-80GB-HBM3"}`); a flavor not listed gets none.
    pub flavor_node_selectors: BTreeMap<String, BTreeMap<String, String>>,
}

impl KubernetesSettings {
    pub fn new(api_server: &str, namespace: &str, image: &str) -> Self {
        KubernetesSettings {
            api_server: api_server.to_string(),
            namespace: namespace.to_string(),
            token: None,
            image: image.to_string(),
            manage_with_kueue: true,
            kueue_priority_classes: false,
            ttl_seconds_after_finished: 86_400,
            flavor_node_selectors: BTreeMap::new(),
        }
    }

    /// Settings from the pod Galley runs in: its service account's token and namespace, and the
    /// API server from `KUBERNETES_SERVICE_HOST`/`_PORT`. That address is `https://`, which this
    /// build cannot use: point `api_server` at a `kubectl proxy` sidecar instead.
    pub fn in_cluster(image: &str) -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self::from_service_account(
            Path::new(SERVICE_ACCOUNT_DIR),
            var("KUBERNETES_SERVICE_HOST"),
            var("KUBERNETES_SERVICE_PORT"),
            image,
        )
    }

    fn from_service_account(
        dir: &Path,
        host: Option<String>,
        port: Option<String>,
        image: &str,
    ) -> Result<Self> {
        let not_in_cluster = |what: String| {
            ComputeError::InvalidInput(format!(
                "not running in a Kubernetes pod ({what}); give the API server's address instead"
            ))
        };
        let (Some(host), Some(port)) = (host, port) else {
            return Err(not_in_cluster(
                "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set".into(),
            ));
        };
        let read = |file: &str| {
            std::fs::read_to_string(dir.join(file))
                .map(|text| text.trim().to_string())
                .map_err(|e| not_in_cluster(format!("{}: {e}", dir.join(file).display())))
        };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let mut settings = Self::new(
            &format!("https://{host}:{port}"),
            &read("namespace")?,
            image,
        );
        settings.token = Some(read("token")?);
        Ok(settings)
    }
}

/// The Job for the job's current attempt, with `env` added to the job's own env.
pub fn render_job(job: &Job, env: &[(String, String)], settings: &KubernetesSettings) -> Value {
    let name = job_name(job);
    let flavor = gpu_flavor(job);
    let mut galley_labels = BTreeMap::from([
        (JOB_ID_LABEL, label_value(&job.id)),
        (ATTEMPT_LABEL, job.attempt.to_string()),
        (TEAM_LABEL, label_value(&job.team)),
    ]);
    if let Some(flavor) = flavor {
        galley_labels.insert(FLAVOR_LABEL, label_value(flavor));
    }
    let mut labels = galley_labels.clone();
    if settings.manage_with_kueue {
        labels.insert(QUEUE_LABEL, label_value(&job.queue));
        // Integer priorities have no class to name.
        if settings.kueue_priority_classes && job.priority_class.parse::<i64>().is_err() {
            labels.insert(PRIORITY_CLASS_LABEL, label_value(&job.priority_class));
        }
    }

    let image = job.env.get(IMAGE_ENV).unwrap_or(&settings.image);
    let mut container = json!({
        "name": CONTAINER,
        "image": image,
        "command": job.command,
        "env": container_env(job, env),
        "resources": resources(job),
    });
    if let Some(dir) = &job.working_dir {
        container["workingDir"] = json!(dir);
    }
    let mut pod_spec = json!({
        "restartPolicy": "Never",
        "containers": [container],
    });
    if let Some(selector) = flavor.and_then(|f| settings.flavor_node_selectors.get(f)) {
        pod_spec["nodeSelector"] = json!(selector);
    }

    let mut spec = json!({
        "suspend": settings.manage_with_kueue,
        "completions": job.replicas,
        "parallelism": job.replicas,
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
        "template": {
            "metadata": {"labels": galley_labels},
            "spec": pod_spec,
        },
    });
    if job.replicas > 1 {
        spec["completionMode"] = json!("Indexed");
    }
    if let Some(ms) = job.max_runtime_ms {
        spec["activeDeadlineSeconds"] = json!((ms.max(1) as u64).div_ceil(1000));
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": settings.namespace,
            "labels": labels,
            // Labels hold at most 63 plain characters; the exact id is read back from here.
            "annotations": {JOB_ID_LABEL: job.id},
        },
        "spec": spec,
    })
}

/// `galley-<job id>-<attempt>`. Galley's ids (`job-` and 12 hex digits) fit as they are; any
/// other id is made DNS-safe and shortened, with a hash of the whole id so that two ids that
/// shorten alike still name different Jobs.
fn job_name(job: &Job) -> String {
    let suffix = format!("-{}", job.attempt);
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let direct = format!("galley-{}{suffix}", job.id);
    if job.id.chars().all(plain) && direct.len() <= MAX_JOB_NAME {
        return direct;
    }
    let hash = format!("-{:08x}", fnv1a(job.id.as_bytes()) as u32);
    let room = MAX_JOB_NAME - "galley-".len() - hash.len() - suffix.len();
    let safe: String = job
        .id
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if plain(c) { c } else { '-' })
        .take(room)
        .collect();
    format!("galley-{}{hash}{suffix}", safe.trim_matches('-'))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `text` as a label value: at most 63 characters of `[A-Za-z0-9._-]`, starting and ending
/// alphanumeric. Galley's names already are; anything else is made so rather than refused.
fn label_value(text: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    safe.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// The flavor admission picked, or the one the job asked for.
fn gpu_flavor(job: &Job) -> Option<&str> {
    if job.request.gpus == 0 {
        return None;
    }
    job.admission
        .as_ref()
        .and_then(|a| a.gpu_flavor.as_deref())
        .or(job.request.gpu_flavor.as_deref())
}

/// The job's env, then `env` over it, then the replica index, sorted by name so that the same
/// job always renders the same manifest.
fn container_env(job: &Job, env: &[(String, String)]) -> Vec<Value> {
    let mut values: BTreeMap<&str, Value> = job
        .env
        .iter()
        .chain(env.iter().map(|(k, v)| (k, v)))
        .map(|(k, v)| (k.as_str(), json!({"name": k, "value": v})))
        .collect();
    let index = if job.replicas > 1 {
        json!({
            "name": "GALLEY_REPLICA_INDEX",
            "valueFrom": {"fieldRef": {
                "fieldPath": format!("metadata.annotations['{COMPLETION_INDEX}']"),
            }},
        })
    } else {
        json!({"name": "GALLEY_REPLICA_INDEX", "value": "0"})
    };
    values.insert("GALLEY_REPLICA_INDEX", index);
    values.into_values().collect()
}

fn resources(job: &Job) -> Value {
    let request = &job.request;
    let mut requests = json!({
        "cpu": format_cpu(request.cpu_millis),
        "memory": format_memory(request.memory_bytes),
    });
    let mut limits = json!({"memory": format_memory(request.memory_bytes)});
    if request.gpus > 0 {
        // Extended resources must request exactly their limit.
        requests["nvidia.com/gpu"] = json!(request.gpus.to_string());
        limits["nvidia.com/gpu"] = json!(request.gpus.to_string());
    }
    json!({"requests": requests, "limits": limits})
}

/// The parts of an object's metadata this executor reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    creation_timestamp: Option<String>,
    #[serde(default)]
    deletion_timestamp: Option<String>,
}

/// A `batch/v1` Job as the API server returns it; fields not read here are ignored.
#[derive(Debug, Deserialize)]
struct KubeJob {
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    spec: KubeJobSpec,
    #[serde(default)]
    status: KubeJobStatus,
}

#[derive(Debug, Default, Deserialize)]
struct KubeJobSpec {
    #[serde(default)]
    completions: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
struct KubeJobStatus {
    #[serde(default)]
    succeeded: Option<u32>,
    #[serde(default)]
    failed: Option<u32>,
    #[serde(default)]
    conditions: Vec<Condition>,
}

#[derive(Debug, Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

impl KubeJob {
    fn condition(&self, kind: &str) -> Option<&Condition> {
        self.status
            .conditions
            .iter()
            .find(|c| c.kind == kind && c.status == "True")
    }

    fn is_finished(&self) -> bool {
        self.condition("Complete").is_some() || self.condition("Failed").is_some()
    }

    /// Where the attempt stands, exit code not known yet: a pod's, when one failed, is looked up
    /// apart. A suspended Job (waiting for Kueue) and an active one are both still going.
    fn attempt_status(&self) -> AttemptStatus {
        let completions = self.spec.completions.unwrap_or(1);
        if self.condition("Complete").is_some() || self.status.succeeded.unwrap_or(0) >= completions
        {
            return AttemptStatus::Succeeded;
        }
        if let Some(failed) = self.condition("Failed") {
            let reason = failed.reason.as_deref().unwrap_or("Failed");
            let message = match failed.message.as_deref().filter(|m| !m.is_empty()) {
                Some(message) => format!("{reason}: {message}"),
                None => reason.to_string(),
            };
            return AttemptStatus::Failed {
                exit_code: None,
                message: truncate(&message, MAX_MESSAGE),
            };
        }
        // With no retries in the Job, one failed pod fails the attempt; the condition follows
        // once the other pods are gone.
        match self.status.failed.unwrap_or(0) {
            0 => AttemptStatus::Running,
            n => AttemptStatus::Failed {
                exit_code: None,
                message: format!("{n} pod(s) failed"),
            },
        }
    }

    /// The Galley attempt an unfinished Job runs, when Galley made it.
    fn live_attempt(&self) -> Option<LiveAttempt> {
        if self.is_finished() || self.metadata.deletion_timestamp.is_some() {
            return None;
        }
        let metadata = &self.metadata;
        let job_id = metadata
            .annotations
            .get(JOB_ID_LABEL)
            .or_else(|| metadata.labels.get(JOB_ID_LABEL))?;
        Some(LiveAttempt {
            job_id: job_id.clone(),
            attempt: metadata.labels.get(ATTEMPT_LABEL)?.parse().ok()?,
        })
    }
}

/// The parts of a pod this executor reads.
#[derive(Debug, Deserialize)]
struct Pod {
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    status: PodStatus,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodStatus {
    #[serde(default)]
    container_statuses: Vec<ContainerStatus>,
}

#[derive(Debug, Deserialize)]
struct ContainerStatus {
    name: String,
    #[serde(default)]
    state: ContainerState,
}

#[derive(Debug, Default, Deserialize)]
struct ContainerState {
    #[serde(default)]
    terminated: Option<Terminated>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Terminated {
    exit_code: i32,
}

impl Pod {
    /// The replica a pod runs: its completion index in a gang, 0 otherwise.
    fn replica(&self, job: &Job) -> Option<u32> {
        if job.replicas == 1 {
            return Some(0);
        }
        self.metadata
            .annotations
            .get(COMPLETION_INDEX)?
            .parse()
            .ok()
    }

    fn exit_code(&self) -> Option<i32> {
        self.status
            .container_statuses
            .iter()
            .find(|c| c.name == CONTAINER)?
            .state
            .terminated
            .as_ref()
            .map(|t| t.exit_code)
    }
}

/// The newest pod of each replica: a pod replaced (evicted, deleted by hand) leaves an older one.
fn pods_by_replica(pods: Vec<Pod>, job: &Job) -> BTreeMap<u32, Pod> {
    let mut by_replica: BTreeMap<u32, Pod> = BTreeMap::new();
    for pod in pods {
        let Some(replica) = pod.replica(job).filter(|r| *r < job.replicas) else {
            continue;
        };
        let newer = by_replica
            .get(&replica)
            .is_none_or(|seen| pod.metadata.creation_timestamp > seen.metadata.creation_timestamp);
        if newer {
            by_replica.insert(replica, pod);
        }
    }
    by_replica
}

pub struct KubernetesExecutor {
    settings: KubernetesSettings,
    api: Url,
    rest: RestClient,
}

impl KubernetesExecutor {
    pub fn new(settings: KubernetesSettings) -> Result<Self> {
        let address = &settings.api_server;
        let api = Url::parse(address)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base())
            .ok_or_else(|| {
                ComputeError::InvalidInput(format!(
                    "the Kubernetes API address '{address}' is not an http URL"
                ))
            })?;
        if api.scheme() == "https" {
            return Err(ComputeError::InvalidInput(
                "https API servers need TLS support, not built in; run `kubectl proxy` and point \
                 --kubernetes-api at http://127.0.0.1:8001"
                    .into(),
            ));
        }
        let namespace = &settings.namespace;
        if !galley_compute::config::valid_name(namespace) {
            return Err(ComputeError::InvalidInput(format!(
                "'{namespace}' is not a Kubernetes namespace name"
            )));
        }
        if settings.image.trim().is_empty() {
            return Err(ComputeError::InvalidInput(
                "the Kubernetes executor needs a default image".into(),
            ));
        }
        let rest = RestClient::new(
            format!("Kubernetes at {api}"),
            settings.token.clone(),
            refused,
        )?;
        Ok(KubernetesExecutor {
            settings,
            api,
            rest,
        })
    }

    /// The URL of `segments` in the executor's namespace, under `group` (`api/v1` or
    /// `apis/batch/v1`), each segment percent-encoded.
    fn url(&self, group: &str, segments: &[&str]) -> Url {
        let mut url = self.api.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(group.split('/'))
                .extend(["namespaces", &self.settings.namespace])
                .extend(segments);
        }
        url
    }

    async fn kube_job(&self, name: &str) -> Result<Option<KubeJob>> {
        self.rest
            .get_json(self.url("apis/batch/v1", &["jobs", name]))
            .await
    }

    /// The newest pod of each replica of the job's current attempt.
    async fn pods(&self, job: &Job) -> Result<BTreeMap<u32, Pod>> {
        let mut url = self.url("api/v1", &["pods"]);
        url.query_pairs_mut().append_pair(
            "labelSelector",
            &format!("{JOB_NAME_LABEL}={}", job_name(job)),
        );
        let pods: Option<List<Pod>> = self.rest.get_json(url).await?;
        Ok(pods_by_replica(
            pods.map(|l| l.items).unwrap_or_default(),
            job,
        ))
    }

    /// A pod's output, the first `limit` bytes when given; `None` once the pod is gone. A
    /// container that has not started yet has no output.
    async fn pod_log(&self, pod: &str, limit: Option<u64>) -> Result<Option<Bytes>> {
        let mut url = self.url("api/v1", &["pods", pod, "log"]);
        url.query_pairs_mut().append_pair("container", CONTAINER);
        if let Some(limit) = limit {
            url.query_pairs_mut()
                .append_pair("limitBytes", &limit.to_string());
        }
        let (status, body) = self.rest.call(Method::GET, url, None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::BAD_REQUEST => Ok(Some(Bytes::new())),
            status if status.is_success() => Ok(Some(body)),
            status => Err(refused(status, &body)),
        }
    }

    /// A failed attempt's status with the exit code of a pod that failed, when one did.
    async fn with_exit_code(&self, job: &Job, message: String) -> AttemptStatus {
        // Best effort: the Job's own condition already says why it failed.
        let pods = self.pods(job).await.unwrap_or_default();
        let failed = pods
            .iter()
            .find_map(|(replica, pod)| Some((replica, pod.exit_code().filter(|c| *c != 0)?)));
        match failed {
            Some((replica, code)) => AttemptStatus::Failed {
                exit_code: Some(code),
                message: if job.replicas > 1 {
                    format!("replica {replica} exited with code {code} ({message})")
                } else {
                    format!("exited with code {code} ({message})")
                },
            },
            None => AttemptStatus::Failed {
                exit_code: None,
                message,
            },
        }
    }
}

/// What an unsuccessful answer means: the API server refusing the Job as written (400, 422) is
/// the job's fault; anything else (auth, RBAC, a missing namespace, throttling, outages) is the
/// setup's, and may pass.
fn refused(status: StatusCode, body: &[u8]) -> ComputeError {
    #[derive(Deserialize)]
    struct KubeStatus {
        message: Option<String>,
    }
    let message = serde_json::from_slice::<KubeStatus>(body)
        .ok()
        .and_then(|s| s.message)
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    let message = truncate(&message, MAX_MESSAGE);
    if matches!(
        status,
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
    ) {
        ComputeError::InvalidInput(format!("Kubernetes refused the Job: {message}"))
    } else {
        ComputeError::Unavailable(format!("Kubernetes answered {status}: {message}"))
    }
}

#[async_trait]
impl Executor for KubernetesExecutor {
    async fn start(&self, job: &Job, env: &[(String, String)]) -> Result<String> {
        let manifest = render_job(job, env, &self.settings);
        let (status, body) = self
            .rest
            .call(
                Method::POST,
                self.url("apis/batch/v1", &["jobs"]),
                Some(&manifest),
            )
            .await?;
        // Names are per attempt, so an existing Job is this attempt's, created by a start that
        // crashed or timed out before recording it.
        if status.is_success() || status == StatusCode::CONFLICT {
            return Ok(job_name(job));
        }
        Err(refused(status, &body))
    }

    async fn status(&self, job: &Job) -> Result<AttemptStatus> {
        let name = job_name(job);
        let Some(kube_job) = self.kube_job(&name).await? else {
            return Ok(AttemptStatus::Failed {
                exit_code: None,
                message: format!(
                    "the Kubernetes Job {name} is gone (deleted, or removed after its \
                     ttlSecondsAfterFinished)"
                ),
            });
        };
        Ok(match kube_job.attempt_status() {
            AttemptStatus::Failed { message, .. } => self.with_exit_code(job, message).await,
            status => status,
        })
    }

    async fn stop(&self, job: &Job) -> Result<()> {
        // Foreground: the Job stays visible until its pods are gone, and the pods get their
        // termination grace period, during which their logs can still be read.
        let options = json!({
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Foreground",
        });
        let url = self.url("apis/batch/v1", &["jobs", &job_name(job)]);
        let (status, body) = self.rest.call(Method::DELETE, url, Some(&options)).await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(refused(status, &body))
    }

    async fn live_attempts(&self) -> Result<Vec<LiveAttempt>> {
        let mut url = self.url("apis/batch/v1", &["jobs"]);
        url.query_pairs_mut()
            .append_pair("labelSelector", JOB_ID_LABEL);
        let jobs: Option<List<KubeJob>> = self.rest.get_json(url).await?;
        let mut live: Vec<LiveAttempt> = Vec::new();
        for attempt in jobs
            .map(|l| l.items)
            .unwrap_or_default()
            .iter()
            .filter_map(KubeJob::live_attempt)
        {
            if !live.contains(&attempt) {
                live.push(attempt);
            }
        }
        Ok(live)
    }

    async fn read_log(&self, job: &Job, replica: u32, offset: u64) -> Result<Option<Bytes>> {
        let pods = self.pods(job).await?;
        let Some(pod) = pods.get(&replica) else {
            return Ok(None);
        };
        // The API reads logs from the start only; fetch up to where this read ends.
        let limit = offset.saturating_add(MAX_LOG_READ);
        let log = self.pod_log(&pod.metadata.name, Some(limit)).await?;
        Ok(log.map(|log| {
            let start = usize::try_from(offset).unwrap_or(usize::MAX).min(log.len());
            log.slice(start..)
        }))
    }

    async fn collect_logs(&self, job: &Job) -> Result<Vec<(u32, Bytes)>> {
        let mut logs = Vec::new();
        for (replica, pod) in self.pods(job).await? {
            if let Some(log) = self.pod_log(&pod.metadata.name, None).await? {
                logs.push((replica, log));
            }
        }
        Ok(logs)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use galley_compute::resources::Resources;
    use galley_compute::scheduler::Admission;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn job(replicas: u32) -> Job {
        let nodes = [galley_compute::inventory::Node {
            name: "k8s".into(),
            cpu_millis: 64_000,
            memory_bytes: 256 << 30,
            gpus: vec![],
        }];
        let config = galley_compute::config::ComputeConfig::for_inventory(&nodes);
        let spec = galley_compute::job::JobSpec {
            command: vec!["python".into(), "train.py".into()],
            replicas: Some(replicas),
            executor: Some("kubernetes".into()),
            env: BTreeMap::from([("B_VAR".into(), "b".into()), ("A_VAR".into(), "a".into())]),
            ..Default::default()
        };
        let id = "job-0123456789ab".to_string();
        galley_compute::submit::prepare(spec, &config, Some(&nodes), id, 0).unwrap()
    }

    fn settings() -> KubernetesSettings {
        KubernetesSettings::new("http://127.0.0.1:8001", "ml", "registry.example/train:1")
    }

    fn env_names(manifest: &Value) -> Vec<String> {
        manifest["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_single_replica_renders_as_a_suspended_job_in_its_kueue_queue() {
        let job = job(1);
        let env = [("GALLEY_JOB_ID".to_string(), job.id.clone())];
        let manifest = render_job(&job, &env, &settings());
        assert_eq!(manifest["apiVersion"], "batch/v1");
        assert_eq!(manifest["kind"], "Job");
        let metadata = &manifest["metadata"];
        assert_eq!(metadata["name"], "galley-job-0123456789ab-1");
        assert_eq!(metadata["namespace"], "ml");
        assert_eq!(
            metadata["labels"],
            json!({
                "kueue.x-k8s.io/queue-name": "default",
                "galley.dev/job-id": "job-0123456789ab",
                "galley.dev/attempt": "1",
                "galley.dev/team": "default",
            })
        );
        assert_eq!(
            metadata["annotations"]["galley.dev/job-id"],
            "job-0123456789ab"
        );
        let spec = &manifest["spec"];
        assert_eq!(spec["suspend"], true);
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["backoffLimit"], 0);
        assert_eq!(spec["ttlSecondsAfterFinished"], 86_400);
        assert!(spec.get("completionMode").is_none());
        assert!(spec.get("activeDeadlineSeconds").is_none());
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert!(pod.get("nodeSelector").is_none());
        let container = &pod["containers"][0];
        assert_eq!(container["name"], "main");
        assert_eq!(container["image"], "registry.example/train:1");
        assert_eq!(container["command"], json!(["python", "train.py"]));
        assert!(container.get("workingDir").is_none());
        assert_eq!(
            container["resources"],
            json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}})
        );
        assert_eq!(
            env_names(&manifest),
            ["A_VAR", "B_VAR", "GALLEY_JOB_ID", "GALLEY_REPLICA_INDEX"]
        );
        assert_eq!(container["env"][3]["value"], "0");
    }

    #[test]
    fn without_kueue_the_job_runs_at_once_and_priority_classes_are_opt_in() {
        let mut job = job(1);
        job.priority_class = "high".into();
        let mut plain = settings();
        plain.manage_with_kueue = false;
        let manifest = render_job(&job, &[], &plain);
        assert_eq!(manifest["spec"]["suspend"], false);
        assert!(manifest["metadata"]["labels"].get(QUEUE_LABEL).is_none());

        let mut with_classes = settings();
        assert!(render_job(&job, &[], &with_classes)["metadata"]["labels"]
            .get(PRIORITY_CLASS_LABEL)
            .is_none());
        with_classes.kueue_priority_classes = true;
        let labels = &render_job(&job, &[], &with_classes)["metadata"]["labels"];
        assert_eq!(labels[PRIORITY_CLASS_LABEL], "high");
        job.priority_class = "500".into();
        let labels = &render_job(&job, &[], &with_classes)["metadata"]["labels"];
        assert!(labels.get(PRIORITY_CLASS_LABEL).is_none());
    }

    #[test]
    fn a_gpu_gang_is_an_indexed_job_with_gpu_limits_and_the_flavor_node_selector() {
        let mut job = job(4);
        job.attempt = 3;
        job.request.gpus = 8;
        job.request.cpu_millis = 500;
        job.request.memory_bytes = 3 << 29;
        job.admission = Some(Admission {
            admitted_at: 0,
            gpu_flavor: Some("nvidia-h100".into()),
            usage: Resources::new(),
            placements: vec![],
        });
        job.max_runtime_ms = Some(7_200_500);
        job.working_dir = Some("/workspace".into());
        let mut settings = settings();
        settings.flavor_node_selectors.insert(
            "nvidia-h100".into(),
            BTreeMap::from([("cloud.example/gpu".into(), "h100".into())]),
        );
        let manifest = render_job(&job, &[], &settings);
        assert_eq!(manifest["metadata"]["name"], "galley-job-0123456789ab-3");
        assert_eq!(manifest["metadata"]["labels"][FLAVOR_LABEL], "nvidia-h100");
        let spec = &manifest["spec"];
        assert_eq!(spec["completionMode"], "Indexed");
        assert_eq!(spec["completions"], 4);
        assert_eq!(spec["parallelism"], 4);
        assert_eq!(spec["activeDeadlineSeconds"], 7_201);
        assert_eq!(
            spec["template"]["metadata"]["labels"][FLAVOR_LABEL],
            "nvidia-h100"
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["nodeSelector"], json!({"cloud.example/gpu": "h100"}));
        let container = &pod["containers"][0];
        assert_eq!(container["workingDir"], "/workspace");
        assert_eq!(
            container["resources"],
            json!({
                "requests": {"cpu": "500m", "memory": "1536Mi", "nvidia.com/gpu": "8"},
                "limits": {"memory": "1536Mi", "nvidia.com/gpu": "8"},
            })
        );
        let index = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "GALLEY_REPLICA_INDEX")
            .unwrap();
        assert_eq!(
            index["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        );

        // A flavor the settings do not map is labelled only.
        job.admission = None;
        job.request.gpu_flavor = Some("nvidia-a100".into());
        let manifest = render_job(&job, &[], &settings);
        assert_eq!(manifest["metadata"]["labels"][FLAVOR_LABEL], "nvidia-a100");
        assert!(manifest["spec"]["template"]["spec"]
            .get("nodeSelector")
            .is_none());
    }

    #[test]
    fn passed_env_wins_over_the_job_env_and_the_image_can_come_from_it() {
        let mut job = job(1);
        job.env.insert("GALLEY_IMAGE".into(), "custom:2".into());
        job.env.insert("GALLEY_REPLICA_INDEX".into(), "7".into());
        let env = [("A_VAR".to_string(), "from the server".to_string())];
        let manifest = render_job(&job, &env, &settings());
        let container = &manifest["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "custom:2");
        assert_eq!(
            container["env"],
            json!([
                {"name": "A_VAR", "value": "from the server"},
                {"name": "B_VAR", "value": "b"},
                {"name": "GALLEY_IMAGE", "value": "custom:2"},
                {"name": "GALLEY_REPLICA_INDEX", "value": "0"},
            ])
        );
        assert_eq!(render_job(&job, &env, &settings()), manifest);
    }

    fn is_dns_label(name: &str) -> bool {
        galley_compute::config::valid_name(name)
    }

    #[test]
    fn unusual_ids_still_give_short_valid_distinct_names_and_labels() {
        let mut long = job(2);
        long.id = format!("Job_{}", "X".repeat(100));
        long.attempt = 12;
        let mut other = long.clone();
        other.id.push('Y');
        for job in [&long, &other] {
            let name = job_name(job);
            assert!(name.len() <= MAX_JOB_NAME, "{name}");
            assert!(is_dns_label(&name), "{name}");
            assert!(
                name.starts_with("galley-job-xxx") && name.ends_with("-12"),
                "{name}"
            );
            // An indexed pod's hostname.
            assert!(is_dns_label(&format!("{name}-99999")));
            let manifest = render_job(job, &[], &settings());
            assert_eq!(manifest["metadata"]["annotations"][JOB_ID_LABEL], job.id);
            let label = manifest["metadata"]["labels"][JOB_ID_LABEL]
                .as_str()
                .unwrap();
            assert_eq!(label.len(), 63);
        }
        assert_ne!(job_name(&long), job_name(&other));
        assert_eq!(label_value("-a b.-"), "a-b");
        assert_eq!(label_value("nvidia-a100-1g.5gb"), "nvidia-a100-1g.5gb");
        assert_eq!(label_value("..."), "");
    }

    fn kube_job(value: Value) -> KubeJob {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn job_statuses_map_to_attempt_statuses() {
        let active = kube_job(json!({
            "metadata": {"name": "galley-j-1"},
            "spec": {"completions": 2, "suspend": false},
            "status": {"active": 2, "succeeded": 1},
        }));
        assert_eq!(active.attempt_status(), AttemptStatus::Running);
        let suspended = kube_job(json!({
            "metadata": {"name": "galley-j-1"},
            "spec": {"completions": 1, "suspend": true},
            "status": {"conditions": [{"type": "Suspended", "status": "True", "reason": "JobSuspended"}]},
        }));
        assert_eq!(suspended.attempt_status(), AttemptStatus::Running);
        let created = kube_job(json!({"metadata": {"name": "galley-j-1"}, "spec": {}}));
        assert_eq!(created.attempt_status(), AttemptStatus::Running);

        let succeeded = kube_job(json!({
            "metadata": {"name": "galley-j-1"},
            "spec": {"completions": 2},
            "status": {"succeeded": 2, "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True"},
                {"type": "Complete", "status": "True"},
            ]},
        }));
        assert_eq!(succeeded.attempt_status(), AttemptStatus::Succeeded);
        assert!(succeeded.is_finished());

        let deadline = kube_job(json!({
            "metadata": {"name": "galley-j-1"},
            "spec": {"completions": 1},
            "status": {"failed": 1, "conditions": [
                {"type": "Complete", "status": "False"},
                {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                 "message": "Job was active longer than specified deadline"},
            ]},
        }));
        assert_eq!(
            deadline.attempt_status(),
            AttemptStatus::Failed {
                exit_code: None,
                message: "DeadlineExceeded: Job was active longer than specified deadline".into(),
            }
        );
        assert!(deadline.is_finished());

        let failing = kube_job(json!({
            "metadata": {"name": "galley-j-1"},
            "spec": {"completions": 4},
            "status": {"failed": 1, "active": 3},
        }));
        assert_eq!(
            failing.attempt_status(),
            AttemptStatus::Failed {
                exit_code: None,
                message: "1 pod(s) failed".into()
            }
        );
        assert!(!failing.is_finished());
    }

    #[test]
    fn only_unfinished_galley_jobs_are_live_attempts() {
        let listed = json!({"kind": "JobList", "items": [
            {"metadata": {"name": "galley-job-a-2",
                          "labels": {"galley.dev/job-id": "job-a", "galley.dev/attempt": "2"},
                          "annotations": {"galley.dev/job-id": "job-a"}},
             "spec": {"completions": 1}, "status": {"active": 1}},
            {"metadata": {"name": "galley-job-a-2-again",
                          "labels": {"galley.dev/job-id": "job-a", "galley.dev/attempt": "2"}},
             "spec": {"completions": 1}},
            {"metadata": {"name": "galley-long-1",
                          "labels": {"galley.dev/job-id": "Job_X", "galley.dev/attempt": "1"},
                          "annotations": {"galley.dev/job-id": "Job X!"}},
             "spec": {"completions": 1, "suspend": true}},
            {"metadata": {"name": "galley-job-b-1",
                          "labels": {"galley.dev/job-id": "job-b", "galley.dev/attempt": "1"}},
             "spec": {"completions": 1},
             "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}},
            {"metadata": {"name": "galley-job-c-1", "deletionTimestamp": "2026-01-01T00:00:00Z",
                          "labels": {"galley.dev/job-id": "job-c", "galley.dev/attempt": "1"}},
             "spec": {"completions": 1}, "status": {"active": 1}},
            {"metadata": {"name": "by-hand", "labels": {"galley.dev/job-id": "job-d"}},
             "spec": {"completions": 1}},
        ]});
        let jobs: List<KubeJob> = serde_json::from_value(listed).unwrap();
        let live: Vec<LiveAttempt> = jobs
            .items
            .iter()
            .filter_map(KubeJob::live_attempt)
            .collect();
        let attempt = |job_id: &str, attempt| LiveAttempt {
            job_id: job_id.into(),
            attempt,
        };
        assert_eq!(
            live,
            vec![
                attempt("job-a", 2),
                attempt("job-a", 2),
                attempt("Job X!", 1)
            ]
        );
    }

    #[test]
    fn pods_are_matched_to_replicas_newest_first() {
        let pods: List<Pod> = serde_json::from_value(json!({"items": [
            {"metadata": {"name": "p0-old", "creationTimestamp": "2026-01-01T00:00:00Z",
                          "annotations": {COMPLETION_INDEX: "0"}}},
            {"metadata": {"name": "p0-new", "creationTimestamp": "2026-01-01T00:01:00Z",
                          "annotations": {COMPLETION_INDEX: "0"}},
             "status": {"containerStatuses": [
                 {"name": "main", "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]}},
            {"metadata": {"name": "p1", "annotations": {COMPLETION_INDEX: "1"}}},
            {"metadata": {"name": "p9", "annotations": {COMPLETION_INDEX: "9"}}},
            {"metadata": {"name": "no-index"}},
        ]}))
        .unwrap();
        let by_replica = pods_by_replica(pods.items, &job(2));
        let names: Vec<(u32, &str)> = by_replica
            .iter()
            .map(|(r, p)| (*r, p.metadata.name.as_str()))
            .collect();
        assert_eq!(names, [(0, "p0-new"), (1, "p1")]);
        assert_eq!(by_replica[&0].exit_code(), Some(3));
        assert_eq!(by_replica[&1].exit_code(), None);
    }

    #[test]
    fn in_cluster_settings_come_from_the_service_account() {
        let dir = tempfile::tempdir().unwrap();
        let missing = KubernetesSettings::from_service_account(dir.path(), None, None, "img");
        assert!(
            matches!(&missing, Err(ComputeError::InvalidInput(m)) if m.contains("not running in a Kubernetes pod")),
            "{missing:?}"
        );
        let host = || Some("10.0.0.1".to_string());
        let port = || Some("443".to_string());
        let no_files = KubernetesSettings::from_service_account(dir.path(), host(), port(), "img");
        assert!(matches!(no_files, Err(ComputeError::InvalidInput(_))));
        std::fs::write(dir.path().join("token"), "secret-token\n").unwrap();
        std::fs::write(dir.path().join("namespace"), "ml-jobs").unwrap();
        let settings =
            KubernetesSettings::from_service_account(dir.path(), host(), port(), "img").unwrap();
        assert_eq!(settings.api_server, "https://10.0.0.1:443");
        assert_eq!(settings.namespace, "ml-jobs");
        assert_eq!(settings.token.as_deref(), Some("secret-token"));
        assert!(settings.manage_with_kueue);
        let v6 = KubernetesSettings::from_service_account(
            dir.path(),
            Some("fd00::1".into()),
            port(),
            "img",
        )
        .unwrap();
        assert_eq!(v6.api_server, "https://[fd00::1]:443");
        // The cluster's own address needs TLS, which this build lacks.
        assert!(matches!(
            KubernetesExecutor::new(settings),
            Err(ComputeError::InvalidInput(m)) if m.contains("kubectl proxy")
        ));
    }

    #[test]
    fn executors_need_an_http_address_a_namespace_and_an_image() {
        for (api, namespace, image) in [
            ("127.0.0.1:8001", "ml", "img"),
            ("ftp://x", "ml", "img"),
            ("http://127.0.0.1:8001", "ML_jobs", "img"),
            ("http://127.0.0.1:8001", "ml", " "),
        ] {
            let settings = KubernetesSettings::new(api, namespace, image);
            assert!(matches!(
                KubernetesExecutor::new(settings),
                Err(ComputeError::InvalidInput(_))
            ));
        }
        let executor =
            KubernetesExecutor::new(KubernetesSettings::new("http://proxy/k8s/", "ml", "i"))
                .unwrap();
        assert_eq!(
            executor.url("apis/batch/v1", &["jobs", "a b"]).as_str(),
            "http://proxy/k8s/apis/batch/v1/namespaces/ml/jobs/a%20b"
        );
    }

    /// One request as the fake API server saw it.
    #[derive(Debug)]
    struct Seen {
        method: String,
        target: String,
        authorization: Option<String>,
        body: String,
    }

    /// A fake API server: answers `METHOD /path` (query left out) from `routes`, 404 otherwise,
    /// and records every request.
    struct FakeApi {
        url: String,
        routes: Arc<Mutex<HashMap<String, (u16, String)>>>,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl FakeApi {
        async fn start() -> FakeApi {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let routes: Arc<Mutex<HashMap<String, (u16, String)>>> = Arc::default();
            let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
            let (r, s) = (routes.clone(), seen.clone());
            tokio::spawn(async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    let (routes, seen) = (r.clone(), s.clone());
                    tokio::spawn(async move {
                        let mut data = Vec::new();
                        let mut buf = [0u8; 4096];
                        let head_end = loop {
                            let n = socket.read(&mut buf).await.unwrap();
                            if n == 0 {
                                return;
                            }
                            data.extend_from_slice(&buf[..n]);
                            if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                                break at + 4;
                            }
                        };
                        let head = String::from_utf8_lossy(&data[..head_end]).to_string();
                        let header = |name: &str| {
                            head.lines().find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                            })
                        };
                        let length: usize =
                            header("content-length").map_or(0, |v| v.parse().unwrap());
                        while data.len() < head_end + length {
                            let n = socket.read(&mut buf).await.unwrap();
                            data.extend_from_slice(&buf[..n]);
                        }
                        let mut request_line = head.lines().next().unwrap().split(' ');
                        let method = request_line.next().unwrap().to_string();
                        let target = request_line.next().unwrap().to_string();
                        let path = target.split('?').next().unwrap();
                        let (status, body) = routes
                            .lock()
                            .unwrap()
                            .get(&format!("{method} {path}"))
                            .cloned()
                            .unwrap_or((404, r#"{"kind":"Status","message":"not found"}"#.into()));
                        seen.lock().unwrap().push(Seen {
                            method,
                            target,
                            authorization: header("authorization"),
                            body: String::from_utf8_lossy(&data[head_end..]).to_string(),
                        });
                        let answer = format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        socket.write_all(answer.as_bytes()).await.unwrap();
                    });
                }
            });
            FakeApi { url, routes, seen }
        }

        fn route(&self, method_and_path: &str, status: u16, body: Value) {
            let body = match body {
                Value::String(text) => text,
                other => other.to_string(),
            };
            self.routes
                .lock()
                .unwrap()
                .insert(method_and_path.to_string(), (status, body));
        }

        fn take_seen(&self) -> Vec<Seen> {
            std::mem::take(&mut *self.seen.lock().unwrap())
        }
    }

    const JOBS: &str = "/apis/batch/v1/namespaces/ml/jobs";
    const PODS: &str = "/api/v1/namespaces/ml/pods";

    #[tokio::test]
    async fn operations_map_to_kubernetes_api_calls() {
        let api = FakeApi::start().await;
        let mut settings = KubernetesSettings::new(&api.url, "ml", "img:1");
        settings.token = Some("tok".into());
        let executor = KubernetesExecutor::new(settings).unwrap();
        let gang = job(2);
        let name = "galley-job-0123456789ab-1";
        let job_path = format!("{JOBS}/{name}");

        // Created, then created again by a retried start: both count as started.
        api.route(&format!("POST {JOBS}"), 201, json!({}));
        assert_eq!(executor.start(&gang, &[]).await.unwrap(), name);
        api.route(
            &format!("POST {JOBS}"),
            409,
            json!({"reason": "AlreadyExists"}),
        );
        assert_eq!(executor.start(&gang, &[]).await.unwrap(), name);
        let seen = api.take_seen();
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].target, JOBS);
        assert_eq!(seen[0].authorization.as_deref(), Some("Bearer tok"));
        let posted: Value = serde_json::from_str(&seen[0].body).unwrap();
        assert_eq!(posted, render_job(&gang, &[], &executor.settings));

        api.route(
            &format!("POST {JOBS}"),
            422,
            json!({"message": "spec.template: Invalid"}),
        );
        let refused = executor.start(&gang, &[]).await;
        assert!(
            matches!(&refused, Err(ComputeError::InvalidInput(m)) if m.contains("spec.template: Invalid")),
            "{refused:?}"
        );
        api.route(
            &format!("POST {JOBS}"),
            403,
            json!({"message": "forbidden"}),
        );
        assert!(matches!(
            executor.start(&gang, &[]).await,
            Err(ComputeError::Unavailable(_))
        ));

        // Status: gone, running, then failed with the failed pod's exit code.
        let gone = executor.status(&gang).await.unwrap();
        assert!(
            matches!(gone, AttemptStatus::Failed { exit_code: None, message } if message.contains("is gone"))
        );
        api.route(
            &format!("GET {job_path}"),
            200,
            json!({"metadata": {"name": name}, "spec": {"completions": 2}, "status": {"active": 2}}),
        );
        assert_eq!(
            executor.status(&gang).await.unwrap(),
            AttemptStatus::Running
        );
        api.route(
            &format!("GET {job_path}"),
            200,
            json!({"metadata": {"name": name}, "spec": {"completions": 2},
                   "status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True",
                   "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}}),
        );
        api.route(
            &format!("GET {PODS}"),
            200,
            json!({"items": [
                {"metadata": {"name": "pod-0", "annotations": {COMPLETION_INDEX: "0"}}},
                {"metadata": {"name": "pod-1", "annotations": {COMPLETION_INDEX: "1"}},
                 "status": {"containerStatuses": [{"name": "main", "state": {"terminated": {"exitCode": 3}}}]}},
            ]}),
        );
        assert_eq!(
            executor.status(&gang).await.unwrap(),
            AttemptStatus::Failed {
                exit_code: Some(3),
                message: "replica 1 exited with code 3 (BackoffLimitExceeded: Job has reached \
                          the specified backoff limit)"
                    .into(),
            }
        );
        let seen = api.take_seen();
        let pods_query = seen.last().unwrap();
        assert_eq!(
            pods_query.target,
            format!("{PODS}?labelSelector=job-name%3D{name}")
        );

        // Logs: from the offset, for the replica's pod; none for a replica without one.
        api.route(&format!("GET {PODS}/pod-1/log"), 200, json!("hello world"));
        let log = executor.read_log(&gang, 1, 6).await.unwrap();
        assert_eq!(log.as_deref(), Some(&b"world"[..]));
        assert_eq!(
            api.take_seen().last().unwrap().target,
            format!(
                "{PODS}/pod-1/log?container=main&limitBytes={}",
                6 + MAX_LOG_READ
            )
        );
        api.route(
            &format!("GET {PODS}/pod-0/log"),
            400,
            json!({"message": "waiting to start"}),
        );
        assert_eq!(
            executor.read_log(&gang, 0, 0).await.unwrap().as_deref(),
            Some(&b""[..])
        );
        assert_eq!(executor.read_log(&gang, 5, 0).await.unwrap(), None);
        let logs = executor.collect_logs(&gang).await.unwrap();
        assert_eq!(
            logs,
            vec![(0, Bytes::new()), (1, Bytes::from_static(b"hello world"))]
        );

        // Stop: a foreground delete; a Job already gone is stopped.
        executor.stop(&gang).await.unwrap();
        let seen = api.take_seen();
        let delete = seen.last().unwrap();
        assert_eq!(
            (delete.method.as_str(), delete.target.as_str()),
            ("DELETE", job_path.as_str())
        );
        let options: Value = serde_json::from_str(&delete.body).unwrap();
        assert_eq!(options["propagationPolicy"], "Foreground");
        api.route(
            &format!("DELETE {job_path}"),
            500,
            json!({"message": "etcd is down"}),
        );
        assert!(matches!(
            executor.stop(&gang).await,
            Err(ComputeError::Unavailable(_))
        ));

        api.route(
            &format!("GET {JOBS}"),
            200,
            json!({"items": [{"metadata": {"name": name,
                "labels": {JOB_ID_LABEL: "job-0123456789ab", ATTEMPT_LABEL: "1"}}}]}),
        );
        assert_eq!(
            executor.live_attempts().await.unwrap(),
            vec![LiveAttempt {
                job_id: "job-0123456789ab".into(),
                attempt: 1
            }]
        );
        assert_eq!(
            api.take_seen().last().unwrap().target,
            format!("{JOBS}?labelSelector=galley.dev%2Fjob-id")
        );
    }

    #[tokio::test]
    async fn an_unreachable_api_server_is_unavailable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let executor = KubernetesExecutor::new(KubernetesSettings::new(
            &format!("http://{address}"),
            "ml",
            "i",
        ))
        .unwrap();
        assert!(matches!(
            executor.status(&job(1)).await,
            Err(ComputeError::Unavailable(_))
        ));
    }
}
