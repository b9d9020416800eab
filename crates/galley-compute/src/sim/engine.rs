//! The discrete-event replay: submissions and completions on a virtual clock in milliseconds,
//! a scheduling pass after each instant's events, decisions folded back as the server's run loop
//! folds them, and the accounting the report is made of.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use super::report::{Accounting, SimReport};
use super::trace::TraceJob;
use crate::config::{ComputeConfig, Policy};
use crate::error::{ComputeError, Result};
use crate::inventory::Node;
use crate::job::{JobSpec, ResourceSpec};
use crate::resources::Resource;
use crate::scheduler::{schedule, Workload};
use crate::submit::prepare;

#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Replaces the configuration's own policy for the replay.
    pub policy: Policy,
    /// Each job declares its trace duration as its max runtime (default on; see the module
    /// documentation). Off, reservations hold their room and nothing backfills.
    pub declared_max_runtime: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            policy: Policy::default(),
            declared_max_runtime: true,
        }
    }
}

/// Replays `trace` on `nodes` (none: quota alone, placement left out) under `config`'s queues
/// with `options.policy`. Fails when a trace team has no queue in `config`.
pub fn simulate(
    trace: &[TraceJob],
    config: &ComputeConfig,
    nodes: &[Node],
    options: &SimOptions,
) -> Result<SimReport> {
    let mut config = config.clone();
    config.policy = options.policy.clone();
    let teams = Teams::of(&config);
    let prepared = prepare_jobs(trace, &config, nodes, options.declared_max_runtime, &teams)?;
    let cluster_gpus = if nodes.is_empty() {
        teams.nominal_gpus.iter().sum()
    } else {
        nodes
            .iter()
            .flat_map(|n| &n.gpus)
            .map(|g| u64::from(g.slices))
            .sum()
    };
    let mut replay = Replay::new(&config, nodes, prepared.jobs, teams.nominal_gpus.clone());
    replay.run();
    Ok(replay.accounting.into_report(
        &config.policy,
        options,
        cluster_gpus,
        &teams,
        &replay.jobs,
        prepared.refused,
    ))
}

/// The teams of a configuration in file order, and their nominal GPUs.
pub(crate) struct Teams {
    pub names: Vec<String>,
    /// Nominal GPUs of every flavor over all the team's queues.
    pub nominal_gpus: Vec<u64>,
}

impl Teams {
    pub fn of(config: &ComputeConfig) -> Teams {
        let mut teams = Teams {
            names: Vec::new(),
            nominal_gpus: Vec::new(),
        };
        for queue in &config.queues {
            let gpus: u64 = queue
                .quotas
                .iter()
                .filter(|(r, _)| matches!(r, Resource::Gpu(_)))
                .map(|(_, q)| q.nominal)
                .sum();
            match teams.names.iter().position(|t| *t == queue.team) {
                Some(i) => teams.nominal_gpus[i] += gpus,
                None => {
                    teams.names.push(queue.team.clone());
                    teams.nominal_gpus.push(gpus);
                }
            }
        }
        teams
    }

    fn index(&self, team: &str) -> Option<usize> {
        self.names.iter().position(|t| t == team)
    }
}

/// A trace job during the replay. Its workload id is its index in [`Prepared::jobs`].
pub(crate) struct SimJob {
    pub team: usize,
    pub submit_ms: i64,
    pub duration_ms: i64,
    /// All replicas' GPUs: what the job holds while it runs.
    pub gpus: u64,
    pub workload: Workload,
    /// Bumped by each preemption, so the completion planned for an earlier attempt is void.
    pub attempt: u32,
    pub started_ms: i64,
    pub first_started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
}

pub(crate) struct Prepared {
    /// In submission order.
    pub jobs: Vec<SimJob>,
    /// Per team: jobs refused as never able to run, and the first reason.
    pub refused: Vec<(usize, Option<String>)>,
}

