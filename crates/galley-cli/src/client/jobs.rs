//! `galley jobs ...` and `galley queues ...`: submit, follow and cancel jobs; see and configure
//! team queues.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use reqwest::Method;
use serde_json::{json, Value};

use super::{print_json, print_table, text, Client};

/// `galley jobs submit`'s flags; they become the native API's JobSpec.
#[derive(clap::Args)]
pub struct SubmitArgs {
    #[arg(long)]
    pub team: Option<String>,
    #[arg(long)]
    pub queue: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    /// Cores per replica (2, 0.5 or 500m); default 1.
    #[arg(long)]
    pub cpus: Option<String>,
    /// Memory per replica (4Gi, 512Mi); default 1Gi.
    #[arg(long)]
    pub memory: Option<String>,
    /// GPUs per replica: N, or N:FLAVOR (e.g. 1:nvidia-h100).
    #[arg(long)]
    pub gpus: Option<String>,
    /// Replicas started together (a gang).
    #[arg(long)]
    pub replicas: Option<u32>,
    /// A priority class (low, normal, high, or as configured) or an integer.
    #[arg(long)]
    pub priority: Option<String>,
    /// Fail the job when it runs longer (e.g. 30m, 2h).
    #[arg(long)]
    pub max_runtime: Option<String>,
    /// Attempts after the first when it fails.
    #[arg(long)]
    pub retries: Option<u32>,
    /// KEY=VALUE, repeatable.
    #[arg(long = "env")]
    pub env: Vec<String>,
    #[arg(long)]
    pub working_dir: Option<String>,
    /// local (default) or ray (when the server has --ray-address).
    #[arg(long)]
    pub executor: Option<String>,
    /// Print the job instead of its id.
    #[arg(long)]
    pub json: bool,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

fn spec(args: SubmitArgs) -> anyhow::Result<Value> {
    let mut resources = serde_json::Map::new();
    if let Some(cpus) = args.cpus {
        resources.insert("cpu".into(), json!(cpus));
    }
    if let Some(memory) = args.memory {
        resources.insert("memory".into(), json!(memory));
    }
    if let Some(gpus) = args.gpus {
        let (count, flavor) = match gpus.split_once(':') {
            Some((count, flavor)) => (count, Some(flavor)),
            None => (gpus.as_str(), None),
        };
        let count: u32 = count
            .parse()
            .with_context(|| format!("--gpus takes N or N:FLAVOR, got '{gpus}'"))?;
        resources.insert("gpus".into(), json!(count));
        if let Some(flavor) = flavor {
            resources.insert("gpu_flavor".into(), json!(flavor));
        }
    }
    let mut env = serde_json::Map::new();
    for pair in args.env {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("--env takes KEY=VALUE, got '{pair}'"))?;
        env.insert(key.into(), json!(value));
    }
    let mut body = json!({ "command": args.command, "resources": resources, "env": env });
    let optional = [
        ("name", args.name.map(Value::from)),
        ("team", args.team.map(Value::from)),
        ("queue", args.queue.map(Value::from)),
        ("replicas", args.replicas.map(Value::from)),
        ("priority", args.priority.map(Value::from)),
        ("max_runtime", args.max_runtime.map(Value::from)),
        ("retries", args.retries.map(Value::from)),
        ("working_dir", args.working_dir.map(Value::from)),
        ("executor", args.executor.map(Value::from)),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            body[key] = value;
        }
    }
    Ok(body)
}

/// Prints the new job's id, or the job with `--json`.
pub async fn submit(client: &Client, args: SubmitArgs) -> anyhow::Result<()> {
    let json_out = args.json;
    let reply = client
        .request(Method::POST, &["api", "v1", "jobs"], Some(&spec(args)?))
        .await?;
    if json_out {
        print_json(&reply["job"])
    } else {
        println!("{}", text(&reply["job"]["id"]));
        Ok(())
    }
}

fn describe_request(job: &Value) -> String {
    let request = &job["request"];
    let mut parts = vec![
        format!("cpu {}m", text(&request["cpu_millis"])),
        format!(
            "mem {}Mi",
            request["memory_bytes"].as_u64().unwrap_or(0) >> 20
        ),
    ];
    if request["gpus"].as_u64().unwrap_or(0) > 0 {
        let flavor = job["admission"]["gpu_flavor"]
            .as_str()
            .or(request["gpu_flavor"].as_str())
            .unwrap_or("any");
        parts.push(format!("gpu {}:{flavor}", text(&request["gpus"])));
    }
    format!("{} x{}", parts.join(" "), text(&job["replicas"]))
}

pub async fn list(
    client: &Client,
    filters: &[(&str, String)],
    json_out: bool,
) -> anyhow::Result<()> {
    let query: Vec<(&str, &str)> = filters.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reply = client.get("/api/v1/jobs", &query).await?;
    if json_out {
        return print_json(&reply);
    }
    let rows: Vec<Vec<String>> = reply["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|job| {
            vec![
                text(&job["id"]),
                text(&job["name"]),
                text(&job["team"]),
                text(&job["queue"]),
                text(&job["state"]),
                describe_request(job),
                text(&job["message"]),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "NAME",
            "TEAM",
            "QUEUE",
            "STATE",
            "RESOURCES",
            "MESSAGE",
        ],
        &rows,
    );
    Ok(())
}

