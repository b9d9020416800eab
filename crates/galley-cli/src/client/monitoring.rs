//! `galley monitor ...` against a server: reference profiles, labels, window evaluations, stored
//! results and drift reports.

use std::path::Path;

use anyhow::Context as _;
use galley_tables::arrow_array::Array as _;
use galley_tables::{ColumnChunk, Table};
use reqwest::Method;
use serde_json::{json, Value};

use super::{print_json, print_table, text, Client};

/// Labels per request: the server's bulk limit.
const LABELS_PER_REQUEST: usize = 10_000;

/// Where a reference dataset comes from.
pub enum ReferenceSource<'a> {
    File(&'a Path),
    RunArtifact { run_id: &'a str, path: &'a str },
}

pub struct ReferenceArgs<'a> {
    pub source: ReferenceSource<'a>,
    pub target: Option<&'a str>,
    pub prediction: Option<&'a str>,
    pub task: Option<&'a str>,
}

pub async fn reference(
    client: &Client,
    model: &str,
    version: &str,
    args: ReferenceArgs<'_>,
    json_out: bool,
) -> anyhow::Result<()> {
    let mut query: Vec<(&str, &str)> = Vec::new();
    for (key, value) in [
        ("target", args.target),
        ("prediction", args.prediction),
        ("task", args.task),
    ] {
        if let Some(value) = value {
            query.push((key, value));
        }
    }
    let body = match args.source {
        ReferenceSource::File(path) => {
            let format = match path.extension().and_then(|e| e.to_str()) {
                Some(e) if e.eq_ignore_ascii_case("parquet") => "parquet",
                _ => "csv",
            };
            query.push(("format", format));
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        ReferenceSource::RunArtifact { run_id, path } => {
            query.push(("run_id", run_id));
            query.push(("path", path));
            Vec::new()
        }
    };
    let segments = [
        "api",
        "v1",
        "models",
        model,
        "versions",
        version,
        "reference",
    ];
    let response = client
        .send_bytes(Method::PUT, &segments, &query, body)
        .await?;
    let reference = &response["reference"];
    if json_out {
        return print_json(reference);
    }
    println!(
        "reference for {} version {}: {} rows from {} (task: {})",
        text(&reference["model"]),
        text(&reference["version"]),
        text(&reference["rows"]),
        text(&reference["source"]),
        text(&reference["task"]),
    );
    let rows: Vec<Vec<String>> = reference["features"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let s = &f["summary"];
            vec![
                text(&f["name"]),
                text(&s["type"]),
                text(&s["count"]),
                text(&s["missing"]),
                text(&s["unique"]),
            ]
        })
        .collect();
    print_table(&["feature", "type", "count", "missing", "unique"], &rows);
    Ok(())
}

/// Reads `request_id`, `label` and optional `row` columns from a CSV or Parquet file.
fn labels_from_file(path: &Path) -> anyhow::Result<Vec<Value>> {
    let table = Table::open(path)?;
    let column = |name: &str| table.column_index(name);
    let (Some(request_id), Some(label)) = (column("request_id"), column("label")) else {
        anyhow::bail!(
            "{} needs the columns request_id and label (and optionally row)",
            path.display()
        );
    };
    let row = column("row");
    let mut projection = vec![request_id, label];
    projection.extend(row);
    let label_kind = table.columns()[label].kind;
    let mut labels = Vec::new();
    // Batches hold request_id, label and row, in that order.
    for batch in table.batches(&projection)? {
        let batch = batch?;
        let ids = ColumnChunk::read(
            "request_id",
            batch.column(0),
            galley_tables::ValueKind::Text,
        )?;
        let values = ColumnChunk::read("label", batch.column(1), label_kind)?;
        let rows = row
            .map(|_| ColumnChunk::read("row", batch.column(2), galley_tables::ValueKind::Float))
            .transpose()?;
        let ColumnChunk::Texts(ids) = ids else {
            unreachable!("read as text")
        };
        for i in 0..batch.num_rows() {
            let label = match &values {
                ColumnChunk::Numbers(v) if v.is_valid(i) => json!(v.value(i)),
                ColumnChunk::Texts(v) if v.is_valid(i) => json!(v.value(i)),
                _ => anyhow::bail!("{}: row {} has no label", path.display(), labels.len() + 1),
            };
            let row = match &rows {
                Some(ColumnChunk::Numbers(v)) if v.is_valid(i) => v.value(i) as i64,
                _ => 0,
            };
            labels.push(json!({ "request_id": ids.value(i), "row": row, "label": label }));
        }
    }
    Ok(labels)
}

