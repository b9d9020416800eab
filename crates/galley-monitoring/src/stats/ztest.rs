//! Evidently's "z" drift test: a two-proportion Z-test of the share of values other than the
//! smallest category, two-sided, with p = `2·(1 − Φ(|z|))` computed as Evidently does.

use super::{AlignedCounts, StatsError};

/// Evidently's "z" drift score. When both samples hold one and the same single category the
/// p-value is 1. Otherwise category 0 (the smallest) is compared against all others with the
/// pooled proportion. The p-value is `2·(1 − ndtr(|z|))` rather than `2·sf(|z|)`, so it reaches 0
/// for |z| above about 8.3, exactly as Evidently reports it.
pub fn z_test_drift(counts: &AlignedCounts) -> Result<f64, StatsError> {
    let (n1, n2) = counts.totals()?;
    let present = |c: &[u64]| c.iter().filter(|&&x| x > 0).count();
    let single_shared = present(&counts.reference) == 1
        && present(&counts.current) == 1
        && counts
            .reference
            .iter()
            .zip(&counts.current)
            .any(|(&r, &c)| r > 0 && c > 0);
    if single_shared {
        return Ok(1.0);
    }
    let others = |c: &[u64], n: u64| (n - c.first().copied().unwrap_or(0)) as f64;
    let (n1, n2) = (n1 as f64, n2 as f64);
    let p1 = others(&counts.reference, n1 as u64) / n1;
    let p2 = others(&counts.current, n2 as u64) / n2;
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    Ok(2.0 * (1.0 - ndtr(z.abs())))
}

/// `scipy.special.ndtr`, the standard normal CDF, as cephes computes it (its own erf and erfc
/// rational approximations): Evidently's p-value subtracts it from 1, so its last bits show.
pub(crate) fn ndtr(a: f64) -> f64 {
    if a.is_nan() {
        return f64::NAN;
    }
    let x = a * std::f64::consts::FRAC_1_SQRT_2;
    let z = x.abs();
    if z < 1.0 {
        0.5 + 0.5 * erf(x)
    } else {
        let y = 0.5 * erfc(z);
        if x > 0.0 {
            1.0 - y
        } else {
            y
        }
    }
}

// cephes' coefficients with their published digits; they round to the same doubles.
#[allow(clippy::excessive_precision)]
const ERFC_P: [f64; 9] = [
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
];
#[allow(clippy::excessive_precision)]
const ERFC_Q: [f64; 8] = [
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
];
#[allow(clippy::excessive_precision)]
const ERFC_R: [f64; 6] = [
    5.64189583547755073984e-1,
    1.27536670759978104416e0,
    5.01905042251180477414e0,
    6.16021097993053585195e0,
    7.40974269950448939160e0,
    2.97886665372100240670e0,
];
#[allow(clippy::excessive_precision)]
const ERFC_S: [f64; 6] = [
    2.26052863220117276590e0,
    9.39603524938001434673e0,
    1.20489539808096656605e1,
    1.70814450747565897222e1,
    9.60896809063285878198e0,
    3.36907645100081516050e0,
];
#[allow(clippy::excessive_precision)]
const ERF_T: [f64; 5] = [
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
];
#[allow(clippy::excessive_precision)]
const ERF_U: [f64; 5] = [
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
];
/// cephes' MAXLOG: exp of anything below its negative underflows.
const MAXLOG: f64 = 7.097_827_128_933_84e2;

/// cephes `polevl`: the polynomial with the given coefficients, highest degree first.
fn polevl(x: f64, coefficients: &[f64]) -> f64 {
    coefficients.iter().fold(0.0, |acc, &c| acc * x + c)
}

/// cephes `p1evl`: as [`polevl`] with an implicit leading coefficient 1.
fn p1evl(x: f64, coefficients: &[f64]) -> f64 {
    coefficients[1..]
        .iter()
        .fold(x + coefficients[0], |acc, &c| acc * x + c)
}

fn erf(x: f64) -> f64 {
    if x < 0.0 {
        return -erf(-x);
    }
    if x > 1.0 {
        return 1.0 - erfc(x);
    }
    let z = x * x;
    x * polevl(z, &ERF_T) / p1evl(z, &ERF_U)
}

fn erfc(a: f64) -> f64 {
    let x = a.abs();
    if x < 1.0 {
        return 1.0 - erf(a);
    }
    let z = -a * a;
    let y = if z < -MAXLOG {
        0.0
    } else {
        let (p, q) = if x < 8.0 {
            (polevl(x, &ERFC_P), p1evl(x, &ERFC_Q))
        } else {
            (polevl(x, &ERFC_R), p1evl(x, &ERFC_S))
        };
        z.exp() * p / q
    };
    if a < 0.0 {
        2.0 - y
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(reference: &[u64], current: &[u64]) -> AlignedCounts {
        AlignedCounts {
            reference: reference.to_vec(),
            current: current.to_vec(),
        }
    }

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-9 * expected.abs() + 1e-12
    }

    #[test]
    fn matches_evidently() {
        // Evidently _z_stat_test(pd.Series(list("aab")), pd.Series(list("abb")), ...) -> 0.4142161782425253
        let p = z_test_drift(&counts(&[2, 1], &[1, 2])).unwrap();
        assert!(close(p, 0.4142161782425253), "{p}");
        // 30 a / 70 b against 60 a / 40 b -> 2.0078656124189465e-05
        let p = z_test_drift(&counts(&[30, 70], &[60, 40])).unwrap();
        assert!(close(p, 2.0078656124189465e-05), "{p}");
        // "aaa" against "bbb" -> 0.014305878435429742
        let p = z_test_drift(&counts(&[3, 0], &[0, 3])).unwrap();
        assert!(close(p, 0.014305878435429742), "{p}");
    }

    #[test]
    fn one_shared_category_is_no_drift() {
        assert_eq!(z_test_drift(&counts(&[3], &[5])).unwrap(), 1.0);
        assert_eq!(z_test_drift(&counts(&[0, 3], &[0, 5])).unwrap(), 1.0);
    }

    #[test]
    fn ndtr_matches_scipy() {
        // scipy.special.ndtr
        assert!(close(ndtr(0.5), 0.6914624612740131));
        assert!(close(ndtr(-2.0), 0.022750131948179195));
        assert!(close(ndtr(3.0), 0.9986501019683699));
    }
}
