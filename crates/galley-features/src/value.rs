//! Feature value types (the `dtype` of a schema field), values as they travel online, and the
//! canonical key an entity's join-key values are stored under.

use serde::{Deserialize, Serialize};

/// A feature's declared type, as written in a definitions file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    Bool,
    Bytes,
    /// A point in time (nanoseconds since the Unix epoch, UTC).
    UnixTimestamp,
}

impl Dtype {
    pub const ALL: [Dtype; 8] = [
        Dtype::Int32,
        Dtype::Int64,
        Dtype::Float32,
        Dtype::Float64,
        Dtype::String,
        Dtype::Bool,
        Dtype::Bytes,
        Dtype::UnixTimestamp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dtype::Int32 => "int32",
            Dtype::Int64 => "int64",
            Dtype::Float32 => "float32",
            Dtype::Float64 => "float64",
            Dtype::String => "string",
            Dtype::Bool => "bool",
            Dtype::Bytes => "bytes",
            Dtype::UnixTimestamp => "unix_timestamp",
        }
    }

    /// Whether stored values of `self` can be read as `to` without loss, so a schema change
    /// from `self` to `to` does not break readers or stored online rows.
    pub fn widens_to(self, to: Dtype) -> bool {
        self == to
            || matches!(
                (self, to),
                (Dtype::Int32, Dtype::Int64)
                    | (Dtype::Float32, Dtype::Float64)
                    | (Dtype::Int32, Dtype::Float64)
            )
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One feature value. Timestamps are nanoseconds since the Unix epoch, UTC.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    String(String),
    Bytes(Vec<u8>),
    Timestamp(i64),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as `dtype`, widening where lossless (an int32 read as int64, a JSON integer
    /// pushed to a float64 feature); `None` when it is not of that type.
    pub fn coerce(self, dtype: Dtype) -> Option<Value> {
        Some(match (self, dtype) {
            (Value::Null, _) => Value::Null,
            (Value::Bool(b), Dtype::Bool) => Value::Bool(b),
            (Value::Int32(v), Dtype::Int32) => Value::Int32(v),
            (Value::Int64(v), Dtype::Int32) => Value::Int32(i32::try_from(v).ok()?),
            (Value::Int32(v), Dtype::Int64) => Value::Int64(v.into()),
            (Value::Int64(v), Dtype::Int64) => Value::Int64(v),
            (Value::Int32(v), Dtype::Float64) => Value::Float64(v.into()),
            (Value::Int64(v), Dtype::Float64) => Value::Float64(v as f64),
            (Value::Int32(v), Dtype::Float32) => Value::Float32(v as f32),
            (Value::Int64(v), Dtype::Float32) => Value::Float32(v as f32),
            (Value::Float32(v), Dtype::Float32) => Value::Float32(v),
            (Value::Float64(v), Dtype::Float32) => Value::Float32(v as f32),
            (Value::Float32(v), Dtype::Float64) => Value::Float64(v.into()),
            (Value::Float64(v), Dtype::Float64) => Value::Float64(v),
            (Value::String(s), Dtype::String) => Value::String(s),
            (Value::Bytes(b), Dtype::Bytes) => Value::Bytes(b),
            (Value::Timestamp(t), Dtype::UnixTimestamp) => Value::Timestamp(t),
            (Value::Int64(t), Dtype::UnixTimestamp) => Value::Timestamp(t),
            _ => return None,
        })
    }
}

/// The canonical bytes of an entity's join-key values, in the view's join-key order: what
/// online stores key rows by. Integers of any width encode alike (a key pushed as int32 finds
/// the row materialized from an int64 column); text and integers never collide.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityKey(Vec<u8>);

/// A join-key value that cannot key an entity (a float, a null, bytes).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("a join key must be an integer or a string, not {0}")]
pub struct InvalidJoinKey(pub String);

impl EntityKey {
    pub fn encode(values: &[Value]) -> Result<Self, InvalidJoinKey> {
        let mut bytes = Vec::with_capacity(values.len() * 9);
        for value in values {
            match value {
                Value::Int32(v) => push_int(&mut bytes, (*v).into()),
                Value::Int64(v) => push_int(&mut bytes, *v),
                Value::String(s) => {
                    bytes.push(b's');
                    bytes.extend_from_slice(&(s.len() as u32).to_be_bytes());
                    bytes.extend_from_slice(s.as_bytes());
                }
                other => return Err(InvalidJoinKey(format!("{other:?}"))),
            }
        }
        Ok(Self(bytes))
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

fn push_int(bytes: &mut Vec<u8>, value: i64) {
    bytes.push(b'i');
    bytes.extend_from_slice(&value.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_widths_key_alike_and_text_never_collides_with_integers() {
        let narrow = EntityKey::encode(&[Value::Int32(7)]).unwrap();
        let wide = EntityKey::encode(&[Value::Int64(7)]).unwrap();
        assert_eq!(narrow, wide);
        let text = EntityKey::encode(&[Value::String("7".into())]).unwrap();
        assert_ne!(text, wide);
        // Lengths are encoded, so ("ab", "c") and ("a", "bc") differ.
        let a = EntityKey::encode(&[Value::String("ab".into()), Value::String("c".into())]);
        let b = EntityKey::encode(&[Value::String("a".into()), Value::String("bc".into())]);
        assert_ne!(a.unwrap(), b.unwrap());
        assert!(EntityKey::encode(&[Value::Float64(1.0)]).is_err());
    }

    #[test]
    fn coercion_widens_but_never_truncates() {
        assert_eq!(Value::Int32(3).coerce(Dtype::Int64), Some(Value::Int64(3)));
        assert_eq!(
            Value::Int64(3).coerce(Dtype::Float64),
            Some(Value::Float64(3.0))
        );
        assert_eq!(Value::Int64(1 << 40).coerce(Dtype::Int32), None);
        assert_eq!(Value::String("x".into()).coerce(Dtype::Int64), None);
        assert_eq!(Value::Null.coerce(Dtype::Bool), Some(Value::Null));
    }
}
