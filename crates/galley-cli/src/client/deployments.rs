//! `galley deployments ...`: serve registry versions, change them without downtime, roll back.

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::{print_json, print_table, text, Client};

/// The settings `create` and `update` take; `None` leaves a setting as it is (or at its default).
#[derive(Debug, Default, Clone)]
pub struct DeploymentArgs {
    pub model: Option<String>,
    pub version: Option<i64>,
    pub alias: Option<String>,
    pub replicas: Option<u32>,
    pub min_replicas: Option<u32>,
    pub max_replicas: Option<u32>,
    pub max_batch_size: Option<u32>,
    pub max_batch_delay_ms: Option<u32>,
    pub max_queue: Option<u32>,
    /// `VERSION:PERCENT`, or `off` to remove.
    pub canary: Option<String>,
    pub shadow: Option<String>,
    pub log_sample_rate: Option<f64>,
}

/// `3:10` → `{"version": 3, "percent": 10}`; `off` → `null`.
fn share(flag: &str, raw: &str) -> anyhow::Result<Value> {
    if raw == "off" {
        return Ok(Value::Null);
    }
    let parsed = raw
        .split_once(':')
        .and_then(|(v, p)| Some((v.parse::<i64>().ok()?, p.parse::<u8>().ok()?)));
    match parsed {
        Some((version, percent)) => Ok(json!({ "version": version, "percent": percent })),
        None => anyhow::bail!("--{flag} takes VERSION:PERCENT (e.g. 3:10) or off, got '{raw}'"),
    }
}

fn body(args: &DeploymentArgs) -> anyhow::Result<Value> {
    let mut body = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            body.insert(key.to_string(), value);
        }
    };
    put("model", args.model.clone().map(Value::from));
    put("version", args.version.map(Value::from));
    put("alias", args.alias.clone().map(Value::from));
    put("replicas", args.replicas.map(Value::from));
    put("min_replicas", args.min_replicas.map(Value::from));
    put("max_replicas", args.max_replicas.map(Value::from));
    put("max_batch_size", args.max_batch_size.map(Value::from));
    put(
        "max_batch_delay_ms",
        args.max_batch_delay_ms.map(Value::from),
    );
    put("max_queue", args.max_queue.map(Value::from));
    put("log_sample_rate", args.log_sample_rate.map(Value::from));
    put(
        "canary",
        args.canary
            .as_deref()
            .map(|c| share("canary", c))
            .transpose()?,
    );
    put(
        "shadow",
        args.shadow
            .as_deref()
            .map(|c| share("shadow", c))
            .transpose()?,
    );
    Ok(Value::Object(body))
}

fn print_deployment(d: &Value) {
    let selector = match (d["selector"].get("alias"), d["selector"].get("version")) {
        (Some(alias), _) => format!("alias {}", text(alias)),
        (_, Some(version)) => format!("version {}", text(version)),
        _ => String::new(),
    };
    println!("name:        {}", text(&d["name"]));
    println!("model:       {} ({selector})", text(&d["model"]));
    println!("serving:     version {}", text(&d["version"]));
    if !d["previous_version"].is_null() {
        println!("previous:    version {}", text(&d["previous_version"]));
    }
    for key in ["canary", "shadow"] {
        if !d[key].is_null() {
            println!(
                "{key}:      {}version {} at {}%",
                if key == "canary" { " " } else { "" },
                text(&d[key]["version"]),
                text(&d[key]["percent"])
            );
        }
    }
    println!(
        "batching:    up to {} rows, {} ms, queue {}",
        text(&d["max_batch_size"]),
        text(&d["max_batch_delay_ms"]),
        text(&d["max_queue"])
    );
    println!(
        "replicas:    {} to {}",
        text(&d["min_replicas"]),
        text(&d["max_replicas"])
    );
    println!("logged:      {} of requests", text(&d["log_sample_rate"]));
    println!("ready:       {}", text(&d["ready"]));
    for v in d["loaded_versions"].as_array().into_iter().flatten() {
        println!(
            "loaded:      version {}: {} replicas, {} busy, {} queued",
            text(&v["version"]),
            text(&v["replicas"]),
            text(&v["busy"]),
            text(&v["queued"])
        );
    }
}

fn show_result(response: &Value, json_out: bool) -> anyhow::Result<()> {
    if json_out {
        return print_json(&response["deployment"]);
    }
    print_deployment(&response["deployment"]);
    Ok(())
}

pub async fn create(
    client: &Client,
    name: &str,
    args: &DeploymentArgs,
    json_out: bool,
) -> anyhow::Result<()> {
    let mut body = body(args)?;
    body["name"] = json!(name);
    let response = client
        .request(Method::POST, &["api", "v1", "deployments"], Some(&body))
        .await?;
    show_result(&response, json_out)
}

pub async fn update(
    client: &Client,
    name: &str,
    args: &DeploymentArgs,
    json_out: bool,
) -> anyhow::Result<()> {
    let response = client
        .request(
            Method::PATCH,
            &["api", "v1", "deployments", name],
            Some(&body(args)?),
        )
        .await?;
    show_result(&response, json_out)
}

pub async fn show(client: &Client, name: &str, json_out: bool) -> anyhow::Result<()> {
    let response = client
        .request(Method::GET, &["api", "v1", "deployments", name], None)
        .await?;
    show_result(&response, json_out)
}

pub async fn rollback(client: &Client, name: &str, json_out: bool) -> anyhow::Result<()> {
    let response = client
        .request(
            Method::POST,
            &["api", "v1", "deployments", name, "rollback"],
            None,
        )
        .await?;
    show_result(&response, json_out)
}

pub async fn delete(client: &Client, name: &str) -> anyhow::Result<()> {
    client
        .request(Method::DELETE, &["api", "v1", "deployments", name], None)
        .await?;
    Ok(())
}

pub async fn list(client: &Client, json_out: bool) -> anyhow::Result<()> {
    let response = client
        .request(Method::GET, &["api", "v1", "deployments"], None)
        .await?;
    let deployments = response["deployments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if json_out {
        return print_json(&Value::Array(deployments));
    }
    let rows: Vec<Vec<String>> = deployments
        .iter()
        .map(|d| {
            let share = |key: &str| {
                if d[key].is_null() {
                    String::new()
                } else {
                    format!(
                        "v{} {}%",
                        text(&d[key]["version"]),
                        text(&d[key]["percent"])
                    )
                }
            };
            vec![
                text(&d["name"]),
                text(&d["model"]),
                text(&d["version"]),
                share("canary"),
                share("shadow"),
                text(&d["ready"]),
            ]
        })
        .collect();
    print_table(
        &["NAME", "MODEL", "VERSION", "CANARY", "SHADOW", "READY"],
        &rows,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_shares_parse() {
        assert_eq!(
            share("canary", "3:10").unwrap(),
            json!({ "version": 3, "percent": 10 })
        );
        assert_eq!(share("shadow", "off").unwrap(), Value::Null);
        assert!(share("canary", "3").is_err());
        assert!(share("canary", "3:300").is_err());
    }

    #[test]
    fn only_given_settings_are_sent() {
        let args = DeploymentArgs {
            version: Some(2),
            canary: Some("off".into()),
            ..Default::default()
        };
        assert_eq!(
            body(&args).unwrap(),
            json!({ "version": 2, "canary": null })
        );
    }
}
