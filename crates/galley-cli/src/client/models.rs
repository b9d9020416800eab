//! `galley models ...`: the model registry from the command line (MLflow registry routes for
//! models, versions and aliases; the native API for cards and lineage).

use anyhow::Context as _;
use reqwest::Method;
use serde_json::{json, Value};

use super::{print_json, print_table, text, Client, API};

/// Every page of a registry search, as one list.
async fn search_all(
    client: &Client,
    endpoint: &str,
    field: &str,
    filter: &str,
    order_by: &str,
) -> anyhow::Result<Vec<Value>> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = vec![("filter", filter), ("order_by", order_by)];
        if let Some(t) = &token {
            query.push(("page_token", t));
        }
        let page = client.get(&format!("{API}/{endpoint}"), &query).await?;
        items.extend(page[field].as_array().cloned().unwrap_or_default());
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(items),
        }
    }
}

/// A filter-grammar string literal.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn aliases_of_model(model: &Value) -> String {
    model["aliases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| format!("{}→v{}", text(&a["alias"]), text(&a["version"])))
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn list(client: &Client, filter: Option<&str>, json_out: bool) -> anyhow::Result<()> {
    let models = search_all(
        client,
        "registered-models/search",
        "registered_models",
        filter.unwrap_or(""),
        "name ASC",
    )
    .await?;
    if json_out {
        return print_json(&Value::Array(models));
    }
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            let latest = m["latest_versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| text(&v["version"]).parse::<i64>().ok())
                .max()
                .map(|v| v.to_string())
                .unwrap_or_default();
            vec![
                text(&m["name"]),
                latest,
                aliases_of_model(m),
                text(&m["description"]),
            ]
        })
        .collect();
    print_table(&["NAME", "LATEST", "ALIASES", "DESCRIPTION"], &rows);
    Ok(())
}

pub async fn show(client: &Client, name: &str, json_out: bool) -> anyhow::Result<()> {
    let body = client
        .get(&format!("{API}/registered-models/get"), &[("name", name)])
        .await?;
    let model = &body["registered_model"];
    if json_out {
        return print_json(model);
    }
    println!("name:         {}", text(&model["name"]));
    println!("description:  {}", text(&model["description"]));
    println!("aliases:      {}", aliases_of_model(model));
    for tag in model["tags"].as_array().into_iter().flatten() {
        println!(
            "tag:          {} = {}",
            text(&tag["key"]),
            text(&tag["value"])
        );
    }
    for v in model["latest_versions"].as_array().into_iter().flatten() {
        println!(
            "latest:       v{} ({})",
            text(&v["version"]),
            text(&v["current_stage"])
        );
    }
    Ok(())
}

pub async fn versions(client: &Client, name: &str, json_out: bool) -> anyhow::Result<()> {
    let versions = search_all(
        client,
        "model-versions/search",
        "model_versions",
        &format!("name = {}", quoted(name)),
        "version_number DESC",
    )
    .await?;
    if json_out {
        return print_json(&Value::Array(versions));
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            let aliases: Vec<String> = v["aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            vec![
                text(&v["version"]),
                text(&v["current_stage"]),
                aliases.join(" "),
                text(&v["run_id"]),
                text(&v["source"]),
            ]
        })
        .collect();
    print_table(&["VERSION", "STAGE", "ALIASES", "RUN", "SOURCE"], &rows);
    Ok(())
}

/// What `galley models alias` was asked to do.
pub enum AliasAction<'a> {
    Show,
    Set(&'a str),
    Delete,
}

pub async fn alias(
    client: &Client,
    name: &str,
    alias: &str,
    action: AliasAction<'_>,
) -> anyhow::Result<()> {
    let endpoint = ["api", "2.0", "mlflow", "registered-models", "alias"];
    match action {
        AliasAction::Show => {
            let body = client
                .get(
                    &format!("{API}/registered-models/alias"),
                    &[("name", name), ("alias", alias)],
                )
                .await?;
            println!("{}", text(&body["model_version"]["version"]));
        }
        AliasAction::Set(version) => {
            let body = json!({ "name": name, "alias": alias, "version": version });
            client.request(Method::POST, &endpoint, Some(&body)).await?;
        }
        AliasAction::Delete => {
            let body = json!({ "name": name, "alias": alias });
            client
                .request(Method::DELETE, &endpoint, Some(&body))
                .await?;
        }
    }
    Ok(())
}

fn version_path<'a>(name: &'a str, version: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    let mut segments = vec!["api", "v1", "models", name, "versions", version];
    segments.extend_from_slice(tail);
    segments
}

