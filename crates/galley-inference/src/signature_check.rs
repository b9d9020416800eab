//! Checking a request against the model's signature before it is queued, so a malformed request
//! gets a precise 400 at once and never shares a batch with others.

use std::collections::HashSet;

use galley_onnx::Signature;
use galley_serving::ServingError;

use crate::batcher::Inputs;

pub fn check_inputs(signature: &Signature, inputs: &Inputs) -> Result<(), ServingError> {
    let invalid = |message: String| Err(ServingError::InvalidInput(message));
    let mut seen = HashSet::new();
    for (name, tensor) in inputs {
        if !seen.insert(name.as_str()) {
            return invalid(format!("input '{name}' is given twice"));
        }
        let Some(spec) = signature.input(name) else {
            let expected: Vec<&str> = signature.inputs.iter().map(|s| s.name.as_str()).collect();
            return invalid(format!(
                "unexpected input '{name}'; the model takes {expected:?}"
            ));
        };
        if tensor.dtype != spec.dtype {
            return invalid(format!(
                "input '{name}' must be {}, got {}",
                spec.dtype, tensor.dtype
            ));
        }
        if tensor.shape.len() != spec.shape.len() {
            return invalid(format!(
                "input '{name}' must have {} dimensions {}, got shape {:?}",
                spec.shape.len(),
                shape_text(&spec.shape),
                tensor.shape
            ));
        }
        let fits = spec
            .shape
            .iter()
            .zip(&tensor.shape)
            .all(|(want, got)| want.is_none_or(|w| usize::try_from(w) == Ok(*got)));
        if !fits {
            return invalid(format!(
                "input '{name}' must have shape {}, got {:?}",
                shape_text(&spec.shape),
                tensor.shape
            ));
        }
        tensor
            .check()
            .map_err(|e| ServingError::InvalidInput(format!("input '{name}': {e}")))?;
    }
    if let Some(missing) = signature
        .inputs
        .iter()
        .find(|spec| !seen.contains(spec.name.as_str()))
    {
        return invalid(format!("missing input '{}'", missing.name));
    }
    Ok(())
}

/// A shape as the protocol writes it, -1 for a free dimension.
fn shape_text(shape: &[Option<i64>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or_else(|| "-1".to_string(), |n| n.to_string()))
        .collect();
    format!("[{}]", dims.join(", "))
}

#[cfg(test)]
mod tests {
    use galley_onnx::{DType, Tensor, TensorSpec};

    use super::*;

    fn signature() -> Signature {
        Signature {
            inputs: vec![TensorSpec {
                name: "X".into(),
                dtype: DType::Fp32,
                shape: vec![None, Some(4)],
            }],
            outputs: vec![],
        }
    }

    fn input(name: &str, shape: Vec<usize>) -> Inputs {
        let n = shape.iter().product();
        vec![(name.into(), Tensor::new(shape, vec![0.0f32; n]).unwrap())]
    }

    #[test]
    fn accepts_any_batch_of_the_right_rows() {
        assert!(check_inputs(&signature(), &input("X", vec![3, 4])).is_ok());
    }

    #[test]
    fn names_the_problem() {
        let message = |inputs: Inputs| match check_inputs(&signature(), &inputs) {
            Err(ServingError::InvalidInput(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(message(input("Y", vec![1, 4])).contains("unexpected input 'Y'"));
        assert!(message(input("X", vec![1, 3])).contains("must have shape [-1, 4]"));
        assert!(message(input("X", vec![4])).contains("must have 2 dimensions"));
        assert!(message(vec![]).contains("missing input 'X'"));
        let ints = vec![(
            "X".to_string(),
            Tensor::new(vec![1, 4], vec![1i64; 4]).unwrap(),
        )];
        assert!(message(ints).contains("must be FP32, got INT64"));
        let mut twice = input("X", vec![1, 4]);
        twice.extend(input("X", vec![1, 4]));
        assert!(message(twice).contains("given twice"));
    }
}
