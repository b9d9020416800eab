//! The tensors callers exchange with a model, free of tract types: a datatype named as in the Open
//! Inference Protocol (V2), a shape, and the elements as one typed, row-major Vec.

use std::fmt;

use serde::{Deserialize, Serialize};
use tract_onnx::prelude::{tract_ndarray, Datum, DatumType, IntoTensor, TDim};

use crate::OnnxError;

/// An element type, serialized as its V2 datatype string ("FP32", "INT64", "BYTES", ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DType {
    Bool,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Int8,
    Int16,
    Int32,
    Int64,
    Fp32,
    Fp64,
    /// Strings (V2 calls them BYTES); ONNX's string tensors are UTF-8 here.
    Bytes,
}

impl DType {
    pub const ALL: [DType; 12] = [
        DType::Bool,
        DType::Uint8,
        DType::Uint16,
        DType::Uint32,
        DType::Uint64,
        DType::Int8,
        DType::Int16,
        DType::Int32,
        DType::Int64,
        DType::Fp32,
        DType::Fp64,
        DType::Bytes,
    ];

    /// The V2 datatype string.
    pub fn as_str(self) -> &'static str {
        match self {
            DType::Bool => "BOOL",
            DType::Uint8 => "UINT8",
            DType::Uint16 => "UINT16",
            DType::Uint32 => "UINT32",
            DType::Uint64 => "UINT64",
            DType::Int8 => "INT8",
            DType::Int16 => "INT16",
            DType::Int32 => "INT32",
            DType::Int64 => "INT64",
            DType::Fp32 => "FP32",
            DType::Fp64 => "FP64",
            DType::Bytes => "BYTES",
        }
    }

    /// Reads a V2 datatype string (exact, upper case).
    pub fn parse(value: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.as_str() == value)
    }

    pub(crate) fn from_datum_type(dt: DatumType) -> Option<DType> {
        Some(match dt {
            DatumType::Bool => DType::Bool,
            DatumType::U8 => DType::Uint8,
            DatumType::U16 => DType::Uint16,
            DatumType::U32 => DType::Uint32,
            DatumType::U64 => DType::Uint64,
            DatumType::I8 => DType::Int8,
            DatumType::I16 => DType::Int16,
            DatumType::I32 => DType::Int32,
            DatumType::I64 => DType::Int64,
            DatumType::F32 => DType::Fp32,
            DatumType::F64 => DType::Fp64,
            DatumType::String => DType::Bytes,
            _ => return None,
        })
    }

    pub(crate) fn datum_type(self) -> DatumType {
        match self {
            DType::Bool => DatumType::Bool,
            DType::Uint8 => DatumType::U8,
            DType::Uint16 => DatumType::U16,
            DType::Uint32 => DatumType::U32,
            DType::Uint64 => DatumType::U64,
            DType::Int8 => DatumType::I8,
            DType::Int16 => DatumType::I16,
            DType::Int32 => DatumType::I32,
            DType::Int64 => DatumType::I64,
            DType::Fp32 => DatumType::F32,
            DType::Fp64 => DatumType::F64,
            DType::Bytes => DatumType::String,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tensor's elements in row-major order, one variant per `DType`.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    Bool(Vec<bool>),
    Uint8(Vec<u8>),
    Uint16(Vec<u16>),
    Uint32(Vec<u32>),
    Uint64(Vec<u64>),
    Int8(Vec<i8>),
    Int16(Vec<i16>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Fp32(Vec<f32>),
    Fp64(Vec<f64>),
    Bytes(Vec<String>),
}

/// Runs `$body` with `$v` bound to the Vec inside any variant.
macro_rules! each_variant {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            TensorData::Bool($v) => $body,
            TensorData::Uint8($v) => $body,
            TensorData::Uint16($v) => $body,
            TensorData::Uint32($v) => $body,
            TensorData::Uint64($v) => $body,
            TensorData::Int8($v) => $body,
            TensorData::Int16($v) => $body,
            TensorData::Int32($v) => $body,
            TensorData::Int64($v) => $body,
            TensorData::Fp32($v) => $body,
            TensorData::Fp64($v) => $body,
            TensorData::Bytes($v) => $body,
        }
    };
}