pub enum LabelsSource<'a> {
    File(&'a Path),
    One {
        request_id: &'a str,
        row: i64,
        label: &'a str,
    },
}

pub async fn labels(
    client: &Client,
    deployment: &str,
    source: LabelsSource<'_>,
) -> anyhow::Result<()> {
    let labels = match source {
        LabelsSource::File(path) => labels_from_file(path)?,
        LabelsSource::One {
            request_id,
            row,
            label,
        } => {
            vec![json!({ "request_id": request_id, "row": row, "label": label })]
        }
    };
    let mut stored = 0;
    for chunk in labels.chunks(LABELS_PER_REQUEST) {
        let response = client
            .request(
                Method::POST,
                &["api", "v1", "deployments", deployment, "labels"],
                Some(&json!({ "labels": chunk })),
            )
            .await?;
        stored += response["stored"].as_u64().unwrap_or(0);
    }
    println!("stored {stored} labels for {deployment}");
    Ok(())
}

fn print_evaluation(evaluation: &Value) {
    println!(
        "{} (model {} version {}): {} rows",
        text(&evaluation["deployment"]),
        text(&evaluation["model"]),
        text(&evaluation["version"]),
        text(&evaluation["rows"]),
    );
    if let Some(drift) = evaluation["drift"].as_object() {
        println!(
            "dataset drift: {} ({} of {} columns drifted, share {})",
            text(&drift["dataset_drift"]),
            text(&drift["number_of_drifted_columns"]),
            text(&drift["number_of_columns"]),
            text(&drift["drift_share"]),
        );
        let rows: Vec<Vec<String>> = drift["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                [
                    "column",
                    "type",
                    "test",
                    "score",
                    "threshold",
                    "drift_detected",
                ]
                .iter()
                .map(|key| text(&c[*key]))
                .collect()
            })
            .collect();
        print_table(
            &["column", "type", "test", "score", "threshold", "drift"],
            &rows,
        );
    } else {
        println!("no logged predictions in this window");
    }
    if let Some(performance) = evaluation["performance"].as_object() {
        println!(
            "performance on {} labeled rows:",
            text(&performance["labeled_rows"])
        );
        for metric in performance["metrics"].as_array().into_iter().flatten() {
            println!("  {}: {}", text(&metric[0]), text(&metric[1]));
        }
    }
}

pub async fn evaluate(
    client: &Client,
    deployment: &str,
    window: &str,
    json_out: bool,
) -> anyhow::Result<()> {
    let response = client
        .request(
            Method::POST,
            &[
                "api",
                "v1",
                "deployments",
                deployment,
                "monitoring",
                "evaluate",
            ],
            Some(&json!({ "window": window })),
        )
        .await?;
    if json_out {
        return print_json(&response["evaluation"]);
    }
    print_evaluation(&response["evaluation"]);
    Ok(())
}

pub async fn report(
    client: &Client,
    deployment: &str,
    window: &str,
    html: Option<&Path>,
    json_out: bool,
) -> anyhow::Result<()> {
    let segments = [
        "api",
        "v1",
        "deployments",
        deployment,
        "monitoring",
        "report",
    ];
    if let Some(out) = html {
        let page = client
            .get_text_with(&segments, &[("window", window), ("format", "html")])
            .await?;
        std::fs::write(out, page).with_context(|| format!("cannot write {}", out.display()))?;
        println!("wrote {}", out.display());
        return Ok(());
    }
    let response = client
        .get(
            &format!("/api/v1/deployments/{deployment}/monitoring/report"),
            &[("window", window)],
        )
        .await?;
    if json_out {
        return print_json(&response["evaluation"]);
    }
    print_evaluation(&response["evaluation"]);
    Ok(())
}

