//! Stacking requests into one batch along the first axis, and splitting the batch's outputs
//! back into per-request tensors.

use galley_onnx::{Tensor, TensorData};

/// Applies `$body` to the Vec inside `$data`, rebuilding the same variant from its result.
macro_rules! map_variant {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            TensorData::Bool($v) => TensorData::Bool($body),
            TensorData::Uint8($v) => TensorData::Uint8($body),
            TensorData::Uint16($v) => TensorData::Uint16($body),
            TensorData::Uint32($v) => TensorData::Uint32($body),
            TensorData::Uint64($v) => TensorData::Uint64($body),
            TensorData::Int8($v) => TensorData::Int8($body),
            TensorData::Int16($v) => TensorData::Int16($body),
            TensorData::Int32($v) => TensorData::Int32($body),
            TensorData::Int64($v) => TensorData::Int64($body),
            TensorData::Fp32($v) => TensorData::Fp32($body),
            TensorData::Fp64($v) => TensorData::Fp64($body),
            TensorData::Bytes($v) => TensorData::Bytes($body),
        }
    };
}

/// Rows along the first axis; a scalar counts as one.
pub fn rows(tensor: &Tensor) -> usize {
    tensor.shape.first().copied().unwrap_or(1)
}

/// Stacks `parts` along the first axis. `None` when they differ in dtype, rank or trailing
/// dimensions, which callers avoid by grouping requests first.
pub fn concat(parts: &[&Tensor]) -> Option<Tensor> {
    let first = parts.first()?;
    if first.shape.is_empty() {
        return None;
    }
    let trailing = &first.shape[1..];
    if parts.iter().any(|p| {
        p.dtype != first.dtype || p.shape.len() != first.shape.len() || &p.shape[1..] != trailing
    }) {
        return None;
    }
    let total_rows = parts.iter().map(|p| p.shape[0]).sum();
    let mut data = first.data.clone();
    for part in &parts[1..] {
        append(&mut data, &part.data)?;
    }
    let mut shape = first.shape.clone();
    shape[0] = total_rows;
    Some(Tensor {
        dtype: first.dtype,
        shape,
        data,
    })
}

fn append(into: &mut TensorData, from: &TensorData) -> Option<()> {
    macro_rules! extend {
        ($($variant:ident),*) => {
            match (into, from) {
                $((TensorData::$variant(a), TensorData::$variant(b)) => a.extend_from_slice(b),)*
                _ => return None,
            }
        };
    }
    extend!(Bool, Uint8, Uint16, Uint32, Uint64, Int8, Int16, Int32, Int64, Fp32, Fp64, Bytes);
    Some(())
}

/// Splits `tensor` into consecutive pieces of `counts` rows. `None` when its first axis is not
/// the batch (its length differs from the sum of `counts`).
pub fn split(tensor: Tensor, counts: &[usize]) -> Option<Vec<Tensor>> {
    let total: usize = counts.iter().sum();
    if tensor.shape.first() != Some(&total) {
        return None;
    }
    let row_len: usize = tensor.shape[1..].iter().product();
    let mut pieces = Vec::with_capacity(counts.len());
    let mut start = 0;
    for &count in counts {
        let range = start * row_len..(start + count) * row_len;
        let data = map_variant!(&tensor.data, v => v[range.clone()].to_vec());
        let mut shape = tensor.shape.clone();
        shape[0] = count;
        pieces.push(Tensor {
            dtype: tensor.dtype,
            shape,
            data,
        });
        start += count;
    }
    Some(pieces)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn matrix(rows: usize, cols: usize, offset: f32) -> Tensor {
        let data: Vec<f32> = (0..rows * cols).map(|i| offset + i as f32).collect();
        Tensor::new(vec![rows, cols], data).unwrap()
    }

    #[test]
    fn refuses_mismatched_parts() {
        let a = matrix(1, 3, 0.0);
        let b = matrix(1, 4, 0.0);
        assert!(concat(&[&a, &b]).is_none());
        let c = Tensor::new(vec![1, 3], vec![1i64, 2, 3]).unwrap();
        assert!(concat(&[&a, &c]).is_none());
        assert!(split(matrix(3, 2, 0.0), &[1, 1]).is_none());
    }

    proptest! {
        #[test]
        fn split_undoes_concat(counts in proptest::collection::vec(0usize..5, 1..6), cols in 1usize..4) {
            let parts: Vec<Tensor> = counts
                .iter()
                .enumerate()
                .map(|(i, &n)| matrix(n, cols, (i * 100) as f32))
                .collect();
            let refs: Vec<&Tensor> = parts.iter().collect();
            let stacked = concat(&refs).unwrap();
            prop_assert_eq!(stacked.shape.clone(), vec![counts.iter().sum::<usize>(), cols]);
            prop_assert_eq!(split(stacked, &counts).unwrap(), parts);
        }
    }
}
