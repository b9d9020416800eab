//! Every model in tests/fixtures (written by scripts/make_onnx_fixtures.py) run through
//! galley-onnx and compared with the outputs onnxruntime recorded for the same inputs.
//!
//! Tolerance: a float output matches when it is within 1e-5 of onnxruntime's, absolutely or
//! relatively (|got - want| <= 1e-5 * max(1, |want|)); NaN must meet NaN and infinities must be
//! equal. Integer labels and strings must be equal.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use galley_onnx::{DType, OnnxError, OnnxModel, Signature, Tensor, TensorData, TensorSpec};
use serde_json::Value;

const TOLERANCE: f64 = 1e-5;

struct Fixture {
    bytes: Vec<u8>,
    doc: Value,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> Fixture {
    let dir = fixtures_dir();
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join(doc["model"].as_str().unwrap())).unwrap();
    Fixture { bytes, doc }
}

fn element(dtype: DType, v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "NaN" => f64::NAN,
        Value::String(s) if s == "Infinity" => f64::INFINITY,
        Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap(),
        other => panic!("{dtype} element {other}"),
    }
}

fn tensor(v: &Value) -> (String, Tensor) {
    let dtype = DType::parse(v["datatype"].as_str().unwrap()).unwrap();
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let items = v["data"].as_array().unwrap();
    let numbers = || items.iter().map(|x| element(dtype, x));
    let ints = || items.iter().map(|x| x.as_i64().unwrap());
    let data = match dtype {
        DType::Fp32 => TensorData::Fp32(numbers().map(|x| x as f32).collect()),
        DType::Fp64 => TensorData::Fp64(numbers().collect()),
        DType::Int64 => TensorData::Int64(ints().collect()),
        DType::Int32 => TensorData::Int32(ints().map(|x| x as i32).collect()),
        DType::Bool => TensorData::Bool(items.iter().map(|x| x.as_bool().unwrap()).collect()),
        DType::Bytes => TensorData::Bytes(
            items
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect(),
        ),
        other => panic!("no fixture uses {other}"),
    };
    (
        v["name"].as_str().unwrap().to_string(),
        Tensor::new(shape, data).unwrap(),
    )
}

fn tensors(v: &Value) -> Vec<(String, Tensor)> {
    v.as_array().unwrap().iter().map(tensor).collect()
}

/// Rows `from..to` of a tensor (along axis 0).
fn rows(t: &Tensor, from: usize, to: usize) -> Tensor {
    let per_row = t.shape[1..].iter().product::<usize>();
    let (a, b) = (from * per_row, to * per_row);
    let data = match &t.data {
        TensorData::Fp32(v) => TensorData::Fp32(v[a..b].to_vec()),
        TensorData::Fp64(v) => TensorData::Fp64(v[a..b].to_vec()),
        TensorData::Int64(v) => TensorData::Int64(v[a..b].to_vec()),
        TensorData::Int32(v) => TensorData::Int32(v[a..b].to_vec()),
        TensorData::Bool(v) => TensorData::Bool(v[a..b].to_vec()),
        TensorData::Bytes(v) => TensorData::Bytes(v[a..b].to_vec()),
        other => panic!("no fixture uses {:?}", other.dtype()),
    };
    let mut shape = t.shape.clone();
    shape[0] = to - from;
    Tensor::new(shape, data).unwrap()
}

/// The tensor's rows repeated `times` times (along axis 0).
fn repeat(t: &Tensor, times: usize) -> Tensor {
    let data = match &t.data {
        TensorData::Fp32(v) => TensorData::Fp32(v.repeat(times)),
        TensorData::Fp64(v) => TensorData::Fp64(v.repeat(times)),
        TensorData::Int64(v) => TensorData::Int64(v.repeat(times)),
        TensorData::Int32(v) => TensorData::Int32(v.repeat(times)),
        TensorData::Bool(v) => TensorData::Bool(v.repeat(times)),
        TensorData::Bytes(v) => {
            TensorData::Bytes((0..times).flat_map(|_| v.iter().cloned()).collect())
        }
        other => panic!("no fixture uses {:?}", other.dtype()),
    };
    let mut shape = t.shape.clone();
    shape[0] *= times;
    Tensor::new(shape, data).unwrap()
}