pub async fn results(
    client: &Client,
    deployment: &str,
    metric: Option<&str>,
    json_out: bool,
) -> anyhow::Result<()> {
    let query: Vec<(&str, &str)> = metric.map(|m| ("metric", m)).into_iter().collect();
    let response = client
        .get(
            &format!("/api/v1/deployments/{deployment}/monitoring/results"),
            &query,
        )
        .await?;
    if json_out {
        return print_json(&response["points"]);
    }
    let rows: Vec<Vec<String>> = response["points"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            vec![
                text(&p["window"]["start"]),
                text(&p["window"]["end"]),
                text(&p["metric"]),
                text(&p["column"]),
                text(&p["value"]),
            ]
        })
        .collect();
    print_table(
        &["window_start", "window_end", "metric", "column", "value"],
        &rows,
    );
    Ok(())
}

/// An alert rule as the CLI takes it.
pub struct RuleArgs<'a> {
    pub metric: &'a str,
    pub column: Option<&'a str>,
    /// `above` or `below`.
    pub comparison: &'a str,
    pub threshold: f64,
    pub window: &'a str,
    pub severity: &'a str,
    pub webhook: Option<&'a str>,
    pub retrain_job: Option<Value>,
    pub name: Option<&'a str>,
}

fn print_rules(rules: &[Value]) {
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|r| {
            vec![
                text(&r["id"]),
                text(&r["name"]),
                format!(
                    "{}{} {} {}",
                    text(&r["metric"]),
                    r["column"]
                        .as_str()
                        .map(|c| format!("[{c}]"))
                        .unwrap_or_default(),
                    text(&r["comparison"]),
                    text(&r["threshold"])
                ),
                text(&r["window"]),
                text(&r["severity"]),
                text(&r["webhook_url"]),
            ]
        })
        .collect();
    print_table(
        &["id", "name", "condition", "window", "severity", "webhook"],
        &rows,
    );
}

pub async fn alert_add(
    client: &Client,
    deployment: &str,
    args: RuleArgs<'_>,
    json_out: bool,
) -> anyhow::Result<()> {
    let mut body = json!({
        "metric": args.metric,
        "comparison": args.comparison,
        "threshold": args.threshold,
        "window": args.window,
        "severity": args.severity,
    });
    for (key, value) in [
        ("column", args.column),
        ("webhook_url", args.webhook),
        ("name", args.name),
    ] {
        if let Some(value) = value {
            body[key] = json!(value);
        }
    }
    if let Some(job) = args.retrain_job {
        body["retrain_job"] = job;
    }
    let response = client
        .request(
            Method::POST,
            &["api", "v1", "deployments", deployment, "alerts", "rules"],
            Some(&body),
        )
        .await?;
    if json_out {
        return print_json(&response["rule"]);
    }
    println!("{}", text(&response["rule"]["id"]));
    Ok(())
}

pub async fn alert_list(client: &Client, deployment: &str, json_out: bool) -> anyhow::Result<()> {
    let response = client
        .get(
            &format!("/api/v1/deployments/{deployment}/alerts/rules"),
            &[],
        )
        .await?;
    if json_out {
        return print_json(&response["rules"]);
    }
    print_rules(
        response["rules"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default(),
    );
    Ok(())
}

pub async fn alert_delete(client: &Client, deployment: &str, id: &str) -> anyhow::Result<()> {
    client
        .request(
            Method::DELETE,
            &[
                "api",
                "v1",
                "deployments",
                deployment,
                "alerts",
                "rules",
                id,
            ],
            None,
        )
        .await?;
    Ok(())
}

pub async fn alert_events(client: &Client, deployment: &str, json_out: bool) -> anyhow::Result<()> {
    let response = client
        .get(
            &format!("/api/v1/deployments/{deployment}/alerts/events"),
            &[],
        )
        .await?;
    if json_out {
        return print_json(&response["events"]);
    }
    let rows: Vec<Vec<String>> = response["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            vec![
                text(&e["fired_at"]),
                text(&e["severity"]),
                format!(
                    "{}{}",
                    text(&e["metric"]),
                    e["column"]
                        .as_str()
                        .filter(|c| !c.is_empty())
                        .map(|c| format!("[{c}]"))
                        .unwrap_or_default()
                ),
                text(&e["value"]),
                text(&e["threshold"]),
                text(&e["delivery"]),
            ]
        })
        .collect();
    print_table(
        &[
            "fired_at",
            "severity",
            "metric",
            "value",
            "threshold",
            "delivery",
        ],
        &rows,
    );
    Ok(())
}
