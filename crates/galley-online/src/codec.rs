//! The bytes an `OnlineRow` is stored as, in every backend, and the byte comparison that decides
//! whether one stored row supersedes another without decoding either.
//!
//! Layout (integers in the header big-endian, feature payloads little-endian):
//!
//! ```text
//! [0]       format version (FORMAT)
//! [1..9]    event_ts, sign bit flipped
//! [9]       0 = no created_ts, 1 = created_ts present
//! [10..18]  created_ts, sign bit flipped (zeros when absent)
//! varint    number of features, then per feature:
//!           varint name length, name (UTF-8), tag byte, payload
//! ```
//!
//! Flipping the sign bit makes the unsigned big-endian bytes of an i64 sort as the number does,
//! and absence (tag 0) sorts before any created time, so `ORDER_KEY` compared as bytes is
//! `(event_ts, created_ts)` compared as `OnlineRow::supersedes` does. Redis's Lua script relies
//! on this: it compares those bytes, never numbers (Lua numbers are doubles).

use std::ops::Range;

use galley_features::online::{OnlineRow, OnlineStoreError};
use galley_features::value::Value;

pub(crate) const FORMAT: u8 = 1;

/// Where the supersede order lives in an encoded row.
pub(crate) const ORDER_KEY: Range<usize> = 1..18;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT32: u8 = 3;
const INT64: u8 = 4;
const FLOAT32: u8 = 5;
const FLOAT64: u8 = 6;
const STRING: u8 = 7;
const BYTES: u8 = 8;
const TIMESTAMP: u8 = 9;

