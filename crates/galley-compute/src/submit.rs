//! A submission read, resolved against the configuration and checked against what could ever
//! run: a job that no queue quota or node could hold is refused at once, with the reason, rather
//! than left pending forever.

use std::rc::Rc;

use galley_core::duration::parse_duration_ms;

use crate::config::{ComputeConfig, DEFAULT_TEAM};
use crate::error::{ComputeError, Result};
use crate::inventory::Node;
use crate::job::{Job, JobSpec, JobState, ReplicaRequest};
use crate::resources::{parse_cpu, parse_memory, valid_flavor};
use crate::scheduler::{Ask, Dims, NodeBook, QuotaBook, Workload};

pub const MAX_REPLICAS: u32 = 1_000;
pub const MAX_RETRIES: u32 = 100;
pub const EXECUTORS: [&str; 3] = ["local", "ray", "kubernetes"];
const DEFAULT_CPU_MILLIS: u64 = 1_000;
const DEFAULT_MEMORY_BYTES: u64 = 1 << 30;
const DEFAULT_RETRY_BACKOFF_MS: i64 = 10_000;

/// Reads `spec` into a pending job with id `id`, or says why it cannot be accepted.
/// `nodes` is the inventory admission will place on, when there is one.
pub fn prepare(
    spec: JobSpec,
    config: &ComputeConfig,
    nodes: Option<&[Node]>,
    id: String,
    now: i64,
) -> Result<Job> {
    let invalid = |m: String| Err(ComputeError::InvalidInput(m));
    if spec.command.is_empty() || spec.command[0].is_empty() {
        return invalid("command must name a program".into());
    }
    let team = spec.team.unwrap_or_else(|| DEFAULT_TEAM.to_string());
    let team_queues: Vec<_> = config.queues.iter().filter(|q| q.team == team).collect();
    if team_queues.is_empty() {
        let teams: Vec<_> = config.teams().into_iter().collect();
        return Err(ComputeError::NotFound(format!(
            "unknown team '{team}' (teams: {})",
            teams.join(", ")
        )));
    }
    let queue = match &spec.queue {
        None => team_queues[0],
        Some(name) => match team_queues.iter().find(|q| &q.name == name) {
            Some(queue) => queue,
            None => {
                let names: Vec<_> = team_queues.iter().map(|q| q.name.as_str()).collect();
                return Err(ComputeError::NotFound(format!(
                    "team {team} has no queue '{name}' (its queues: {})",
                    names.join(", ")
                )));
            }
        },
    };
    let name = spec.name.unwrap_or_else(|| {
        std::path::Path::new(&spec.command[0])
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "job".into())
    });
    if name.len() > 256 {
        return invalid("name is longer than 256 characters".into());
    }
    for key in spec.env.keys() {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return invalid(format!("env name '{key}' is not a valid variable name"));
        }
    }
    let request = ReplicaRequest {
        cpu_millis: match &spec.resources.cpu {
            Some(text) => parse_cpu(text).map_err(ComputeError::InvalidInput)?,
            None => DEFAULT_CPU_MILLIS,
        },
        memory_bytes: match &spec.resources.memory {
            Some(text) => parse_memory(text).map_err(ComputeError::InvalidInput)?,
            None => DEFAULT_MEMORY_BYTES,
        },
        gpus: spec.resources.gpus,
        gpu_flavor: spec.resources.gpu_flavor.clone(),
    };
    if let Some(flavor) = &request.gpu_flavor {
        if !valid_flavor(flavor) {
            return invalid(format!("'{flavor}' is not a GPU flavor name"));
        }
    }
    let replicas = spec.replicas.unwrap_or(1);
    if !(1..=MAX_REPLICAS).contains(&replicas) {
        return invalid(format!("replicas must be between 1 and {MAX_REPLICAS}"));
    }
    let (priority_class, priority) = config.priority(spec.priority.as_deref())?;
    let max_runtime_ms = spec
        .max_runtime
        .as_deref()
        .map(|text| {
            parse_duration_ms(text).filter(|ms| *ms > 0).ok_or_else(|| {
                ComputeError::InvalidInput(format!(
                    "max_runtime '{text}' is not a length like 90s, 30m or 2h"
                ))
            })
        })
        .transpose()?;
    let retries = spec.retries.unwrap_or(0);
    if retries > MAX_RETRIES {
        return invalid(format!("retries must be at most {MAX_RETRIES}"));
    }
    let retry_backoff_ms = match spec.retry_backoff.as_deref() {
        None => DEFAULT_RETRY_BACKOFF_MS,
        Some(text) => parse_duration_ms(text).ok_or_else(|| {
            ComputeError::InvalidInput(format!("retry_backoff '{text}' is not a length like 10s"))
        })?,
    };
    let executor = spec.executor.unwrap_or_else(|| "local".into());
    if !EXECUTORS.contains(&executor.as_str()) {
        return invalid(format!(
            "unknown executor '{executor}' (one of {})",
            EXECUTORS.join(", ")
        ));
    }
    let job = Job {
        id,
        name,
        team,
        queue: queue.name.clone(),
        command: spec.command,
        env: spec.env,
        working_dir: spec.working_dir,
        replicas,
        request,
        priority_class,
        priority,
        max_runtime_ms,
        retries,
        retry_backoff_ms,
        executor,
        state: JobState::Pending,
        attempt: 1,
        submitted_at: now,
        not_before: None,
        admission: None,
        started_at: None,
        finished_at: None,
        exit_code: None,
        message: None,
        external_id: None,
        run_id: None,
    };
    check_feasible(&job, config, nodes)?;
    Ok(job)
}

