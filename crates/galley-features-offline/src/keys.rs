//! Join keys: which column types can key entities, each row's key values encoded as bytes
//! (integers of any width alike, text by value) so rows of two tables compare exactly, and the
//! interner that turns those bytes into dense ids without an allocation per row.

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array, StringArray};
use arrow_schema::{DataType, Schema};

use crate::error::OfflineError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Integer,
    Text,
}

impl KeyKind {
    fn of(data_type: &DataType) -> Option<Self> {
        match data_type {
            t if t.is_integer() => Some(Self::Integer),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(Self::Text),
            DataType::Dictionary(_, value) => Self::of(value),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Integer => "an integer",
            Self::Text => "a string",
        }
    }
}

/// The kinds of `columns` in `schema`, checked to be usable keys.
pub(crate) fn key_kinds(
    schema: &Schema,
    table: &str,
    columns: &[String],
) -> Result<Vec<KeyKind>, OfflineError> {
    columns
        .iter()
        .map(|column| {
            let field =
                schema
                    .field_with_name(column)
                    .map_err(|_| OfflineError::MissingColumn {
                        table: table.to_string(),
                        column: column.clone(),
                    })?;
            KeyKind::of(field.data_type()).ok_or_else(|| OfflineError::KeyType {
                table: table.to_string(),
                column: column.clone(),
                data_type: field.data_type().to_string(),
            })
        })
        .collect()
}

/// Refuses keys that are integers on one side and text on the other: `1` and `"1"` are
/// different entities, and guessing would join rows silently wrong.
pub(crate) fn check_same_kinds(
    columns: &[String],
    entity: &[KeyKind],
    source: &[KeyKind],
    table: &str,
) -> Result<(), OfflineError> {
    for ((column, e), s) in columns.iter().zip(entity).zip(source) {
        if e != s {
            return Err(OfflineError::KeyMismatch {
                table: table.to_string(),
                column: column.clone(),
                entity: e.name().to_string(),
                source_type: s.name().to_string(),
            });
        }
    }
    Ok(())
}

/// One batch's key columns, normalized once per batch so rows encode without type dispatch.
enum KeyColumn {
    Integer(Int64Array),
    Text(StringArray),
}

/// The key columns of one batch.
pub(crate) struct BatchKeys {
    columns: Vec<KeyColumn>,
}

impl BatchKeys {
    /// `arrays` must be of the kinds [`key_kinds`] accepted. Integers wider than i64 (u64
    /// above i64::MAX) become null keys: no entity can name them as an i64 anyway.
    pub(crate) fn new(arrays: &[ArrayRef]) -> Result<Self, OfflineError> {
        let columns = arrays
            .iter()
            .map(|array| {
                Ok(match KeyKind::of(array.data_type()) {
                    Some(KeyKind::Integer) => {
                        let cast = arrow_cast::cast(array, &DataType::Int64)?;
                        KeyColumn::Integer(cast.as_primitive::<Int64Type>().clone())
                    }
                    _ => {
                        let cast = arrow_cast::cast(array, &DataType::Utf8)?;
                        KeyColumn::Text(cast.as_string::<i32>().clone())
                    }
                })
            })
            .collect::<Result<_, OfflineError>>()?;
        Ok(Self { columns })
    }

    /// Writes `row`'s key into `buf` (cleared first); `false` when a key is null, since a
    /// null key never matches. A lone key is its bare bytes; several are length-prefixed so
    /// `("ab", "c")` and `("a", "bc")` differ.
    #[inline]
    pub(crate) fn encode(&self, row: usize, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        let several = self.columns.len() > 1;
        for column in &self.columns {
            match column {
                KeyColumn::Integer(values) => {
                    if values.is_null(row) {
                        return false;
                    }
                    buf.extend_from_slice(&values.value(row).to_le_bytes());
                }
                KeyColumn::Text(values) => {
                    if values.is_null(row) {
                        return false;
                    }
                    let text = values.value(row).as_bytes();
                    if several {
                        buf.extend_from_slice(&(text.len() as u64).to_le_bytes());
                    }
                    buf.extend_from_slice(text);
                }
            }
        }
        true
    }
}

