//! Performance from ground truth: logged predictions joined with their labels by request id and
//! row, scored with the metrics that suit the task.

use std::collections::HashMap;

use galley_monitoring::performance as metric;
use galley_monitoring::MonitoringError;
use serde::Serialize;

use crate::reference::Task;
use crate::window_data::{LoggedPrediction, Predicted};

#[derive(Debug, Clone, Serialize)]
pub struct Performance {
    pub task: Task,
    /// Logged rows that have a label.
    pub labeled_rows: u64,
    /// Metric name and value, e.g. `("accuracy", 0.93)`. A metric undefined on this window's rows
    /// (ROC-AUC with one class present) is left out.
    pub metrics: Vec<(String, f64)>,
}

/// A class as text: `1`, `1.0` and `"1"` are the same class.
fn class_of(text: &str) -> String {
    match text.trim().parse::<f64>() {
        Ok(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        _ => text.to_owned(),
    }
}

fn predicted_class(predicted: &Predicted) -> Option<String> {
    match predicted {
        Predicted::Number(v) => Some(class_of(&v.to_string())),
        Predicted::Text(t) => Some(class_of(t)),
        Predicted::Missing => None,
    }
}

/// Sorts classes the way scikit-learn orders labels: numerically when they are all numbers.
fn sort_classes(classes: &mut [String]) {
    let numeric: Option<Vec<f64>> = classes.iter().map(|c| c.parse().ok()).collect();
    match numeric {
        Some(_) => classes.sort_by(|a, b| {
            let (a, b): (f64, f64) = (a.parse().unwrap_or(0.0), b.parse().unwrap_or(0.0));
            a.total_cmp(&b)
        }),
        None => classes.sort(),
    }
}

/// The joined rows' metrics; `None` when no logged row has a label yet.
pub fn performance(
    task: Option<Task>,
    predictions: &[LoggedPrediction],
    labels: &HashMap<(String, i64), String>,
) -> Result<Option<Performance>, MonitoringError> {
    let joined: Vec<(&String, &LoggedPrediction)> = predictions
        .iter()
        .filter_map(|p| labels.get(&(p.request_id.clone(), p.row)).map(|l| (l, p)))
        .collect();
    if joined.is_empty() {
        return Ok(None);
    }
    let task = task.unwrap_or_else(|| infer_task(&joined));
    let metrics = match task {
        Task::Classification => classification(&joined),
        Task::Regression => regression(&joined),
    };
    Ok(Some(Performance {
        task,
        labeled_rows: joined.len() as u64,
        metrics,
    }))
}

fn infer_task(joined: &[(&String, &LoggedPrediction)]) -> Task {
    let fractional = joined
        .iter()
        .any(|(label, _)| label.parse::<f64>().is_ok_and(|v| v.fract() != 0.0));
    if fractional {
        Task::Regression
    } else {
        Task::Classification
    }
}

fn classification(joined: &[(&String, &LoggedPrediction)]) -> Vec<(String, f64)> {
    let rows: Vec<(String, String, &[f64])> = joined
        .iter()
        .filter_map(|(label, p)| {
            predicted_class(&p.predicted).map(|pred| (class_of(label), pred, p.scores.as_slice()))
        })
        .collect();
    let truth: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let predicted: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    let mut out = Vec::new();
    let mut put = |name: &str, value: Result<f64, metric::PerformanceError>| {
        if let Ok(value) = value {
            out.push((name.to_owned(), value));
        }
    };
    put("accuracy", metric::accuracy(&truth, &predicted));
    let mut classes: Vec<String> = truth
        .iter()
        .chain(&predicted)
        .map(|c| (*c).to_owned())
        .collect();
    sort_classes(&mut classes);
    classes.dedup();
    if classes.len() <= 2 {
        // scikit-learn's binary default: the greater label is the positive class.
        let positive = classes.last().map(String::as_str).unwrap_or_default();
        let is_positive: Vec<bool> = truth.iter().map(|c| *c == positive).collect();
        let said_positive: Vec<bool> = predicted.iter().map(|c| *c == positive).collect();
        if let Ok(scores) = metric::binary_scores(&is_positive, &said_positive) {
            out.push(("precision".to_owned(), scores.precision));
            out.push(("recall".to_owned(), scores.recall));
            out.push(("f1".to_owned(), scores.f1));
        }
        // The positive class's probability: the second of two per-class scores.
        let positive_scores: Option<Vec<f64>> = rows
            .iter()
            .map(|r| (r.2.len() == 2).then(|| r.2[1]).filter(|s| s.is_finite()))
            .collect();
        if let Some(scores) = positive_scores {
            if let Ok(auc) = metric::roc_auc(&is_positive, &scores) {
                out.push(("roc_auc".to_owned(), auc));
            }
            if let Ok(loss) = metric::log_loss(&is_positive, &scores) {
                out.push(("log_loss".to_owned(), loss));
            }
        }
    } else if let Ok(scores) = metric::macro_scores(&truth, &predicted) {
        out.push(("precision_macro".to_owned(), scores.precision));
        out.push(("recall_macro".to_owned(), scores.recall));
        out.push(("f1_macro".to_owned(), scores.f1));
    }
    out
}

fn regression(joined: &[(&String, &LoggedPrediction)]) -> Vec<(String, f64)> {
    let pairs: Vec<(f64, f64)> = joined
        .iter()
        .filter_map(|(label, p)| {
            let truth = label.trim().parse::<f64>().ok()?;
            let predicted = match &p.predicted {
                Predicted::Number(v) => *v,
                Predicted::Text(t) => t.trim().parse().ok()?,
                Predicted::Missing => return None,
            };
            Some((truth, predicted))
        })
        .collect();
    let truth: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let predicted: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    [
        ("mae", metric::mean_absolute_error(&truth, &predicted)),
        ("rmse", metric::root_mean_squared_error(&truth, &predicted)),
        ("r2", metric::r2_score(&truth, &predicted)),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.ok().map(|v| (name.to_owned(), v)))
    .collect()
}
