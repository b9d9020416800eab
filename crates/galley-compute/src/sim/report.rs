//! What a replay measured: the running accounting kept between events, the [`SimReport`] made
//! from it, and that report as markdown.

use galley_core::duration::format_duration_ms;
use serde::{Deserialize, Serialize};

use super::engine::{SimJob, SimOptions, Teams};
use crate::config::{Policy, Queueing};
use crate::scheduler::Workload;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimReport {
    pub policy: Policy,
    pub declared_max_runtime: bool,
    pub cluster_gpus: u64,
    /// Trace jobs, refused ones included.
    pub jobs: usize,
    pub finished: usize,
    /// Refused at submission: no quota or node could ever hold them.
    pub refused: usize,
    /// The first refusal's reason, as the server would give it.
    pub refusal: Option<String>,
    /// Still pending when nothing else could happen.
    pub unfinished: usize,
    /// Completion minus submission, over finished jobs.
    pub jct_s: Summary,
    /// First start minus submission, over finished jobs.
    pub queueing_s: Summary,
    /// First submission to last completion.
    pub makespan_s: f64,
    /// GPU time held by jobs over the cluster's GPU time during the makespan.
    pub gpu_utilisation: f64,
    pub gpu_hours: f64,
    /// Held by jobs that were then preempted: run again from the start.
    pub gpu_hours_lost: f64,
    pub preemptions: u64,
    pub passes: usize,
    /// Wall time of one scheduling pass on this machine.
    pub pass_ms: Summary,
    pub teams: Vec<TeamReport>,
    /// Finished jobs by GPUs held: whether small jobs pass big ones at the big ones' expense.
    pub sizes: Vec<SizeReport>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SizeReport {
    /// `CPU only`, `1 GPU`, `2-7 GPUs` or `8+ GPUs`.
    pub size: String,
    pub jct_s: Summary,
    pub queueing_s: Summary,
}

const SIZES: [(&str, u64, u64); 4] = [
    ("CPU only", 0, 0),
    ("1 GPU", 1, 1),
    ("2-7 GPUs", 2, 7),
    ("8+ GPUs", 8, u64::MAX),
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamReport {
    pub team: String,
    pub jobs: usize,
    pub finished: usize,
    pub refused: usize,
    pub gpu_hours: f64,
    /// Of all GPU time jobs held.
    pub gpu_share: f64,
    pub nominal_gpus: u64,
    /// Of all teams' nominal GPUs.
    pub nominal_share: f64,
    pub jct_s: Summary,
    /// Time during which a pending GPU job of the team would have fit in the team's unused
    /// nominal GPUs while another team held more than its own nominal GPUs: the team had demand
    /// for its share and others had it. (Time below the share with the rest of the cluster idle
    /// or unplaceable, as when free GPUs are spread too thin for the job, is not counted: no
    /// policy of quotas could give the team more then.)
    pub below_nominal_s: f64,
    /// The longest such stretch.
    pub longest_below_nominal_s: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

impl Summary {
    /// Nearest-rank percentiles; all zero when there is nothing to summarise.
    pub fn of(mut values: Vec<f64>) -> Summary {
        if values.is_empty() {
            return Summary::default();
        }
        values.sort_by(f64::total_cmp);
        let rank =
            |p: f64| values[((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Summary {
            count: values.len(),
            mean: values.iter().sum::<f64>() / values.len() as f64,
            p50: rank(0.5),
            p95: rank(0.95),
            max: values[values.len() - 1],
        }
    }
}

/// Kept between events: what runs now, and what has accumulated.
pub(crate) struct Accounting {
    start_ms: i64,
    end_ms: i64,
    nominal_gpus: Vec<u64>,
    running_gpus: u64,
    team_running: Vec<u64>,
    gpu_ms: u64,
    team_gpu_ms: Vec<u64>,
    lost_gpu_ms: u64,
    preemptions: u64,
    below: Vec<Below>,
    pub passes_ms: Vec<f64>,
}

#[derive(Clone, Default)]
struct Below {
    since: Option<i64>,
    total_ms: i64,
    longest_ms: i64,
}

impl Accounting {
    pub fn new(nominal_gpus: Vec<u64>, start_ms: i64) -> Self {
        let teams = nominal_gpus.len();
        Accounting {
            start_ms,
            end_ms: start_ms,
            nominal_gpus,
            running_gpus: 0,
            team_running: vec![0; teams],
            gpu_ms: 0,
            team_gpu_ms: vec![0; teams],
            lost_gpu_ms: 0,
            preemptions: 0,
            below: vec![Below::default(); teams],
            passes_ms: Vec::new(),
        }
    }

    /// Nothing changed between `from` and `to`: what held then held all along.
    pub fn advance(&mut self, from: i64, to: i64) {
        let elapsed = (to - from).max(0) as u64;
        self.gpu_ms += self.running_gpus * elapsed;
        for (team, running) in self.team_running.iter().enumerate() {
            self.team_gpu_ms[team] += running * elapsed;
            if self.below[team].since.is_some() {
                self.below[team].total_ms += elapsed as i64;
            }
        }
    }

    pub fn started(&mut self, job: &SimJob) {
        self.running_gpus += job.gpus;
        self.team_running[job.team] += job.gpus;
    }

    pub fn preempted(&mut self, job: &SimJob, now: i64) {
        self.preemptions += 1;
        self.lost_gpu_ms += job.gpus * (now - job.started_ms).max(0) as u64;
        self.stopped(job);
    }

    pub fn finished(&mut self, job: &SimJob) {
        self.stopped(job);
    }

    fn stopped(&mut self, job: &SimJob) {
        self.running_gpus -= job.gpus;
        self.team_running[job.team] -= job.gpus;
    }

    /// After the instant `now`'s pass: which teams have a pending GPU job that fits in their
    /// unused nominal GPUs while another team borrows GPUs.
    pub fn mark_below_nominal(
        &mut self,
        now: i64,
        jobs: &[SimJob],
        active: &[Workload],
        active_job: &[usize],
    ) {
        let mut smallest_waiting: Vec<Option<u64>> = vec![None; self.nominal_gpus.len()];
        for (workload, &job) in active.iter().zip(active_job) {
            let job = &jobs[job];
            if workload.admission.is_none() && job.gpus > 0 {
                let smallest = &mut smallest_waiting[job.team];
                *smallest = Some(smallest.map_or(job.gpus, |s| s.min(job.gpus)));
            }
        }
        let borrowing: Vec<bool> = (self.team_running.iter().zip(&self.nominal_gpus))
            .map(|(running, nominal)| running > nominal)
            .collect();
        let borrowers = borrowing.iter().filter(|b| **b).count();
        for (team, smallest) in smallest_waiting.into_iter().enumerate() {
            let others_borrow = borrowers > usize::from(borrowing[team]);
            let below = others_borrow
                && smallest
                    .is_some_and(|gpus| self.team_running[team] + gpus <= self.nominal_gpus[team]);
            let stretch = &mut self.below[team];
            match (below, stretch.since) {
                (true, None) => stretch.since = Some(now),
                (false, Some(since)) => {
                    stretch.longest_ms = stretch.longest_ms.max(now - since);
                    stretch.since = None;
                }
                _ => {}
            }
        }
    }

    pub fn close(&mut self, now: i64) {
        self.end_ms = now;
        for stretch in &mut self.below {
            if let Some(since) = stretch.since.take() {
                stretch.longest_ms = stretch.longest_ms.max(now - since);
            }
        }
    }

    pub fn into_report(
        self,
        policy: &Policy,
        options: &SimOptions,
        cluster_gpus: u64,
        teams: &Teams,
        jobs: &[SimJob],
        refused: Vec<(usize, Option<String>)>,
    ) -> SimReport {
        let hours = |gpu_ms: u64| gpu_ms as f64 / 3.6e6;
        let jct = |j: &SimJob| j.finished_ms.map(|end| (end - j.submit_ms) as f64 / 1e3);
        let queueing = |j: &SimJob| j.first_started_ms.map(|s| (s - j.submit_ms) as f64 / 1e3);
        let makespan_ms = self.end_ms - self.start_ms;
        let nominal_total: u64 = self.nominal_gpus.iter().sum();
        let share = |part: f64, whole: f64| if whole > 0.0 { part / whole } else { 0.0 };
        let team_reports = teams
            .names
            .iter()
            .enumerate()
            .map(|(team, name)| {
                let own = || jobs.iter().filter(move |j| j.team == team);
                TeamReport {
                    team: name.clone(),
                    jobs: own().count() + refused[team].0,
                    finished: own().filter(|j| j.finished_ms.is_some()).count(),
                    refused: refused[team].0,
                    gpu_hours: hours(self.team_gpu_ms[team]),
                    gpu_share: share(self.team_gpu_ms[team] as f64, self.gpu_ms as f64),
                    nominal_gpus: self.nominal_gpus[team],
                    nominal_share: share(self.nominal_gpus[team] as f64, nominal_total as f64),
                    jct_s: Summary::of(own().filter_map(jct).collect()),
                    below_nominal_s: self.below[team].total_ms as f64 / 1e3,
                    longest_below_nominal_s: self.below[team].longest_ms as f64 / 1e3,
                }
            })
            .collect();
        let finished: Vec<&SimJob> = jobs.iter().filter(|j| j.finished_ms.is_some()).collect();
        let sizes = SIZES
            .iter()
            .map(|(name, least, most)| {
                let of_size = || {
                    finished
                        .iter()
                        .filter(|j| (*least..=*most).contains(&j.gpus))
                };
                SizeReport {
                    size: name.to_string(),
                    jct_s: Summary::of(of_size().filter_map(|j| jct(j)).collect()),
                    queueing_s: Summary::of(of_size().filter_map(|j| queueing(j)).collect()),
                }
            })
            .filter(|size| size.jct_s.count > 0)
            .collect();
        let refused_count = refused.iter().map(|(n, _)| n).sum();
        SimReport {
            policy: policy.clone(),
            declared_max_runtime: options.declared_max_runtime,
            cluster_gpus,
            jobs: jobs.len() + refused_count,
            finished: finished.len(),
            refused: refused_count,
            refusal: refused.into_iter().find_map(|(_, reason)| reason),
            unfinished: jobs.len() - finished.len(),
            jct_s: Summary::of(finished.iter().filter_map(|j| jct(j)).collect()),
            queueing_s: Summary::of(finished.iter().filter_map(|j| queueing(j)).collect()),
            makespan_s: makespan_ms as f64 / 1e3,
            gpu_utilisation: share(self.gpu_ms as f64, cluster_gpus as f64 * makespan_ms as f64),
            gpu_hours: hours(self.gpu_ms),
            gpu_hours_lost: hours(self.lost_gpu_ms),
            preemptions: self.preemptions,
            passes: self.passes_ms.len(),
            pass_ms: Summary::of(self.passes_ms),
            teams: team_reports,
            sizes,
        }
    }
}

/// `fifo`, `galley`, or the settings of another policy.
pub fn policy_label(policy: &Policy) -> String {
    if *policy == Policy::fifo() {
        return "fifo".into();
    }
    if *policy == Policy::default() {
        return "galley".into();
    }
    let mut parts = vec![match policy.queueing {
        Queueing::StrictFifo => "strict FIFO".to_string(),
        Queueing::BestEffortFifo => "best-effort FIFO".to_string(),
    }];
    for (on, name) in [
        (policy.borrowing, "borrowing"),
        (policy.fair_sharing, "fair sharing"),
    ] {
        if on {
            parts.push(name.into());
        }
    }
    if policy.preemption {
        parts.push(format!(
            "preemption after {}",
            format_duration_ms(policy.min_runtime_ms)
        ));
    }
    if let Some(after) = policy.reservation_after_ms {
        parts.push(format!("reservation after {}", format_duration_ms(after)));
    }
    parts.join(", ")
}

/// A length in seconds, in the unit that reads best.
pub fn human_seconds(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else if seconds < 7_200.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.2} h", seconds / 3_600.0)
    }
}

fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// One replay as markdown: a summary table, then one row per team.
pub fn report_markdown(report: &SimReport) -> String {
    let mut out = format!(
        "Policy: {}; max runtime declared: {}. Cluster: {} GPUs. Jobs: {} ({} finished, {} refused, {} never admitted).\n",
        policy_label(&report.policy),
        if report.declared_max_runtime { "yes" } else { "no" },
        report.cluster_gpus,
        report.jobs,
        report.finished,
        report.refused,
        report.unfinished,
    );
    if let Some(reason) = &report.refusal {
        out.push_str(&format!("First refusal: {reason}\n"));
    }
    let rows = [
        ("average JCT", human_seconds(report.jct_s.mean)),
        ("p95 JCT", human_seconds(report.jct_s.p95)),
        (
            "average queueing delay",
            human_seconds(report.queueing_s.mean),
        ),
        ("p95 queueing delay", human_seconds(report.queueing_s.p95)),
        ("makespan", human_seconds(report.makespan_s)),
        ("GPU utilisation", percent(report.gpu_utilisation)),
        (
            "GPU time lost to preemption",
            format!(
                "{:.0} GPU-h ({})",
                report.gpu_hours_lost,
                percent(report.gpu_hours_lost / report.gpu_hours.max(f64::MIN_POSITIVE))
            ),
        ),
        ("preemptions", report.preemptions.to_string()),
        (
            "scheduling passes (wall time mean / p95 / max)",
            format!(
                "{} ({:.2} / {:.2} / {:.2} ms)",
                report.passes, report.pass_ms.mean, report.pass_ms.p95, report.pass_ms.max
            ),
        ),
    ];
    out.push_str("\n| measure | value |\n|---|---:|\n");
    for (name, value) in rows {
        out.push_str(&format!("| {name} | {value} |\n"));
    }
    out.push_str(
        "\n| team | jobs | GPU share | nominal share | average JCT | below nominal with demand (total / longest) |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for team in &report.teams {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} / {} |\n",
            team.team,
            team.jobs,
            percent(team.gpu_share),
            percent(team.nominal_share),
            human_seconds(team.jct_s.mean),
            human_seconds(team.below_nominal_s),
            human_seconds(team.longest_below_nominal_s),
        ));
    }
    out.push_str(
        "\n| job size | finished | average JCT | average queueing | p95 queueing | max queueing |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for size in &report.sizes {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            size.size,
            size.jct_s.count,
            human_seconds(size.jct_s.mean),
            human_seconds(size.queueing_s.mean),
            human_seconds(size.queueing_s.p95),
            human_seconds(size.queueing_s.max),
        ));
    }
    out
}