/// Finds the entity key id of a source row's key, or nothing if no entity row has it.
pub(crate) enum KeyLookup<'a> {
    /// One integer key whose values span a range not much wider than their number (ids,
    /// counters): an array indexed by value, no hashing.
    Dense {
        min: i64,
        ids: Vec<u32>,
    },
    Hashed {
        keys: &'a KeyInterner,
        buf: Vec<u8>,
    },
}

impl<'a> KeyLookup<'a> {
    /// `single_integer`: the key is one integer column (its interned keys are i64 bytes).
    pub(crate) fn new(keys: &'a KeyInterner, single_integer: bool) -> Self {
        let hashed = Self::Hashed {
            keys,
            buf: Vec::new(),
        };
        if !single_integer || keys.len() == 0 {
            return hashed;
        }
        let value =
            |id: usize| i64::from_le_bytes(<[u8; 8]>::try_from(keys.key(id)).unwrap_or_default());
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        for id in 0..keys.len() {
            min = min.min(value(id));
            max = max.max(value(id));
        }
        let span = i128::from(max) - i128::from(min) + 1;
        // At most 16 bytes per key more than the hash table would take.
        if span > (4 * keys.len() + 4096) as i128 {
            return hashed;
        }
        let mut ids = vec![u32::MAX; span as usize];
        for id in 0..keys.len() {
            ids[(value(id) - min) as usize] = id as u32;
        }
        Self::Dense { min, ids }
    }

    #[inline]
    pub(crate) fn find(&mut self, batch: &BatchKeys, row: usize) -> Option<u32> {
        match self {
            Self::Dense { min, ids } => {
                let KeyColumn::Integer(values) = &batch.columns[0] else {
                    return None;
                };
                if values.is_null(row) {
                    return None;
                }
                let offset = values.value(row).wrapping_sub(*min) as u64;
                let id = *ids.get(offset as usize)?;
                (id != u32::MAX).then_some(id)
            }
            Self::Hashed { keys, buf } => {
                if batch.encode(row, buf) {
                    keys.find(buf)
                } else {
                    None
                }
            }
        }
    }
}

/// A 64-bit hash of key bytes: a multiply-rotate over 8-byte words, then a finalizer so the
/// low bits the table indexes by depend on every input bit.
#[inline]
pub(crate) fn hash_key(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
        h = (h.rotate_left(23) ^ word).wrapping_mul(K);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(last)).wrapping_mul(K);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

const EMPTY: u64 = u64::MAX;

/// Distinct keys as dense ids `0..len`, in first-seen order. Keys live in one byte arena and
/// the table holds ids, so a million keys cost a few allocations. Each slot keeps the high
/// half of its key's hash beside the id, so a probe touches the key's bytes only when that
/// matches; then the bytes are compared, so two keys whose hashes collide stay two keys.
pub(crate) struct KeyInterner {
    /// Open addressing, linear probing; `EMPTY` or `hash >> 32 << 32 | id`.
    slots: Vec<u64>,
    /// Key `id` is `arena[ends[id]..ends[id + 1]]`.
    ends: Vec<usize>,
    arena: Vec<u8>,
}