pub(crate) fn encode(row: &OnlineRow) -> Vec<u8> {
    let payload: usize = row
        .values
        .iter()
        .map(|(name, value)| name.len() + 11 + payload_len(value))
        .sum();
    let mut out = Vec::with_capacity(ORDER_KEY.end + 10 + payload);
    out.push(FORMAT);
    out.extend_from_slice(&ordered(row.event_ts));
    match row.created_ts {
        Some(created) => {
            out.push(1);
            out.extend_from_slice(&ordered(created));
        }
        None => out.extend_from_slice(&[0; 9]),
    }
    push_varint(&mut out, row.values.len() as u64);
    for (name, value) in &row.values {
        push_varint(&mut out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        match value {
            Value::Null => out.push(NULL),
            Value::Bool(false) => out.push(FALSE),
            Value::Bool(true) => out.push(TRUE),
            Value::Int32(v) => {
                out.push(INT32);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Value::Int64(v) => {
                out.push(INT64);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Value::Float32(v) => {
                out.push(FLOAT32);
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            Value::Float64(v) => {
                out.push(FLOAT64);
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            Value::String(s) => {
                out.push(STRING);
                push_varint(&mut out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bytes(b) => {
                out.push(BYTES);
                push_varint(&mut out, b.len() as u64);
                out.extend_from_slice(b);
            }
            Value::Timestamp(t) => {
                out.push(TIMESTAMP);
                out.extend_from_slice(&t.to_le_bytes());
            }
        }
    }
    out
}

fn payload_len(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Bytes(b) => b.len(),
        _ => 8,
    }
}

pub(crate) fn decode(bytes: &[u8]) -> Result<OnlineRow, OnlineStoreError> {
    let mut reader = Reader { bytes };
    let format = reader.byte()?;
    if format != FORMAT {
        return Err(corrupt(&format!("unknown format {format}")));
    }
    let event_ts = unordered(reader.array()?);
    let created_ts = match reader.byte()? {
        0 => {
            reader.array::<8>()?;
            None
        }
        1 => Some(unordered(reader.array()?)),
        other => return Err(corrupt(&format!("created-time tag {other}"))),
    };
    let count = reader.varint_len()?;
    // Every feature takes at least two bytes (name length, tag), which bounds what a corrupt
    // count can make us allocate.
    let mut values = Vec::with_capacity(count.min(reader.bytes.len() / 2));
    for _ in 0..count {
        let name = reader.string()?;
        let value = match reader.byte()? {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INT32 => Value::Int32(i32::from_le_bytes(reader.array()?)),
            INT64 => Value::Int64(i64::from_le_bytes(reader.array()?)),
            FLOAT32 => Value::Float32(f32::from_bits(u32::from_le_bytes(reader.array()?))),
            FLOAT64 => Value::Float64(f64::from_bits(u64::from_le_bytes(reader.array()?))),
            STRING => Value::String(reader.string()?),
            BYTES => {
                let len = reader.varint_len()?;
                Value::Bytes(reader.take(len)?.to_vec())
            }
            TIMESTAMP => Value::Timestamp(i64::from_le_bytes(reader.array()?)),
            other => return Err(corrupt(&format!("value tag {other}"))),
        };
        values.push((name, value));
    }
    if !reader.bytes.is_empty() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(OnlineRow {
        event_ts,
        created_ts,
        values,
    })
}

/// Whether the encoded row `new` replaces the encoded row `stored`, as `OnlineRow::supersedes`
/// decides. A stored value this format cannot order (another format, too short) is replaced,
/// so a damaged row heals on the next write instead of blocking every write to its key.
pub(crate) fn supersedes(new: &[u8], stored: &[u8]) -> bool {
    match (new.get(ORDER_KEY), stored.get(ORDER_KEY)) {
        (Some(new_key), Some(stored_key)) if stored[0] == new[0] => new_key >= stored_key,
        _ => true,
    }
}

fn ordered(value: i64) -> [u8; 8] {
    ((value as u64) ^ (1 << 63)).to_be_bytes()
}

fn unordered(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn corrupt(what: &str) -> OnlineStoreError {
    OnlineStoreError::Internal(format!("corrupt stored online row: {what}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], OnlineStoreError> {
        if len > self.bytes.len() {
            return Err(corrupt("truncated"));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, OnlineStoreError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], OnlineStoreError> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }

    /// A length: a LEB128 varint that fits the rest of the input's size type.
    fn varint_len(&mut self) -> Result<usize, OnlineStoreError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(corrupt("varint overflows"));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return usize::try_from(value).map_err(|_| corrupt("length overflows"));
            }
        }
        Err(corrupt("varint too long"))
    }

    fn string(&mut self) -> Result<String, OnlineStoreError> {
        let len = self.varint_len()?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| corrupt("text is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::Int32),
            any::<i64>().prop_map(Value::Int64),
            prop_oneof![
                any::<f32>(),
                Just(f32::NAN),
                Just(f32::INFINITY),
                Just(f32::NEG_INFINITY),
                Just(-0.0f32),
            ]
            .prop_map(Value::Float32),
            prop_oneof![
                any::<f64>(),
                Just(f64::NAN),
                Just(-f64::NAN),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(-0.0),
            ]
            .prop_map(Value::Float64),
            prop_oneof![Just(String::new()), any::<String>()].prop_map(Value::String),
            prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
            any::<i64>().prop_map(Value::Timestamp),
        ]
    }

    fn timestamp() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0),
            Just(-1),
            1_700_000_000_000_000_000i64..1_700_000_000_000_000_100,
        ]
    }

    fn row() -> impl Strategy<Value = OnlineRow> {
        (
            timestamp(),
            prop::option::of(timestamp()),
            prop::collection::vec((any::<String>(), value()), 0..12),
        )
            .prop_map(|(event_ts, created_ts, values)| OnlineRow {
                event_ts,
                created_ts,
                values,
            })
    }

    /// Equality that sees NaN payloads and the sign of zero, which `PartialEq` on floats does not.
    fn same(a: &OnlineRow, b: &OnlineRow) -> bool {
        let bits = |v: &Value| match v {
            Value::Float32(f) => Some(u64::from(f.to_bits())),
            Value::Float64(f) => Some(f.to_bits()),
            _ => None,
        };
        a.event_ts == b.event_ts
            && a.created_ts == b.created_ts
            && a.values.len() == b.values.len()
            && a.values.iter().zip(&b.values).all(|((na, va), (nb, vb))| {
                na == nb
                    && match (bits(va), bits(vb)) {
                        (None, None) => va == vb,
                        (x, y) => {
                            x == y && std::mem::discriminant(va) == std::mem::discriminant(vb)
                        }
                    }
            })
    }

    proptest! {
        #[test]
        fn rows_round_trip(row in row()) {
            let decoded = decode(&encode(&row)).unwrap();
            prop_assert!(same(&row, &decoded), "{row:?} became {decoded:?}");
        }

        #[test]
        fn byte_order_is_the_supersede_rule(a in row(), b in row()) {
            prop_assert_eq!(supersedes(&encode(&a), &encode(&b)), a.supersedes(&b));
            prop_assert_eq!(supersedes(&encode(&b), &encode(&a)), b.supersedes(&a));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Err(err) = decode(&bytes) {
                prop_assert!(matches!(err, OnlineStoreError::Internal(_)));
            }
        }

        #[test]
        fn damaged_rows_are_errors_not_panics(row in row(), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>()) {
            let bytes = encode(&row);
            let truncated = &bytes[..cut.index(bytes.len())];
            prop_assert!(matches!(decode(truncated), Err(OnlineStoreError::Internal(_))));
            let mut flipped = bytes.clone();
            let at = flip.0.index(flipped.len());
            flipped[at] ^= flip.1 | 1;
            if let Err(err) = decode(&flipped) {
                prop_assert!(matches!(err, OnlineStoreError::Internal(_)));
            }
        }
    }

    #[test]
    fn corrupt_lengths_do_not_allocate_what_they_claim() {
        let mut bytes = encode(&OnlineRow {
            event_ts: 1,
            created_ts: None,
            values: Vec::new(),
        });
        bytes.pop();
        push_varint(&mut bytes, u64::MAX);
        assert!(matches!(decode(&bytes), Err(OnlineStoreError::Internal(_))));
        bytes.truncate(ORDER_KEY.end);
        push_varint(&mut bytes, 1);
        push_varint(&mut bytes, u64::from(u32::MAX));
        assert!(matches!(decode(&bytes), Err(OnlineStoreError::Internal(_))));
    }

    #[test]
    fn an_unreadable_stored_row_is_replaced() {
        let row = encode(&OnlineRow {
            event_ts: i64::MIN,
            created_ts: None,
            values: Vec::new(),
        });
        assert!(supersedes(&row, b"junk"));
        let mut other_format = row.clone();
        other_format[0] = FORMAT + 1;
        assert!(supersedes(&row, &other_format));
    }
}
