//! The `post_transform` attribute of the ONNX-ML tree operators, computed the way onnxruntime
//! does (in f32, with its erfinv approximation for PROBIT) so scores match it closely.

use tract_onnx::tract_hir::internal::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PostTransform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

impl PostTransform {
    pub(crate) fn parse(value: Option<&str>) -> TractResult<PostTransform> {
        Ok(match value.unwrap_or("NONE") {
            "NONE" => PostTransform::None,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX" => PostTransform::Softmax,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            other => bail!("unknown post_transform {other:?}"),
        })
    }

    /// Applies the transform to one row of two or more scores.
    pub(crate) fn apply(self, scores: &mut [f32]) {
        match self {
            PostTransform::None => {}
            PostTransform::Logistic => scores.iter_mut().for_each(|s| *s = logistic(*s)),
            PostTransform::Softmax => softmax(scores),
            PostTransform::SoftmaxZero => softmax_zero(scores),
            PostTransform::Probit => scores.iter_mut().for_each(|s| *s = probit(*s)),
        }
    }
}

pub(crate) fn logistic(value: f32) -> f32 {
    // exp of a non-positive number never overflows.
    let v = 1.0 / (1.0 + (-value.abs()).exp());
    if value < 0.0 {
        1.0 - v
    } else {
        v
    }
}

pub(crate) fn softmax(values: &mut [f32]) {
    let max = values.iter().copied().fold(-f32::MAX, f32::max);
    let mut sum = 0.0;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    values.iter_mut().for_each(|v| *v /= sum);
}

/// Softmax over the non-zero scores only: onnxruntime treats |v| <= 1e-7 as "no score" and
/// leaves it (scaled) near zero instead of giving it exp(0).
pub(crate) fn softmax_zero(values: &mut [f32]) {
    let max = values.iter().copied().fold(-f32::MAX, f32::max);
    let exp_neg_max = (-max).exp();
    let mut sum = 0.0;
    for v in values.iter_mut() {
        if *v > 0.000_000_1 || *v < -0.000_000_1 {
            *v = (*v - max).exp();
            sum += *v;
        } else {
            *v *= exp_neg_max;
        }
    }
    values.iter_mut().for_each(|v| *v /= sum);
}

pub(crate) fn probit(value: f32) -> f32 {
    std::f32::consts::SQRT_2 * erf_inv(2.0 * value - 1.0)
}

/// Winitzki's approximation with a = 0.147, in f32 as onnxruntime computes it: PROBIT outputs
/// must agree with onnxruntime's (they do bit for bit), not with the exact inverse error function
/// (which differs by up to 1e-4).
fn erf_inv(x: f32) -> f32 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = (1.0 - x) * (1.0 + x);
    let log = x.ln();
    let v = 2.0 / (std::f32::consts::PI * 0.147) + 0.5 * log;
    let v2 = 1.0 / 0.147 * log;
    let v3 = -v + (v * v - v2).sqrt();
    sign * v3.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_is_symmetric_and_stable() {
        assert_eq!(logistic(0.0), 0.5);
        assert!((logistic(2.0) + logistic(-2.0) - 1.0).abs() < 1e-7);
        assert_eq!(logistic(1000.0), 1.0);
        assert_eq!(logistic(-1000.0), 0.0);
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut v = [1.0, 2.0, 3.0];
        softmax(&mut v);
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(v[2] > v[1] && v[1] > v[0]);
    }

    #[test]
    fn softmax_zero_keeps_zeros_at_zero() {
        let mut v = [0.0, 0.2, 0.5];
        softmax_zero(&mut v);
        assert_eq!(v[0], 0.0);
        assert!((v[1] + v[2] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn probit_matches_onnxruntime_values() {
        // Values onnxruntime 1.32 returned for these scores (see tree_ensemble_variants).
        assert!((probit(0.6) - 0.253_353_5).abs() < 1e-6, "{}", probit(0.6));
        assert!((probit(0.2) + 0.841_756_1).abs() < 1e-6, "{}", probit(0.2));
        assert_eq!(probit(0.0), f32::NEG_INFINITY);
    }

    #[test]
    fn unknown_transforms_are_refused() {
        assert!(PostTransform::parse(Some("TANH")).is_err());
        assert_eq!(PostTransform::parse(None).unwrap(), PostTransform::None);
    }
}
