//! Two-sample Kolmogorov-Smirnov test, matching `scipy.stats.ks_2samp(reference, current)` of
//! scipy 1.17 (two-sided, method "auto"), which is Evidently's "ks" test.
//!
//! scipy's "auto" computes the exact p-value when both samples have at most 10,000 values: the
//! lattice-path recursions of `_compute_prob_outside_square` (equal sizes) and
//! `_compute_outer_prob_inside_method` (Hodges, with Viehmann's 1-p recursion), on the statistic
//! rounded to a multiple of 1/lcm(n1, n2). Larger samples, and exact results outside [0, 1], use
//! `kstwo.sf(d, round(n1·n2/(n1+n2)))`, the finite-n Kolmogorov distribution of Simard &
//! L'Ecuyer (scipy's `_ksstats.py`: Ruben-Gambino, Durbin-Marsaglia-Tsang-Wang, Pomeranz,
//! Pelz-Good and the one-sided Smirnov sum). The ports keep scipy's operation order so p-values
//! agree to rounding; the one-sided Smirnov sum runs in double rather than double-double
//! precision, which costs at most about n·1e-16 relative.

use super::{nonempty, union_points, StatsError};
use crate::profile::NumericDistribution;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    /// The largest distance between the two empirical CDFs (rounded to a multiple of
    /// 1/lcm(n1, n2) when the exact method ran, as scipy reports it).
    pub statistic: f64,
    pub pvalue: f64,
}

/// scipy's "auto" computes exactly up to this many values per sample.
const MAX_AUTO_N: u64 = 10_000;

/// Evidently's drift score for "ks": the two-sided p-value.
pub fn ks_drift(
    reference: &NumericDistribution,
    current: &NumericDistribution,
) -> Result<f64, StatsError> {
    ks_2samp(reference, current).map(|r| r.pvalue)
}

