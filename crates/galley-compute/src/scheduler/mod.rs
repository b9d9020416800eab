//! The scheduling core. One pass over the configuration, the inventory, the jobs and the time
//! decides which pending jobs are admitted (GPU flavor, nodes, devices), which running jobs are
//! preempted for them, and why each other job waits. Pure: no I/O and no clock of its own, so
//! the server's run loop and the simulator drive the same code.
//!
//! Order of a pass:
//! 1. Running jobs are charged to their queues, cohorts and nodes.
//! 2. Each queue's pending jobs are ordered by priority, then submission time.
//! 3. Queue heads are taken across queues: jobs that fit within nominal quota first, then
//!    borrowers by their queue's weighted fair share (lowest first), then priority and age.
//! 4. A job that fits is admitted unless a reservation holds what it would use. A queue's first
//!    job that does not fit, and a few more that fit their queue's nominal quota, may preempt
//!    (reclaim borrowed quota, displace lower priority, or rebalance fair shares) and are then
//!    admitted in the same pass, so freed quota cannot go to anyone else; a first job that has
//!    waited long enough reserves what it lacks instead.
//! 5. Under best-effort FIFO the queue moves on to its next job; under strict FIFO it stops.

mod nodes;
mod preemption;
mod quota;

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use crate::config::{ComputeConfig, Queueing};
use crate::inventory::Node;
use crate::job::{Job, JobState, ReplicaRequest};
use crate::resources::{Resource, Resources};

pub(crate) use nodes::NodeBook;
pub(crate) use quota::QuotaBook;

/// What the core needs to know of a job.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub id: String,
    pub queue: String,
    pub priority: i64,
    pub submitted_at: i64,
    pub replicas: u32,
    pub request: ReplicaRequest,
    pub max_runtime_ms: Option<i64>,
    pub not_before: Option<i64>,
    /// Present for admitted and running jobs.
    pub admission: Option<Admission>,
}

impl Workload {
    /// The workload of a job that is pending or holds resources; `None` for finished jobs.
    pub fn of(job: &Job) -> Option<Workload> {
        let admission = match job.state {
            JobState::Pending => None,
            JobState::Admitted | JobState::Running => Some(job.admission.clone()?),
            _ => return None,
        };
        Some(Workload {
            id: job.id.clone(),
            queue: job.queue.clone(),
            priority: job.priority,
            submitted_at: job.submitted_at,
            replicas: job.replicas,
            request: job.request.clone(),
            max_runtime_ms: job.max_runtime_ms,
            not_before: job.not_before,
            admission,
        })
    }

    /// The GPU flavors admission may try, in order: none for a CPU job, the one asked for, or
    /// every flavor the queue has quota for.
    pub(crate) fn flavor_choices<'a>(
        &'a self,
        book: &'a QuotaBook,
        queue: usize,
    ) -> Vec<Option<&'a str>> {
        match (self.request.gpus, &self.request.gpu_flavor) {
            (0, _) => vec![None],
            (_, Some(flavor)) => vec![Some(flavor.as_str())],
            (_, None) => book.gpu_flavors(queue).map(Some).collect(),
        }
    }

    /// What the job holds in all once admitted with `flavor`.
    pub(crate) fn total(&self, flavor: Option<&str>) -> Resources {
        self.request
            .resources(flavor)
            .scaled(u64::from(self.replicas))
    }
}

