//! Jobs: what users submit, the states a job moves through and which moves are allowed, and the
//! events that record every move.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::resources::{Resource, Resources};
use crate::scheduler::Admission;

/// A submission as it arrives over the API or from `galley jobs submit`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Defaults to the `default` team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Defaults to the team's first queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The program and its arguments, run without a shell.
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Per replica.
    #[serde(default)]
    pub resources: ResourceSpec,
    /// Replicas of a gang: all start together or none does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// A priority class name or an integer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// A length such as `30m`; the job fails when it runs longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_runtime: Option<String>,
    /// Attempts after the first when the job fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Wait before the first retry, doubled for each later one; default 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_backoff: Option<String>,
    /// `local` (default), `ray` or `kubernetes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
}

/// Per-replica resources as users write them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    /// Cores or millicores (`2`, `0.5`, `500m`); default 1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "quantity"
    )]
    pub cpu: Option<String>,
    /// Bytes or a quantity (`4Gi`); default 1Gi.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "quantity"
    )]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpus: u32,
    /// Any flavor the queue has quota for when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_flavor: Option<String>,
}

/// A quantity written as a string (`500m`) or a bare number (`2`).
fn quantity<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Quantity {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(
        Option::<Quantity>::deserialize(deserializer)?.map(|q| match q {
            Quantity::Text(text) => text,
            Quantity::Number(number) => number.to_string(),
        }),
    )
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Per-replica resources once read: a GPU flavor may still be open until admission picks one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaRequest {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub gpus: u32,
    pub gpu_flavor: Option<String>,
}

impl ReplicaRequest {
    /// One replica's resources with the GPU flavor settled.
    pub fn resources(&self, flavor: Option<&str>) -> Resources {
        let mut out = Resources::new()
            .with(Resource::Cpu, self.cpu_millis)
            .with(Resource::Memory, self.memory_bytes);
        if let Some(flavor) = flavor {
            out.set(Resource::Gpu(flavor.to_string()), u64::from(self.gpus));
        }
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for admission (new, preempted, or between retries).
    Pending,
    /// Quota and nodes are held; the executor is starting it.
    Admitted,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Pending,
        JobState::Admitted,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Admitted => "admitted",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }

    /// Admitted and running jobs count against quota and hold node resources.
    pub fn holds_resources(self) -> bool {
        matches!(self, JobState::Admitted | JobState::Running)
    }

    /// The allowed moves. Back to pending is a preemption or a retry; terminal states are final.
    pub fn can_move_to(self, next: JobState) -> bool {
        use JobState::*;
        match self {
            Pending => matches!(next, Admitted | Failed | Cancelled),
            Admitted => matches!(next, Running | Pending | Failed | Cancelled),
            Running => matches!(next, Pending | Succeeded | Failed | Cancelled),
            Succeeded | Failed | Cancelled => false,
        }
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job as stored: the submission read and resolved, and where it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub name: String,
    pub team: String,
    pub queue: String,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub working_dir: Option<String>,
    pub replicas: u32,
    pub request: ReplicaRequest,
    pub priority_class: String,
    pub priority: i64,
    pub max_runtime_ms: Option<i64>,
    pub retries: u32,
    pub retry_backoff_ms: i64,
    pub executor: String,
    pub state: JobState,
    /// 1 for the first attempt; a retry or a preemption starts the next.
    pub attempt: u32,
    pub submitted_at: i64,
    /// Retries wait until then.
    pub not_before: Option<i64>,
    pub admission: Option<Admission>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub exit_code: Option<i32>,
    /// Why the job waits, or how it ended.
    pub message: Option<String>,
    /// The executor's own id for the job (a Ray submission id, a Kubernetes Job name).
    pub external_id: Option<String>,
    /// The tracking run the job logs to (its `MLFLOW_RUN_ID`), made when it first starts.
    pub run_id: Option<String>,
}

/// One recorded move or happening of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    pub job_id: String,
    pub at: i64,
    /// `submitted`, `admitted`, `started`, `preempted`, `retrying`, `succeeded`, `failed`,
    /// `cancelled`, `timed_out`, `requeued`.
    pub kind: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_are_final_and_only_held_states_hold_resources() {
        for from in JobState::ALL {
            for to in JobState::ALL {
                if from.is_terminal() {
                    assert!(!from.can_move_to(to));
                }
            }
            assert_eq!(JobState::parse(from.as_str()), Some(from));
            assert_eq!(
                from.holds_resources(),
                matches!(from, JobState::Admitted | JobState::Running)
            );
        }
        assert!(JobState::Running.can_move_to(JobState::Pending));
        assert!(!JobState::Pending.can_move_to(JobState::Running));
    }
}