pub fn ks_2samp(
    reference: &NumericDistribution,
    current: &NumericDistribution,
) -> Result<KsResult, StatsError> {
    let (n1, n2) = nonempty(reference.count(), current.count())?;
    let mut d = statistic(reference, current, n1, n2);
    if n1.max(n2) <= MAX_AUTO_N {
        let (rounded, pvalue) = exact_pvalue(n1, n2, d);
        if let Some(pvalue) = pvalue {
            return Ok(KsResult {
                statistic: rounded,
                pvalue: pvalue.clamp(0.0, 1.0),
            });
        }
        d = rounded;
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let effective_n = (m * n / (m + n)).round_ties_even();
    Ok(KsResult {
        statistic: d,
        pvalue: kstwo_sf(d, effective_n).clamp(0.0, 1.0),
    })
}

fn statistic(
    reference: &NumericDistribution,
    current: &NumericDistribution,
    n1: u64,
    n2: u64,
) -> f64 {
    let (mut c1, mut c2) = (0u64, 0u64);
    let (mut max_diff, mut min_diff) = (f64::NEG_INFINITY, f64::INFINITY);
    for (_, a, b) in union_points(reference, current) {
        c1 += a;
        c2 += b;
        let diff = c1 as f64 / n1 as f64 - c2 as f64 / n2 as f64;
        max_diff = max_diff.max(diff);
        min_diff = min_diff.min(diff);
    }
    let min_side = (-min_diff).clamp(0.0, 1.0);
    if min_side > max_diff {
        min_side
    } else {
        max_diff
    }
}

/// scipy's `_attempt_exact_2kssamp`: the statistic rounded to the lattice, and the p-value when
/// the computation lands in [0, 1].
fn exact_pvalue(n1: u64, n2: u64, d: f64) -> (f64, Option<f64>) {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let rounded = h as f64 / lcm as f64;
    if h == 0 {
        return (rounded, Some(1.0));
    }
    let p = if n1 == n2 {
        prob_outside_square(n1, h)
    } else {
        outer_prob_inside(n1.max(n2), n1.min(n2), g, h)
    };
    (rounded, (0.0..=1.0).contains(&p).then_some(p))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Pr(D_{n,n} >= h/n) as `2·A0·(1 − A1·(1 − A2·(…)))`, Horner-like to avoid cancellation.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as i64, h as i64);
    let mut p = 0.0;
    let mut k = (n as f64 / h as f64).floor() as i64;
    while k >= 0 {
        let mut p1 = 1.0;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// The share of lattice paths from (0,0) to (m,n) that leave the band |x/m − y/n| < h/lcm,
/// computed column by column over a sliding window (m ≥ n).
fn outer_prob_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n, g, h) = (m as i64, n as i64, g as i64, h as i64);
    let (mg, ng) = (m / g, n / g);
    let mut minj: i64 = 0;
    let mut maxj = ((h as f64 / mg as f64).ceil() as i64).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1).max(1) as usize;
    let mut a = vec![1.0f64; len_a];
    a[..(maxj.max(0) as usize).min(len_a)].fill(0.0);
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = ((((ng * i - h) as f64 / mg as f64).floor() as i64) + 1)
            .max(0)
            .min(n);
        maxj = (((ng * i + h) as f64 / mg as f64).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            let previous = a
                .get((jj + minj - lastminj) as usize)
                .copied()
                .unwrap_or(1.0);
            val = (previous * i as f64 + val * j as f64) / (i + j) as f64;
            if let Some(slot) = a.get_mut(jj as usize) {
                *slot = val;
            }
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = ((maxj - minj) as usize).min(len_a);
            let end = ((maxj - minj + lastlen - curlen) as usize).min(len_a);
            a[start..end].fill(1.0);
        }
    }
    a.get((maxj - minj - 1).max(0) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// `scipy.stats.kstwo.sf(d, n)`: the survival function of the two-sided one-sample KS statistic
/// for a sample of size `n` (a whole number ≥ 1, else NaN).
pub fn kstwo_sf(d: f64, n: f64) -> f64 {
    if !(n >= 1.0 && n == n.round()) || d.is_nan() {
        return f64::NAN;
    }
    if d <= 0.5 / n {
        return 1.0;
    }
    if d >= 1.0 {
        return 0.0;
    }
    kolmogn_sf(n as u64, d)
}

const E128: i32 = 128;
/// 2^128 and 2^-128: scipy rescales its running products by these to stay in range.
const EP128: f64 = 3.402_823_669_209_385e38;
const EM128: f64 = 2.938_735_877_055_719e-39;

/// scipy's `_kolmogn(n, x, cdf=False)`, choosing the algorithm by n and n·x².
fn kolmogn_sf(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        let prob = if n <= 140 {
            (1..=n).fold(1.0, |acc, i| {
                acc * (i as f64 * (1.0 / nf) * (2.0 * t - 1.0))
            })
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return (1.0 - prob).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        return (2.0 * (1.0 - x).powf(nf)).clamp(0.0, 1.0);
    }
    if x >= 0.5 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let nxsquared = t * x;
    if n <= 140 {
        let cdf = if nxsquared <= 0.754693 {
            dmtw_cdf(n, x)
        } else if nxsquared <= 4.0 {
            pomeranz_cdf(n, x)
        } else {
            return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
        };
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        dmtw_cdf(n, x)
    } else {
        pelz_good_cdf(n, x)
    };
    (1.0 - cdf).clamp(0.0, 1.0)
}

// scipy's digits, kept as published; they round to the same doubles.
#[allow(clippy::excessive_precision)]
const STIRLING_COEFFS: [f64; 8] = [
    -2.955065359477124183e-2,
    6.4102564102564102564e-3,
    -1.9175269175269175269e-3,
    8.4175084175084175084e-4,
    -5.952380952380952381e-4,
    7.9365079365079365079e-4,
    -2.7777777777777777778e-3,
    8.3333333333333333333e-2,
];

fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    let rn = 1.0 / n;
    let x = rn / n;
    let poly = STIRLING_COEFFS.iter().fold(0.0, |acc, &c| acc * x + c);
    n.ln() / 2.0 - n + (2.0 * std::f64::consts::PI).ln() / 2.0 + rn * poly
}

