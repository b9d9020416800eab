//! The Open Inference Protocol (V2, KServe/Triton) infer wire codec: request bodies (JSON, with
//! Triton's binary tensor data extension) to tensors, and output tensors to response bodies.
//! Pure functions over bytes; routing, model lookup and HTTP headers belong to the routes.
//!
//! Binary layout (Triton's `binary_tensor_data` extension): the body is a JSON header of
//! `Inference-Header-Content-Length` bytes followed by the raw tensors, in the order the JSON
//! lists them, each little-endian and row-major with no padding; BOOL is one byte per element and
//! a BYTES element is a 4-byte little-endian length followed by that many bytes.
//!
//! Choices the protocol leaves open:
//! - Nested JSON `data` must match `shape` exactly at every level; flat data only needs the
//!   right element count. A partly nested array is refused rather than guessed at.
//! - JSON numbers must fit the datatype exactly: integers (no `1.0`) for INT*/UINT*, `true`/`false`
//!   for BOOL, strings for BYTES; FP32/FP64 take any number, FP32 only within its finite range.
//! - Binary BOOL bytes must be 0 or 1, and binary BYTES elements must be UTF-8, because Galley's
//!   tensors hold strings.
//! - Parameters that would change what the client gets back and that Galley does not implement
//!   (shared memory, classification) are refused instead of silently ignored.
//! - An output requested as JSON that holds NaN or an infinity is refused (see
//!   [`encode_response`]).

use std::collections::{HashMap, HashSet};

use galley_core::ErrorCode;
use galley_onnx::{DType, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The header giving the JSON part's length when binary tensors follow it.
pub const HEADER_LENGTH_HEADER: &str = "inference-header-content-length";

/// The most elements one input may declare. The shape comes from an untrusted header and
/// later stages size buffers from it, so it is bounded before anything trusts it; 2^28 elements
/// is 2 GiB of FP64, well past any body the server accepts.
pub const MAX_ELEMENTS: usize = 1 << 28;

/// An output the client named, and whether it wants it back as binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedOutput {
    pub name: String,
    pub binary: bool,
}

/// A decoded infer request.
#[derive(Debug, Clone, PartialEq)]
pub struct InferRequest {
    pub id: Option<String>,
    /// The inputs in request order; names are unique.
    pub inputs: Vec<(String, Tensor)>,
    /// Outputs the client asked for (empty: all outputs), and whether each comes back binary;
    /// names are unique. Whether each exists is for the caller, which knows the model, to check.
    pub outputs: Vec<RequestedOutput>,
    /// The request-level `binary_data_output` parameter: binary for outputs not listed.
    pub binary_by_default: bool,
}

/// A response body, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedResponse {
    pub body: Vec<u8>,
    /// `Some(n)` when binary outputs follow `n` bytes of JSON: the value of the
    /// `Inference-Header-Content-Length` header, which must then be sent.
    pub header_length: Option<usize>,
}

#[derive(Deserialize)]
struct RawRequest {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    inputs: Vec<RawInput>,
    #[serde(default)]
    outputs: Option<Vec<RawOutput>>,
}

#[derive(Deserialize)]
struct RawInput {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Deserialize)]
struct RawOutput {
    name: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

/// Decodes an infer request body. `header_length` is the `Inference-Header-Content-Length`
/// header (None: the whole body is JSON).
pub fn decode_request(body: &[u8], header_length: Option<usize>) -> Result<InferRequest, ApiError> {
    let (header, blob) = match header_length {
        None => (body, &body[body.len()..]),
        Some(n) if n <= body.len() => body.split_at(n),
        Some(n) => {
            return Err(bad_request(format!(
                "Inference-Header-Content-Length is {n} but the body has only {} bytes",
                body.len()
            )))
        }
    };
    let raw = parse_header(header)?;
    let binary_by_default =
        bool_param(raw.parameters.as_ref(), "binary_data_output", "the request")?.unwrap_or(false);

    let mut names = HashSet::new();
    let mut inputs = Vec::with_capacity(raw.inputs.len());
    let mut rest = blob;
    for input in raw.inputs {
        let name = input.name;
        if !names.insert(name.clone()) {
            return Err(ApiError::invalid(format!(
                "input '{name}' appears more than once"
            )));
        }
        let dtype = parse_dtype(&name, &input.datatype)?;
        let (shape, count) = parse_shape(&name, &input.shape)?;
        let parameters = input.parameters.as_ref();
        refuse_shared_memory(parameters, &format!("input '{name}'"))?;
        let binary_size = size_param(&name, parameters)?;
        let data = match (input.data, binary_size) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(format!(
                    "input '{name}' has both 'data' and parameters.binary_data_size; give one"
                )))
            }
            (None, None) => {
                return Err(ApiError::invalid(format!(
                    "input '{name}' has neither 'data' nor parameters.binary_data_size"
                )))
            }
            (Some(data), None) => from_json(&name, dtype, &input.shape, count, &data)?,
            (None, Some(size)) => {
                // An empty binary tensor needs no bytes, so only a non-empty one needs the header.
                if header_length.is_none() && size > 0 {
                    return Err(ApiError::invalid(format!(
                        "input '{name}' has parameters.binary_data_size but the request has no \
                         Inference-Header-Content-Length header"
                    )));
                }
                if size > rest.len() {
                    return Err(ApiError::invalid(format!(
                        "input '{name}': binary_data_size {size} runs past the end of the body \
                         ({} bytes of binary data after the JSON header, {} left for this input)",
                        blob.len(),
                        rest.len()
                    )));
                }
                let (bytes, after) = rest.split_at(size);
                rest = after;
                BinaryInput {
                    name: &name,
                    dtype,
                    shape: &input.shape,
                    count,
                    bytes,
                }
                .decode()?
            }
        };
        let tensor = Tensor::new(shape, data)
            .map_err(|e| ApiError::invalid(format!("input '{name}': {e}")))?;
        inputs.push((name, tensor));
    }
    if !rest.is_empty() {
        return Err(ApiError::invalid(format!(
            "{} of the {} bytes after the JSON header belong to no input (the inputs' \
             binary_data_size values must add up to exactly the binary data's length)",
            rest.len(),
            blob.len()
        )));
    }

    let mut names = HashSet::new();
    let mut outputs = Vec::new();
    for output in raw.outputs.unwrap_or_default() {
        let what = format!("output '{}'", output.name);
        if !names.insert(output.name.clone()) {
            return Err(ApiError::invalid(format!(
                "{what} is requested more than once"
            )));
        }
        let parameters = output.parameters.as_ref();
        refuse_shared_memory(parameters, &what)?;
        if parameters.is_some_and(|p| p.contains_key("classification")) {
            return Err(ApiError::invalid(format!(
                "{what}: the classification extension is not supported"
            )));
        }
        // Per the extension, an output's own `binary_data` overrides the request-level default.
        let binary = bool_param(parameters, "binary_data", &what)?.unwrap_or(binary_by_default);
        outputs.push(RequestedOutput {
            name: output.name,
            binary,
        });
    }

    Ok(InferRequest {
        id: raw.id,
        inputs,
        outputs,
        binary_by_default,
    })
}

