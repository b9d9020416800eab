//! One model version in memory: its ONNX plan, its batcher and worker pool, and the metrics its
//! batches report. Loading reads the registry's record of where the files are.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use galley_artifacts::ArtifactStore;
use galley_onnx::{DType, OnnxError, OnnxModel, Signature, Tensor, TensorData};
use galley_registry::RegistryService;
use galley_serving::model::{BatchSettings, ScaleSettings};
use galley_serving::ServingError;

use crate::batcher::{BatchObserver, BatchPolicy, Batcher, Inputs, Outputs, Predict};
use crate::files::ModelFiles;

pub fn onnx_error(error: OnnxError) -> ServingError {
    match error {
        OnnxError::InvalidInput(message) => ServingError::InvalidInput(message),
        OnnxError::InvalidModel(_) | OnnxError::Unsupported(_) => {
            ServingError::UnsupportedModel(error.to_string())
        }
        OnnxError::Inference(_) => ServingError::Model(error.to_string()),
    }
}

struct OnnxPredictor(Arc<OnnxModel>);

impl Predict for OnnxPredictor {
    fn predict(&self, inputs: Inputs) -> Result<Outputs, ServingError> {
        self.0.run(inputs).map_err(onnx_error)
    }
}

/// Batch metrics for one deployment version.
struct VersionMetrics {
    deployment: String,
    version: String,
}

impl BatchObserver for VersionMetrics {
    fn batch_done(&self, rows: usize, _requests: usize, run_time: Duration) {
        let labels = [
            ("deployment", self.deployment.clone()),
            ("version", self.version.clone()),
        ];
        metrics::histogram!("galley_serving_batch_size_rows", &labels).record(rows as f64);
        metrics::histogram!("galley_serving_batch_duration_seconds", &labels)
            .record(run_time.as_secs_f64());
    }

    fn request_queued_for(&self, wait: Duration) {
        metrics::histogram!(
            "galley_serving_queue_duration_seconds",
            "deployment" => self.deployment.clone(),
            "version" => self.version.clone()
        )
        .record(wait.as_secs_f64());
    }
}

pub struct LoadedVersion {
    pub version: i64,
    pub batch: BatchSettings,
    pub model: Arc<OnnxModel>,
    pub batcher: Batcher,
    /// Consecutive autoscaler ticks with a worker to spare.
    pub idle_ticks: AtomicU32,
}

impl LoadedVersion {
    /// Loads `model` version `version` from the registry's record, warms it up and starts its
    /// workers. Blocking work (parsing, optimizing the plan) runs off the async threads.
    pub async fn load(
        registry: &RegistryService,
        artifacts: &ArtifactStore,
        deployment: &str,
        model: &str,
        version: i64,
        batch: BatchSettings,
        scale: ScaleSettings,
    ) -> Result<LoadedVersion, ServingError> {
        let record = registry
            .get_model_version(model, &version.to_string())
            .await?;
        let location = &record.storage_location;
        let files = ModelFiles::at(location, artifacts).ok_or_else(|| {
            ServingError::UnsupportedModel(format!(
                "Model {model} version {version}: Galley cannot read files at '{location}'"
            ))
        })?;
        let path = match &record.signature {
            Some(signature) => signature.path.clone(),
            None => files.find_onnx(location).await.ok_or_else(|| {
                ServingError::UnsupportedModel(format!(
                    "Model {model} version {version}: no ONNX model found at '{location}'"
                ))
            })?,
        };
        let bytes = files.read(&path).await?;
        let onnx = tokio::task::spawn_blocking(move || OnnxModel::load(&bytes))
            .await
            .map_err(|e| ServingError::Model(format!("model loading stopped: {e}")))?
            .map_err(onnx_error)?;
        let onnx = Arc::new(onnx);
        warm_up(&onnx).await;
        let batcher = Batcher::start(
            deployment,
            Arc::new(OnnxPredictor(onnx.clone())),
            BatchPolicy {
                max_batch_size: batch.max_batch_size as usize,
                max_delay: Duration::from_millis(u64::from(batch.max_batch_delay_ms)),
                queue_capacity: batch.max_queue as usize,
            },
            scale.min_replicas as usize,
            Arc::new(VersionMetrics {
                deployment: deployment.to_string(),
                version: version.to_string(),
            }),
        );
        tracing::info!(deployment, model, version, file = %path, "model version loaded");
        Ok(LoadedVersion {
            version,
            batch,
            model: onnx,
            batcher,
            idle_ticks: AtomicU32::new(0),
        })
    }

    pub fn signature(&self) -> &Signature {
        self.model.signature()
    }

    pub fn reset_idle(&self) -> u32 {
        self.idle_ticks.swap(0, Ordering::Relaxed)
    }
}

/// Runs one row of zeros through the plan so the first real request does not pay for lazy
/// initialisation. A model that refuses zeros (a label encoder without a default, say) is still
/// served; the refusal is only logged.
async fn warm_up(model: &Arc<OnnxModel>) {
    let inputs: Option<Inputs> = model
        .signature()
        .inputs
        .iter()
        .map(|spec| {
            let shape: Vec<usize> = spec
                .shape
                .iter()
                .map(|d| d.and_then(|n| usize::try_from(n).ok()).unwrap_or(1))
                .collect();
            zeros(spec.dtype, shape).map(|t| (spec.name.clone(), t))
        })
        .collect();
    let Some(inputs) = inputs else { return };
    let model = model.clone();
    let outcome = tokio::task::spawn_blocking(move || model.run(inputs)).await;
    if let Ok(Err(error)) = outcome {
        tracing::debug!(%error, "warm-up run refused zeros");
    }
}

fn zeros(dtype: DType, shape: Vec<usize>) -> Option<Tensor> {
    let n: usize = shape.iter().product();
    let data = match dtype {
        DType::Bool => TensorData::Bool(vec![false; n]),
        DType::Uint8 => TensorData::Uint8(vec![0; n]),
        DType::Uint16 => TensorData::Uint16(vec![0; n]),
        DType::Uint32 => TensorData::Uint32(vec![0; n]),
        DType::Uint64 => TensorData::Uint64(vec![0; n]),
        DType::Int8 => TensorData::Int8(vec![0; n]),
        DType::Int16 => TensorData::Int16(vec![0; n]),
        DType::Int32 => TensorData::Int32(vec![0; n]),
        DType::Int64 => TensorData::Int64(vec![0; n]),
        DType::Fp32 => TensorData::Fp32(vec![0.0; n]),
        DType::Fp64 => TensorData::Fp64(vec![0.0; n]),
        DType::Bytes => TensorData::Bytes(vec![String::new(); n]),
    };
    Tensor::new(shape, data).ok()
}