/// `x · 2^exponent` without overflowing the intermediate power of two.
fn ldexp(mut x: f64, mut exponent: i64) -> f64 {
    while exponent > 1000 {
        x *= 2f64.powi(1000);
        exponent -= 1000;
    }
    while exponent < -1000 {
        x *= 2f64.powi(-1000);
        exponent += 1000;
    }
    x * 2f64.powi(exponent as i32)
}

/// Durbin's matrix method as Marsaglia, Tsang & Wang: Pr(D_n <= d) from the k-th diagonal entry
/// of H^n, scaled by powers of 2^128 to stay in range.
fn dmtw_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powf(j as f64)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powf(m as f64) - 2.0 * h.powf(m as f64);
    v[m - 1] = (1.0 + tt) * fac;
    let mut hm = Matrix::zeros(m);
    for col in 1..m {
        for row in (col - 1)..m {
            hm.set(row, col, w[row + 1 - col]);
        }
    }
    for (row, &value) in v.iter().enumerate() {
        hm.set(row, 0, value);
    }
    for col in 0..m {
        hm.set(m - 1, col, v[m - 1 - col]);
    }
    let mut power = Matrix::identity(m);
    let (mut nn, mut exponent, mut h_exponent) = (n, 0i64, 0i64);
    while nn > 0 {
        if nn % 2 == 1 {
            power = power.mul(&hm);
            exponent += h_exponent;
        }
        hm = hm.mul(&hm);
        h_exponent *= 2;
        if hm.get(k - 1, k - 1).abs() > EP128 {
            hm.scale(1.0 / EP128);
            h_exponent += i64::from(E128);
        }
        nn /= 2;
    }
    let mut p = power.get(k - 1, k - 1);
    for i in 1..=n {
        p = i as f64 * p / n as f64;
        if p.abs() < EM128 {
            p *= EP128;
            exponent -= i64::from(E128);
        }
    }
    if exponent != 0 {
        p = ldexp(p, exponent);
    }
    p
}

/// A small dense square matrix, row-major.
struct Matrix {
    size: usize,
    cells: Vec<f64>,
}

impl Matrix {
    fn zeros(size: usize) -> Matrix {
        Matrix {
            size,
            cells: vec![0.0; size * size],
        }
    }

    fn identity(size: usize) -> Matrix {
        let mut m = Matrix::zeros(size);
        for i in 0..size {
            m.set(i, i, 1.0);
        }
        m
    }

    fn get(&self, row: usize, col: usize) -> f64 {
        self.cells[row * self.size + col]
    }

    fn set(&mut self, row: usize, col: usize, value: f64) {
        self.cells[row * self.size + col] = value;
    }

    fn scale(&mut self, factor: f64) {
        self.cells.iter_mut().for_each(|c| *c *= factor);
    }

    fn mul(&self, other: &Matrix) -> Matrix {
        let mut out = Matrix::zeros(self.size);
        for i in 0..self.size {
            for k in 0..self.size {
                let a = self.get(i, k);
                for j in 0..self.size {
                    out.cells[i * self.size + j] += a * other.get(k, j);
                }
            }
        }
        out
    }
}

