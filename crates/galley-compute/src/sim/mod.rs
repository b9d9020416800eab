//! Job traces replayed through the scheduling core on a virtual clock (`galley sim`): the same
//! [`crate::scheduler::schedule`] the server runs, fed a trace instead of submissions, so policies
//! can be compared on the same workload before anyone's jobs depend on them.
//!
//! - [`trace`]: the CSV trace format (Helios' own columns are read too).
//! - [`generate`](mod@generate): synthetic traces shaped after the Helios and Philly traces.
//! - [`simulate`]: the discrete-event replay, and its [`SimReport`] ([`report_markdown`]).
//! - [`pass_latency`]: the wall time of one pass with many pending jobs.
//!
//! How a trace becomes jobs, and where that differs from a real cluster:
//! - Each trace job is submitted to the first queue of its team at the default priority, through
//!   the same [`crate::submit::prepare`] the server uses: a job no quota or node could ever hold
//!   is refused and counted, never left pending. Jobs ask for no memory (traces do not record it).
//! - A job with more GPUs than the largest node holds becomes a gang of the fewest replicas that
//!   fit on such nodes, GPUs and cores split evenly and rounded up (a 12-GPU job on 8-GPU nodes is
//!   2 × 6 GPUs; a 9-GPU one 2 × 5, so it holds one GPU more than it asked for).
//! - Users declare their job's duration as its max runtime by default
//!   ([`SimOptions::declared_max_runtime`]): that is what lets reservations admit backfill. A
//!   trace's duration is the job's true run time, so the declaration is exact; real declarations
//!   overestimate, which makes backfill rarer.
//! - A preempted job loses its progress: it goes back to pending and, when admitted again, runs
//!   its full duration (checkpointing would make preemption cheaper than simulated here).
//! - The scheduler runs after every batch of submissions and completions at one instant, again at
//!   once after a pass that preempted (the server's run loop passes again when the victims have
//!   stopped, which takes seconds there and no time here), and at the instant a running job
//!   reaches the minimum runtime (a pending job could now preempt it). Between these instants a
//!   pass would admit and preempt nothing new, so none is run.

mod engine;
pub mod generate;
mod latency;
mod report;
pub mod trace;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

pub use engine::{simulate, SimOptions};
pub use generate::{generate, GenerateOptions};
pub use latency::{pass_latency, PassLatency};
pub use report::{report_markdown, SimReport, SizeReport, Summary, TeamReport};
pub use trace::{parse_trace, write_trace, TraceJob};

use crate::config::{ComputeConfig, Policy, Queue, Quota};
use crate::error::{ComputeError, Result};
use crate::inventory::{Gpu, Node};
use crate::resources::Resource;

/// `fifo` (Kueue's StrictFIFO with borrowing, the baseline) or `galley` (the default policy).
pub fn policy_named(name: &str) -> Result<Policy> {
    match name {
        "fifo" => Ok(Policy::fifo()),
        "galley" => Ok(Policy::default()),
        _ => Err(ComputeError::InvalidInput(format!(
            "unknown policy '{name}' (fifo or galley)"
        ))),
    }
}

/// The teams a trace names, sorted.
pub fn trace_teams(trace: &[TraceJob]) -> Vec<String> {
    let teams: BTreeSet<&str> = trace.iter().map(|j| j.team.as_str()).collect();
    teams.into_iter().map(str::to_string).collect()
}

/// A uniform cluster to replay a trace on when no inventory is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub nodes: usize,
    pub gpus_per_node: u32,
    pub cpus_per_node: u32,
    pub flavor: String,
}

impl Default for Cluster {
    /// 32 nodes of 8 GPUs and 64 cores: 256 GPUs, the size of one of Helios' smaller clusters'
    /// partitions and enough for many teams to contend.
    fn default() -> Self {
        Cluster {
            nodes: 32,
            gpus_per_node: 8,
            cpus_per_node: 64,
            flavor: "nvidia-v100".into(),
        }
    }
}

impl Cluster {
    pub fn gpus(&self) -> u64 {
        self.nodes as u64 * u64::from(self.gpus_per_node)
    }

    pub fn inventory(&self) -> Vec<Node> {
        (0..self.nodes)
            .map(|n| {
                let name = format!("node-{n:03}");
                Node {
                    gpus: (0..self.gpus_per_node)
                        .map(|g| Gpu {
                            id: format!("{name}-gpu-{g}"),
                            flavor: self.flavor.clone(),
                            slices: 1,
                        })
                        .collect(),
                    name,
                    cpu_millis: u64::from(self.cpus_per_node) * 1_000,
                    memory_bytes: 1 << 40,
                }
            })
            .collect()
    }

    /// One queue per team, named after it, all in cohort `cluster` with weight 1, and the
    /// cluster's GPUs and cores split evenly as nominal quota (the first teams take the
    /// remainder): idle quota is lent, and every team can reclaim its share.
    pub fn config(&self, teams: &[String]) -> ComputeConfig {
        let split = |total: u64, i: usize| {
            let n = teams.len() as u64;
            total / n + u64::from((i as u64) < total % n)
        };
        let quota = |nominal| Quota {
            nominal,
            borrowing_limit: None,
            lending_limit: None,
        };
        let cpu_millis = self.nodes as u64 * u64::from(self.cpus_per_node) * 1_000;
        let mut config = ComputeConfig::for_inventory(&[]);
        config.queues = teams
            .iter()
            .enumerate()
            .map(|(i, team)| Queue {
                name: team.clone(),
                team: team.clone(),
                cohort: Some("cluster".into()),
                weight: 1.0,
                quotas: vec![
                    (Resource::Cpu, quota(split(cpu_millis, i))),
                    (
                        Resource::Gpu(self.flavor.clone()),
                        quota(split(self.gpus(), i)),
                    ),
                ],
            })
            .collect();
        config
    }
}
