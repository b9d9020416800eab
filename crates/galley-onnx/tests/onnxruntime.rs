//! The ONNX Runtime engine (`--features onnxruntime`, library at `ORT_DYLIB_PATH`): fixtures run on
//! it give the outputs onnxruntime recorded, ZipMap's maps included, and a model tract cannot run
//! (an SVM) is served by it instead of refused.
#![cfg(feature = "onnxruntime")]

use std::path::Path;

use galley_onnx::onnxruntime::LIBRARY_VARIABLE;
use galley_onnx::{DType, OnnxModel, Tensor, TensorData};
use serde_json::Value;

fn fixture(name: &str) -> (Vec<u8>, Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join(doc["model"].as_str().unwrap())).unwrap();
    (bytes, doc)
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x.as_f64()
                .unwrap_or_else(|| f64::from(u8::from(x.as_bool().unwrap())))
        })
        .collect()
}

fn input(v: &Value) -> (String, Tensor) {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data = numbers(&v["data"]);
    let tensor = match DType::parse(v["datatype"].as_str().unwrap()).unwrap() {
        DType::Fp32 => Tensor::new(shape, data.iter().map(|&x| x as f32).collect::<Vec<_>>()),
        DType::Fp64 => Tensor::new(shape, data),
        DType::Int64 => Tensor::new(shape, data.iter().map(|&x| x as i64).collect::<Vec<_>>()),
        other => panic!("no {other} inputs in these fixtures"),
    };
    (v["name"].as_str().unwrap().to_owned(), tensor.unwrap())
}

fn as_f64(t: &Tensor) -> Vec<f64> {
    match &t.data {
        TensorData::Fp32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        TensorData::Fp64(v) => v.clone(),
        TensorData::Int64(v) => v.iter().map(|&x| x as f64).collect(),
        TensorData::Int32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        other => panic!("unexpected output {:?}", other.dtype()),
    }
}

/// Runs `name`'s recorded inputs and compares with onnxruntime's recorded outputs; answers the
/// engine that ran it.
fn check(name: &str) -> &'static str {
    let (bytes, doc) = fixture(name);
    let model = OnnxModel::load(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let inputs = doc["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(input)
        .collect();
    let outputs = model.run(inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
    for (want, (got_name, got)) in doc["outputs"].as_array().unwrap().iter().zip(&outputs) {
        assert_eq!(want["name"].as_str().unwrap(), got_name, "{name}");
        let want_shape: Vec<usize> = want["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(got.shape, want_shape, "{name} {got_name}");
        for (g, w) in as_f64(got).iter().zip(numbers(&want["data"])) {
            assert!(
                (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                "{name} {got_name}: {g} vs {w}"
            );
        }
    }
    model.engine()
}

#[test]
fn onnxruntime_serves_fixtures_and_what_tract_cannot() {
    if std::env::var(LIBRARY_VARIABLE).is_err() {
        eprintln!("SKIPPED: {LIBRARY_VARIABLE} is not set (scripts/test.sh points it at the onnxruntime wheel's library)");
        return;
    }
    // Tract serves what it can; the SVM it refuses goes to ONNX Runtime.
    assert_eq!(check("linear_regression"), "tract");
    assert_eq!(check("unsupported_svm_classifier"), "onnxruntime");

    // Everything on ONNX Runtime: one test in this binary, so setting the variable races nothing.
    std::env::set_var(galley_onnx::ENGINE_VARIABLE, "onnxruntime");
    for name in [
        "logistic_regression_iris",
        "random_forest_classifier_iris",
        "gradient_boosting_classifier_multiclass",
        "gradient_boosting_regressor",
        "scaler_logistic_regression_binary",
        "normalizer_pipeline",
        "torch_mlp",
    ] {
        assert_eq!(check(name), "onnxruntime", "{name}");
    }
}