/// What admission settled for a job; stored with the job while it holds resources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    pub admitted_at: i64,
    pub gpu_flavor: Option<String>,
    /// The job's total, charged to its queue.
    pub usage: Resources,
    /// One per replica; empty when the executor places replicas itself (no inventory).
    pub placements: Vec<Placement>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub node: String,
    /// GPU device ids for `CUDA_VISIBLE_DEVICES`.
    pub gpus: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decisions {
    /// To carry out first: the executor stops these before starting the admitted ones.
    pub preempted: Vec<Preempted>,
    pub admitted: Vec<Admitted>,
    pub waiting: Vec<Waiting>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Admitted {
    pub job: String,
    pub admission: Admission,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Preempted {
    pub job: String,
    pub by: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Waiting {
    pub job: String,
    pub reason: WaitReason,
    pub message: String,
    /// 1-based place among the queue's eligible pending jobs; `None` while backing off.
    pub position: Option<usize>,
    pub queue_length: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// Waiting out the backoff before a retry.
    Backoff,
    /// The queue (or its cohort) has no room for it.
    Quota,
    /// Quota allows it but no node has room.
    Nodes,
    /// Room exists but an older job reserved it.
    Reservation,
    /// Strict FIFO: behind a job that does not fit.
    QueueOrder,
    /// Its queue left the configuration.
    UnknownQueue,
}

/// The inventory the pass places replicas on; `None` leaves placement to the executor and
/// schedules by quota alone (Kueue's model).
pub fn schedule(
    config: &ComputeConfig,
    nodes: Option<&[Node]>,
    workloads: &[Workload],
    now: i64,
) -> Decisions {
    Pass::new(config, nodes, workloads, now).run()
}

/// Where a job's attempt to fit failed, for one GPU flavor.
#[derive(Clone, Debug)]
enum Shortfall {
    Quota(Vec<quota::QuotaShortfall>),
    Nodes(nodes::CapacityShortfall),
}

impl Shortfall {
    fn resources(&self) -> Vec<Resource> {
        match self {
            Shortfall::Quota(short) => short.iter().map(|s| s.resource.clone()).collect(),
            Shortfall::Nodes(short) => vec![short.resource.clone()],
        }
    }

    fn message(&self) -> String {
        match self {
            Shortfall::Quota(short) => short
                .iter()
                .map(|s| s.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            Shortfall::Nodes(short) => short.message.clone(),
        }
    }
}

/// Why a job does not fit, with every GPU flavor it could use.
#[derive(Clone, Debug)]
struct Unfit(Vec<Shortfall>);

impl Unfit {
    /// The flavor closest to fitting: one that quota allows but nodes do not, else the first.
    fn closest(&self) -> Option<&Shortfall> {
        self.0
            .iter()
            .find(|s| matches!(s, Shortfall::Nodes(_)))
            .or(self.0.first())
    }

    fn describe(&self, queue: &str) -> (WaitReason, String) {
        let details = self
            .0
            .iter()
            .map(Shortfall::message)
            .collect::<Vec<_>>()
            .join(" | ");
        let details = if details.is_empty() {
            "it has no GPU quota".to_string()
        } else {
            details
        };
        match self.closest() {
            Some(Shortfall::Nodes(_)) => (
                WaitReason::Nodes,
                format!("waiting for room on nodes: {details}"),
            ),
            _ => (
                WaitReason::Quota,
                format!("waiting for quota in queue {queue}: {details}"),
            ),
        }
    }
}

/// How many jobs of one queue may look for victims in one pass, besides its first unfit one.
const MAX_PREEMPTION_TRIES_PER_QUEUE: usize = 8;

/// Room an older job set aside: later jobs of its queue, and borrowers in its cohort, that would
/// use what it lacks must end, by their max runtime, before it is expected to start. Other
/// queues' jobs within their nominal quota are never held back: that quota is theirs.
struct Reservation {
    job: String,
    queue: usize,
    cohort: usize,
    lacking: Vec<Resource>,
    /// `None` when a running job without a max runtime stands in the way: no one may backfill.
    expected_start: Option<i64>,
}

/// Queue heads ordered as the module documentation says; smallest first.
#[derive(Clone, Copy, Debug)]
struct HeadKey {
    borrows: bool,
    share: f64,
    priority: i64,
    submitted_at: i64,
    queue: usize,
}

impl Ord for HeadKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.borrows
            .cmp(&other.borrows)
            .then(self.share.total_cmp(&other.share))
            .then(other.priority.cmp(&self.priority))
            .then(self.submitted_at.cmp(&other.submitted_at))
            .then(self.queue.cmp(&other.queue))
    }
}

impl PartialOrd for HeadKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for HeadKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for HeadKey {}

/// A job holding resources during the pass.
struct Held<'a> {
    workload: &'a Workload,
    queue: usize,
    admission: Admission,
    /// Admitted earlier in this pass: not started, so withdrawing it wastes nothing.
    fresh: bool,
    /// Preempted or withdrawn in this pass.
    released: bool,
}

struct Pass<'a> {
    config: &'a ComputeConfig,
    now: i64,
    book: QuotaBook,
    nodes: Option<NodeBook>,
    /// Jobs holding resources: those running at the start of the pass, then those admitted.
    held: Vec<Held<'a>>,
    pending: Vec<Vec<&'a Workload>>,
    decisions: Decisions,
}

