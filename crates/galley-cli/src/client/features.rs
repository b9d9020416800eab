//! `galley features`: apply a definitions file (with its plan), list and show definitions,
//! build training sets, materialize views.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use galley_features::definitions::Definitions;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt as _;

use super::{print_json, print_table, text, Client};

/// Source paths that are neither absolute nor in the artifact store are relative to the
/// definitions file's folder; the server is sent absolute ones.
fn resolve_sources(mut definitions: Definitions, file: &Path) -> anyhow::Result<Definitions> {
    let folder = file.parent().filter(|p| !p.as_os_str().is_empty());
    let folder = std::path::absolute(folder.unwrap_or(Path::new(".")))
        .with_context(|| format!("cannot resolve the folder of {}", file.display()))?;
    for source in &mut definitions.sources {
        let path = Path::new(&source.path);
        if !source.path.starts_with("artifacts:") && path.is_relative() {
            source.path = folder.join(path).display().to_string();
        }
    }
    Ok(definitions)
}

pub async fn apply(
    client: &Client,
    file: &Path,
    dry_run: bool,
    force: bool,
    json_out: bool,
) -> anyhow::Result<()> {
    let yaml =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let definitions = resolve_sources(Definitions::parse_yaml(&yaml)?, file)?;
    let body = serde_json::to_vec(&definitions)?;
    let flag = |on: bool| if on { "true" } else { "false" };
    let reply = client
        .send_bytes(
            Method::POST,
            &["api", "v1", "features", "apply"],
            &[("dry_run", flag(dry_run)), ("force", flag(force))],
            body,
        )
        .await?;
    if json_out {
        return print_json(&reply);
    }
    let plan = reply["plan"].as_array().cloned().unwrap_or_default();
    if plan.is_empty() {
        println!("no changes (version {})", text(&reply["version"]));
        return Ok(());
    }
    for line in &plan {
        println!("{}", text(line));
    }
    if reply["applied"].as_bool() == Some(true) {
        println!("applied as version {}", text(&reply["version"]));
    } else {
        println!("dry run: nothing applied");
    }
    Ok(())
}

pub async fn list(client: &Client, json_out: bool) -> anyhow::Result<()> {
    let reply = client
        .request(Method::GET, &["api", "v1", "features"], None)
        .await?;
    if json_out {
        return print_json(&reply);
    }
    let joined = |v: &Value| {
        v.as_array()
            .map(|items| items.iter().map(text).collect::<Vec<_>>().join(","))
            .unwrap_or_default()
    };
    let rows: Vec<Vec<String>> = reply["feature_views"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|view| {
            vec![
                "feature_view".into(),
                text(&view["name"]),
                joined(&view["entities"]),
                text(&view["source"]),
                text(&view["ttl"]),
                text(&view["online"]),
                view["schema"].as_array().map_or(0, Vec::len).to_string(),
            ]
        })
        .chain(
            reply["feature_services"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|service| {
                    vec![
                        "feature_service".into(),
                        text(&service["name"]),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        service["features"]
                            .as_array()
                            .map_or(0, Vec::len)
                            .to_string(),
                    ]
                }),
        )
        .collect();
    print_table(
        &[
            "KIND", "NAME", "ENTITIES", "SOURCE", "TTL", "ONLINE", "FEATURES",
        ],
        &rows,
    );
    Ok(())
}