/// Pomeranz's recursion for Pr(D_n <= x), convolving rows of powers of g/n, 2g/n and (1−2g)/n.
fn pomeranz_cdf(n: u64, x: f64) -> f64 {
    let n = n as i64;
    let t = n as f64 * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;
    let powers = |ratio: f64| {
        let mut p = vec![1.0; npwrs];
        for m in 1..npwrs {
            p[m] = p[m - 1] * ratio / m as f64;
        }
        p
    };
    let nf = n as f64;
    let gpower = powers(g / nf);
    let twogpower = powers(2.0 * g / nf);
    let onem2gpower = powers((1.0 - 2.0 * g) / nf);
    let mut v0 = vec![0.0; npwrs];
    let mut v1 = vec![0.0; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s) = (0i64, 0i64);
    let mut exponent = 0i64;
    let mut j1 = pomeranz_j1j2(0, n, ll, ceilf, roundf).0;
    for i in 1..(2 * n + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        v1.fill(0.0);
        let (next_j1, j2) = pomeranz_j1j2(i, n, ll, ceilf, roundf);
        j1 = next_j1;
        let pwrs = if i == 1 || i == 2 * n + 1 {
            &gpower
        } else if i % 2 == 1 {
            &twogpower
        } else {
            &onem2gpower
        };
        let ln2 = j2 - k1 + 1;
        if ln2 > 0 {
            let start = (k1 - v0s).max(0) as usize;
            let row = slice_clamped(&v0, start, start + ln2 as usize);
            let conv = convolve(row, slice_clamped(pwrs, 0, ln2 as usize));
            let conv_start = (j1 - k1).max(0) as usize;
            let conv_len = (j2 - j1 + 1).max(0) as usize;
            let kept = slice_clamped(&conv, conv_start, conv_start + conv_len);
            v1[..kept.len().min(npwrs)].copy_from_slice(&kept[..kept.len().min(npwrs)]);
            let largest = v1.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < largest && largest < EM128 {
                v1.iter_mut().for_each(|v| *v *= EP128);
                exponent -= i64::from(E128);
            }
            v1s = v0s + j1 - k1;
        }
    }
    let mut ans = v1.get((n - v1s).max(0) as usize).copied().unwrap_or(0.0);
    for m in 1..=n {
        if ans.abs() > EP128 {
            ans *= EM128;
            exponent += i64::from(E128);
        }
        ans *= m as f64;
    }
    if exponent != 0 {
        ans = ldexp(ans, exponent);
    }
    ans
}

fn slice_clamped(values: &[f64], start: usize, end: usize) -> &[f64] {
    let end = end.min(values.len());
    &values[start.min(end)..end]
}

/// `np.convolve(a, b)` in "full" mode.
fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, &x) in a.iter().enumerate() {
        for (j, &y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let (half, odd_i) = ((i + 1) / 2, (i + 1) % 2 == 0);
        if odd_i && half == n + 1 {
            (n - ll - ceilf - 1, n + ll + ceilf - 1)
        } else if odd_i {
            (half - 1 - ll - roundf - 1, half + ll - 1 + ceilf - 1)
        } else {
            (half - 1 - ll - 1, half + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// The Pelz-Good asymptotic series for Pr(D_n <= x), for large n.
fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    use std::f64::consts::PI;
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let (zsquared, zthree, zfour, zsix) = (z.powi(2), z.powi(3), z.powi(4), z.powi(6));
    let qlog = -PI * PI / 8.0 / zsquared;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));
    let k1a = -zsquared;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * zsix + 2.0 * zfour;
    let k2b = (2.0 * zfour - 5.0 * zsquared) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * zsquared) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * zsquared) / 64.0;
    let k3c = pi4 * (-60.0 * zsquared + 212.0 * zfour) / 16.0;
    let k3b = pi2 * (135.0 * zfour - 96.0 * zsix) / 4.0;
    let k3a = -30.0 * zsix - 90.0 * z.powi(8);
    let mut k = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for kk in (1..=maxk).rev() {
        let m = (2 * kk - 1) as f64;
        let (msquared, mfour, msix) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf((8 * kk) as f64);
        let coeffs = [
            1.0,
            k1a + k1b * msquared,
            k2a + k2b * msquared + k2c * mfour,
            k3a + k3b * msquared + k3c * mfour + k3d * msix,
        ];
        for (acc, c) in k.iter_mut().zip(coeffs) {
            *acc = *acc * qpower + c;
        }
    }
    let sqrt2pi = (2.0 * PI).sqrt();
    let divisors = [z, 6.0 * zfour, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (acc, divisor) in k.iter_mut().zip(divisors) {
        *acc = *acc * q * sqrt2pi / divisor;
    }
    let q = (-pi2 / 2.0 / zsquared).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for kk in (1..=maxk).rev() {
        let ksquared = (kk * kk) as f64;
        let qpower = q.powf(ksquared);
        let kspi = PI * kk as f64;
        k2extra += ksquared * qpower;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpower;
    }
    k[2] += k2extra * pi2 * sqrt2pi / (-36.0 * zthree);
    k[3] += k3extra * pi2 * sqrt2pi / (216.0 * zsix);
    k.iter()
        .enumerate()
        .map(|(i, &term)| term / nf.powf(i as f64 / 2.0))
        .sum()
}