/// Prints the card rendered as markdown (or its fields with `--json`); with `set`, first
/// replaces it with the JSON card in that file (`-` for stdin).
pub async fn card(
    client: &Client,
    name: &str,
    version: &str,
    set: Option<&str>,
    json_out: bool,
) -> anyhow::Result<()> {
    if let Some(file) = set {
        let raw = if file == "-" {
            std::io::read_to_string(std::io::stdin()).context("reading the card from stdin")?
        } else {
            std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
        };
        let card: Value =
            serde_json::from_str(&raw).with_context(|| format!("{file} is not a JSON card"))?;
        client
            .request(
                Method::PUT,
                &version_path(name, version, &["card"]),
                Some(&card),
            )
            .await?;
    }
    if json_out {
        let body = client
            .request(Method::GET, &version_path(name, version, &["card"]), None)
            .await?;
        return print_json(&body["card"]);
    }
    let markdown = client
        .get_text(&version_path(name, version, &["card", "markdown"]))
        .await?;
    print!("{markdown}");
    Ok(())
}

pub async fn lineage(
    client: &Client,
    name: &str,
    version: &str,
    json_out: bool,
) -> anyhow::Result<()> {
    let graph = client
        .request(
            Method::GET,
            &version_path(name, version, &["lineage"]),
            None,
        )
        .await?;
    if json_out {
        return print_json(&graph);
    }
    print!("{}", render_lineage(&graph));
    Ok(())
}

/// The lineage graph as an indented tree, version at the root.
fn render_lineage(graph: &Value) -> String {
    let mv = &graph["model_version"];
    let mut out = format!(
        "model {} version {} [{}]",
        text(&mv["name"]),
        text(&mv["version"]),
        text(&mv["stage"])
    );
    let aliases: Vec<String> = mv["aliases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    if !aliases.is_empty() {
        out += &format!(" aliases: {}", aliases.join(", "));
    }
    out += &format!("\n  source: {}\n", text(&mv["source"]));
    if let Some(model) = graph["logged_model"].as_object() {
        out += &format!(
            "  logged model: {} ({})\n",
            text(&model["model_id"]),
            text(&model["name"])
        );
    }
    if let Some(experiment) = graph["experiment"].as_object() {
        out += &format!(
            "  experiment: {} ({})\n",
            text(&experiment["experiment_id"]),
            text(&experiment["name"])
        );
    }
    match graph["run"].as_object() {
        None => out += "  run: none recorded\n",
        Some(run) => {
            out += &format!(
                "  run: {} ({}) {}\n",
                text(&run["run_id"]),
                text(&run["run_name"]),
                text(&run["status"])
            );
            for (label, key) in [("params", "params"), ("metrics", "metrics")] {
                let pairs: Vec<String> = run[key]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={}", text(v)))
                    .collect();
                if !pairs.is_empty() {
                    out += &format!("    {label}: {}\n", pairs.join(", "));
                }
            }
        }
    }
    let datasets = graph["datasets"].as_array().cloned().unwrap_or_default();
    if !datasets.is_empty() {
        out += "    datasets:\n";
        for d in &datasets {
            let context = match text(&d["context"]) {
                c if c.is_empty() => String::new(),
                c => format!(" [{c}]"),
            };
            out += &format!(
                "      {} digest {} from {} {}{context}\n",
                text(&d["name"]),
                text(&d["digest"]),
                text(&d["source_type"]),
                text(&d["source"])
            );
        }
    }
    let deployments = graph["deployments"].as_array().cloned().unwrap_or_default();
    if deployments.is_empty() {
        out += "  deployments: none\n";
    } else {
        for d in &deployments {
            out += &format!(
                "  deployment: {} ({})\n",
                text(&d["name"]),
                text(&d["role"])
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_literals_escape_quotes() {
        assert_eq!(quoted("it's"), "'it\\'s'");
    }

    #[test]
    fn lineage_tree_shows_run_facts_and_datasets() {
        let graph = json!({
            "model_version": { "name": "fraud", "version": 2, "stage": "Production",
                               "aliases": ["champion"], "source": "models:/m-1" },
            "logged_model": { "model_id": "m-1", "name": "model" },
            "experiment": { "experiment_id": "1", "name": "fraud-exp" },
            "run": { "run_id": "r1", "run_name": "train", "status": "FINISHED",
                     "params": { "depth": "4" }, "metrics": { "auc": 0.9 } },
            "datasets": [{ "name": "payments", "digest": "abc", "source_type": "local",
                           "source": "/d.parquet", "context": "training" }],
            "deployments": []
        });
        let tree = render_lineage(&graph);
        assert!(tree.starts_with("model fraud version 2 [Production] aliases: champion\n"));
        assert!(tree
            .contains("  run: r1 (train) FINISHED\n    params: depth=4\n    metrics: auc=0.9\n"));
        assert!(tree.contains("      payments digest abc from local /d.parquet [training]\n"));
        assert!(tree.ends_with("  deployments: none\n"), "{tree}");
    }
}