/// Refuses a job no GPU flavor of its queue could ever hold, by quota or by nodes.
fn check_feasible(job: &Job, config: &ComputeConfig, nodes: Option<&[Node]>) -> Result<()> {
    let workload = Workload::of(job).expect("a new job is pending");
    let dims = Rc::new(Dims::new(config, nodes, std::slice::from_ref(&workload)));
    let book = QuotaBook::new(config, Rc::clone(&dims));
    let queue = book
        .queue_index(&job.queue)
        .expect("the queue was resolved from this configuration");
    let node_book = nodes.map(|nodes| NodeBook::new(nodes, Rc::clone(&dims)));
    let ask = Ask::of(&workload, &dims);
    let mut flavors = book.choices(&ask, queue).peekable();
    if flavors.peek().is_none() {
        return Err(ComputeError::Infeasible(format!(
            "queue {} has no GPU quota",
            job.queue
        )));
    }
    let mut reasons = Vec::new();
    for flavor in flavors {
        let total = ask.demand(flavor);
        let over: Vec<String> = total
            .iter()
            .filter_map(|&(resource, amount)| {
                let name = dims.name(resource);
                if !book.has_quota_for(queue, resource) {
                    return Some(format!("queue {} has no quota for {name}", job.queue));
                }
                let ceiling = book.ceiling(queue, resource);
                (amount > ceiling).then(|| {
                    format!(
                        "{} {name} in all is more than queue {} can ever hold ({})",
                        dims.format_amount(resource, amount),
                        job.queue,
                        dims.format_amount(resource, ceiling)
                    )
                })
            })
            .collect();
        if !over.is_empty() {
            reasons.push(over.join("; "));
            continue;
        }
        if let Some(node_book) = &node_book {
            if !node_book.fits(&ask, flavor) {
                let short = node_book.shortfall(&ask, flavor);
                let listing = node_book.free_listing(short.resource);
                reasons.push(format!(
                    "no set of nodes can ever hold it ({})",
                    short
                        .message(&dims, &listing)
                        .replace("; free:", "; capacity:")
                ));
                continue;
            }
        }
        return Ok(());
    }
    Err(ComputeError::Infeasible(reasons.join(" | ")))
}

/// Job ids: `job-` and 12 hex digits, short enough to type.
pub fn new_job_id() -> String {
    format!("job-{}", &galley_core::ids::new_run_id()[..12])
}