/// Natural log of the smallest positive normal double's neighbourhood: cephes' MINLOG.
const MINLOG: f64 = -7.083_964_185_322_641e2;

/// `scipy.special.smirnov(n, x)`: Pr(D+_n >= x) for the one-sided statistic, by the
/// Birnbaum-Tingey sum over v = 0..floor(n(1−x)) of C(n,v)·x·(x+v/n)^(v−1)·(1−x−v/n)^(n−v),
/// the branch scipy takes for every argument kolmogn passes (x ≥ 0.5 or n·x² ≥ 2.2). Terms are
/// formed in logarithms with n·x split exactly (fused multiply-add) so no base loses precision.
fn smirnov_sf(n: u64, x: f64) -> f64 {
    if !(0.0..=1.0).contains(&x) || n == 0 {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let (nx_hi, nx_lo) = (nf * x, nf.mul_add(x, -(nf * x)));
    let (mut nxfl, mut alpha) = floor_and_fraction(nx_hi, nx_lo);
    if alpha == 1.0 {
        nxfl += 1;
        alpha = 0.0;
    }
    if nxfl == 0 || (nxfl == 1 && alpha == 0.0) {
        let cdf = x * pow_with_low_part(1.0 + x, (1.0 - (1.0 + x)) + x, nf - 1.0);
        return 1.0 - cdf;
    }
    if -2.0 * nf * x * x < MINLOG {
        return 0.0;
    }
    if nxfl >= n as i64 - 1 {
        return pow_with_low_part(1.0 - x, (1.0 - (1.0 - x)) - x, nf);
    }
    if n > 1_000_000 {
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 + logp.exp_m1()
        };
    }
    // The last v below n(1 − x), excluding v = n(1 − x) itself when n·x is whole.
    let n_terms = n as i64 - nxfl;
    let vmid = n as i64 / 2;
    let mut sum = pow_with_low_part(1.0 - x, (1.0 - (1.0 - x)) - x, nf) / x;
    let mut compensation = 0.0;
    let mut binomial = Scaled::new(nf, 0.0);
    for v in 1..n_terms {
        let vf = v as f64;
        // 1 − x − v/n and x + v/n, each from n·x held as hi + lo.
        let (below_hi, below_lo) = two_sum(nf - vf, -nx_hi);
        let below = divide(below_hi, below_lo - nx_lo, nf);
        let (above_hi, above_lo) = two_sum(vf, nx_hi);
        let above = divide(above_hi, above_lo + nx_lo, nf);
        let term = binomial
            .mul(below.powi(n - v as u64))
            .mul(above.powi(v as u64 - 1))
            .to_f64();
        if term.is_finite() && term != 0.0 {
            let next = sum + term;
            compensation += (sum - next) + term;
            sum = next;
            if 4.0 * (n_terms - v) as f64 * term < f64::EPSILON * sum && v != n_terms - 1 {
                break;
            }
        } else if term == 0.0 && v > vmid {
            break;
        }
        binomial = binomial.mul(divide(nf - vf, 0.0, vf + 1.0));
    }
    (x * (sum + compensation)).clamp(0.0, 1.0)
}