macro_rules! typed_access {
    ($($variant:ident, $t:ty, $as:ident);* $(;)?) => {
        impl TensorData {
            $(
                #[doc = concat!("The elements, if they are `", stringify!($t), "`.")]
                pub fn $as(&self) -> Option<&[$t]> {
                    match self {
                        TensorData::$variant(v) => Some(v),
                        _ => None,
                    }
                }
            )*
        }

        $(
            impl From<Vec<$t>> for TensorData {
                fn from(v: Vec<$t>) -> TensorData {
                    TensorData::$variant(v)
                }
            }
        )*
    };
}

typed_access! {
    Bool, bool, as_bool;
    Uint8, u8, as_u8;
    Uint16, u16, as_u16;
    Uint32, u32, as_u32;
    Uint64, u64, as_u64;
    Int8, i8, as_i8;
    Int16, i16, as_i16;
    Int32, i32, as_i32;
    Int64, i64, as_i64;
    Fp32, f32, as_f32;
    Fp64, f64, as_f64;
    Bytes, String, as_strings;
}

impl TensorData {
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::Bool(_) => DType::Bool,
            TensorData::Uint8(_) => DType::Uint8,
            TensorData::Uint16(_) => DType::Uint16,
            TensorData::Uint32(_) => DType::Uint32,
            TensorData::Uint64(_) => DType::Uint64,
            TensorData::Int8(_) => DType::Int8,
            TensorData::Int16(_) => DType::Int16,
            TensorData::Int32(_) => DType::Int32,
            TensorData::Int64(_) => DType::Int64,
            TensorData::Fp32(_) => DType::Fp32,
            TensorData::Fp64(_) => DType::Fp64,
            TensorData::Bytes(_) => DType::Bytes,
        }
    }

    pub fn len(&self) -> usize {
        each_variant!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A tensor: `data` holds `shape`'s product of elements of type `dtype`, row-major.
///
/// The fields are public for easy construction and matching; `Tensor::new` checks they agree,
/// and `OnnxModel::run` checks again, so a hand-built inconsistent tensor is an input error,
/// never a panic.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    /// A tensor of `shape` holding `data` (a Vec of any supported element type).
    pub fn new(shape: Vec<usize>, data: impl Into<TensorData>) -> Result<Tensor, OnnxError> {
        let data = data.into();
        let tensor = Tensor {
            dtype: data.dtype(),
            shape,
            data,
        };
        tensor.check()?;
        Ok(tensor)
    }

    /// The number of elements `shape` calls for, or None if it overflows.
    pub fn element_count(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// Checks `dtype` names `data`'s type and `data` has as many elements as `shape`.
    pub fn check(&self) -> Result<(), OnnxError> {
        if self.dtype != self.data.dtype() {
            return Err(OnnxError::InvalidInput(format!(
                "tensor says {} but holds {} data",
                self.dtype,
                self.data.dtype()
            )));
        }
        match self.element_count() {
            Some(n) if n == self.data.len() => Ok(()),
            Some(n) => Err(OnnxError::InvalidInput(format!(
                "shape {:?} needs {n} elements, got {}",
                self.shape,
                self.data.len()
            ))),
            None => Err(OnnxError::InvalidInput(format!(
                "shape {:?} is too large",
                self.shape
            ))),
        }
    }

    pub(crate) fn into_tract(self) -> Result<tract_onnx::prelude::Tensor, OnnxError> {
        fn build<T: Datum>(
            shape: &[usize],
            data: Vec<T>,
        ) -> Result<tract_onnx::prelude::Tensor, OnnxError> {
            tract_ndarray::ArrayD::from_shape_vec(shape, data)
                .map(IntoTensor::into_tensor)
                .map_err(|e| OnnxError::InvalidInput(format!("tensor of shape {shape:?}: {e}")))
        }
        self.check()?;
        let shape = self.shape;
        each_variant!(self.data, v => build(&shape, v))
    }

    pub(crate) fn from_tract(tensor: &tract_onnx::prelude::Tensor) -> Result<Tensor, OnnxError> {
        fn read<T: Datum>(tensor: &tract_onnx::prelude::Tensor) -> Result<Vec<T>, OnnxError> {
            let plain = tensor
                .try_as_plain_ram()
                .map_err(|e| OnnxError::Inference(format!("{e:#}")))?;
            let slice = plain
                .as_slice::<T>()
                .map_err(|e| OnnxError::Inference(format!("{e:#}")))?;
            Ok(slice.to_vec())
        }
        let shape = tensor.shape().to_vec();
        let data = match tensor.datum_type() {
            DatumType::Bool => TensorData::Bool(read(tensor)?),
            DatumType::U8 => TensorData::Uint8(read(tensor)?),
            DatumType::U16 => TensorData::Uint16(read(tensor)?),
            DatumType::U32 => TensorData::Uint32(read(tensor)?),
            DatumType::U64 => TensorData::Uint64(read(tensor)?),
            DatumType::I8 => TensorData::Int8(read(tensor)?),
            DatumType::I16 => TensorData::Int16(read(tensor)?),
            DatumType::I32 => TensorData::Int32(read(tensor)?),
            DatumType::I64 => TensorData::Int64(read(tensor)?),
            DatumType::F32 => TensorData::Fp32(read(tensor)?),
            DatumType::F64 => TensorData::Fp64(read(tensor)?),
            DatumType::String => TensorData::Bytes(read(tensor)?),
            // tract computes shapes as symbolic dims; an output holding one is concrete by now.
            DatumType::TDim => TensorData::Int64(
                read::<TDim>(tensor)?
                    .iter()
                    .map(|d| {
                        d.to_i64()
                            .map_err(|e| OnnxError::Inference(format!("{e:#}")))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            dt => {
                return Err(OnnxError::Unsupported(format!(
                    "output datatype {dt:?} has no V2 equivalent"
                )))
            }
        };
        Tensor::new(shape, data).map_err(|e| OnnxError::Inference(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_strings_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::parse(d.as_str()), Some(d));
            assert_eq!(
                serde_json::to_string(&d).unwrap(),
                format!("\"{}\"", d.as_str())
            );
            assert_eq!(DType::from_datum_type(d.datum_type()), Some(d));
        }
        assert_eq!(DType::parse("fp32"), None);
        assert_eq!(DType::parse("FP16"), None);
    }

    #[test]
    fn new_checks_the_element_count() {
        let t = Tensor::new(vec![2, 2], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(t.dtype, DType::Fp32);
        assert_eq!(t.data.as_f32(), Some(&[1.0, 2.0, 3.0, 4.0][..]));
        assert!(t.data.as_i64().is_none());
        assert!(matches!(
            Tensor::new(vec![3], vec![1i64]),
            Err(OnnxError::InvalidInput(_))
        ));
        assert!(Tensor::new(vec![usize::MAX, 2], vec![1u8]).is_err());
        let scalar = Tensor::new(vec![], vec!["x".to_string()]).unwrap();
        assert_eq!(scalar.dtype, DType::Bytes);
    }

    #[test]
    fn mismatched_fields_are_input_errors() {
        let t = Tensor {
            dtype: DType::Int64,
            shape: vec![1],
            data: TensorData::Fp32(vec![1.0]),
        };
        assert!(matches!(t.check(), Err(OnnxError::InvalidInput(_))));
        assert!(t.into_tract().is_err());
    }

    #[test]
    fn converts_to_and_from_tract() {
        for t in [
            Tensor::new(vec![2], vec![true, false]).unwrap(),
            Tensor::new(vec![1, 2], vec![1u16, 2]).unwrap(),
            Tensor::new(vec![2, 1], vec![-1i8, 2]).unwrap(),
            Tensor::new(vec![3], vec![0.5f64, f64::INFINITY, -0.0]).unwrap(),
            Tensor::new(vec![2], vec!["a".to_string(), "é".to_string()]).unwrap(),
            Tensor::new(vec![0, 4], Vec::<f32>::new()).unwrap(),
        ] {
            let back = Tensor::from_tract(&t.clone().into_tract().unwrap()).unwrap();
            assert_eq!(back, t);
        }
    }
}
