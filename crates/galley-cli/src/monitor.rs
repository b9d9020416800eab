//! `galley monitor drift`: the drift statistics on two local files, no server needed, so data can
//! be checked before anything is deployed.

use std::path::PathBuf;

use anyhow::Context as _;
use galley_monitoring::drift::{DriftOptions, DriftTest};
use galley_monitoring_runtime::html;
use galley_monitoring_runtime::offline::drift_between_files;

pub struct DriftArgs {
    pub reference: PathBuf,
    pub current: PathBuf,
    pub columns: Vec<String>,
    /// `COLUMN=TEST` overrides.
    pub tests: Vec<String>,
    /// `COLUMN=VALUE` overrides.
    pub thresholds: Vec<String>,
    pub drift_share: Option<f64>,
    pub json: bool,
    pub html: Option<PathBuf>,
}

fn split<'a>(flag: &str, raw: &'a str) -> anyhow::Result<(&'a str, &'a str)> {
    raw.split_once('=')
        .filter(|(column, value)| !column.is_empty() && !value.is_empty())
        .with_context(|| format!("--{flag} takes COLUMN=VALUE, got '{raw}'"))
}

fn options(args: &DriftArgs) -> anyhow::Result<DriftOptions> {
    let mut options = DriftOptions::default();
    if let Some(share) = args.drift_share {
        options.drift_share = share;
    }
    for raw in &args.tests {
        let (column, test) = split("test", raw)?;
        let test: DriftTest = test
            .parse()
            .map_err(|e| anyhow::anyhow!("--test {raw}: {e}"))?;
        options
            .per_column
            .entry(column.to_owned())
            .or_default()
            .test = Some(test);
    }
    for raw in &args.thresholds {
        let (column, value) = split("threshold", raw)?;
        let value: f64 = value
            .parse()
            .with_context(|| format!("--threshold {raw}: not a number"))?;
        options
            .per_column
            .entry(column.to_owned())
            .or_default()
            .threshold = Some(value);
    }
    Ok(options)
}

/// Prints the verdict; answers whether the dataset drifted.
pub fn drift(args: &DriftArgs) -> anyhow::Result<bool> {
    let options = options(args)?;
    let result = drift_between_files(&args.reference, &args.current, &args.columns, &options)?;
    if let Some(out) = &args.html {
        let page = html::drift_report(
            &args.reference.display().to_string(),
            &args.current.display().to_string(),
            &result.drift,
            &result.comparisons,
        );
        std::fs::write(out, page).with_context(|| format!("cannot write {}", out.display()))?;
    }
    let drift = &result.drift;
    if args.json {
        println!("{}", serde_json::to_string_pretty(drift)?);
    } else {
        println!(
            "dataset drift: {} ({} of {} columns drifted, share {:.3}, threshold {})",
            drift.dataset_drift,
            drift.number_of_drifted_columns,
            drift.number_of_columns,
            drift.drift_share,
            drift.drift_share_threshold
        );
        let rows: Vec<Vec<String>> = drift
            .columns
            .iter()
            .map(|c| {
                vec![
                    c.column.clone(),
                    c.r#type.to_string(),
                    c.test.to_string(),
                    html::format_score(c.score),
                    c.threshold.to_string(),
                    c.drift_detected.to_string(),
                ]
            })
            .collect();
        crate::client::print_table(
            &["column", "type", "test", "score", "threshold", "drift"],
            &rows,
        );
    }
    Ok(drift.dataset_drift)
}