impl<'a> Pass<'a> {
    fn new(
        config: &'a ComputeConfig,
        nodes: Option<&[Node]>,
        workloads: &'a [Workload],
        now: i64,
    ) -> Self {
        let mut book = QuotaBook::new(config);
        let mut node_book = nodes.map(NodeBook::new);
        let mut held = Vec::new();
        let mut pending = vec![Vec::new(); book.queue_count()];
        let mut decisions = Decisions::default();
        for workload in workloads {
            let queue = book.queue_index(&workload.queue);
            match (&workload.admission, queue) {
                (Some(admission), queue) => {
                    // A running job of a removed queue still occupies its nodes.
                    if let Some(queue) = queue {
                        book.charge(queue, &admission.usage);
                        held.push(Held {
                            workload,
                            queue,
                            admission: admission.clone(),
                            fresh: false,
                            released: false,
                        });
                    }
                    if let Some(node_book) = &mut node_book {
                        node_book.take(&workload.request, &admission.placements);
                    }
                }
                (None, None) => decisions.waiting.push(Waiting {
                    job: workload.id.clone(),
                    reason: WaitReason::UnknownQueue,
                    message: format!("queue {} is no longer configured", workload.queue),
                    position: None,
                    queue_length: 0,
                }),
                (None, Some(_)) if workload.not_before.is_some_and(|t| t > now) => {
                    decisions.waiting.push(Waiting {
                        job: workload.id.clone(),
                        reason: WaitReason::Backoff,
                        message: format!(
                            "retry waits {} s more",
                            (workload.not_before.unwrap_or(now) - now + 999) / 1000
                        ),
                        position: None,
                        queue_length: 0,
                    })
                }
                (None, Some(queue)) => pending[queue].push(workload),
            }
        }
        for jobs in &mut pending {
            jobs.sort_by(|a, b| {
                b.priority
                    .cmp(&a.priority)
                    .then(a.submitted_at.cmp(&b.submitted_at))
                    .then(a.id.cmp(&b.id))
            });
        }
        Pass {
            config,
            now,
            book,
            nodes: node_book,
            held,
            pending,
            decisions,
        }
    }

    fn run(mut self) -> Decisions {
        let policy = &self.config.policy;
        let queue_count = self.pending.len();
        let mut cursor = vec![0usize; queue_count];
        let mut first_unfit_seen = vec![false; queue_count];
        let mut preemption_tries = vec![0usize; queue_count];
        let mut last_unfit: Vec<Option<(&Workload, WaitReason, String)>> = vec![None; queue_count];
        let mut reservations: Vec<Reservation> = Vec::new();
        let mut heads = BinaryHeap::new();
        for queue in 0..queue_count {
            if let Some(key) = self.head_key(queue, 0) {
                heads.push(Reverse(key));
            }
        }
        while let Some(Reverse(HeadKey { queue, .. })) = heads.pop() {
            let position = cursor[queue];
            let workload = self.pending[queue][position];
            let queue_length = self.pending[queue].len();
            let waiting = |reason, message| Waiting {
                job: workload.id.clone(),
                reason,
                message,
                position: Some(position + 1),
                queue_length,
            };
            let mut stop_queue = false;
            // Nothing is released between preemptions, so a job of the same shape as one that
            // just failed in its queue fails the same way, for the same reason; that saves most
            // of a large backlog's fit attempts and messages.
            let fitted = match &last_unfit[queue] {
                Some((failed, reason, message)) if same_shape(workload, failed) => {
                    Err(Unfitting::AsBefore(*reason, message.clone()))
                }
                _ => self.try_fit(workload, queue).map_err(Unfitting::Found),
            };
            match fitted {
                Ok(admission) => {
                    if let Some(reservation) =
                        self.blocking_reservation(&reservations, workload, queue, &admission)
                    {
                        let message = format!(
                            "held back: job {} reserves {} {}",
                            reservation.job,
                            describe_resources(&reservation.lacking),
                            match reservation.expected_start {
                                Some(t) => format!(
                                    "and is expected to start in {} s; a max runtime ending by then would let this job run first",
                                    (t - self.now).max(0) / 1000
                                ),
                                None => "until running jobs without a max runtime end".into(),
                            }
                        );
                        self.decisions
                            .waiting
                            .push(waiting(WaitReason::Reservation, message));
                        stop_queue = policy.queueing == Queueing::StrictFifo;
                    } else {
                        self.commit(workload, queue, admission);
                    }
                }
                Err(unfitting) => {
                    let first_unfit = !std::mem::replace(&mut first_unfit_seen[queue], true);
                    // The first job that does not fit may preempt; so may any later one that
                    // fits its queue's nominal quota, so a small job behind a big one still
                    // reclaims its team's share. Bounded, to keep a pass cheap.
                    let may_preempt = first_unfit
                        || (preemption_tries[queue] < MAX_PREEMPTION_TRIES_PER_QUEUE
                            && self.fits_nominal_alone(workload, queue));
                    if may_preempt {
                        preemption_tries[queue] += 1;
                    }
                    let preempted = may_preempt && self.try_preemption(workload, queue);
                    if preempted {
                        last_unfit.iter_mut().for_each(|memo| *memo = None);
                    } else {
                        let (reason, message) = match unfitting {
                            Unfitting::AsBefore(reason, message) => (reason, message),
                            Unfitting::Found(unfit) => {
                                if first_unfit && self.waited_long_enough(workload) {
                                    reservations.push(self.reserve(workload, queue, &unfit));
                                }
                                let described = unfit.describe(&self.config.queues[queue].name);
                                last_unfit[queue] =
                                    Some((workload, described.0, described.1.clone()));
                                described
                            }
                        };
                        self.decisions.waiting.push(waiting(reason, message));
                        stop_queue = policy.queueing == Queueing::StrictFifo;
                    }
                }
            }
            if stop_queue {
                for (i, behind) in self.pending[queue].iter().enumerate().skip(position + 1) {
                    self.decisions.waiting.push(Waiting {
                        job: behind.id.clone(),
                        reason: WaitReason::QueueOrder,
                        message: format!("behind job {} in queue order (strict FIFO)", workload.id),
                        position: Some(i + 1),
                        queue_length,
                    });
                }
                continue;
            }
            cursor[queue] += 1;
            if let Some(key) = self.head_key(queue, cursor[queue]) {
                heads.push(Reverse(key));
            }
        }
        let admitted = self.held.into_iter().filter(|h| h.fresh && !h.released);
        self.decisions.admitted = admitted
            .map(|h| Admitted {
                job: h.workload.id.clone(),
                admission: h.admission,
            })
            .collect();
        self.decisions
    }