/// A positive number as `(hi + lo)·2^exponent` with `hi` in [0.5, 1): about twice double
/// precision and an unbounded exponent, for the binomial coefficients and powers of the Smirnov
/// sum, which overflow and underflow doubles long before their product does.
#[derive(Debug, Clone, Copy)]
struct Scaled {
    hi: f64,
    lo: f64,
    exponent: i64,
}

impl Scaled {
    fn new(hi: f64, lo: f64) -> Scaled {
        Scaled::normalized(hi, lo, 0)
    }

    fn normalized(hi: f64, lo: f64, exponent: i64) -> Scaled {
        let (hi, lo) = two_sum(hi, lo);
        if hi == 0.0 || !hi.is_finite() {
            return Scaled {
                hi,
                lo: 0.0,
                exponent,
            };
        }
        let shift = frexp_exponent(hi);
        Scaled {
            hi: ldexp(hi, -shift),
            lo: ldexp(lo, -shift),
            exponent: exponent + shift,
        }
    }

    fn mul(self, other: Scaled) -> Scaled {
        let product = self.hi * other.hi;
        let error = self.hi.mul_add(other.hi, -product) + (self.hi * other.lo + self.lo * other.hi);
        Scaled::normalized(product, error, self.exponent + other.exponent)
    }

    fn powi(self, mut m: u64) -> Scaled {
        let (mut result, mut base) = (Scaled::new(1.0, 0.0), self);
        while m > 0 {
            if m % 2 == 1 {
                result = result.mul(base);
            }
            base = base.mul(base);
            m /= 2;
        }
        result
    }

    fn to_f64(self) -> f64 {
        ldexp(self.hi + self.lo, self.exponent)
    }
}

/// `a + b` as the rounded sum and its exact error.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let sum = a + b;
    let b_part = sum - a;
    (sum, (a - (sum - b_part)) + (b - b_part))
}

/// `(hi + lo) / d` to about twice double precision.
fn divide(hi: f64, lo: f64, d: f64) -> Scaled {
    let q = hi / d;
    let remainder = (-q).mul_add(d, hi);
    Scaled::new(q, (remainder + lo) / d)
}

/// The exponent `e` with `x = m·2^e`, `m` in [0.5, 1), for finite non-zero `x`.
fn frexp_exponent(x: f64) -> i64 {
    let biased = ((x.to_bits() >> 52) & 0x7ff) as i64;
    if biased == 0 {
        return frexp_exponent(x * 2f64.powi(64)) - 64;
    }
    biased - 1022
}

/// floor(hi + lo) and the fractional part, for n·x held as an unevaluated sum.
fn floor_and_fraction(hi: f64, lo: f64) -> (i64, f64) {
    let mut floor = hi.floor();
    if floor == hi {
        floor += lo.floor();
    }
    (floor as i64, (hi - floor) + lo)
}

