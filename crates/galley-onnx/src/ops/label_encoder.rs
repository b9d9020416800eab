//! LabelEncoder (ai.onnx.ml), which tract-onnx lacks: maps each element through a key -> value
//! table, with a default for unknown keys. Keys and values may be strings, int64s, floats or
//! (opset 4 tensor attributes) doubles, in any combination; the output keeps the input's shape.
//!
//! Opset 1's form (`classes_strings`) maps strings to their index and indices back to strings,
//! depending on the input type. Float keys match as onnxruntime's do: NaN matches a NaN key and
//! -0.0 matches 0.0.

use std::collections::HashMap;

use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

use super::attrs::tensor_attr;
use super::{tensor_from_vec, Kernel};

#[derive(Debug, Clone, PartialEq)]
enum Column {
    Strings(Vec<String>),
    Int64(Vec<i64>),
    Float(Vec<f32>),
    Double(Vec<f64>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Strings(v) => v.len(),
            Column::Int64(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::Double(v) => v.len(),
        }
    }

    fn datum_type(&self) -> DatumType {
        match self {
            Column::Strings(_) => String::datum_type(),
            Column::Int64(_) => i64::datum_type(),
            Column::Float(_) => f32::datum_type(),
            Column::Double(_) => f64::datum_type(),
        }
    }

    fn from_tensor(t: &Tensor) -> TractResult<Column> {
        let plain = t.try_as_plain_ram()?;
        Ok(match t.datum_type() {
            DatumType::String => Column::Strings(plain.as_slice::<String>()?.to_vec()),
            DatumType::F32 => Column::Float(plain.as_slice::<f32>()?.to_vec()),
            DatumType::F64 => Column::Double(plain.as_slice::<f64>()?.to_vec()),
            dt if dt.is_integer() => {
                let cast = t.cast_to::<i64>()?;
                Column::Int64(cast.try_as_plain_ram()?.as_slice::<i64>()?.to_vec())
            }
            dt => bail!("LabelEncoder does not support {dt:?} keys or values"),
        })
    }

    /// The keys as hashable lookup keys.
    fn keys(&self) -> Vec<Key> {
        match self {
            Column::Strings(v) => v.iter().map(|s| Key::String(s.clone())).collect(),
            Column::Int64(v) => v.iter().map(|&i| Key::Int(i)).collect(),
            Column::Float(v) => v.iter().map(|&f| Key::real(f.into())).collect(),
            Column::Double(v) => v.iter().map(|&f| Key::real(f)).collect(),
        }
    }

    fn empty_like(&self) -> Column {
        match self {
            Column::Strings(_) => Column::Strings(vec![]),
            Column::Int64(_) => Column::Int64(vec![]),
            Column::Float(_) => Column::Float(vec![]),
            Column::Double(_) => Column::Double(vec![]),
        }
    }

    /// Appends `source[index]`, or `default[0]` when index is None.
    fn push_from(
        &mut self,
        source: &Column,
        index: Option<usize>,
        default: &Column,
    ) -> TractResult<()> {
        match (self, source, default) {
            (Column::Strings(o), Column::Strings(s), Column::Strings(d)) => {
                o.push(index.map_or(&d[0], |i| &s[i]).clone())
            }
            (Column::Int64(o), Column::Int64(s), Column::Int64(d)) => {
                o.push(index.map_or(d[0], |i| s[i]))
            }
            (Column::Float(o), Column::Float(s), Column::Float(d)) => {
                o.push(index.map_or(d[0], |i| s[i]))
            }
            (Column::Double(o), Column::Double(s), Column::Double(d)) => {
                o.push(index.map_or(d[0], |i| s[i]))
            }
            _ => bail!("LabelEncoder's output, values and default types differ"),
        }
        Ok(())
    }