/// Turns trace jobs into pending workloads through the server's own submission path.
pub(crate) fn prepare_jobs(
    trace: &[TraceJob],
    config: &ComputeConfig,
    nodes: &[Node],
    declared_max_runtime: bool,
    teams: &Teams,
) -> Result<Prepared> {
    let unknown: Vec<String> = super::trace_teams(trace)
        .into_iter()
        .filter(|t| teams.index(t).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(ComputeError::InvalidInput(format!(
            "the trace names team(s) with no queue in the configuration: {} (teams: {})",
            unknown.join(", "),
            teams.names.join(", ")
        )));
    }
    let per_node = nodes
        .iter()
        .map(|n| n.gpus.iter().map(|g| g.slices).sum::<u32>())
        .max()
        .unwrap_or(0);
    let mut order: Vec<usize> = (0..trace.len()).collect();
    order.sort_by_key(|&i| (trace[i].submit_s, i));
    let nodes_given = (!nodes.is_empty()).then_some(nodes);
    // Jobs of one shape and team are accepted or refused alike: check each shape once.
    let mut shapes: HashMap<(usize, u32, u32), Result<Workload, String>> = HashMap::new();
    let mut refused = vec![(0, None); teams.names.len()];
    let mut jobs = Vec::with_capacity(trace.len());
    for i in order {
        let job = &trace[i];
        let team = teams.index(&job.team).unwrap_or_default();
        let shape = match shapes.entry((team, job.gpus, job.cpus)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let spec = job_spec(job, &teams.names[team], per_node);
                let accepted = match prepare(spec, config, nodes_given, String::new(), 0) {
                    Ok(accepted) => Ok(Workload::of(&accepted).expect("a prepared job is pending")),
                    Err(ComputeError::Infeasible(reason)) => Err(reason),
                    Err(other) => return Err(other),
                };
                e.insert(accepted)
            }
        };
        let template = match shape {
            Ok(workload) => workload,
            Err(reason) => {
                refused[team].0 += 1;
                refused[team]
                    .1
                    .get_or_insert_with(|| format!("job {} ({} GPUs): {reason}", job.id, job.gpus));
                continue;
            }
        };
        let submit_ms = job.submit_s.saturating_mul(1_000);
        let duration_ms = job.duration_s.saturating_mul(1_000);
        let mut workload = template.clone();
        workload.id = jobs.len().to_string();
        workload.submitted_at = submit_ms;
        workload.max_runtime_ms = declared_max_runtime.then_some(duration_ms);
        jobs.push(SimJob {
            team,
            submit_ms,
            duration_ms,
            gpus: u64::from(workload.request.gpus) * u64::from(workload.replicas),
            workload,
            attempt: 0,
            started_ms: 0,
            first_started_ms: None,
            finished_ms: None,
        });
    }
    Ok(Prepared { jobs, refused })
}

/// A trace job as a submission; wider than a node, it becomes a gang of node-sized replicas.
fn job_spec(job: &TraceJob, team: &str, per_node: u32) -> JobSpec {
    let replicas = if per_node > 0 && job.gpus > per_node {
        job.gpus.div_ceil(per_node)
    } else {
        1
    };
    JobSpec {
        team: Some(team.to_string()),
        command: vec!["trace-job".into()],
        resources: ResourceSpec {
            cpu: Some(job.cpus.div_ceil(replicas).to_string()),
            memory: Some("0".into()),
            gpus: job.gpus.div_ceil(replicas),
            gpu_flavor: None,
        },
        replicas: Some(replicas),
        ..JobSpec::default()
    }
}

const MAX_PASSES_PER_INSTANT: usize = 64;

struct Replay<'a> {
    config: &'a ComputeConfig,
    nodes: Option<&'a [Node]>,
    jobs: Vec<SimJob>,
    /// Pending and running workloads, what each pass is given; `active_job` and `slot` map
    /// between places here and jobs.
    active: Vec<Workload>,
    active_job: Vec<usize>,
    slot: Vec<Option<usize>>,
    next_submission: usize,
    /// (end, job, attempt), earliest first.
    ends: BinaryHeap<Reverse<(i64, usize, u32)>>,
    /// When a running job reaches the minimum runtime while jobs wait.
    wake: Option<i64>,
    now: i64,
    accounting: Accounting,
}

impl<'a> Replay<'a> {
    fn new(
        config: &'a ComputeConfig,
        nodes: &'a [Node],
        jobs: Vec<SimJob>,
        nominal_gpus: Vec<u64>,
    ) -> Self {
        let start = jobs.first().map_or(0, |j| j.submit_ms);
        Replay {
            config,
            nodes: (!nodes.is_empty()).then_some(nodes),
            slot: vec![None; jobs.len()],
            jobs,
            active: Vec::new(),
            active_job: Vec::new(),
            next_submission: 0,
            ends: BinaryHeap::new(),
            wake: None,
            now: start,
            accounting: Accounting::new(nominal_gpus, start),
        }
    }

