//! What shadow traffic produced: the last answers of the shadow version, each compared with the
//! answer the caller got, kept in a bounded ring so mirroring never grows memory.

use std::collections::VecDeque;
use std::sync::Mutex;

use galley_onnx::TensorData;
use serde::Serialize;

use crate::batcher::Outputs;

/// Records kept per deployment.
pub const SHADOW_LOG_CAPACITY: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowRecord {
    pub at_ms: i64,
    pub version: i64,
    pub served_version: i64,
    /// The shadow's error, when it failed.
    pub error: Option<String>,
    /// The largest absolute difference between the shadow's and the served numeric outputs of
    /// the same name and shape; `None` when nothing was comparable.
    pub max_abs_diff: Option<f64>,
    /// Whether every non-numeric output (labels as strings) was equal.
    pub labels_agree: Option<bool>,
}

#[derive(Default)]
pub struct ShadowLog {
    records: Mutex<VecDeque<ShadowRecord>>,
}

impl ShadowLog {
    pub fn push(&self, record: ShadowRecord) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if records.len() == SHADOW_LOG_CAPACITY {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// Newest first.
    pub fn recent(&self) -> Vec<ShadowRecord> {
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        records.iter().rev().cloned().collect()
    }
}

fn as_f64(data: &TensorData) -> Option<Vec<f64>> {
    Some(match data {
        TensorData::Fp32(v) => v.iter().map(|x| f64::from(*x)).collect(),
        TensorData::Fp64(v) => v.clone(),
        TensorData::Int64(v) => v.iter().map(|x| *x as f64).collect(),
        TensorData::Int32(v) => v.iter().map(|x| f64::from(*x)).collect(),
        _ => return None,
    })
}

/// Compares the shadow's outputs with the served ones: (max numeric difference, labels equal).
pub fn compare(served: &Outputs, shadow: &Outputs) -> (Option<f64>, Option<bool>) {
    let mut max_diff: Option<f64> = None;
    let mut labels: Option<bool> = None;
    for (name, theirs) in shadow {
        let Some((_, ours)) = served.iter().find(|(n, _)| n == name) else {
            continue;
        };
        if ours.shape != theirs.shape {
            continue;
        }
        match (as_f64(&ours.data), as_f64(&theirs.data)) {
            (Some(a), Some(b)) => {
                let diff = a
                    .iter()
                    .zip(&b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0f64, f64::max);
                max_diff = Some(max_diff.map_or(diff, |m| m.max(diff)));
            }
            _ => {
                let equal = ours.data == theirs.data;
                labels = Some(labels.unwrap_or(true) && equal);
            }
        }
    }
    (max_diff, labels)
}

#[cfg(test)]
mod tests {
    use galley_onnx::Tensor;

    use super::*;

    #[test]
    fn compares_numbers_and_labels() {
        let served: Outputs = vec![
            (
                "p".into(),
                Tensor::new(vec![2], vec![0.5f32, 0.25]).unwrap(),
            ),
            (
                "label".into(),
                Tensor::new(vec![1], vec!["a".to_string()]).unwrap(),
            ),
        ];
        let shadow: Outputs = vec![
            ("p".into(), Tensor::new(vec![2], vec![0.5f32, 0.5]).unwrap()),
            (
                "label".into(),
                Tensor::new(vec![1], vec!["b".to_string()]).unwrap(),
            ),
        ];
        assert_eq!(compare(&served, &shadow), (Some(0.25), Some(false)));
        assert_eq!(compare(&served, &served), (Some(0.0), Some(true)));
    }

    #[test]
    fn the_log_is_bounded() {
        let log = ShadowLog::default();
        for i in 0..(SHADOW_LOG_CAPACITY as i64 + 5) {
            log.push(ShadowRecord {
                at_ms: i,
                version: 2,
                served_version: 1,
                error: None,
                max_abs_diff: None,
                labels_agree: None,
            });
        }
        let recent = log.recent();
        assert_eq!(recent.len(), SHADOW_LOG_CAPACITY);
        assert_eq!(recent[0].at_ms, SHADOW_LOG_CAPACITY as i64 + 4);
    }
}