impl KeyInterner {
    pub(crate) fn new() -> Self {
        Self {
            slots: vec![EMPTY; 1024],
            ends: vec![0],
            arena: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len() - 1
    }

    #[inline]
    fn key(&self, id: usize) -> &[u8] {
        &self.arena[self.ends[id]..self.ends[id + 1]]
    }

    /// The slot holding `key`, or the empty slot where it would go.
    #[inline]
    fn probe(&self, key: &[u8], hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let tag = hash & !0xFFFF_FFFF;
        let mut slot = hash as usize & mask;
        loop {
            let entry = self.slots[slot];
            if entry == EMPTY
                || (entry & !0xFFFF_FFFF == tag && same(self.key(entry as u32 as usize), key))
            {
                return slot;
            }
            slot = (slot + 1) & mask;
        }
    }

    #[inline]
    pub(crate) fn find(&self, key: &[u8]) -> Option<u32> {
        let entry = self.slots[self.probe(key, hash_key(key))];
        (entry != EMPTY).then_some(entry as u32)
    }

    /// The id of `key`, new if it was not seen before.
    #[inline]
    pub(crate) fn intern(&mut self, key: &[u8]) -> u32 {
        let hash = hash_key(key);
        let slot = self.probe(key, hash);
        if self.slots[slot] != EMPTY {
            return self.slots[slot] as u32;
        }
        let id = self.len() as u32;
        self.slots[slot] = (hash & !0xFFFF_FFFF) | u64::from(id);
        self.arena.extend_from_slice(key);
        self.ends.push(self.arena.len());
        // At most half full, so probe runs stay short.
        if self.len() * 2 > self.slots.len() {
            self.grow();
        }
        id
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let mask = size - 1;
        let mut slots = vec![EMPTY; size];
        for id in 0..self.len() {
            let hash = hash_key(self.key(id));
            let mut slot = hash as usize & mask;
            while slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            slots[slot] = (hash & !0xFFFF_FFFF) | id as u64;
        }
        self.slots = slots;
    }
}

/// Byte equality without a call into `memcmp` for the common 8-byte (integer) key.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    match (<[u8; 8]>::try_from(a), <[u8; 8]>::try_from(b)) {
        (Ok(a), Ok(b)) => u64::from_le_bytes(a) == u64::from_le_bytes(b),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int32Array, StringArray};

    use super::*;

    #[test]
    fn interned_keys_are_dense_and_exact() {
        let mut keys = KeyInterner::new();
        let ids: Vec<u32> = (0..10_000u64)
            .map(|i| keys.intern(&i.to_le_bytes()))
            .collect();
        assert_eq!(ids, (0..10_000).collect::<Vec<u32>>());
        assert_eq!(keys.intern(&7u64.to_le_bytes()), 7);
        assert_eq!(keys.find(&9_999u64.to_le_bytes()), Some(9_999));
        assert_eq!(keys.find(&10_000u64.to_le_bytes()), None);
        assert_eq!(keys.find(b""), None);
        assert_eq!(keys.intern(b""), 10_000);
        assert_eq!(keys.len(), 10_001);
    }

    #[test]
    fn integer_widths_encode_alike_and_composites_do_not_run_together() {
        let narrow: ArrayRef = Arc::new(Int32Array::from(vec![Some(5), None]));
        let wide: ArrayRef = Arc::new(Int64Array::from(vec![5]));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        assert!(BatchKeys::new(std::slice::from_ref(&narrow))
            .unwrap()
            .encode(0, &mut a));
        assert!(BatchKeys::new(&[wide]).unwrap().encode(0, &mut b));
        assert_eq!(a, b);
        assert!(!BatchKeys::new(&[narrow]).unwrap().encode(1, &mut a));

        let left: ArrayRef = Arc::new(StringArray::from(vec!["ab", "a"]));
        let right: ArrayRef = Arc::new(StringArray::from(vec!["c", "bc"]));
        let pair = BatchKeys::new(&[left, right]).unwrap();
        pair.encode(0, &mut a);
        pair.encode(1, &mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn dense_and_hashed_lookups_agree() {
        for spread in [1i64, 1_000_000_007] {
            let mut keys = KeyInterner::new();
            for v in [5i64, -3, 40, 7] {
                keys.intern(&(v * spread).to_le_bytes());
            }
            let probe: ArrayRef = Arc::new(Int64Array::from(
                [-4i64, -3, 0, 5, 7, 40, 41, i64::MAX]
                    .iter()
                    .map(|v| Some(v.saturating_mul(spread)))
                    .chain([None])
                    .collect::<Vec<_>>(),
            ));
            let batch = BatchKeys::new(&[probe]).unwrap();
            let mut dense = KeyLookup::new(&keys, true);
            assert_eq!(matches!(dense, KeyLookup::Dense { .. }), spread == 1);
            let mut hashed = KeyLookup::new(&keys, false);
            let found: Vec<Option<u32>> = (0..9).map(|r| dense.find(&batch, r)).collect();
            assert_eq!(
                found,
                vec![
                    None,
                    Some(1),
                    None,
                    Some(0),
                    Some(3),
                    Some(2),
                    None,
                    None,
                    None
                ]
            );
            let again: Vec<Option<u32>> = (0..9).map(|r| hashed.find(&batch, r)).collect();
            assert_eq!(found, again);
        }
    }
}