/// Encodes a response holding `outputs` (the model's, in its order), keeping only those
/// `request` names when it names any (in the request's order), each as JSON or binary as asked.
///
/// A float output asked for as JSON that holds NaN or an infinity is refused with a 400 naming
/// the output and telling the client to ask for it as binary: JSON has no way to write these
/// values (serde_json would silently write `null`), and answering binary unasked would hand
/// clients that do not speak the binary extension a body they cannot parse.
pub fn encode_response(
    model_name: &str,
    model_version: &str,
    id: Option<&str>,
    outputs: &[(String, Tensor)],
    request: &InferRequest,
) -> Result<EncodedResponse, ApiError> {
    let selected: Vec<(&str, &Tensor, bool)> = if request.outputs.is_empty() {
        outputs
            .iter()
            .map(|(name, tensor)| (name.as_str(), tensor, request.binary_by_default))
            .collect()
    } else {
        let by_name: HashMap<&str, &Tensor> =
            outputs.iter().map(|(n, t)| (n.as_str(), t)).collect();
        request
            .outputs
            .iter()
            .map(|wanted| match by_name.get(wanted.name.as_str()) {
                Some(tensor) => Ok((wanted.name.as_str(), *tensor, wanted.binary)),
                None => Err(ApiError::invalid(format!(
                    "output '{}' is not an output of model '{model_name}'",
                    wanted.name
                ))),
            })
            .collect::<Result<_, _>>()?
    };

    let mut blob = Vec::new();
    let mut any_binary = false;
    let mut sizes = Vec::with_capacity(selected.len());
    for (name, tensor, binary) in &selected {
        tensor.check().map_err(|e| {
            ApiError::new(
                ErrorCode::InternalError,
                format!("model output '{name}' is inconsistent: {e}"),
            )
        })?;
        if *binary {
            let before = blob.len();
            write_binary(name, &tensor.data, &mut blob)?;
            sizes.push(Some(blob.len() - before));
            any_binary = true;
        } else {
            if !all_finite(&tensor.data) {
                return Err(ApiError::invalid(format!(
                    "output '{name}' holds NaN or infinity, which JSON cannot carry; request it \
                     as binary (parameters.binary_data: true)"
                )));
            }
            sizes.push(None);
        }
    }

    let response = ResponseJson {
        model_name,
        model_version,
        id,
        outputs: selected
            .iter()
            .zip(sizes)
            .map(|((name, tensor, _), size)| OutputJson {
                name,
                datatype: tensor.dtype.as_str(),
                shape: &tensor.shape,
                parameters: size.map(|binary_data_size| BinaryParameters { binary_data_size }),
                data: match size {
                    Some(_) => None,
                    None => Some(JsonData(&tensor.data)),
                },
            })
            .collect(),
    };
    let mut body = serde_json::to_vec(&response).map_err(|e| {
        ApiError::new(
            ErrorCode::InternalError,
            format!("could not write the response: {e}"),
        )
    })?;
    let header_length = any_binary.then_some(body.len());
    body.extend_from_slice(&blob);
    Ok(EncodedResponse {
        body,
        header_length,
    })
}

#[derive(Serialize)]
struct ResponseJson<'a> {
    model_name: &'a str,
    model_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    outputs: Vec<OutputJson<'a>>,
}

#[derive(Serialize)]
struct OutputJson<'a> {
    name: &'a str,
    datatype: &'static str,
    shape: &'a [usize],
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<BinaryParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<JsonData<'a>>,
}

#[derive(Serialize)]
struct BinaryParameters {
    binary_data_size: usize,
}

/// Elements written as a flat JSON array straight from the typed Vec, so an FP32 value is
/// written in its shortest f32 form (0.1, not 0.10000000149011612).
pub(crate) struct JsonData<'a>(pub(crate) &'a TensorData);

impl Serialize for JsonData<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            TensorData::Bool(v) => v.serialize(serializer),
            TensorData::Uint8(v) => v.serialize(serializer),
            TensorData::Uint16(v) => v.serialize(serializer),
            TensorData::Uint32(v) => v.serialize(serializer),
            TensorData::Uint64(v) => v.serialize(serializer),
            TensorData::Int8(v) => v.serialize(serializer),
            TensorData::Int16(v) => v.serialize(serializer),
            TensorData::Int32(v) => v.serialize(serializer),
            TensorData::Int64(v) => v.serialize(serializer),
            TensorData::Fp32(v) => v.serialize(serializer),
            TensorData::Fp64(v) => v.serialize(serializer),
            TensorData::Bytes(v) => v.serialize(serializer),
        }
    }
}

fn all_finite(data: &TensorData) -> bool {
    match data {
        TensorData::Fp32(v) => v.iter().all(|x| x.is_finite()),
        TensorData::Fp64(v) => v.iter().all(|x| x.is_finite()),
        _ => true,
    }
}