    fn run(&mut self) {
        while let Some(t) = self.next_instant() {
            self.accounting.advance(self.now, t);
            self.now = t;
            while let Some(&Reverse((end, job, attempt))) = self.ends.peek() {
                if end > t {
                    break;
                }
                self.ends.pop();
                if attempt == self.jobs[job].attempt {
                    self.finish(job);
                }
            }
            while let Some(job) = self.jobs.get(self.next_submission) {
                if job.submit_ms > t {
                    break;
                }
                self.slot[self.next_submission] = Some(self.active.len());
                self.active.push(job.workload.clone());
                self.active_job.push(self.next_submission);
                self.next_submission += 1;
            }
            // The run loop passes again once preempted jobs have stopped; here that is at once,
            // so a queue's next job may preempt too (one may per queue and pass). The cap keeps
            // a policy that undid its own preemptions from stalling the replay.
            for _ in 0..MAX_PASSES_PER_INSTANT {
                let waiting = self.active.iter().any(|w| w.admission.is_none());
                if !waiting || self.pass() == 0 {
                    break;
                }
            }
            self.wake = self.next_wake();
            self.accounting
                .mark_below_nominal(t, &self.jobs, &self.active, &self.active_job);
        }
        self.accounting.close(self.now);
    }

    /// The next instant anything happens; `None` when the replay is over (jobs still pending
    /// then can never be admitted).
    fn next_instant(&mut self) -> Option<i64> {
        while let Some(&Reverse((_, job, attempt))) = self.ends.peek() {
            if attempt == self.jobs[job].attempt {
                break;
            }
            self.ends.pop();
        }
        let submission = self.jobs.get(self.next_submission).map(|j| j.submit_ms);
        let end = self.ends.peek().map(|Reverse((end, _, _))| *end);
        [submission, end, self.wake].into_iter().flatten().min()
    }

    /// Runs one pass and carries out its decisions; returns how many jobs it preempted.
    fn pass(&mut self) -> usize {
        let started = Instant::now();
        let decisions = schedule(self.config, self.nodes, &self.active, self.now);
        self.accounting
            .passes_ms
            .push(started.elapsed().as_secs_f64() * 1e3);
        let index = |id: &str| id.parse::<usize>().expect("replayed job ids are indices");
        for preempted in &decisions.preempted {
            let job = index(&preempted.job);
            let at = self.slot[job].expect("a preempted job is active");
            self.active[at].admission = None;
            let sim = &mut self.jobs[job];
            sim.attempt += 1;
            self.accounting.preempted(sim, self.now);
        }
        for admitted in decisions.admitted {
            let job = index(&admitted.job);
            let at = self.slot[job].expect("an admitted job is active");
            self.active[at].admission = Some(admitted.admission);
            let sim = &mut self.jobs[job];
            sim.started_ms = self.now;
            sim.first_started_ms.get_or_insert(self.now);
            self.ends
                .push(Reverse((self.now + sim.duration_ms, job, sim.attempt)));
            self.accounting.started(sim);
        }
        decisions.preempted.len()
    }

    fn finish(&mut self, job: usize) {
        let at = self.slot[job].take().expect("a finishing job is active");
        self.active.swap_remove(at);
        self.active_job.swap_remove(at);
        if let Some(&moved) = self.active_job.get(at) {
            self.slot[moved] = Some(at);
        }
        let sim = &mut self.jobs[job];
        sim.finished_ms = Some(self.now);
        self.accounting.finished(sim);
    }

    /// Without preemption, or with no one waiting, only submissions and completions matter.
    fn next_wake(&self) -> Option<i64> {
        let policy = &self.config.policy;
        if !policy.preemption || self.active.iter().all(|w| w.admission.is_some()) {
            return None;
        }
        self.active
            .iter()
            .filter_map(|w| w.admission.as_ref())
            .map(|a| a.admitted_at + policy.min_runtime_ms)
            .filter(|t| *t > self.now)
            .min()
    }
}