pub async fn show(client: &Client, name: &str, json_out: bool) -> anyhow::Result<()> {
    let reply = client
        .request(
            Method::GET,
            &["api", "v1", "features", "objects", name],
            None,
        )
        .await?;
    if json_out || reply["kind"] != "feature_view" {
        return print_json(&reply);
    }
    let view = &reply["feature_view"];
    println!("feature view {}", text(&view["name"]));
    println!(
        "  entities:  {} (join keys {})",
        view["entities"], reply["join_keys"]
    );
    println!("  source:    {}", text(&view["source"]));
    println!(
        "  ttl:       {}   online: {}",
        text(&view["ttl"]),
        text(&view["online"])
    );
    println!("  newest online value: {}", text(&reply["newest_event"]));
    let schema: Vec<Vec<String>> = view["schema"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| vec![text(&f["name"]), text(&f["dtype"])])
        .collect();
    print_table(&["FEATURE", "DTYPE"], &schema);
    if let Some(last) = reply["materializations"].as_array().and_then(|m| m.first()) {
        println!(
            "last materialization: {} rows up to {}",
            last["rows"], last["end"]
        );
        let stats: Vec<Vec<String>> = last["statistics"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                vec![
                    text(&s["feature"]),
                    text(&s["count"]),
                    text(&s["nulls"]),
                    text(&s["numeric"]["min"]),
                    text(&s["numeric"]["max"]),
                    text(&s["numeric"]["mean"]),
                ]
            })
            .collect();
        print_table(&["FEATURE", "COUNT", "NULLS", "MIN", "MAX", "MEAN"], &stats);
    }
    Ok(())
}

pub struct HistoricalArgs {
    pub entity_df: PathBuf,
    pub features: Option<String>,
    pub feature_service: Option<String>,
    pub full_feature_names: bool,
    pub timestamp_column: String,
    pub created_cutoff: bool,
    pub output: PathBuf,
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Streams the entity dataframe up and the training set down: neither is held in memory. The
/// answer is written beside the output and renamed into place once whole.
pub async fn get_historical(client: &Client, args: HistoricalArgs) -> anyhow::Result<()> {
    let upload = tokio::fs::File::open(&args.entity_df)
        .await
        .with_context(|| format!("cannot read {}", args.entity_df.display()))?;
    let mut query = vec![("timestamp_column", args.timestamp_column.clone())];
    if let Some(features) = args.features {
        query.push(("features", features));
    }
    if let Some(service) = args.feature_service {
        query.push(("feature_service", service));
    }
    if args.full_feature_names {
        query.push(("full_feature_names", "true".into()));
    }
    if args.created_cutoff {
        query.push(("created_cutoff", "true".into()));
    }
    let mime = |csv: bool| {
        if csv {
            "text/csv"
        } else {
            "application/vnd.apache.parquet"
        }
    };
    let request = client
        .http
        .post(client.url(&["api", "v1", "features", "historical"])?)
        .query(&query)
        .header("content-type", mime(is_csv(&args.entity_df)))
        .header("accept", mime(is_csv(&args.output)))
        .body(reqwest::Body::from(upload));
    let mut response = client.respond(request).await?;
    let mut partial = args.output.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = async {
        let mut out = tokio::fs::File::create(&partial).await?;
        let mut written = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(std::io::Error::other)? {
            out.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        out.flush().await?;
        tokio::fs::rename(&partial, &args.output).await?;
        Ok::<_, std::io::Error>(written)
    }
    .await;
    let written = match written {
        Ok(written) => written,
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e).with_context(|| format!("cannot write {}", args.output.display()));
        }
    };
    eprintln!("wrote {} ({written} bytes)", args.output.display());
    Ok(())
}

pub async fn materialize(
    client: &Client,
    views: Vec<String>,
    start: Option<String>,
    end: Option<String>,
    json_out: bool,
) -> anyhow::Result<()> {
    let body = json!({ "views": views, "start": start, "end": end });
    let reply = client
        .request(
            Method::POST,
            &["api", "v1", "features", "materialize"],
            Some(&body),
        )
        .await?;
    if json_out {
        return print_json(&reply);
    }
    let time = |v: &Value| {
        v.as_i64()
            .map(galley_features_runtime::format_time)
            .unwrap_or_default()
    };
    let rows: Vec<Vec<String>> = reply["materializations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            vec![
                text(&m["view"]),
                text(&m["rows"]),
                time(&m["start"]),
                time(&m["end"]),
            ]
        })
        .collect();
    print_table(&["VIEW", "ROWS", "FROM", "UNTIL"], &rows);
    Ok(())
}