    fn head_key(&self, queue: usize, position: usize) -> Option<HeadKey> {
        let workload = self.pending[queue].get(position)?;
        let borrows = !workload
            .flavor_choices(&self.book, queue)
            .into_iter()
            .any(|f| self.book.within_nominal(queue, &workload.total(f)));
        Some(HeadKey {
            borrows,
            share: if self.config.policy.fair_sharing {
                self.book.share(queue)
            } else {
                0.0
            },
            priority: workload.priority,
            submitted_at: workload.submitted_at,
            queue,
        })
    }

    /// The best admission for the job now: a flavor that fits within nominal quota, else one
    /// that fits by borrowing, in the queue's flavor order. Nothing is charged yet.
    fn try_fit(&mut self, workload: &Workload, queue: usize) -> Result<Admission, Unfit> {
        fit(&self.book, self.nodes.as_ref(), workload, queue, self.now)
    }

    fn commit(&mut self, workload: &'a Workload, queue: usize, admission: Admission) {
        let held = Held {
            workload,
            queue,
            admission,
            fresh: true,
            released: false,
        };
        charge(&mut self.book, self.nodes.as_mut(), &held);
        self.held.push(held);
    }

    fn fits_nominal_alone(&self, workload: &Workload, queue: usize) -> bool {
        workload
            .flavor_choices(&self.book, queue)
            .into_iter()
            .any(|f| self.book.fits_nominal(queue, &workload.total(f)))
    }

    fn waited_long_enough(&self, workload: &Workload) -> bool {
        self.config
            .policy
            .reservation_after_ms
            .is_some_and(|after| self.now - workload.submitted_at >= after)
    }