    fn into_tensor(self, shape: &[usize]) -> TractResult<Tensor> {
        match self {
            Column::Strings(v) => tensor_from_vec(shape, v),
            Column::Int64(v) => tensor_from_vec(shape, v),
            Column::Float(v) => tensor_from_vec(shape, v),
            Column::Double(v) => tensor_from_vec(shape, v),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    String(String),
    Int(i64),
    /// f64 bits, with every NaN and both zeros folded into one key each.
    Real(u64),
}

impl Key {
    fn real(value: f64) -> Key {
        if value.is_nan() {
            Key::Real(f64::NAN.to_bits())
        } else if value == 0.0 {
            Key::Real(0f64.to_bits())
        } else {
            Key::Real(value.to_bits())
        }
    }
}

/// One direction of a mapping: keys, the values at the same positions, and the default.
#[derive(Debug)]
pub(crate) struct Table {
    key_type: DatumType,
    index: HashMap<Key, usize>,
    values: Column,
    default: Column,
}

impl Table {
    fn new(keys: &Column, values: Column, default: Column) -> TractResult<Table> {
        ensure!(
            keys.len() == values.len(),
            "LabelEncoder has {} keys but {} values",
            keys.len(),
            values.len()
        );
        ensure!(
            default.datum_type() == values.datum_type() && default.len() == 1,
            "LabelEncoder's default must be one {:?}",
            values.datum_type()
        );
        let mut index = HashMap::with_capacity(keys.len());
        for (i, key) in keys.keys().into_iter().enumerate() {
            // The first occurrence of a duplicated key wins, as in onnxruntime.
            index.entry(key).or_insert(i);
        }
        Ok(Table {
            key_type: keys.datum_type(),
            index,
            values,
            default,
        })
    }

    fn accepts(&self, input: DatumType) -> bool {
        match self.key_type {
            DatumType::String => input == DatumType::String,
            DatumType::I64 => input.is_integer(),
            _ => input.is_float(),
        }
    }

    fn map(&self, input: &Tensor) -> TractResult<Tensor> {
        let dt = input.datum_type();
        ensure!(
            self.accepts(dt),
            "LabelEncoder's keys are {:?}, the input is {dt:?}",
            self.key_type
        );
        let keys: Vec<Key> = if dt == DatumType::String {
            Column::Strings(input.try_as_plain_ram()?.as_slice::<String>()?.to_vec()).keys()
        } else if dt.is_integer() {
            let cast = input.cast_to::<i64>()?;
            cast.try_as_plain_ram()?
                .as_slice::<i64>()?
                .iter()
                .map(|&i| Key::Int(i))
                .collect()
        } else {
            let cast = input.cast_to::<f64>()?;
            cast.try_as_plain_ram()?
                .as_slice::<f64>()?
                .iter()
                .map(|&f| Key::real(f))
                .collect()
        };
        let mut out = self.values.empty_like();
        for key in &keys {
            out.push_from(&self.values, self.index.get(key).copied(), &self.default)?;
        }
        out.into_tensor(input.shape())
    }
}

#[derive(Debug)]
pub(crate) enum LabelEncoder {
    /// Opset 2+: one table.
    Mapping(Table),
    /// Opset 1 (`classes_strings`): strings to indices, or indices to strings.
    Classes { encode: Table, decode: Table },
}

fn column_attr(node: &NodeProto, prefix: &str) -> TractResult<Option<Column>> {
    let mut found = vec![];
    if let Some(v) = node.get_attr_opt_vec::<String>(&format!("{prefix}_strings"))? {
        found.push(Column::Strings(v));
    }
    if let Some(v) = node.get_attr_opt_vec::<i64>(&format!("{prefix}_int64s"))? {
        found.push(Column::Int64(v));
    }
    if let Some(v) = node.get_attr_opt_vec::<f32>(&format!("{prefix}_floats"))? {
        found.push(Column::Float(v));
    }
    if let Some(t) = tensor_attr(node, &format!("{prefix}_tensor"))? {
        found.push(Column::from_tensor(&t)?);
    }
    ensure!(
        found.len() <= 1,
        "LabelEncoder sets more than one {prefix}_* attribute"
    );
    Ok(found.pop())
}

fn default_for(node: &NodeProto, values: &Column) -> TractResult<Column> {
    if let Some(t) = tensor_attr(node, "default_tensor")? {
        return Column::from_tensor(&t);
    }
    Ok(match values {
        Column::Strings(_) => Column::Strings(vec![node
            .get_attr_opt::<String>("default_string")?
            .unwrap_or_else(|| "_Unused".into())]),
        Column::Int64(_) => Column::Int64(vec![node.get_attr_opt("default_int64")?.unwrap_or(-1)]),
        Column::Float(_) => {
            Column::Float(vec![node.get_attr_opt("default_float")?.unwrap_or(-0.0)])
        }
        Column::Double(_) => Column::Double(vec![node
            .get_attr_opt::<f32>("default_float")?
            .map_or(-0.0, f64::from)]),
    })
}

impl LabelEncoder {
    pub(crate) fn parse(node: &NodeProto) -> TractResult<Self> {
        if let Some(classes) = node.get_attr_opt_vec::<String>("classes_strings")? {
            let indices = (0..classes.len() as i64).collect::<Vec<_>>();
            let classes = Column::Strings(classes);
            let default_int = node.get_attr_opt("default_int64")?.unwrap_or(-1);
            let default_string = node
                .get_attr_opt::<String>("default_string")?
                .unwrap_or_else(|| "_Unused".into());
            return Ok(LabelEncoder::Classes {
                encode: Table::new(
                    &classes,
                    Column::Int64(indices.clone()),
                    Column::Int64(vec![default_int]),
                )?,
                decode: Table::new(
                    &Column::Int64(indices),
                    classes,
                    Column::Strings(vec![default_string]),
                )?,
            });
        }
        let keys = column_attr(node, "keys")?.context("LabelEncoder has no keys_* attribute")?;
        let values =
            column_attr(node, "values")?.context("LabelEncoder has no values_* attribute")?;
        let default = default_for(node, &values)?;
        Ok(LabelEncoder::Mapping(Table::new(&keys, values, default)?))
    }

    fn table(&self, input: DatumType) -> TractResult<&Table> {
        match self {
            LabelEncoder::Mapping(table) => Ok(table),
            LabelEncoder::Classes { encode, .. } if input == DatumType::String => Ok(encode),
            LabelEncoder::Classes { decode, .. } if input.is_integer() => Ok(decode),
            LabelEncoder::Classes { .. } => {
                bail!("LabelEncoder (classes_strings) maps strings or int64, not {input:?}")
            }
        }
    }
}

impl Kernel for LabelEncoder {
    const NAME: &'static str = "LabelEncoder";

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        s.equals(&outputs[0].shape, &inputs[0].shape)?;
        s.given(&inputs[0].datum_type, move |s, dt| {
            let table = self.table(dt)?;
            s.equals(&outputs[0].datum_type, table.values.datum_type())
        })
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let table = self.table(inputs[0].datum_type)?;
        Ok(tvec!(table
            .values
            .datum_type()
            .fact(inputs[0].shape.clone())))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let out = self.table(input.datum_type())?.map(&input)?;
        Ok(tvec!(out.into_tvalue()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::*;
    use tract_onnx::pb::tensor_proto::DataType;
    use tract_onnx::pb::TensorProto;

    fn encoder(attrs: Vec<tract_onnx::pb::AttributeProto>) -> LabelEncoder {
        LabelEncoder::parse(&node("LabelEncoder", attrs)).unwrap()
    }

    fn strings_tensor(values: &[&str]) -> Tensor {
        tensor_from_vec(
            &[values.len()],
            values.iter().map(|s| s.to_string()).collect(),
        )
        .unwrap()
    }

    #[test]
    fn strings_to_int64_with_default() {
        let e = encoder(vec![
            strings("keys_strings", &["a", "b"]),
            ints("values_int64s", &[10, 20]),
        ]);
        let out = eval1(&e, strings_tensor(&["b", "z", "a"])).unwrap();
        assert_eq!(slice::<i64>(&out), vec![20, -1, 10]);
    }

    #[test]
    fn int64_to_strings_and_floats() {
        let e = encoder(vec![
            ints("keys_int64s", &[1, 2]),
            strings("values_strings", &["one", "two"]),
            string("default_string", "?"),
        ]);
        let out = eval1(&e, tensor_from_vec(&[2, 2], vec![1i64, 2, 3, 1]).unwrap()).unwrap();
        assert_eq!(out.shape(), &[2, 2]);
        assert_eq!(slice::<String>(&out), vec!["one", "two", "?", "one"]);

        let e = encoder(vec![
            ints("keys_int64s", &[1]),
            floats("values_floats", &[0.5]),
        ]);
        let out = eval1(&e, tensor_from_vec(&[2], vec![1i64, 5]).unwrap()).unwrap();
        let out = slice::<f32>(&out);
        assert_eq!(out[0], 0.5);
        assert!(
            out[1] == 0.0 && out[1].is_sign_negative(),
            "default float is -0.0"
        );
    }

    #[test]
    fn float_keys_match_nan_and_signed_zero() {
        let e = encoder(vec![
            floats("keys_floats", &[f32::NAN, 0.0, 1.5]),
            ints("values_int64s", &[7, 8, 9]),
            int("default_int64", 99),
        ]);
        let x = tensor_from_vec(&[4], vec![f32::NAN, -0.0, 1.5, 2.0]).unwrap();
        assert_eq!(slice::<i64>(&eval1(&e, x).unwrap()), vec![7, 8, 9, 99]);
    }

    #[test]
    fn tensor_attributes_with_doubles() {
        let double = |name: &str, values: &[f64]| {
            tensor(
                name,
                TensorProto {
                    dims: vec![values.len() as i64],
                    data_type: DataType::Double as i32,
                    double_data: values.to_vec(),
                    ..Default::default()
                },
            )
        };
        let keys = TensorProto {
            dims: vec![2],
            data_type: DataType::Int64 as i32,
            int64_data: vec![1, 3],
            ..Default::default()
        };
        let e = encoder(vec![
            tensor("keys_tensor", keys),
            double("values_tensor", &[0.125, 8.0]),
            double("default_tensor", &[-2.0]),
        ]);
        let out = eval1(&e, tensor_from_vec(&[3], vec![3i64, 2, 1]).unwrap()).unwrap();
        assert_eq!(slice::<f64>(&out), vec![8.0, -2.0, 0.125]);
    }

    #[test]
    fn opset1_classes_work_both_ways() {
        let e = encoder(vec![strings("classes_strings", &["x", "y"])]);
        assert_eq!(
            slice::<i64>(&eval1(&e, strings_tensor(&["y", "w"])).unwrap()),
            vec![1, -1]
        );
        let back = eval1(&e, tensor_from_vec(&[3], vec![0i64, 1, 5]).unwrap()).unwrap();
        assert_eq!(slice::<String>(&back), vec!["x", "y", "_Unused"]);
    }

    #[test]
    fn refuses_inconsistent_attributes_and_inputs() {
        let bad = [
            vec![strings("keys_strings", &["a"])],
            vec![
                strings("keys_strings", &["a", "b"]),
                ints("values_int64s", &[1]),
            ],
            vec![
                strings("keys_strings", &["a"]),
                ints("keys_int64s", &[1]),
                ints("values_int64s", &[1]),
            ],
            vec![
                strings("keys_strings", &["a"]),
                ints("values_int64s", &[1]),
                string("default_tensor", "x"),
            ],
        ];
        for attrs in bad {
            assert!(
                LabelEncoder::parse(&node("LabelEncoder", attrs.clone())).is_err(),
                "{attrs:?}"
            );
        }
        let e = encoder(vec![
            strings("keys_strings", &["a"]),
            ints("values_int64s", &[1]),
        ]);
        assert!(eval1(&e, tensor_from_vec(&[1], vec![1.0f32]).unwrap()).is_err());
    }
}
