//! Client subcommands: talk to a running server over its HTTP API and print tables or JSON.

pub mod deployments;
pub mod features;
pub mod jobs;
pub mod models;
pub mod monitoring;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

/// A thin JSON client for one server.
pub struct Client {
    base: String,
    pub(crate) http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Sends `request`; a non-2xx answer becomes an error carrying the server's code and message.
    pub(crate) async fn respond(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the Galley server at {}", self.base))?;
        let status = response.status();
        if !status.is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let code = body["error_code"].as_str().unwrap_or("ERROR");
            let message = body["message"].as_str().unwrap_or("no message");
            bail!("{code} ({status}): {message}");
        }
        Ok(response)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = self.respond(request).await?;
        Ok(response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base)).query(query))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// The server's URL with `segments` appended, each percent-encoded (model names may hold
    /// spaces or `#`).
    pub(crate) fn url(&self, segments: &[&str]) -> anyhow::Result<reqwest::Url> {
        let mut url = reqwest::Url::parse(&self.base)
            .with_context(|| format!("invalid server URL {}", self.base))?;
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("invalid server URL {}", self.base))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends an optional JSON body with any method to the path made of `segments`.
    pub async fn request(
        &self,
        method: reqwest::Method,
        segments: &[&str],
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method, self.url(segments)?);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(request).await
    }

    /// GETs a text (non-JSON) resource at the path made of `segments`.
    /// Sends raw bytes (a file) with `method` and query parameters; answers the JSON reply.
    pub async fn send_bytes(
        &self,
        method: reqwest::Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<Value> {
        let request = self
            .http
            .request(method, self.url(segments)?)
            .query(query)
            .header("content-type", "application/octet-stream")
            .body(body);
        self.send(request).await
    }

    /// GETs `segments` with query parameters and answers the body as text (HTML pages).
    pub async fn get_text_with(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        let response = self
            .respond(self.http.get(self.url(segments)?).query(query))
            .await?;
        Ok(response.text().await?)
    }

    pub async fn get_text(&self, segments: &[&str]) -> anyhow::Result<String> {
        let response = self.respond(self.http.get(self.url(segments)?)).await?;
        Ok(response.text().await?)
    }
}

pub(crate) const API: &str = "/api/2.0/mlflow";

/// Prints rows as aligned columns.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(crate) fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub async fn experiments_list(client: &Client, view: &str, json_out: bool) -> anyhow::Result<()> {
    let mut experiments = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({ "max_results": 1000, "view_type": view });
        if let Some(t) = &token {
            body["page_token"] = json!(t);
        }
        let page = client
            .post(&format!("{API}/experiments/search"), &body)
            .await?;
        experiments.extend(page["experiments"].as_array().cloned().unwrap_or_default());
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    if json_out {
        return print_json(&Value::Array(experiments));
    }
    let rows: Vec<Vec<String>> = experiments
        .iter()
        .map(|e| {
            vec![
                text(&e["experiment_id"]),
                text(&e["name"]),
                text(&e["lifecycle_stage"]),
                text(&e["artifact_location"]),
            ]
        })
        .collect();
    print_table(&["ID", "NAME", "STAGE", "ARTIFACTS"], &rows);
    Ok(())
}

/// Looks an experiment up by id when the argument is numeric, by name otherwise.
pub async fn experiment_show(
    client: &Client,
    id_or_name: &str,
    json_out: bool,
) -> anyhow::Result<()> {
    let body = if id_or_name.parse::<i64>().is_ok() {
        client
            .get(
                &format!("{API}/experiments/get"),
                &[("experiment_id", id_or_name)],
            )
            .await?
    } else {
        client
            .get(
                &format!("{API}/experiments/get-by-name"),
                &[("experiment_name", id_or_name)],
            )
            .await?
    };
    let e = &body["experiment"];
    if json_out {
        return print_json(e);
    }
    println!("id:         {}", text(&e["experiment_id"]));
    println!("name:       {}", text(&e["name"]));
    println!("stage:      {}", text(&e["lifecycle_stage"]));
    println!("artifacts:  {}", text(&e["artifact_location"]));
    for tag in e["tags"].as_array().into_iter().flatten() {
        println!(
            "tag:        {} = {}",
            text(&tag["key"]),
            text(&tag["value"])
        );
    }
    Ok(())
}

pub async fn experiment_create(client: &Client, name: &str) -> anyhow::Result<()> {
    let body = client
        .post(
            &format!("{API}/experiments/create"),
            &json!({ "name": name }),
        )
        .await?;
    println!("{}", text(&body["experiment_id"]));
    Ok(())
}

pub async fn experiment_delete(client: &Client, id: &str) -> anyhow::Result<()> {
    client
        .post(
            &format!("{API}/experiments/delete"),
            &json!({ "experiment_id": id }),
        )
        .await?;
    Ok(())
}

pub struct RunListArgs<'a> {
    pub experiment_ids: &'a [String],
    pub filter: Option<&'a str>,
    pub order_by: &'a [String],
    pub max_results: u32,
}

pub async fn runs_list(
    client: &Client,
    args: RunListArgs<'_>,
    json_out: bool,
) -> anyhow::Result<()> {
    let body = json!({
        "experiment_ids": args.experiment_ids,
        "filter": args.filter.unwrap_or(""),
        "order_by": args.order_by,
        "max_results": args.max_results,
    });
    let page = client.post(&format!("{API}/runs/search"), &body).await?;
    let runs = page["runs"].as_array().cloned().unwrap_or_default();
    if json_out {
        return print_json(&Value::Array(runs));
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let metrics: Vec<String> = r["data"]["metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| format!("{}={}", text(&m["key"]), text(&m["value"])))
                .collect();
            vec![
                text(&r["info"]["run_id"]),
                text(&r["info"]["run_name"]),
                text(&r["info"]["status"]),
                metrics.join(" "),
            ]
        })
        .collect();
    print_table(&["RUN ID", "NAME", "STATUS", "METRICS"], &rows);
    Ok(())
}

pub async fn run_show(client: &Client, run_id: &str, json_out: bool) -> anyhow::Result<()> {
    let body = client
        .get(&format!("{API}/runs/get"), &[("run_id", run_id)])
        .await?;
    let run = &body["run"];
    if json_out {
        return print_json(run);
    }
    let info = &run["info"];
    for field in [
        "run_id",
        "run_name",
        "experiment_id",
        "status",
        "start_time",
        "end_time",
        "artifact_uri",
    ] {
        println!("{:<14}{}", format!("{field}:"), text(&info[field]));
    }
    for (section, key) in [("param", "params"), ("metric", "metrics"), ("tag", "tags")] {
        for item in run["data"][key].as_array().into_iter().flatten() {
            println!(
                "{:<14}{} = {}",
                format!("{section}:"),
                text(&item["key"]),
                text(&item["value"])
            );
        }
    }
    Ok(())
}
