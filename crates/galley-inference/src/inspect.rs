//! The registry's `ModelInspector`, implemented with what serving knows: where a version's files
//! are and how to read an ONNX model's signature without building a runnable plan.

use async_trait::async_trait;
use galley_artifacts::ArtifactStore;
use galley_onnx::Signature;
use galley_registry::model::{ModelSignature, TensorSpec};
use galley_registry::ModelInspector;

use crate::files::ModelFiles;

pub struct ArtifactInspector {
    artifacts: ArtifactStore,
}

impl ArtifactInspector {
    pub fn new(artifacts: ArtifactStore) -> Self {
        ArtifactInspector { artifacts }
    }
}

#[async_trait]
impl ModelInspector for ArtifactInspector {
    async fn inspect(&self, storage_location: &str) -> Option<ModelSignature> {
        let files = ModelFiles::at(storage_location, &self.artifacts)?;
        let path = files.find_onnx(storage_location).await?;
        let bytes = match files.read(&path).await {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(location = storage_location, %error, "cannot read the ONNX file");
                return None;
            }
        };
        match Signature::from_onnx_bytes(&bytes) {
            Ok(signature) => Some(registry_signature(path, &signature)),
            Err(error) => {
                tracing::warn!(location = storage_location, file = %path, %error, "not a readable ONNX model");
                None
            }
        }
    }
}

fn registry_signature(path: String, signature: &Signature) -> ModelSignature {
    let specs = |specs: &[galley_onnx::TensorSpec]| {
        specs
            .iter()
            .map(|s| TensorSpec {
                name: s.name.clone(),
                datatype: s.dtype.as_str().to_string(),
                shape: s.shape.clone(),
            })
            .collect()
    };
    ModelSignature {
        format: "onnx".into(),
        path,
        inputs: specs(&signature.inputs),
        outputs: specs(&signature.outputs),
    }
}
