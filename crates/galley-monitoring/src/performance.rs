//! Model quality once ground truth arrives: classification and regression metrics defined as
//! scikit-learn 1.9 defines them, over plain slices.

use galley_core::{ErrorCode, HasErrorCode};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PerformanceError {
    #[error(
        "{actual} predictions for {expected} labels; every label needs exactly one prediction"
    )]
    LengthMismatch { expected: usize, actual: usize },
    #[error("no labelled predictions to score")]
    Empty,
    #[error("ROC AUC needs both classes among the labels, but only one is present")]
    SingleClass,
    #[error("probability {0} is not between 0 and 1")]
    InvalidProbability(f64),
    #[error("score {0} is not a finite number")]
    NonFinite(f64),
}

impl HasErrorCode for PerformanceError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidParameterValue
    }
}

type Result<T> = std::result::Result<T, PerformanceError>;

fn same_length<A, B>(truth: &[A], predicted: &[B]) -> Result<usize> {
    match (truth.len(), predicted.len()) {
        (expected, actual) if expected != actual => {
            Err(PerformanceError::LengthMismatch { expected, actual })
        }
        (0, _) => Err(PerformanceError::Empty),
        (n, _) => Ok(n),
    }
}

/// Precision, recall and F1 of one averaging.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassificationScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// `accuracy_score`: the share of exact matches.
pub fn accuracy<T: PartialEq>(truth: &[T], predicted: &[T]) -> Result<f64> {
    let n = same_length(truth, predicted)?;
    let hits = truth.iter().zip(predicted).filter(|(t, p)| t == p).count();
    Ok(hits as f64 / n as f64)
}

/// `precision_score`, `recall_score` and `f1_score` with `average="binary"`: `true` is the
/// positive label. An undefined ratio (no positive predictions, or no positive labels) is 0, as
/// scikit-learn's default `zero_division="warn"` returns.
pub fn binary_scores(truth: &[bool], predicted: &[bool]) -> Result<ClassificationScores> {
    same_length(truth, predicted)?;
    let counts = ClassCounts::of(truth, predicted, |label| *label);
    Ok(counts.scores())
}

/// The same three scores with `average="macro"`: the unweighted mean over every label found in
/// either slice (scikit-learn's `unique_labels(y_true, y_pred)`), a label absent from the truth
/// counting 0 recall and one never predicted 0 precision.
pub fn macro_scores<T: Ord>(truth: &[T], predicted: &[T]) -> Result<ClassificationScores> {
    same_length(truth, predicted)?;
    let mut labels: Vec<&T> = truth.iter().chain(predicted).collect();
    labels.sort();
    labels.dedup();
    let per_label: Vec<ClassificationScores> = labels
        .iter()
        .map(|label| ClassCounts::of(truth, predicted, |v| v == *label).scores())
        .collect();
    let mean = |f: fn(&ClassificationScores) -> f64| {
        per_label.iter().map(f).sum::<f64>() / per_label.len() as f64
    };
    Ok(ClassificationScores {
        precision: mean(|s| s.precision),
        recall: mean(|s| s.recall),
        f1: mean(|s| s.f1),
    })
}

/// One label's confusion counts, one-vs-rest.
struct ClassCounts {
    true_positive: u64,
    predicted: u64,
    actual: u64,
}

impl ClassCounts {
    fn of<T>(truth: &[T], predicted: &[T], is_label: impl Fn(&T) -> bool) -> ClassCounts {
        let mut counts = ClassCounts {
            true_positive: 0,
            predicted: 0,
            actual: 0,
        };
        for (t, p) in truth.iter().zip(predicted) {
            let (t, p) = (is_label(t), is_label(p));
            counts.true_positive += u64::from(t && p);
            counts.predicted += u64::from(p);
            counts.actual += u64::from(t);
        }
        counts
    }

    /// F1 as scikit-learn computes it, `2·tp / (actual + predicted)`, not from the rounded ratios.
    fn scores(&self) -> ClassificationScores {
        let divide = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        ClassificationScores {
            precision: divide(self.true_positive, self.predicted),
            recall: divide(self.true_positive, self.actual),
            f1: divide(2 * self.true_positive, self.actual + self.predicted),
        }
    }
}

