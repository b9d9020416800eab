//! Drift reports as self-contained HTML pages: a summary, the per-column test results, and an SVG
//! histogram of reference against current for each column. No scripts, no external assets, and
//! only aggregated counts — never raw rows — so a report can be shared safely.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use galley_monitoring::drift::{ColumnDrift, DatasetDrift};
use galley_monitoring::profile::{ColumnProfile, ColumnValues};

use crate::service::{ColumnComparison, Evaluation};

/// Bars per numeric histogram.
const BINS: usize = 20;
/// Categories drawn per categorical column; the rest are summed as "other".
const MAX_CATEGORIES: usize = 20;
const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 160.0;

/// A score for people: p-values span many orders of magnitude, so small ones are scientific.
pub fn format_score(score: f64) -> String {
    if score != 0.0 && score.abs() < 1e-3 {
        format!("{score:.3e}")
    } else {
        format!("{score:.6}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Shares of reference and current per bar, with the bars' labels.
struct Bars {
    labels: Vec<String>,
    reference: Vec<f64>,
    current: Vec<f64>,
}

fn shares(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    counts
        .iter()
        .map(|c| if total > 0.0 { c / total } else { 0.0 })
        .collect()
}

fn numeric_bars(reference: &ColumnProfile, current: &ColumnProfile) -> Option<Bars> {
    let (ColumnValues::Numeric(r), ColumnValues::Numeric(c)) = (&reference.values, &current.values)
    else {
        return None;
    };
    let low = r.min()?.min(c.min()?);
    let high = r.max()?.max(c.max()?);
    let width = if high > low {
        (high - low) / BINS as f64
    } else {
        1.0
    };
    let mut edges: Vec<f64> = (0..=BINS).map(|i| low + width * i as f64).collect();
    // Rounding must not leave the largest value outside the last (closed) bin.
    edges[BINS] = edges[BINS].max(high);
    let count = |d: &galley_monitoring::profile::NumericDistribution| {
        let counts: Vec<f64> = d.histogram(&edges).into_iter().map(|n| n as f64).collect();
        shares(&counts)
    };
    Some(Bars {
        labels: edges[..BINS].iter().map(|e| format!("{e:.4}")).collect(),
        reference: count(r),
        current: count(c),
    })
}

fn categorical_bars(reference: &ColumnProfile, current: &ColumnProfile) -> Option<Bars> {
    let counts = |p: &ColumnProfile| -> Option<BTreeMap<String, f64>> {
        match &p.values {
            ColumnValues::Categorical(c) => Some(
                c.counts()
                    .iter()
                    .map(|(k, n)| (k.clone(), *n as f64))
                    .collect(),
            ),
            ColumnValues::Numeric(n) if n.values().len() <= MAX_CATEGORIES => Some(
                n.values()
                    .iter()
                    .zip(n.counts())
                    .map(|(v, n)| (v.to_string(), *n as f64))
                    .collect(),
            ),
            ColumnValues::Numeric(_) => None,
        }
    };
    let (r, c) = (counts(reference)?, counts(current)?);
    let mut keys: Vec<(&String, f64)> = r
        .keys()
        .chain(c.keys())
        .map(|k| (k, r.get(k).unwrap_or(&0.0) + c.get(k).unwrap_or(&0.0)))
        .collect();
    keys.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    keys.dedup_by(|a, b| a.0 == b.0);
    let shown: Vec<&String> = keys.iter().take(MAX_CATEGORIES).map(|(k, _)| *k).collect();
    let column = |m: &BTreeMap<String, f64>| {
        let mut values: Vec<f64> = shown.iter().map(|k| *m.get(*k).unwrap_or(&0.0)).collect();
        if keys.len() > MAX_CATEGORIES {
            let other: f64 = m
                .iter()
                .filter(|(k, _)| !shown.contains(k))
                .map(|(_, n)| n)
                .sum();
            values.push(other);
        }
        shares(&values)
    };
    let mut labels: Vec<String> = shown.iter().map(|k| (*k).clone()).collect();
    if keys.len() > MAX_CATEGORIES {
        labels.push("other".to_owned());
    }
    Some(Bars {
        labels,
        reference: column(&r),
        current: column(&c),
    })
}

fn svg(bars: &Bars) -> String {
    let n = bars.labels.len().max(1);
    let peak = bars
        .reference
        .iter()
        .chain(&bars.current)
        .fold(0.0f64, |a, &b| a.max(b))
        .max(1e-12);
    let slot = WIDTH / n as f64;
    let bar = slot * 0.4;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{}" role="img">"#,
        HEIGHT + 20.0
    );
    for (i, label) in bars.labels.iter().enumerate() {
        let x = slot * i as f64;
        for (offset, value, class) in [
            (0.0, bars.reference[i], "ref"),
            (bar, bars.current[i], "cur"),
        ] {
            let h = HEIGHT * value / peak;
            let _ = write!(
                out,
                r#"<rect class="{class}" x="{:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}"><title>{}: {:.2}%</title></rect>"#,
                x + slot * 0.1 + offset,
                HEIGHT - h,
                escape(label),
                value * 100.0
            );
        }
    }
    let _ = write!(
        out,
        r#"<text x="0" y="{}" class="axis">{}</text><text x="{WIDTH}" y="{}" class="axis" text-anchor="end">{}</text></svg>"#,
        HEIGHT + 15.0,
        escape(bars.labels.first().map_or("", String::as_str)),
        HEIGHT + 15.0,
        escape(bars.labels.last().map_or("", String::as_str)),
    );
    out
}

fn column_section(drift: &ColumnDrift, comparison: Option<&ColumnComparison>) -> String {
    let verdict = if drift.drift_detected { "drift" } else { "ok" };
    let mut out = format!(
        r#"<section><h3>{} <span class="{verdict}">{}</span></h3><p>{} test <b>{}</b>: score {} (threshold {})</p>"#,
        escape(&drift.column),
        if drift.drift_detected {
            "drift detected"
        } else {
            "no drift"
        },
        escape(&drift.r#type.to_string()),
        escape(&drift.test.to_string()),
        format_score(drift.score),
        drift.threshold
    );
    if let Some(c) = comparison {
        let bars = numeric_bars(&c.reference, &c.current)
            .filter(|_| drift.r#type.to_string() == "numerical")
            .or_else(|| categorical_bars(&c.reference, &c.current));
        if let Some(bars) = bars {
            out.push_str(&svg(&bars));
        }
    }
    out.push_str("</section>");
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}\
.drift{color:#b00020}.ok{color:#1b7f3b}.ref{fill:#9aa5b1}.cur{fill:#d9534f}\
.axis{font-size:11px;fill:#555}section{margin:1.5em 0}";

fn page(
    title: &str,
    subtitle: &str,
    drift: &DatasetDrift,
    comparisons: &[ColumnComparison],
) -> String {
    let mut out = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{0}</title><style>{STYLE}</style></head><body><h1>{0}</h1><p>{1}</p>",
        escape(title),
        escape(subtitle)
    );
    let _ = write!(
        out,
        r#"<h2 class="{}">Dataset drift: {}</h2><p>{} of {} columns drifted (share {:.3}; dataset drift when ≥ {}). Reference in grey, current in red.</p><table><tr><th>column</th><th>type</th><th>test</th><th>score</th><th>threshold</th><th>drift</th></tr>"#,
        if drift.dataset_drift { "drift" } else { "ok" },
        if drift.dataset_drift {
            "detected"
        } else {
            "not detected"
        },
        drift.number_of_drifted_columns,
        drift.number_of_columns,
        drift.drift_share,
        drift.drift_share_threshold
    );
    for c in &drift.columns {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="{}">{}</td></tr>"#,
            escape(&c.column),
            escape(&c.r#type.to_string()),
            escape(&c.test.to_string()),
            format_score(c.score),
            c.threshold,
            if c.drift_detected { "drift" } else { "ok" },
            c.drift_detected
        );
    }
    out.push_str("</table>");
    for c in &drift.columns {
        out.push_str(&column_section(
            c,
            comparisons.iter().find(|x| x.column == c.column),
        ));
    }
    out.push_str("</body></html>");
    out
}

/// The report for two datasets compared offline.
pub fn drift_report(
    reference: &str,
    current: &str,
    drift: &DatasetDrift,
    comparisons: &[ColumnComparison],
) -> String {
    page(
        "Drift report",
        &format!("reference: {reference}; current: {current}"),
        drift,
        comparisons,
    )
}

/// The report for one evaluated window of a deployment.
pub fn evaluation_report(evaluation: &Evaluation) -> String {
    let subtitle = format!(
        "deployment {} (model {} version {}), window {}..{} ms, {} rows",
        evaluation.deployment,
        evaluation.model,
        evaluation.version,
        evaluation.window.start,
        evaluation.window.end,
        evaluation.rows
    );
    match &evaluation.drift {
        Some(drift) => page("Drift report", &subtitle, drift, &evaluation.comparisons),
        None => format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Drift report</title><style>{STYLE}</style></head><body><h1>Drift report</h1><p>{}</p><p>No logged predictions in this window.</p></body></html>",
            escape(&subtitle)
        ),
    }
}