    fn blocking_reservation<'r>(
        &self,
        reservations: &'r [Reservation],
        workload: &Workload,
        queue: usize,
        admission: &Admission,
    ) -> Option<&'r Reservation> {
        let cohort = self.book.cohort_of(queue);
        let borrows = !self.book.within_nominal(queue, &admission.usage);
        let ends_by = workload.max_runtime_ms.map(|m| self.now + m);
        reservations.iter().find(|r| {
            r.cohort == cohort
                && (r.queue == queue || borrows)
                && r.lacking.iter().any(|res| admission.usage.get(res) > 0)
                && !matches!((ends_by, r.expected_start), (Some(end), Some(start)) if end <= start)
        })
    }

    fn reserve(&self, workload: &Workload, queue: usize, unfit: &Unfit) -> Reservation {
        let closest = unfit.closest();
        Reservation {
            job: workload.id.clone(),
            queue,
            cohort: self.book.cohort_of(queue),
            lacking: closest.map(Shortfall::resources).unwrap_or_default(),
            expected_start: self.expected_start(workload, queue),
        }
    }

    /// When the job could start if running jobs end at their max runtime and nothing else is
    /// admitted: their ends, in order, until it fits.
    fn expected_start(&self, workload: &Workload, queue: usize) -> Option<i64> {
        let mut book = self.book.clone();
        let mut nodes = self.nodes.clone();
        let mut ends: Vec<(i64, &Held)> = self
            .held
            .iter()
            .filter(|h| !h.released)
            .filter_map(|h| Some((h.admission.admitted_at + h.workload.max_runtime_ms?, h)))
            .collect();
        ends.sort_by_key(|(end, h)| (*end, h.workload.id.clone()));
        for (end, held) in ends {
            release(&mut book, nodes.as_mut(), held);
            if fit(&book, nodes.as_ref(), workload, queue, self.now).is_ok() {
                return Some(end.max(self.now));
            }
        }
        None
    }

    fn try_preemption(&mut self, workload: &'a Workload, queue: usize) -> bool {
        let Some(plan) = preemption::plan(self, workload, queue) else {
            return false;
        };
        for (victim, reason) in plan.victims {
            let held = &mut self.held[victim];
            held.released = true;
            release(&mut self.book, self.nodes.as_mut(), held);
            let id = held.workload.id.clone();
            if held.fresh {
                // Admitted earlier in this pass and never started: the admission is withdrawn.
                self.decisions.waiting.push(Waiting {
                    job: id,
                    reason: WaitReason::Quota,
                    message: format!("admission withdrawn: {reason}"),
                    position: None,
                    queue_length: self.pending[held.queue].len(),
                });
            } else {
                self.decisions.preempted.push(Preempted {
                    job: id,
                    by: workload.id.clone(),
                    reason,
                });
            }
        }
        self.commit(workload, queue, plan.admission);
        true
    }
}

fn release(book: &mut QuotaBook, nodes: Option<&mut NodeBook>, held: &Held) {
    book.release(held.queue, &held.admission.usage);
    if let Some(nodes) = nodes {
        nodes.give_back(&held.workload.request, &held.admission.placements);
    }
}

fn charge(book: &mut QuotaBook, nodes: Option<&mut NodeBook>, held: &Held) {
    book.charge(held.queue, &held.admission.usage);
    if let Some(nodes) = nodes {
        nodes.take(&held.workload.request, &held.admission.placements);
    }
}

/// See [`Pass::try_fit`]; shared with reservations' estimates.
fn fit(
    book: &QuotaBook,
    nodes: Option<&NodeBook>,
    workload: &Workload,
    queue: usize,
    now: i64,
) -> Result<Admission, Unfit> {
    let mut borrowing_fit = None;
    let mut shortfalls = Vec::new();
    for flavor in workload.flavor_choices(book, queue) {
        match fit_flavor(book, nodes, workload, queue, flavor, now) {
            Ok((admission, true)) => return Ok(admission),
            Ok((admission, false)) => {
                borrowing_fit.get_or_insert(admission);
            }
            Err(short) => shortfalls.push(short),
        }
    }
    borrowing_fit.ok_or(Unfit(shortfalls))
}

/// The admission with one GPU flavor, and whether it stays within nominal quota.
fn fit_flavor(
    book: &QuotaBook,
    nodes: Option<&NodeBook>,
    workload: &Workload,
    queue: usize,
    flavor: Option<&str>,
    now: i64,
) -> Result<(Admission, bool), Shortfall> {
    let usage = workload.total(flavor);
    let within_nominal = book.check(queue, &usage).map_err(Shortfall::Quota)?;
    let placements = match nodes {
        None => Vec::new(),
        Some(nodes) => nodes
            .place(&workload.request, flavor, workload.replicas)
            .map_err(Shortfall::Nodes)?,
    };
    let admission = Admission {
        admitted_at: now,
        gpu_flavor: flavor.map(str::to_string),
        usage,
        placements,
    };
    Ok((admission, within_nominal))
}

/// Why a job does not fit: found now, or as a job it dominates did earlier in the pass.
enum Unfitting {
    Found(Unfit),
    AsBefore(WaitReason, String),
}

fn same_shape(a: &Workload, b: &Workload) -> bool {
    a.request == b.request && a.replicas == b.replicas
}

fn describe_resources(resources: &[Resource]) -> String {
    resources
        .iter()
        .map(Resource::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