fn floats(t: &Tensor) -> Option<Vec<f64>> {
    match &t.data {
        TensorData::Fp32(v) => Some(v.iter().map(|&x| f64::from(x)).collect()),
        TensorData::Fp64(v) => Some(v.clone()),
        _ => None,
    }
}

/// Largest absolute and relative differences seen between float outputs.
#[derive(Debug, Clone, Copy, Default)]
struct Error {
    abs: f64,
    rel: f64,
}

impl Error {
    fn max(self, other: Error) -> Error {
        Error {
            abs: self.abs.max(other.abs),
            rel: self.rel.max(other.rel),
        }
    }
}

/// Checks `got` against `want` and returns the largest differences of a float output.
fn compare(context: &str, got: &Tensor, want: &Tensor) -> Error {
    assert_eq!(got.dtype, want.dtype, "{context}: datatype");
    assert_eq!(got.shape, want.shape, "{context}: shape");
    let (Some(g), Some(w)) = (floats(got), floats(want)) else {
        assert_eq!(got.data, want.data, "{context}: values");
        return Error::default();
    };
    let mut max = Error::default();
    for (i, (g, w)) in g.iter().zip(&w).enumerate() {
        let ok = if w.is_nan() || g.is_nan() {
            w.is_nan() && g.is_nan()
        } else if w.is_infinite() || g.is_infinite() {
            g == w
        } else {
            let diff = (g - w).abs();
            max = max.max(Error {
                abs: diff,
                rel: if *w == 0.0 { 0.0 } else { diff / w.abs() },
            });
            diff <= TOLERANCE * w.abs().max(1.0)
        };
        assert!(ok, "{context}: element {i} is {g}, onnxruntime gave {w}");
    }
    max
}

fn expected_signature(doc: &Value) -> Signature {
    let specs = |v: &Value| -> Vec<TensorSpec> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| TensorSpec {
                name: s["name"].as_str().unwrap().into(),
                dtype: DType::parse(s["dtype"].as_str().unwrap()).unwrap(),
                shape: s["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(Value::as_i64)
                    .collect(),
            })
            .collect()
    };
    Signature {
        inputs: specs(&doc["signature"]["inputs"]),
        outputs: specs(&doc["signature"]["outputs"]),
    }
}

/// Loads a fixture, checks its signature, runs the recorded batch, each row alone and the batch
/// repeated to 200+ rows; returns the largest differences to onnxruntime.
fn check_fixture(name: &str) -> Error {
    let f = fixture(name);
    let want_signature = expected_signature(&f.doc);
    assert_eq!(
        Signature::from_onnx_bytes(&f.bytes).unwrap(),
        want_signature,
        "{name}: signature"
    );
    let model = OnnxModel::load(&f.bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        model.signature(),
        &want_signature,
        "{name}: signature after load"
    );

    let inputs = tensors(&f.doc["inputs"]);
    let expected = tensors(&f.doc["outputs"]);
    let check = |label: &str, inputs: Vec<(String, Tensor)>, expected: &[(String, Tensor)]| {
        let outputs = model
            .run(inputs)
            .unwrap_or_else(|e| panic!("{name} {label}: {e}"));
        assert_eq!(
            outputs.len(),
            expected.len(),
            "{name} {label}: output count"
        );
        let mut max = Error::default();
        for ((got_name, got), (want_name, want)) in outputs.iter().zip(expected) {
            assert_eq!(got_name, want_name, "{name} {label}: output order");
            max = max.max(compare(&format!("{name} {label} {got_name}"), got, want));
        }
        max
    };

    let mut max = check("batch", inputs.clone(), &expected);
    let batch = inputs[0].1.shape[0];
    for r in 0..batch {
        let one = |ts: &[(String, Tensor)]| {
            ts.iter()
                .map(|(n, t)| (n.clone(), rows(t, r, r + 1)))
                .collect::<Vec<_>>()
        };
        max = max.max(check(&format!("row {r}"), one(&inputs), &one(&expected)));
    }
    let times = 200 / batch + 1;
    let many = |ts: &[(String, Tensor)]| {
        ts.iter()
            .map(|(n, t)| (n.clone(), repeat(t, times)))
            .collect::<Vec<_>>()
    };
    max.max(check(
        &format!("{} rows", batch * times),
        many(&inputs),
        &many(&expected),
    ))
}