/// `roc_auc_score` for binary labels (`true` positive) and scores: the trapezoidal area under the
/// ROC curve with tied scores forming one step, as `roc_curve` + `auc`. scikit-learn warns and
/// returns NaN when one class is missing; this returns [`PerformanceError::SingleClass`].
pub fn roc_auc(truth: &[bool], scores: &[f64]) -> Result<f64> {
    same_length(truth, scores)?;
    if let Some(&bad) = scores.iter().find(|s| !s.is_finite()) {
        return Err(PerformanceError::NonFinite(bad));
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tps, mut fps) = (0u64, 0u64);
    let mut curve = vec![(0u64, 0u64)];
    for (position, &i) in order.iter().enumerate() {
        if truth[i] {
            tps += 1;
        } else {
            fps += 1;
        }
        let threshold_ends = order
            .get(position + 1)
            .is_none_or(|&next| scores[next] != scores[i]);
        if threshold_ends {
            curve.push((fps, tps));
        }
    }
    if tps == 0 || fps == 0 {
        return Err(PerformanceError::SingleClass);
    }
    let area = curve
        .windows(2)
        .map(|w| {
            let (x0, y0) = (w[0].0 as f64 / fps as f64, w[0].1 as f64 / tps as f64);
            let (x1, y1) = (w[1].0 as f64 / fps as f64, w[1].1 as f64 / tps as f64);
            (x1 - x0) * (y1 + y0) / 2.0
        })
        .sum();
    Ok(area)
}

/// `log_loss` for binary labels (`true` positive) and the predicted probability of the positive
/// class: both class probabilities `1 − p` and `p` are clipped to `[ε, 1 − ε]` (ε = f64::EPSILON)
/// before the logarithm, as scikit-learn does. scikit-learn also needs `labels=` when the truth
/// holds one class only; here the classes are known, so that case is scored.
pub fn log_loss(truth: &[bool], probabilities: &[f64]) -> Result<f64> {
    let n = same_length(truth, probabilities)?;
    if let Some(&bad) = probabilities.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(PerformanceError::InvalidProbability(bad));
    }
    let clip = |p: f64| p.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
    let total: f64 = truth
        .iter()
        .zip(probabilities)
        .map(|(&positive, &p)| -(if positive { clip(p) } else { clip(1.0 - p) }).ln())
        .sum();
    Ok(total / n as f64)
}

/// `mean_absolute_error`.
pub fn mean_absolute_error(truth: &[f64], predicted: &[f64]) -> Result<f64> {
    let n = finite_pairs(truth, predicted)?;
    Ok(truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (p - t).abs())
        .sum::<f64>()
        / n as f64)
}

/// `root_mean_squared_error`.
pub fn root_mean_squared_error(truth: &[f64], predicted: &[f64]) -> Result<f64> {
    let n = finite_pairs(truth, predicted)?;
    Ok((squared_residuals(truth, predicted) / n as f64).sqrt())
}

/// `r2_score`: `1 − SS_res / SS_tot`. A constant truth scores 1 when predicted exactly and 0
/// otherwise (`force_finite=True`); fewer than two samples give NaN, as scikit-learn returns.
pub fn r2_score(truth: &[f64], predicted: &[f64]) -> Result<f64> {
    let n = finite_pairs(truth, predicted)?;
    if n < 2 {
        return Ok(f64::NAN);
    }
    let mean = truth.iter().sum::<f64>() / n as f64;
    let residual = squared_residuals(truth, predicted);
    let total: f64 = truth.iter().map(|t| (t - mean) * (t - mean)).sum();
    Ok(match (residual == 0.0, total == 0.0) {
        (_, false) => 1.0 - residual / total,
        (true, true) => 1.0,
        (false, true) => 0.0,
    })
}

fn finite_pairs(truth: &[f64], predicted: &[f64]) -> Result<usize> {
    let n = same_length(truth, predicted)?;
    match truth.iter().chain(predicted).find(|v| !v.is_finite()) {
        Some(&bad) => Err(PerformanceError::NonFinite(bad)),
        None => Ok(n),
    }
}