/// Appends `data`'s binary form (little-endian, BOOL as one byte, BYTES length-prefixed).
fn write_binary(name: &str, data: &TensorData, out: &mut Vec<u8>) -> Result<(), ApiError> {
    match data {
        TensorData::Bool(v) => out.extend(v.iter().map(|&b| u8::from(b))),
        TensorData::Uint8(v) => out.extend_from_slice(v),
        TensorData::Uint16(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
        TensorData::Uint32(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
        TensorData::Uint64(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
        TensorData::Int8(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
        TensorData::Int16(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
        TensorData::Int32(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
        TensorData::Int64(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
        TensorData::Fp32(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
        TensorData::Fp64(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
        TensorData::Bytes(v) => {
            for s in v {
                let len = u32::try_from(s.len()).map_err(|_| {
                    ApiError::new(
                        ErrorCode::InternalError,
                        format!("output '{name}' holds an element of more than 4 GiB"),
                    )
                })?;
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    Ok(())
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message)
}

/// Parses the JSON header; a body that is not JSON is malformed (BAD_REQUEST), JSON of the
/// wrong shape is an invalid value, and both say where.
fn parse_header(header: &[u8]) -> Result<RawRequest, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(header);
    let raw = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let inner = e.inner();
        let code = if inner.is_syntax() || inner.is_eof() {
            ErrorCode::BadRequest
        } else {
            ErrorCode::InvalidParameterValue
        };
        let path = e.path().to_string();
        let at = if path == "." || path == "?" {
            String::new()
        } else {
            format!(" at '{path}'")
        };
        ApiError::new(code, format!("invalid inference request{at}: {inner}"))
    })?;
    // Trailing bytes usually mean binary data was sent without its header-length header.
    deserializer.end().map_err(|e| {
        bad_request(format!(
            "invalid inference request: {e} (binary tensor data needs the \
             Inference-Header-Content-Length header)"
        ))
    })?;
    Ok(raw)
}

fn parse_dtype(name: &str, datatype: &str) -> Result<DType, ApiError> {
    DType::parse(datatype).ok_or_else(|| {
        let supported: Vec<&str> = DType::ALL.iter().map(|d| d.as_str()).collect();
        ApiError::invalid(format!(
            "input '{name}': datatype '{datatype}' is not supported (supported: {})",
            supported.join(", ")
        ))
    })
}

/// Checks every dimension is concrete and the element count is within [`MAX_ELEMENTS`].
fn parse_shape(name: &str, shape: &[i64]) -> Result<(Vec<usize>, usize), ApiError> {
    let mut dims = Vec::with_capacity(shape.len());
    let mut count = 1usize;
    for &dim in shape {
        if dim < 0 {
            return Err(ApiError::invalid(format!(
                "input '{name}': shape {shape:?} has a negative dimension; an input's shape must \
                 be concrete"
            )));
        }
        // Checking each dimension, not only the product, also refuses [0, 2^62].
        let dim = usize::try_from(dim)
            .ok()
            .filter(|&d| d <= MAX_ELEMENTS)
            .ok_or_else(|| too_large(name, shape))?;
        count = count
            .checked_mul(dim)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| too_large(name, shape))?;
        dims.push(dim);
    }
    Ok((dims, count))
}

fn too_large(name: &str, shape: &[i64]) -> ApiError {
    ApiError::invalid(format!(
        "input '{name}': shape {shape:?} has more than {MAX_ELEMENTS} elements"
    ))
}

fn bool_param(
    parameters: Option<&Map<String, Value>>,
    key: &str,
    what: &str,
) -> Result<Option<bool>, ApiError> {
    match parameters.and_then(|p| p.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::invalid(format!(
            "{what}: parameters.{key} must be true or false, got {}",
            kind(other)
        ))),
    }
}

fn size_param(
    name: &str,
    parameters: Option<&Map<String, Value>>,
) -> Result<Option<usize>, ApiError> {
    match parameters.and_then(|p| p.get("binary_data_size")) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "input '{name}': parameters.binary_data_size must be a non-negative integer"
                ))
            }),
    }
}

fn refuse_shared_memory(
    parameters: Option<&Map<String, Value>>,
    what: &str,
) -> Result<(), ApiError> {
    if parameters.is_some_and(|p| p.contains_key("shared_memory_region")) {
        return Err(ApiError::invalid(format!(
            "{what}: the shared memory extension is not supported; send the data in the body"
        )));
    }
    Ok(())
}

/// A JSON value's kind, for messages; never the value itself, which may be huge.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads JSON `data`, flat or nested to match `shape`, into typed elements.
fn from_json(
    name: &str,
    dtype: DType,
    shape: &[i64],
    count: usize,
    data: &Value,
) -> Result<TensorData, ApiError> {
    let Value::Array(items) = data else {
        return Err(ApiError::invalid(format!(
            "input '{name}': data must be an array, got {}",
            kind(data)
        )));
    };
    let mut flat = Vec::with_capacity(items.len().min(count));
    if items.iter().any(Value::is_array) {
        let mut path = Vec::new();
        flatten_nested(name, shape, items, &mut path, &mut flat)?;
    } else {
        flat.extend(items);
    }
    if flat.len() != count {
        return Err(ApiError::invalid(format!(
            "input '{name}': expected {count} elements for shape {shape:?}, got {}",
            flat.len()
        )));
    }
    json_elements(name, dtype, &flat)
}

/// Walks nested arrays that must match `shape` level by level. Depth is bounded by
/// serde_json's nesting limit (128), so the recursion cannot overflow the stack.
fn flatten_nested<'v>(
    name: &str,
    shape: &[i64],
    items: &'v [Value],
    path: &mut Vec<usize>,
    flat: &mut Vec<&'v Value>,
) -> Result<(), ApiError> {
    let mismatch = |path: &[usize], detail: String| {
        let at: String = path.iter().map(|i| format!("[{i}]")).collect();
        ApiError::invalid(format!(
            "input '{name}': nested data does not match shape {shape:?}: data{at} {detail}"
        ))
    };
    let depth = path.len();
    let Some(&expected) = shape.get(depth) else {
        return Err(mismatch(path, "is nested deeper than the shape".into()));
    };
    if i64::try_from(items.len()) != Ok(expected) {
        return Err(mismatch(
            path,
            format!("has {} entries, expected {expected}", items.len()),
        ));
    }
    let leaf_level = depth + 1 == shape.len();
    for (i, item) in items.iter().enumerate() {
        path.push(i);
        match (item, leaf_level) {
            (Value::Array(inner), false) => flatten_nested(name, shape, inner, path, flat)?,
            (Value::Array(_), true) => {
                return Err(mismatch(path, "is an array, expected an element".into()))
            }
            (_, false) => {
                return Err(mismatch(
                    path,
                    format!("is {}, expected an array", kind(item)),
                ))
            }
            (_, true) => flat.push(item),
        }
        path.pop();
    }
    Ok(())
}