/// Every way of getting the inputs wrong must be an `InvalidInput` error naming the problem.
fn check_bad_inputs(name: &str) {
    let f = fixture(name);
    let model = OnnxModel::load(&f.bytes).unwrap();
    let inputs = tensors(&f.doc["inputs"]);
    let invalid = |label: &str, inputs: Vec<(String, Tensor)>, needle: &str| match model.run(inputs)
    {
        Err(OnnxError::InvalidInput(message)) => {
            assert!(
                message.contains(needle),
                "{name} {label}: {message:?} lacks {needle:?}"
            )
        }
        other => panic!("{name} {label}: expected an input error, got {other:?}"),
    };
    let (first_name, first) = inputs[0].clone();
    let with_first = |t: Tensor| {
        let mut v = inputs.clone();
        v[0].1 = t;
        v
    };

    let mut renamed = inputs.clone();
    renamed[0].0 = "no_such_input".into();
    invalid("wrong name", renamed, "unknown input 'no_such_input'");

    invalid(
        "missing input",
        inputs[1..].to_vec(),
        &format!("missing input '{first_name}'"),
    );

    let mut twice = inputs.clone();
    twice.push(inputs[0].clone());
    invalid("input twice", twice, "given twice");

    let other_type = match &first.data {
        TensorData::Bytes(v) => Tensor::new(first.shape.clone(), vec![0.0f32; v.len()]).unwrap(),
        TensorData::Fp32(v) => Tensor::new(
            first.shape.clone(),
            v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>(),
        )
        .unwrap(),
        data => Tensor::new(first.shape.clone(), vec![0.5f32; data.len()]).unwrap(),
    };
    invalid("wrong dtype", with_first(other_type), "must be");

    let mut deeper = first.clone();
    deeper.shape.push(1);
    invalid("wrong rank", with_first(deeper), "rank");

    if first.shape.len() == 2 {
        let (n, c) = (first.shape[0], first.shape[1]);
        let wider = match &first.data {
            TensorData::Fp32(_) => Tensor::new(vec![n, c + 1], vec![0.0f32; n * (c + 1)]).unwrap(),
            TensorData::Int64(_) => Tensor::new(vec![n, c + 1], vec![0i64; n * (c + 1)]).unwrap(),
            TensorData::Bytes(_) => {
                Tensor::new(vec![n, c + 1], vec![String::new(); n * (c + 1)]).unwrap()
            }
            other => panic!("{other:?}"),
        };
        invalid(
            "wrong feature count",
            with_first(wider),
            &format!("dimension 1 must be {c}"),
        );
    }

    let mut lying = first.clone();
    lying.shape[0] += 1;
    invalid("data shorter than shape", with_first(lying), "elements");

    if inputs.len() > 1 {
        let fewer_rows = rows(&first, 0, first.shape[0] - 1);
        invalid("batch sizes disagree", with_first(fewer_rows), "but input");
    }
}

