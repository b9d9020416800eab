//! The wall time of one scheduling pass over a large backlog: the figure that says whether the
//! run loop can afford a pass after every event.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::engine::{prepare_jobs, Teams};
use super::generate::{generate, team_name, GenerateOptions};
use super::Cluster;
use crate::scheduler::{schedule, Workload};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassLatency {
    pub pending: usize,
    pub running: usize,
    pub gpus: u64,
    pub repetitions: usize,
    pub min_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
    /// What the timed pass decided, to show it did real work.
    pub admitted: usize,
    pub preempted: usize,
}

/// Jobs offered to the first pass that fills the cluster.
const FILL: usize = 1_000;

/// Times `repetitions` passes over `pending` pending jobs and the few hundred running jobs of a
/// full cluster of 64 nodes × 8 GPUs shared by 4 teams (a generated trace, so the job mix is
/// [`generate`]'s). The pass runs an hour after the last submission, so every running job may be
/// preempted and every queue's head is old enough to reserve: the expensive paths all run.
pub fn pass_latency(pending: usize, repetitions: usize, seed: u64) -> PassLatency {
    let cluster = Cluster {
        nodes: 64,
        ..Cluster::default()
    };
    let teams: Vec<String> = (0..4).map(team_name).collect();
    let config = cluster.config(&teams);
    let nodes = cluster.inventory();
    let trace = generate(&GenerateOptions {
        seed,
        jobs: pending + FILL,
        teams: teams.len(),
        load: 1.0,
        cluster_gpus: cluster.gpus(),
        max_gpus: None,
    });
    let prepared = prepare_jobs(&trace, &config, &nodes, true, &Teams::of(&config))
        .expect("the generator's teams are the configuration's");
    let mut workloads: Vec<Workload> = prepared.jobs.into_iter().map(|j| j.workload).collect();
    let fill_at = workloads[..FILL.min(workloads.len())]
        .last()
        .map_or(0, |w| w.submitted_at);
    let fill = schedule(
        &config,
        Some(&nodes),
        &workloads[..FILL.min(workloads.len())],
        fill_at,
    );
    for admitted in fill.admitted {
        let at: usize = admitted.job.parse().expect("prepared job ids are indices");
        workloads[at].admission = Some(admitted.admission);
    }
    let (running, waiting): (Vec<Workload>, Vec<Workload>) =
        workloads.into_iter().partition(|w| w.admission.is_some());
    let running_count = running.len();
    let now = waiting
        .iter()
        .map(|w| w.submitted_at)
        .max()
        .unwrap_or(fill_at)
        + 3_600_000;
    let mut jobs = running;
    jobs.extend(waiting.into_iter().take(pending));
    let mut times = Vec::with_capacity(repetitions);
    let mut last = None;
    for _ in 0..repetitions.max(1) {
        let started = Instant::now();
        let decisions = schedule(&config, Some(&nodes), &jobs, now);
        times.push(started.elapsed().as_secs_f64() * 1e3);
        last = Some(decisions);
    }
    times.sort_by(f64::total_cmp);
    let decisions = last.unwrap_or_default();
    PassLatency {
        pending: jobs.len() - running_count,
        running: running_count,
        gpus: cluster.gpus(),
        repetitions: times.len(),
        min_ms: times[0],
        median_ms: times[times.len() / 2],
        max_ms: times[times.len() - 1],
        admitted: decisions.admitted.len(),
        preempted: decisions.preempted.len(),
    }
}