pub(crate) fn json_elements(
    name: &str,
    dtype: DType,
    flat: &[&Value],
) -> Result<TensorData, ApiError> {
    Ok(match dtype {
        DType::Bool => TensorData::Bool(
            flat.iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Bool(b) => Ok(*b),
                    other => Err(wrong_element(name, i, other, "true or false", dtype)),
                })
                .collect::<Result<_, _>>()?,
        ),
        DType::Uint8 => TensorData::Uint8(json_ints(name, dtype, flat)?),
        DType::Uint16 => TensorData::Uint16(json_ints(name, dtype, flat)?),
        DType::Uint32 => TensorData::Uint32(json_ints(name, dtype, flat)?),
        DType::Uint64 => TensorData::Uint64(json_ints(name, dtype, flat)?),
        DType::Int8 => TensorData::Int8(json_ints(name, dtype, flat)?),
        DType::Int16 => TensorData::Int16(json_ints(name, dtype, flat)?),
        DType::Int32 => TensorData::Int32(json_ints(name, dtype, flat)?),
        DType::Int64 => TensorData::Int64(json_ints(name, dtype, flat)?),
        DType::Fp32 => TensorData::Fp32(
            json_floats(name, dtype, flat)?
                .into_iter()
                .enumerate()
                .map(|(i, x)| {
                    if x.abs() <= f64::from(f32::MAX) {
                        Ok(x as f32)
                    } else {
                        Err(ApiError::invalid(format!(
                            "input '{name}': element {i} is {x}, out of range for FP32"
                        )))
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        DType::Fp64 => TensorData::Fp64(json_floats(name, dtype, flat)?),
        DType::Bytes => TensorData::Bytes(
            flat.iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(wrong_element(name, i, other, "a string", dtype)),
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn wrong_element(
    name: &str,
    index: usize,
    value: &Value,
    expected: &str,
    dtype: DType,
) -> ApiError {
    ApiError::invalid(format!(
        "input '{name}': element {index} is {}, expected {expected} for {dtype}",
        kind(value)
    ))
}

fn json_ints<T: TryFrom<i64> + TryFrom<u64>>(
    name: &str,
    dtype: DType,
    flat: &[&Value],
) -> Result<Vec<T>, ApiError> {
    flat.iter()
        .enumerate()
        .map(|(i, v)| {
            let Value::Number(n) = v else {
                return Err(wrong_element(name, i, v, "an integer", dtype));
            };
            let fitted = if let Some(x) = n.as_i64() {
                T::try_from(x).ok()
            } else if let Some(x) = n.as_u64() {
                T::try_from(x).ok()
            } else {
                return Err(ApiError::invalid(format!(
                    "input '{name}': element {i} is {n}, expected an integer for {dtype}"
                )));
            };
            fitted.ok_or_else(|| {
                ApiError::invalid(format!(
                    "input '{name}': element {i} is {n}, out of range for {dtype}"
                ))
            })
        })
        .collect()
}

fn json_floats(name: &str, dtype: DType, flat: &[&Value]) -> Result<Vec<f64>, ApiError> {
    flat.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_f64()
                .ok_or_else(|| wrong_element(name, i, v, "a number", dtype))
        })
        .collect()
}

/// One input's binary data (exactly its `binary_data_size` bytes) and what it must hold.
struct BinaryInput<'b> {
    name: &'b str,
    dtype: DType,
    shape: &'b [i64],
    count: usize,
    bytes: &'b [u8],
}

impl<'b> BinaryInput<'b> {
    fn decode(&self) -> Result<TensorData, ApiError> {
        Ok(match self.dtype {
            DType::Bool => TensorData::Bool(
                self.chunks::<1>()?
                    .iter()
                    .enumerate()
                    .map(|(i, &[b])| match b {
                        0 => Ok(false),
                        1 => Ok(true),
                        _ => Err(ApiError::invalid(format!(
                            "input '{}': BOOL element {i} is the byte {b}, expected 0 or 1",
                            self.name
                        ))),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            DType::Uint8 => TensorData::Uint8(self.le(u8::from_le_bytes)?),
            DType::Int8 => TensorData::Int8(self.le(i8::from_le_bytes)?),
            DType::Uint16 => TensorData::Uint16(self.le(u16::from_le_bytes)?),
            DType::Int16 => TensorData::Int16(self.le(i16::from_le_bytes)?),
            DType::Uint32 => TensorData::Uint32(self.le(u32::from_le_bytes)?),
            DType::Int32 => TensorData::Int32(self.le(i32::from_le_bytes)?),
            DType::Uint64 => TensorData::Uint64(self.le(u64::from_le_bytes)?),
            DType::Int64 => TensorData::Int64(self.le(i64::from_le_bytes)?),
            DType::Fp32 => TensorData::Fp32(self.le(f32::from_le_bytes)?),
            DType::Fp64 => TensorData::Fp64(self.le(f64::from_le_bytes)?),
            DType::Bytes => TensorData::Bytes(self.strings()?),
        })
    }

    /// The elements as `N`-byte arrays, once the size is checked against the shape.
    fn chunks<const N: usize>(&self) -> Result<&'b [[u8; N]], ApiError> {
        // count <= MAX_ELEMENTS and N <= 8, so this cannot overflow.
        let expected = self.count * N;
        let (chunks, rest) = self.bytes.as_chunks::<N>();
        if self.bytes.len() != expected || !rest.is_empty() {
            return Err(ApiError::invalid(format!(
                "input '{}': binary_data_size is {} but shape {:?} of {} needs {expected} bytes",
                self.name,
                self.bytes.len(),
                self.shape,
                self.dtype
            )));
        }
        Ok(chunks)
    }

    fn le<T, const N: usize>(&self, read: fn([u8; N]) -> T) -> Result<Vec<T>, ApiError> {
        Ok(self.chunks::<N>()?.iter().map(|&c| read(c)).collect())
    }

    /// Reads length-prefixed UTF-8 strings filling exactly the bytes, `count` of them.
    fn strings(&self) -> Result<Vec<String>, ApiError> {
        let BinaryInput {
            name,
            shape,
            count,
            bytes,
            ..
        } = *self;
        // Sized from the bytes, not the header's count: each element takes at least 4 bytes.
        let mut strings = Vec::with_capacity(count.min(bytes.len() / 4));
        let mut rest = bytes;
        while !rest.is_empty() {
            let i = strings.len();
            if i == count {
                return Err(ApiError::invalid(format!(
                    "input '{name}': binary data holds more than the {count} BYTES elements shape \
                 {shape:?} calls for"
                )));
            }
            let Some((prefix, after)) = rest.split_first_chunk::<4>() else {
                return Err(ApiError::invalid(format!(
                "input '{name}': BYTES element {i} is truncated: {} bytes left, its 4-byte length \
                 prefix does not fit",
                rest.len()
            )));
            };
            let len = u32::from_le_bytes(*prefix) as usize;
            if len > after.len() {
                return Err(ApiError::invalid(format!(
                    "input '{name}': BYTES element {i} claims {len} bytes but only {} remain",
                    after.len()
                )));
            }
            let (element, after) = after.split_at(len);
            let text = std::str::from_utf8(element).map_err(|e| {
                ApiError::invalid(format!(
                    "input '{name}': BYTES element {i} is not valid UTF-8 ({e})"
                ))
            })?;
            strings.push(text.to_owned());
            rest = after;
        }
        if strings.len() != count {
            return Err(ApiError::invalid(format!(
            "input '{name}': binary data holds {} BYTES elements, shape {shape:?} calls for {count}",
            strings.len()
        )));
        }
        Ok(strings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn tensor(shape: Vec<usize>, data: impl Into<TensorData>) -> Tensor {
        Tensor::new(shape, data).unwrap()
    }

    fn decode_json(body: Value) -> Result<InferRequest, ApiError> {
        decode_request(&serde_json::to_vec(&body).unwrap(), None)
    }

    /// A body made of `header` followed by `blob`, with the header length a client would send.
    fn with_blob(header: &Value, blob: &[u8]) -> (Vec<u8>, usize) {
        let mut body = serde_json::to_vec(header).unwrap();
        let n = body.len();
        body.extend_from_slice(blob);
        (body, n)
    }

    fn message(result: Result<InferRequest, ApiError>) -> String {
        let e = result.expect_err("decoding should fail");
        assert_eq!(e.code.http_status(), 400, "{}", e.message);
        e.message
    }

    fn binary(data: &TensorData) -> Vec<u8> {
        let mut out = Vec::new();
        write_binary("t", data, &mut out).unwrap();
        out
    }

    fn sample(dtype: DType) -> Tensor {
        match dtype {
            DType::Bool => tensor(vec![3], vec![true, false, true]),
            DType::Uint8 => tensor(vec![2], vec![0u8, 255]),
            DType::Uint16 => tensor(vec![2], vec![1u16, u16::MAX]),
            DType::Uint32 => tensor(vec![2], vec![7u32, u32::MAX]),
            DType::Uint64 => tensor(vec![2], vec![0u64, u64::MAX]),
            DType::Int8 => tensor(vec![2], vec![i8::MIN, 127]),
            DType::Int16 => tensor(vec![2], vec![-2i16, i16::MAX]),
            DType::Int32 => tensor(vec![1, 2], vec![i32::MIN, 5]),
            DType::Int64 => tensor(vec![2, 1], vec![i64::MIN, i64::MAX]),
            DType::Fp32 => tensor(vec![2, 2], vec![0.1f32, -1.5, f32::NAN, f32::INFINITY]),
            DType::Fp64 => tensor(vec![3], vec![0.1f64, f64::NEG_INFINITY, -0.0]),
            DType::Bytes => tensor(
                vec![3],
                vec!["a".to_string(), String::new(), "héllo".to_string()],
            ),
        }
    }

    /// Tensors compare NaN-aware: the same bits count as equal.
    fn same(a: &Tensor, b: &Tensor) -> bool {
        a.dtype == b.dtype && a.shape == b.shape && binary(&a.data) == binary(&b.data)
    }

    #[test]
    fn flat_json_inputs_decode() {
        let request = decode_json(json!({
            "id": "r1",
            "inputs": [
                {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2.5, -3, 4]},
                {"name": "n", "shape": [3], "datatype": "INT64", "data": [-1, 0, 9007199254740993i64]},
                {"name": "b", "shape": [2], "datatype": "BOOL", "data": [true, false]},
                {"name": "s", "shape": [1, 2], "datatype": "BYTES", "data": ["a", "é"]},
                {"name": "u", "shape": [1], "datatype": "UINT64", "data": [u64::MAX]},
            ]
        }))
        .unwrap();
        assert_eq!(request.id.as_deref(), Some("r1"));
        assert!(request.outputs.is_empty());
        assert!(!request.binary_by_default);
        let expected = vec![
            (
                "x".to_string(),
                tensor(vec![2, 2], vec![1.0f32, 2.5, -3.0, 4.0]),
            ),
            (
                "n".to_string(),
                tensor(vec![3], vec![-1i64, 0, 9007199254740993]),
            ),
            ("b".to_string(), tensor(vec![2], vec![true, false])),
            (
                "s".to_string(),
                tensor(vec![1, 2], vec!["a".to_string(), "é".to_string()]),
            ),
            ("u".to_string(), tensor(vec![1], vec![u64::MAX])),
        ];
        assert_eq!(request.inputs, expected);
    }

    #[test]
    fn nested_json_inputs_must_match_the_shape() {
        let request = decode_json(json!({"inputs": [
            {"name": "x", "shape": [2, 3], "datatype": "INT32", "data": [[1, 2, 3], [4, 5, 6]]},
            {"name": "y", "shape": [2, 0], "datatype": "FP64", "data": [[], []]},
            {"name": "z", "shape": [0, 4], "datatype": "FP64", "data": []},
            {"name": "w", "shape": [], "datatype": "INT8", "data": [7]},
        ]}))
        .unwrap();
        assert_eq!(
            request.inputs[0].1,
            tensor(vec![2, 3], vec![1i32, 2, 3, 4, 5, 6])
        );
        assert_eq!(request.inputs[1].1, tensor(vec![2, 0], Vec::<f64>::new()));
        assert_eq!(request.inputs[2].1, tensor(vec![0, 4], Vec::<f64>::new()));
        assert_eq!(request.inputs[3].1, tensor(vec![], vec![7i8]));

        let nested = |shape: Value, data: Value| {
            message(decode_json(json!({"inputs": [
                {"name": "x", "shape": shape, "datatype": "INT32", "data": data}
            ]})))
        };
        assert_eq!(
            nested(json!([2, 3]), json!([[1, 2, 3], [4, 5]])),
            "input 'x': nested data does not match shape [2, 3]: data[1] has 2 entries, expected 3"
        );
        assert_eq!(
            nested(json!([3, 2]), json!([[1, 2], [3, 4]])),
            "input 'x': nested data does not match shape [3, 2]: data has 2 entries, expected 3"
        );
        assert!(nested(json!([2, 2]), json!([[1, 2], 3]))
            .contains("data[1] is a number, expected an array"));
        assert!(nested(json!([2, 2]), json!([[1, [2]], [3, 4]])).contains("data[0][1] is an array"));
        assert!(nested(json!([2]), json!([[1], [2]])).contains("data[0] is an array"));
        assert!(nested(json!([]), json!([[1]])).contains("nested deeper than the shape"));
        assert!(
            nested(json!([2]), json!({"a": 1})).contains("data must be an array, got an object")
        );
    }

    #[test]
    fn json_element_counts_and_types_are_checked() {
        let one = |datatype: &str, shape: Value, data: Value| {
            message(decode_json(json!({"inputs": [
                {"name": "X", "shape": shape, "datatype": datatype, "data": data}
            ]})))
        };
        assert_eq!(
            one("FP32", json!([2, 4]), json!([1, 2, 3, 4, 5, 6, 7])),
            "input 'X': expected 8 elements for shape [2, 4], got 7"
        );
        assert_eq!(
            one("INT8", json!([2]), json!([1, 300])),
            "input 'X': element 1 is 300, out of range for INT8"
        );
        assert_eq!(
            one("UINT8", json!([1]), json!([-1])),
            "input 'X': element 0 is -1, out of range for UINT8"
        );
        assert_eq!(
            one("INT64", json!([1]), json!([u64::MAX])),
            format!(
                "input 'X': element 0 is {}, out of range for INT64",
                u64::MAX
            )
        );
        assert_eq!(
            one("INT32", json!([2]), json!([1, 1.5])),
            "input 'X': element 1 is 1.5, expected an integer for INT32"
        );
        assert!(one("INT32", json!([1]), json!([1.0])).contains("expected an integer"));
        assert_eq!(
            one("FP64", json!([1]), json!(["1"])),
            "input 'X': element 0 is a string, expected a number for FP64"
        );
        assert!(one("FP32", json!([1]), json!([1e39])).contains("out of range for FP32"));
        assert!(one("BOOL", json!([1]), json!([1])).contains("expected true or false for BOOL"));
        assert!(one("BYTES", json!([1]), json!([1])).contains("expected a string for BYTES"));
        assert!(one("FP32", json!([1]), json!([null])).contains("element 0 is null"));
    }

    #[test]
    fn every_datatype_round_trips_through_binary() {
        for dtype in DType::ALL {
            let t = sample(dtype);
            let bytes = binary(&t.data);
            let header = json!({"inputs": [{
                "name": "in", "shape": t.shape, "datatype": dtype.as_str(),
                "parameters": {"binary_data_size": bytes.len()}
            }]});
            let (body, n) = with_blob(&header, &bytes);
            let request = decode_request(&body, Some(n)).unwrap();
            assert!(same(&request.inputs[0].1, &t), "{dtype}");

            // And back out: the response's binary part is the same bytes.
            let response = encode_response(
                "m",
                "1",
                None,
                &[("out".into(), t.clone())],
                &InferRequest {
                    binary_by_default: true,
                    ..request
                },
            )
            .unwrap();
            let n = response.header_length.unwrap();
            let json: Value = serde_json::from_slice(&response.body[..n]).unwrap();
            assert_eq!(
                json["outputs"][0]["parameters"]["binary_data_size"],
                bytes.len()
            );
            assert_eq!(json["outputs"][0]["datatype"], dtype.as_str());
            assert_eq!(&response.body[n..], &bytes[..], "{dtype}");
        }
    }

    #[test]
    fn binary_layouts_are_little_endian() {
        assert_eq!(binary(&TensorData::Uint16(vec![0x0102])), [0x02, 0x01]);
        assert_eq!(
            binary(&TensorData::Int32(vec![-2])),
            [0xfe, 0xff, 0xff, 0xff]
        );
        assert_eq!(binary(&TensorData::Fp32(vec![1.0])), [0, 0, 0x80, 0x3f]);
        assert_eq!(binary(&TensorData::Bool(vec![true, false])), [1, 0]);
    }

    #[test]
    fn bytes_elements_carry_length_prefixes() {
        let data = TensorData::Bytes(vec!["ab".into(), String::new(), "é".into()]);
        assert_eq!(
            binary(&data),
            [2, 0, 0, 0, b'a', b'b', 0, 0, 0, 0, 2, 0, 0, 0, 0xc3, 0xa9]
        );

        let decode = |shape: Value, blob: &[u8]| {
            let header = json!({"inputs": [{
                "name": "s", "shape": shape, "datatype": "BYTES",
                "parameters": {"binary_data_size": blob.len()}
            }]});
            let (body, n) = with_blob(&header, blob);
            decode_request(&body, Some(n))
        };
        assert_eq!(
            decode(json!([2]), &[1, 0, 0, 0, b'x', 0, 0, 0, 0])
                .unwrap()
                .inputs[0]
                .1,
            tensor(vec![2], vec!["x".to_string(), String::new()])
        );
        assert_eq!(
            message(decode(json!([2]), &[1, 0, 0, 0, b'x', 0, 0])),
            "input 's': BYTES element 1 is truncated: 2 bytes left, its 4-byte length prefix \
             does not fit"
        );
        assert_eq!(
            message(decode(json!([1]), &[5, 0, 0, 0, b'x'])),
            "input 's': BYTES element 0 claims 5 bytes but only 1 remain"
        );
        assert!(message(decode(json!([1]), &[1, 0, 0, 0, 0xff])).contains("not valid UTF-8"));
        assert!(message(decode(json!([1]), &[0, 0, 0, 0, 0, 0, 0, 0]))
            .contains("more than the 1 BYTES elements"));
        assert_eq!(
            message(decode(json!([3]), &[0, 0, 0, 0])),
            "input 's': binary data holds 1 BYTES elements, shape [3] calls for 3"
        );
        // A huge declared count must not be trusted for allocation.
        assert!(message(decode(json!([1 << 27]), &[0, 0, 0, 0])).contains("calls for"));
    }

    #[test]
    fn binary_sizes_must_match_shapes_and_the_body() {
        let header = |size: usize| {
            json!({"inputs": [{
                "name": "x", "shape": [2], "datatype": "INT32",
                "parameters": {"binary_data_size": size}
            }]})
        };
        let (body, n) = with_blob(&header(7), &[0; 7]);
        assert_eq!(
            message(decode_request(&body, Some(n))),
            "input 'x': binary_data_size is 7 but shape [2] of INT32 needs 8 bytes"
        );
        let (body, n) = with_blob(&header(8), &[0; 9]);
        assert!(message(decode_request(&body, Some(n))).contains("1 of the 9 bytes"));
        let (body, n) = with_blob(&header(8), &[0; 4]);
        assert!(message(decode_request(&body, Some(n))).contains("runs past the end"));
        let (body, _) = with_blob(&header(8), &[]);
        assert!(message(decode_request(&body, None))
            .contains("no Inference-Header-Content-Length header"));
        // Binary bytes without the header length: the JSON parser sees trailing bytes.
        let (body, _) = with_blob(&header(8), &[0; 8]);
        let e = decode_request(&body, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(e.message.contains("Inference-Header-Content-Length"));
        // A header length past the body.
        let (body, _) = with_blob(&header(8), &[0; 8]);
        assert!(message(decode_request(&body, Some(body.len() + 1))).contains("has only"));
        // Bytes that are not BOOL values.
        let (body, n) = with_blob(
            &json!({"inputs": [{"name": "b", "shape": [2], "datatype": "BOOL",
                                "parameters": {"binary_data_size": 2}}]}),
            &[1, 2],
        );
        assert!(message(decode_request(&body, Some(n))).contains("byte 2, expected 0 or 1"));
    }

    #[test]
    fn json_and_binary_inputs_mix_in_order() {
        let a = tensor(vec![2], vec![1.5f64, 2.5]);
        let c = tensor(vec![1, 2], vec!["p".to_string(), "q".to_string()]);
        let (a_bytes, c_bytes) = (binary(&a.data), binary(&c.data));
        let header = json!({"inputs": [
            {"name": "a", "shape": [2], "datatype": "FP64",
             "parameters": {"binary_data_size": a_bytes.len()}},
            {"name": "b", "shape": [1], "datatype": "INT16", "data": [-4],
             "parameters": {"custom": "ignored"}},
            {"name": "c", "shape": [1, 2], "datatype": "BYTES",
             "parameters": {"binary_data_size": c_bytes.len()}},
        ]});
        let (body, n) = with_blob(&header, &[a_bytes, c_bytes].concat());
        let request = decode_request(&body, Some(n)).unwrap();
        assert_eq!(
            request.inputs,
            vec![
                ("a".to_string(), a),
                ("b".to_string(), tensor(vec![1], vec![-4i16])),
                ("c".to_string(), c),
            ]
        );
        // A header length equal to the body is a plain JSON request.
        let json_only = serde_json::to_vec(&json!({"inputs": [
            {"name": "b", "shape": [1], "datatype": "INT16", "data": [-4]}
        ]}))
        .unwrap();
        assert!(decode_request(&json_only, Some(json_only.len())).is_ok());
    }

    #[test]
    fn malformed_inputs_are_refused() {
        let one = |input: Value| message(decode_json(json!({"inputs": [input]})));
        assert!(one(
            json!({"name": "x", "shape": [1], "datatype": "INT32", "data": [1],
                           "parameters": {"binary_data_size": 4}})
        )
        .contains("both 'data' and parameters.binary_data_size"));
        assert!(one(json!({"name": "x", "shape": [1], "datatype": "INT32"}))
            .contains("neither 'data' nor parameters.binary_data_size"));
        assert!(
            one(json!({"name": "x", "shape": [1], "datatype": "FP16", "data": [1]}))
                .starts_with("input 'x': datatype 'FP16' is not supported (supported: BOOL, UINT8")
        );
        assert!(
            one(json!({"name": "x", "shape": [1], "datatype": "fp32", "data": [1]}))
                .contains("'fp32' is not supported")
        );
        assert_eq!(
            one(json!({"name": "x", "shape": [-1, 2], "datatype": "FP32", "data": [1, 2]})),
            "input 'x': shape [-1, 2] has a negative dimension; an input's shape must be concrete"
        );
        assert!(one(
            json!({"name": "x", "shape": [1 << 20, 1 << 20], "datatype": "FP32",
                           "data": []})
        )
        .contains("more than 268435456 elements"));
        assert!(one(
            json!({"name": "x", "shape": [0, i64::MAX], "datatype": "FP32",
                           "data": []})
        )
        .contains("more than 268435456 elements"));
        assert!(one(json!({"name": "x", "shape": [1], "datatype": "INT32",
                           "parameters": {"binary_data_size": -4}}))
        .contains("binary_data_size must be a non-negative integer"));
        assert!(one(json!({"name": "x", "shape": [1], "datatype": "INT32",
                           "parameters": {"shared_memory_region": "r",
                                          "shared_memory_byte_size": 4}}))
        .contains("shared memory extension is not supported"));
        assert!(
            one(json!({"name": "x", "shape": [1.5], "datatype": "INT32", "data": [1]}))
                .contains("at 'inputs[0].shape[0]'")
        );
        assert!(one(json!({"shape": [1], "datatype": "INT32", "data": [1]}))
            .contains("missing field `name`"));

        let twice = json!({"name": "x", "shape": [1], "datatype": "INT32", "data": [1]});
        assert_eq!(
            message(decode_json(json!({"inputs": [twice, twice]}))),
            "input 'x' appears more than once"
        );

        let e = decode_request(b"{\"inputs\": [", None).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        let e = decode_request(b"", None).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        let e = decode_json(json!({"outputs": []})).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        assert!(e.message.contains("missing field `inputs`"));
    }

    #[test]
    fn requested_outputs_and_binary_flags() {
        let input = json!({"name": "x", "shape": [1], "datatype": "INT32", "data": [1]});
        let request = decode_json(json!({
            "parameters": {"binary_data_output": true},
            "inputs": [input],
            "outputs": [
                {"name": "a"},
                {"name": "b", "parameters": {"binary_data": false}},
                {"name": "nope", "parameters": {"binary_data": true}},
            ]
        }))
        .unwrap();
        assert!(request.binary_by_default);
        let names: Vec<(&str, bool)> = request
            .outputs
            .iter()
            .map(|o| (o.name.as_str(), o.binary))
            .collect();
        // Unknown names are returned for the route to judge.
        assert_eq!(names, [("a", true), ("b", false), ("nope", true)]);

        let request = decode_json(json!({"inputs": [input], "outputs": [{"name": "a"}]})).unwrap();
        assert!(!request.outputs[0].binary);

        let refused = |body: Value| message(decode_json(body));
        assert!(
            refused(json!({"inputs": [input], "outputs": [{"name": "a"}, {"name": "a"}]}))
                .contains("output 'a' is requested more than once")
        );
        assert!(refused(json!({"inputs": [input],
                               "outputs": [{"name": "a", "parameters": {"binary_data": 1}}]}))
        .contains("output 'a': parameters.binary_data must be true or false, got a number"));
        assert!(
            refused(json!({"inputs": [input], "parameters": {"binary_data_output": "yes"}}))
                .contains("parameters.binary_data_output must be true or false")
        );
        assert!(refused(json!({"inputs": [input],
                               "outputs": [{"name": "a", "parameters": {"classification": 3}}]}))
        .contains("classification extension is not supported"));
    }

    fn request_for(outputs: &[(&str, bool)], binary_by_default: bool) -> InferRequest {
        InferRequest {
            id: None,
            inputs: Vec::new(),
            outputs: outputs
                .iter()
                .map(|&(name, binary)| RequestedOutput {
                    name: name.into(),
                    binary,
                })
                .collect(),
            binary_by_default,
        }
    }

    fn model_outputs() -> Vec<(String, Tensor)> {
        vec![
            ("label".into(), tensor(vec![2], vec![0i64, 2])),
            (
                "probs".into(),
                tensor(vec![2, 2], vec![0.1f32, 0.9, 0.25, 0.75]),
            ),
            ("names".into(), tensor(vec![1], vec!["setosa".to_string()])),
        ]
    }

    #[test]
    fn response_mixes_binary_and_json_outputs() {
        let request = request_for(&[("probs", true), ("label", false)], false);
        let response =
            encode_response("iris", "3", Some("r1"), &model_outputs(), &request).unwrap();
        let n = response
            .header_length
            .expect("a binary output follows the JSON");
        let json: Value = serde_json::from_slice(&response.body[..n]).unwrap();
        assert_eq!(
            json,
            json!({
                "model_name": "iris",
                "model_version": "3",
                "id": "r1",
                "outputs": [
                    {"name": "probs", "datatype": "FP32", "shape": [2, 2],
                     "parameters": {"binary_data_size": 16}},
                    {"name": "label", "datatype": "INT64", "shape": [2], "data": [0, 2]},
                ]
            })
        );
        assert_eq!(
            &response.body[n..],
            &binary(&TensorData::Fp32(vec![0.1, 0.9, 0.25, 0.75]))[..]
        );
    }

    #[test]
    fn json_only_responses_have_no_header_length() {
        let response = encode_response(
            "iris",
            "3",
            None,
            &model_outputs(),
            &request_for(&[], false),
        )
        .unwrap();
        assert_eq!(response.header_length, None);
        let text = std::str::from_utf8(&response.body).unwrap();
        // FP32 values are written in their shortest f32 form.
        assert!(text.contains("\"data\":[0.1,0.9,0.25,0.75]"), "{text}");
        let json: Value = serde_json::from_str(text).unwrap();
        assert!(json.get("id").is_none());
        let names: Vec<&str> = json["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["label", "probs", "names"]);
        assert_eq!(json["outputs"][2]["data"], json!(["setosa"]));

        // binary_data_output applies to every output when none is named.
        let response =
            encode_response("iris", "3", None, &model_outputs(), &request_for(&[], true)).unwrap();
        let n = response.header_length.unwrap();
        assert_eq!(response.body.len(), n + 16 + 16 + 4 + 6);
    }

    #[test]
    fn only_requested_outputs_come_back() {
        let response = encode_response(
            "iris",
            "3",
            None,
            &model_outputs(),
            &request_for(&[("names", false)], true),
        )
        .unwrap();
        let json: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(json["outputs"].as_array().unwrap().len(), 1);
        assert_eq!(json["outputs"][0]["name"], "names");

        let e = encode_response(
            "iris",
            "3",
            None,
            &model_outputs(),
            &request_for(&[("label", false), ("nope", true)], false),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        assert_eq!(e.message, "output 'nope' is not an output of model 'iris'");
    }

    #[test]
    fn non_finite_floats_go_out_only_as_binary() {
        let outputs = vec![("y".to_string(), tensor(vec![2], vec![1.0f64, f64::NAN]))];
        let e = encode_response("m", "1", None, &outputs, &request_for(&[], false)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        assert!(
            e.message.contains("output 'y' holds NaN or infinity"),
            "{}",
            e.message
        );
        let response = encode_response(
            "m",
            "1",
            None,
            &outputs,
            &request_for(&[("y", true)], false),
        )
        .unwrap();
        let n = response.header_length.unwrap();
        assert!(f64::from_le_bytes(response.body[n + 8..].try_into().unwrap()).is_nan());
    }

    #[test]
    fn inconsistent_model_outputs_are_internal_errors() {
        let broken = Tensor {
            dtype: DType::Int64,
            shape: vec![3],
            data: TensorData::Int64(vec![1]),
        };
        let e = encode_response(
            "m",
            "1",
            None,
            &[("y".into(), broken)],
            &request_for(&[], false),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InternalError);
    }

    /// What `tritonclient.http` 2.x sends for
    /// `InferInput("INPUT0", [2, 4], "FP32").set_data_from_numpy(arr)` (binary by default) and
    /// `InferRequestedOutput("OUTPUT0", binary_data=True)`: rapidjson's compact dump of
    /// `{"inputs": [...], "outputs": [...]}` (no `id` or `parameters` unless set), the raw
    /// `arr.tobytes()` after it, and `Inference-Header-Content-Length` = the JSON's length.
    #[test]
    fn decodes_what_tritonclient_sends_and_answers_what_it_parses() {
        let values: Vec<f32> = (0..8).map(|i| i as f32 * 0.5 - 1.0).collect();
        let header = concat!(
            r#"{"inputs":[{"name":"INPUT0","shape":[2,4],"datatype":"FP32","#,
            r#""parameters":{"binary_data_size":32}}],"#,
            r#""outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}}]}"#
        );
        let mut body = header.as_bytes().to_vec();
        for v in &values {
            body.extend_from_slice(&v.to_le_bytes());
        }
        // HTTP header names are case-insensitive; the client spells it in title case.
        assert!(HEADER_LENGTH_HEADER.eq_ignore_ascii_case("Inference-Header-Content-Length"));
        let request = decode_request(&body, Some(header.len())).unwrap();
        assert_eq!(request.id, None);
        assert_eq!(
            request.inputs,
            vec![("INPUT0".into(), tensor(vec![2, 4], values.clone()))]
        );
        assert_eq!(
            request.outputs,
            vec![RequestedOutput {
                name: "OUTPUT0".into(),
                binary: true
            }]
        );

        // The model echoes doubled values plus an output nobody asked for.
        let doubled: Vec<f32> = values.iter().map(|v| v * 2.0).collect();
        let outputs = vec![
            ("OUTPUT1".into(), tensor(vec![1], vec![1i64])),
            ("OUTPUT0".into(), tensor(vec![2, 4], doubled.clone())),
        ];
        let response = encode_response("simple", "1", None, &outputs, &request).unwrap();

        // InferResult: read header_length bytes of JSON, then walk outputs summing
        // binary_data_size to find each tensor's offset in the rest, and reshape.
        let n = response.header_length.unwrap();
        let json: Value = serde_json::from_slice(&response.body[..n]).unwrap();
        let outputs = json["outputs"].as_array().unwrap();
        assert_eq!(outputs.len(), 1);
        let output = &outputs[0];
        assert_eq!(output["name"], "OUTPUT0");
        assert_eq!(output["datatype"], "FP32");
        assert_eq!(output["shape"], json!([2, 4]));
        assert!(output.get("data").is_none());
        let size = output["parameters"]["binary_data_size"].as_u64().unwrap() as usize;
        let buffer = &response.body[n..];
        assert_eq!(size, buffer.len());
        let got: Vec<f32> = buffer
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(got, doubled);

        // With no outputs named, the client asks for everything as binary instead.
        let header = concat!(
            r#"{"inputs":[{"name":"INPUT0","shape":[2,4],"datatype":"FP32","#,
            r#""parameters":{"binary_data_size":32}}],"parameters":{"binary_data_output":true}}"#
        );
        let mut body = header.as_bytes().to_vec();
        body.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        let request = decode_request(&body, Some(header.len())).unwrap();
        assert!(request.outputs.is_empty());
        assert!(request.binary_by_default);
    }

    fn valid_body() -> (Vec<u8>, usize) {
        let strings = binary(&TensorData::Bytes(vec!["ab".into(), "c".into()]));
        let header = json!({
            "id": "x",
            "parameters": {"binary_data_output": true},
            "inputs": [
                {"name": "a", "shape": [2, 2], "datatype": "FP32",
                 "parameters": {"binary_data_size": 16}},
                {"name": "b", "shape": [2], "datatype": "BYTES",
                 "parameters": {"binary_data_size": strings.len()}},
                {"name": "c", "shape": [1, 2], "datatype": "INT8", "data": [[1, -1]]},
            ],
            "outputs": [{"name": "y", "parameters": {"binary_data": false}}]
        });
        with_blob(&header, &[&[0u8; 16][..], &strings].concat())
    }

    #[test]
    fn the_fuzz_seed_is_valid() {
        let (body, n) = valid_body();
        assert_eq!(decode_request(&body, Some(n)).unwrap().inputs.len(), 3);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            header_length in proptest::option::of(0usize..600),
        ) {
            let _ = decode_request(&body, header_length);
        }

        #[test]
        fn corrupted_requests_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
            header_shift in -8i64..8,
        ) {
            let (mut body, n) = valid_body();
            for (at, byte) in edits {
                let i = at.index(body.len());
                body[i] = byte;
            }
            if truncate {
                body.truncate(cut.index(body.len() + 1));
            }
            let header_length = usize::try_from(n as i64 + header_shift).ok();
            let _ = decode_request(&body, header_length);
            let _ = decode_request(&body, None);
        }
    }
}