macro_rules! fixture_tests {
    ($($name:ident),* $(,)?) => {
        const FIXTURES: &[&str] = &[$(stringify!($name)),*];
        mod matches_onnxruntime {
            $(#[test] fn $name() { super::check_fixture(stringify!($name)); })*
        }
        mod bad_inputs_are_errors {
            $(#[test] fn $name() { super::check_bad_inputs(stringify!($name)); })*
        }
    };
}

fixture_tests!(
    logistic_regression_iris,
    random_forest_classifier_iris,
    gradient_boosting_classifier_binary,
    gradient_boosting_classifier_multiclass,
    random_forest_regressor,
    gradient_boosting_regressor,
    scaler_logistic_regression_binary,
    column_transformer,
    linear_regression,
    normalizer_pipeline,
    normalizer_l1,
    normalizer_max,
    label_encoder,
    onnx_ml_misc,
    tree_ensemble_variants,
    torch_mlp,
    torch_mlp_dynamo,
);

#[test]
fn every_fixture_file_is_tested_and_small() {
    let mut on_disk = vec![];
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let path = entry.unwrap().path();
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size < 200 * 1024, "{} is {size} bytes", path.display());
        if path.extension().is_some_and(|e| e == "json") {
            on_disk.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    listed.push("unsupported_svm_classifier".into());
    listed.sort();
    assert_eq!(on_disk, listed);
}

/// Prints the largest differences to onnxruntime per fixture
/// (`cargo test -p galley-onnx --test fixtures -- --nocapture max_error`).
#[test]
fn max_error_report() {
    for name in FIXTURES {
        let max = check_fixture(name);
        println!(
            "{name:40} vs onnxruntime: max abs error {:.2e}, max rel error {:.2e}",
            max.abs, max.rel
        );
    }
}

#[test]
fn unsupported_operators_are_named_at_load() {
    let f = fixture("unsupported_svm_classifier");
    // The signature is still readable without a plan.
    let signature = Signature::from_onnx_bytes(&f.bytes).unwrap();
    assert_eq!(signature, expected_signature(&f.doc));
    match OnnxModel::load(&f.bytes) {
        Err(OnnxError::Unsupported(message)) => {
            assert!(message.contains("ai.onnx.ml:SVMClassifier"), "{message}")
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn unseen_categories_are_ignored_where_the_model_says_so() {
    // In the column transformer, unknown colors are ignored (handle_unknown="ignore").
    let f = fixture("column_transformer");
    let model = OnnxModel::load(&f.bytes).unwrap();
    let mut inputs = tensors(&f.doc["inputs"]);
    inputs[2].1 = Tensor::new(vec![6, 1], vec!["never seen".to_string(); 6]).unwrap();
    let outputs = model.run(inputs).unwrap();
    assert_eq!(outputs[1].1.shape, vec![6, 2]);
}

#[test]
fn broken_models_are_errors_not_panics() {
    let f = fixture("random_forest_classifier_iris");
    assert!(matches!(
        OnnxModel::load(b"not a model"),
        Err(OnnxError::InvalidModel(_))
    ));
    assert!(OnnxModel::load(&[]).is_err());
    // Every truncation, and some corrupted bytes, of a real model.
    for len in (0..f.bytes.len()).step_by(7) {
        let _ = OnnxModel::load(&f.bytes[..len]);
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200 {
        let mut bytes = f.bytes.clone();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % bytes.len() as u64) as usize;
            bytes[at] ^= (state >> 32) as u8 | 1;
        }
        if let Ok(model) = OnnxModel::load(&bytes) {
            let _ = model.run(tensors(&f.doc["inputs"]));
        }
    }
}

#[test]
fn empty_batches_give_empty_outputs() {
    for name in [
        "random_forest_classifier_iris",
        "torch_mlp",
        "linear_regression",
    ] {
        let f = fixture(name);
        let model = OnnxModel::load(&f.bytes).unwrap();
        let inputs = tensors(&f.doc["inputs"]);
        let empty = inputs
            .iter()
            .map(|(n, t)| (n.clone(), rows(t, 0, 0)))
            .collect::<Vec<_>>();
        match model.run(empty) {
            Ok(outputs) => {
                for (output, tensor) in outputs {
                    assert_eq!(tensor.shape[0], 0, "{name} {output}");
                }
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

#[test]
fn one_model_serves_many_threads() {
    let f = fixture("gradient_boosting_classifier_multiclass");
    let model = Arc::new(OnnxModel::load(&f.bytes).unwrap());
    let inputs = tensors(&f.doc["inputs"]);
    let expected = tensors(&f.doc["outputs"]);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let (model, inputs, expected) = (model.clone(), inputs.clone(), expected.clone());
            scope.spawn(move || {
                for _ in 0..25 {
                    let outputs = model.run(inputs.clone()).unwrap();
                    for ((_, got), (name, want)) in outputs.iter().zip(&expected) {
                        compare(name, got, want);
                    }
                }
            });
        }
    });
}