fn squared_residuals(truth: &[f64], predicted: &[f64]) -> f64 {
    truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p) * (t - p))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-12 * (1.0 + expected.abs())
    }

    #[test]
    fn binary_classification_matches_sklearn() {
        let truth = [true, false, true, true, false, false, true, false];
        let predicted = [true, false, false, true, true, false, true, false];
        // accuracy_score / precision_score / recall_score / f1_score on the 1/0 encoding
        // -> 0.75, 0.75, 0.75, 0.75
        assert_eq!(accuracy(&truth, &predicted).unwrap(), 0.75);
        let s = binary_scores(&truth, &predicted).unwrap();
        assert_eq!((s.precision, s.recall, s.f1), (0.75, 0.75, 0.75));
        // No positive prediction: precision and F1 are 0 (zero_division).
        let s = binary_scores(&[true, false], &[false, false]).unwrap();
        assert_eq!((s.precision, s.recall, s.f1), (0.0, 0.0, 0.0));
    }

    #[test]
    fn macro_scores_match_sklearn() {
        // precision_score(t, p, average="macro") etc. with
        // t = ["a","b","c","a","b","c","a"], p = ["a","c","c","a","b","b","d"]
        // -> precision 0.5, recall 0.41666666666666663, f1 0.45
        let truth = ["a", "b", "c", "a", "b", "c", "a"];
        let predicted = ["a", "c", "c", "a", "b", "b", "d"];
        let s = macro_scores(&truth, &predicted).unwrap();
        assert!(close(s.precision, 0.5), "{s:?}");
        assert!(close(s.recall, 0.41666666666666663), "{s:?}");
        assert!(close(s.f1, 0.45), "{s:?}");
    }

    #[test]
    fn roc_auc_matches_sklearn_with_ties() {
        // roc_auc_score([0, 0, 1, 1, 1, 0], [0.1, 0.4, 0.35, 0.8, 0.4, 0.2]) -> 0.8333333333333334
        let truth = [false, false, true, true, true, false];
        let scores = [0.1, 0.4, 0.35, 0.8, 0.4, 0.2];
        assert!(close(roc_auc(&truth, &scores).unwrap(), 0.8333333333333334));
        assert_eq!(
            roc_auc(&[true, true], &[0.1, 0.2]),
            Err(PerformanceError::SingleClass)
        );
        assert!(matches!(
            roc_auc(&[true, false], &[f64::NAN, 0.2]),
            Err(PerformanceError::NonFinite(_))
        ));
    }

    #[test]
    fn log_loss_matches_sklearn_and_clips() {
        // log_loss([1, 0, 1, 0], [0.9, 0.2, 0.6, 0.45]) -> 0.3592916728734118
        let value = log_loss(&[true, false, true, false], &[0.9, 0.2, 0.6, 0.45]).unwrap();
        assert!(close(value, 0.3592916728734118), "{value}");
        // log_loss([1, 0], [0.0, 1.0]) -> 36.04365338911715 (clipped at eps)
        let value = log_loss(&[true, false], &[0.0, 1.0]).unwrap();
        assert!(close(value, 36.04365338911715), "{value}");
        assert_eq!(
            log_loss(&[true], &[1.5]),
            Err(PerformanceError::InvalidProbability(1.5))
        );
    }

    #[test]
    fn regression_matches_sklearn() {
        let truth = [3.0, -0.5, 2.0, 7.0];
        let predicted = [2.5, 0.0, 2.0, 8.0];
        // mean_absolute_error -> 0.5; root_mean_squared_error -> 0.6123724356957945;
        // r2_score -> 0.9486081370449679
        assert!(close(mean_absolute_error(&truth, &predicted).unwrap(), 0.5));
        assert!(close(
            root_mean_squared_error(&truth, &predicted).unwrap(),
            0.6123724356957945
        ));
        assert!(close(
            r2_score(&truth, &predicted).unwrap(),
            0.9486081370449679
        ));
        assert_eq!(r2_score(&[1.0, 1.0], &[1.0, 1.0]).unwrap(), 1.0);
        assert_eq!(r2_score(&[1.0, 1.0], &[1.0, 2.0]).unwrap(), 0.0);
        assert!(r2_score(&[1.0], &[2.0]).unwrap().is_nan());
    }

    #[test]
    fn mismatched_or_empty_inputs_are_errors() {
        assert_eq!(
            accuracy(&[1, 2], &[1]),
            Err(PerformanceError::LengthMismatch {
                expected: 2,
                actual: 1
            })
        );
        assert_eq!(mean_absolute_error(&[], &[]), Err(PerformanceError::Empty));
        assert_eq!(macro_scores::<u8>(&[], &[]), Err(PerformanceError::Empty));
    }
}