/// (hi + lo)^m for a base known to more than double precision, as xsf's `pow_D`.
fn pow_with_low_part(hi: f64, lo: f64, m: f64) -> f64 {
    if hi == 0.0 {
        return 0.0;
    }
    let ans = hi.powf(m);
    let r = lo / hi;
    let mut adj = m * r;
    if adj.abs() > 1e-8 {
        adj = if adj.abs() < 1e-4 {
            adj + (m * r) * ((m - 1.0) / 2.0 * r)
        } else {
            (m * r.ln_1p()).exp_m1()
        };
    }
    ans + ans * adj
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-9 * expected.abs() + 1e-12
    }

    fn dist(values: &[f64]) -> NumericDistribution {
        NumericDistribution::from_values(values)
    }

    #[test]
    fn hand_checkable_cases() {
        // Identical samples: D = 0, p = 1.
        let same = ks_2samp(&dist(&[1.0, 2.0, 3.0]), &dist(&[1.0, 2.0, 3.0])).unwrap();
        assert_eq!((same.statistic, same.pvalue), (0.0, 1.0));
        // scipy.stats.ks_2samp([1.0], [2.0]) -> statistic 1.0, pvalue 1.0
        let single = ks_2samp(&dist(&[1.0]), &dist(&[2.0])).unwrap();
        assert_eq!((single.statistic, single.pvalue), (1.0, 1.0));
        assert_eq!(
            ks_2samp(&dist(&[]), &dist(&[1.0])),
            Err(StatsError::EmptyReference)
        );
    }

    #[test]
    fn exact_path_matches_scipy() {
        // scipy.stats.ks_2samp([0,1,2,3,4], [3,4,5,6,7,8,9]) -> (0.7142857142857143, 0.06565656565656565)
        let r = ks_2samp(
            &dist(&[0.0, 1.0, 2.0, 3.0, 4.0]),
            &dist(&[3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]),
        )
        .unwrap();
        assert!(
            close(r.statistic, 0.7142857142857143) && close(r.pvalue, 0.06565656565656565),
            "{r:?}"
        );
        // scipy.stats.ks_2samp(np.arange(10), np.arange(10) + 3) -> (0.3, 0.7869297884777761)
        let a: Vec<f64> = (0..10).map(f64::from).collect();
        let b: Vec<f64> = (3..13).map(f64::from).collect();
        let r = ks_2samp(&dist(&a), &dist(&b)).unwrap();
        assert!(
            close(r.statistic, 0.3) && close(r.pvalue, 0.7869297884777761),
            "{r:?}"
        );
    }

    #[test]
    fn kstwo_sf_matches_scipy_in_every_branch() {
        // scipy.stats.kstwo.sf(d, n) for each algorithm _kolmogn selects.
        let cases = [
            (0.1, 5.0, 1.0),                        // d <= 0.5/n
            (0.08, 10.0, 0.9999978058034054),       // Ruben-Gambino, n·d <= 1
            (0.003, 300.0, 1.0),                    // n·d <= 1, n > 140
            (0.9, 10.0, 1.9999999999999957e-10),    // n·d >= n - 1
            (0.6, 10.0, 0.0005681672000000003),     // d >= 0.5: 2·smirnov
            (0.15, 20.0, 0.7044671549442872),       // DMTW, n <= 140
            (0.35, 20.0, 0.01075496344438931),      // Pomeranz
            (0.48, 30.0, 7.034958159271049e-07),    // n <= 140, 2·smirnov
            (0.03, 200.0, 0.991436524714942),       // DMTW, n > 140
            (0.11, 200.0, 0.014579948726993197),    // n·d² >= 2.2: 2·smirnov
            (0.05, 200.0, 0.6802625495871704),      // Pelz-Good
            (0.01, 20000.0, 0.03638603905248727),   // Pelz-Good
            (0.004, 100001.0, 0.08129888811128061), // Pelz-Good, n > 100000
            (0.5, 2000.0, 0.0),                     // n·d² >= 370
        ];
        for (d, n, expected) in cases {
            let actual = kstwo_sf(d, n);
            assert!(
                close(actual, expected),
                "kstwo.sf({d}, {n}) = {actual}, scipy {expected}"
            );
        }
    }

    proptest! {
        #[test]
        fn pvalue_is_a_probability_and_the_statistic_is_symmetric(
            a in prop::collection::vec(-20i32..20, 1..60),
            b in prop::collection::vec(-20i32..20, 1..60),
        ) {
            let a = dist(&a.into_iter().map(f64::from).collect::<Vec<_>>());
            let b = dist(&b.into_iter().map(f64::from).collect::<Vec<_>>());
            let ab = ks_2samp(&a, &b).unwrap();
            let ba = ks_2samp(&b, &a).unwrap();
            prop_assert!((0.0..=1.0).contains(&ab.pvalue));
            prop_assert_eq!(ab.statistic, ba.statistic);
            prop_assert!((ab.pvalue - ba.pvalue).abs() <= 1e-12);
        }
    }
}