pub async fn show(client: &Client, id: &str, json_out: bool) -> anyhow::Result<()> {
    let reply = client
        .request(Method::GET, &["api", "v1", "jobs", id], None)
        .await?;
    if json_out {
        return print_json(&reply);
    }
    let job = &reply["job"];
    for (label, value) in [
        ("id", text(&job["id"])),
        ("name", text(&job["name"])),
        (
            "team/queue",
            format!("{} / {}", text(&job["team"]), text(&job["queue"])),
        ),
        ("state", text(&job["state"])),
        ("message", text(&job["message"])),
        ("resources", describe_request(job)),
        (
            "priority",
            format!(
                "{} ({})",
                text(&job["priority_class"]),
                text(&job["priority"])
            ),
        ),
        ("attempt", text(&job["attempt"])),
        ("run", text(&job["run_id"])),
        (
            "command",
            job["command"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ] {
        println!("{label:<11} {value}");
    }
    println!();
    let rows: Vec<Vec<String>> = reply["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| vec![text(&e["at"]), text(&e["kind"]), text(&e["message"])])
        .collect();
    print_table(&["AT (ms)", "EVENT", "DETAIL"], &rows);
    Ok(())
}

pub async fn cancel(client: &Client, id: &str) -> anyhow::Result<()> {
    client
        .request(Method::POST, &["api", "v1", "jobs", id, "cancel"], None)
        .await?;
    println!("cancelled {id}");
    Ok(())
}

/// Prints a replica's log; with `follow`, keeps printing until the job ends.
pub async fn logs(client: &Client, id: &str, replica: u32, follow: bool) -> anyhow::Result<()> {
    let mut offset: u64 = 0;
    let replica = replica.to_string();
    loop {
        let response = client
            .respond(
                client
                    .http
                    .get(client.url(&["api", "v1", "jobs", id, "logs"])?)
                    .query(&[
                        ("replica", replica.as_str()),
                        ("offset", &offset.to_string()),
                    ]),
            )
            .await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let next: u64 = header("x-galley-log-next-offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(offset);
        let complete = header("x-galley-log-complete").as_deref() == Some("true");
        let bytes = response.bytes().await?;
        std::io::stdout().write_all(&bytes)?;
        std::io::stdout().flush()?;
        offset = next;
        if !follow || (complete && bytes.is_empty()) {
            return Ok(());
        }
        if bytes.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Blocks until the job ends; succeeds only if it succeeded.
pub async fn wait(client: &Client, id: &str) -> anyhow::Result<()> {
    loop {
        let reply = client
            .request(Method::GET, &["api", "v1", "jobs", id], None)
            .await?;
        let job = &reply["job"];
        match job["state"].as_str().unwrap_or_default() {
            "succeeded" => {
                println!("{id} succeeded");
                return Ok(());
            }
            state @ ("failed" | "cancelled") => {
                anyhow::bail!("job {id} {state}: {}", text(&job["message"]))
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

fn quota_cells(queue: &Value) -> (String, String) {
    let quota = queue["quota"].as_object().cloned().unwrap_or_default();
    let cells = quota
        .iter()
        .map(|(resource, q)| {
            let used = queue["usage"][resource].as_str().unwrap_or("0");
            format!("{resource} {used}/{}", text(&q["nominal"]))
        })
        .collect::<Vec<_>>()
        .join(", ");
    (cells, text(&queue["cohort"]))
}

pub async fn queues_list(client: &Client, json_out: bool) -> anyhow::Result<()> {
    let reply = client.get("/api/v1/queues", &[]).await?;
    if json_out {
        return print_json(&reply);
    }
    let rows: Vec<Vec<String>> = reply["queues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            let (usage, cohort) = quota_cells(q);
            vec![
                text(&q["name"]),
                text(&q["team"]),
                cohort,
                text(&q["pending"]),
                text(&q["admitted"]),
                usage,
            ]
        })
        .collect();
    print_table(
        &[
            "QUEUE",
            "TEAM",
            "COHORT",
            "PENDING",
            "RUNNING",
            "USED/NOMINAL",
        ],
        &rows,
    );
    Ok(())
}

pub async fn queue_show(client: &Client, name: &str, json_out: bool) -> anyhow::Result<()> {
    let reply = client
        .request(Method::GET, &["api", "v1", "queues", name], None)
        .await?;
    if json_out {
        return print_json(&reply);
    }
    let queue = &reply["queue"];
    let (usage, cohort) = quota_cells(queue);
    println!(
        "queue {} (team {}, cohort {cohort})",
        text(&queue["name"]),
        text(&queue["team"])
    );
    println!("used/nominal: {usage}\n");
    let rows: Vec<Vec<String>> = reply["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|job| {
            vec![
                text(&job["id"]),
                text(&job["state"]),
                text(&job["priority"]),
                text(&job["message"]),
            ]
        })
        .collect();
    print_table(&["JOB", "STATE", "PRIORITY", "MESSAGE"], &rows);
    Ok(())
}

/// Shows the plan, then applies it unless `dry_run`.
pub async fn queues_apply(
    client: &Client,
    file: &std::path::Path,
    dry_run: bool,
    json_out: bool,
) -> anyhow::Result<()> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let dry = if dry_run { "true" } else { "false" };
    let reply = client
        .send_bytes(
            Method::POST,
            &["api", "v1", "queues", "apply"],
            &[("dry_run", dry)],
            body,
        )
        .await?;
    if json_out {
        return print_json(&reply);
    }
    let changes = reply["changes"].as_array().cloned().unwrap_or_default();
    if changes.is_empty() {
        println!("no changes (version {})", text(&reply["version"]));
        return Ok(());
    }
    for change in &changes {
        println!("{}", text(change));
    }
    if reply["applied"].as_bool() == Some(true) {
        println!("applied as version {}", text(&reply["version"]));
    } else {
        println!("dry run: nothing applied");
    }
    Ok(())
}
