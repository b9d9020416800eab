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

mod amounts;
mod nodes;
mod preemption;
mod quota;

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::config::{ComputeConfig, Queueing};
use crate::inventory::Node;
use crate::job::{Job, JobState, ReplicaRequest};
use crate::resources::Resources;

use amounts::{Amount, Demand};
use nodes::Seat;

pub(crate) use amounts::{Ask, Dims};
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
    Nodes { resource: usize, message: String },
}

impl Shortfall {
    fn resources(&self) -> Vec<usize> {
        match self {
            Shortfall::Quota(short) => short.iter().map(|s| s.resource).collect(),
            Shortfall::Nodes { resource, .. } => vec![*resource],
        }
    }

    fn message(&self) -> String {
        match self {
            Shortfall::Quota(short) => short
                .iter()
                .map(|s| s.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            Shortfall::Nodes { message, .. } => message.clone(),
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
            .find(|s| matches!(s, Shortfall::Nodes { .. }))
            .or(self.0.first())
    }

    fn verdict(&self, queue: &str) -> Verdict {
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
        let closest = self.closest();
        let (reason, message) = match closest {
            Some(Shortfall::Nodes { .. }) => (
                WaitReason::Nodes,
                format!("waiting for room on nodes: {details}"),
            ),
            _ => (
                WaitReason::Quota,
                format!("waiting for quota in queue {queue}: {details}"),
            ),
        };
        Verdict {
            reason,
            message,
            lacking: closest.map(Shortfall::resources).unwrap_or_default(),
        }
    }
}

/// What a job that does not fit is told, and what it lacks for a reservation.
#[derive(Debug)]
struct Verdict {
    reason: WaitReason,
    message: String,
    lacking: Vec<usize>,
}

/// How many jobs of one queue may look for victims in one pass, besides its first unfit one.
const MAX_PREEMPTION_TRIES_PER_QUEUE: usize = 8;

/// Room an older job set aside: later jobs of its queue, and borrowers in its cohort, that would
/// use what it lacks must end, by their max runtime, before it is expected to start. Other
/// queues' jobs within their nominal quota are never held back: that quota is theirs.
struct Reservation {
    queue: usize,
    cohort: usize,
    lacking: Vec<usize>,
    /// `None` when a running job without a max runtime stands in the way: no one may backfill.
    expected_start: Option<i64>,
    /// What each job it holds back is told.
    message: String,
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
    admitted_at: i64,
    /// What it is charged, in the pass's interned resources.
    usage: Vec<Amount>,
    seat: Seat,
    /// Only for a job admitted earlier in this pass: not started, so withdrawing it wastes
    /// nothing.
    admission: Option<Admission>,
    /// Preempted or withdrawn in this pass.
    released: bool,
}

impl Held<'_> {
    fn fresh(&self) -> bool {
        self.admission.is_some()
    }
}

/// A pending job as the pass orders and tries it, read out of its workload once.
#[derive(Clone, Copy)]
struct Pending<'a> {
    workload: &'a Workload,
    priority: i64,
    submitted_at: i64,
    ask: Ask,
}

/// A flavor a job fits with now, before it is committed; placements are made when it is.
#[derive(Clone, Copy)]
struct Fitted {
    flavor: Option<usize>,
    total: Demand,
    within_nominal: bool,
}

/// What the pass worked out and reuses until something is charged or released: per queue and
/// [`Ask`], whether a job borrows and whether it fits (or why not); each queue's share; and the
/// nodes' free capacity as messages list it. A large backlog is mostly jobs of a few shapes
/// that do not fit, each told a message naming every node, or that fit but wait behind a
/// reservation.
#[derive(Default)]
struct Memo {
    asks: HashMap<(usize, Ask), AskMemo, BuildHasherDefault<AskHasher>>,
    shares: Vec<Option<f64>>,
    listings: Vec<Option<String>>,
}

#[derive(Default)]
struct AskMemo {
    borrows: Option<bool>,
    fits: Option<Result<Fitted, Rc<Verdict>>>,
}

impl Memo {
    fn clear(&mut self) {
        self.asks.clear();
        self.shares.clear();
        self.listings.clear();
    }

    fn listing(&mut self, nodes: &NodeBook, resource: usize) -> &str {
        if self.listings.len() <= resource {
            self.listings.resize(resource + 1, None);
        }
        self.listings[resource].get_or_insert_with(|| nodes.free_listing(resource))
    }
}

/// Hashes the few integers of a memo key with a multiply each: keys are looked up once or twice
/// per pending job, and nothing outside the pass chooses them, so SipHash's defence against
/// crafted keys only costs time here.
#[derive(Default)]
struct AskHasher(u64);

impl Hasher for AskHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

struct Pass<'a> {
    config: &'a ComputeConfig,
    now: i64,
    book: QuotaBook,
    nodes: Option<NodeBook>,
    /// Jobs holding resources: those running at the start of the pass, then those admitted.
    held: Vec<Held<'a>>,
    pending: Vec<Vec<Pending<'a>>>,
    memo: Memo,
    decisions: Decisions,
}

impl<'a> Pass<'a> {
    fn new(
        config: &'a ComputeConfig,
        nodes: Option<&[Node]>,
        workloads: &'a [Workload],
        now: i64,
    ) -> Self {
        let dims = Rc::new(Dims::new(config, nodes, workloads));
        let mut book = QuotaBook::new(config, Rc::clone(&dims));
        let mut node_book = nodes.map(|n| NodeBook::new(n, Rc::clone(&dims)));
        let mut held = Vec::new();
        let mut pending = vec![Vec::new(); book.queue_count()];
        let mut decisions = Decisions::default();
        for workload in workloads {
            let queue = book.queue_index(&workload.queue);
            match (&workload.admission, queue) {
                (Some(admission), queue) => {
                    let seat = node_book
                        .as_ref()
                        .map(|n| n.seat(&admission.placements))
                        .unwrap_or_default();
                    if let Some(node_book) = &mut node_book {
                        node_book.take(&workload.request, &seat);
                    }
                    // A running job of a removed queue still occupies its nodes.
                    if let Some(queue) = queue {
                        let usage = dims.amounts(&admission.usage);
                        book.charge(queue, &usage);
                        held.push(Held {
                            workload,
                            queue,
                            admitted_at: admission.admitted_at,
                            usage,
                            seat,
                            admission: None,
                            released: false,
                        });
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
                (None, Some(queue)) => pending[queue].push(Pending {
                    workload,
                    priority: workload.priority,
                    submitted_at: workload.submitted_at,
                    ask: Ask::of(workload, &dims),
                }),
            }
        }
        for jobs in &mut pending {
            jobs.sort_by(|a, b| {
                b.priority
                    .cmp(&a.priority)
                    .then(a.submitted_at.cmp(&b.submitted_at))
                    .then_with(|| a.workload.id.cmp(&b.workload.id))
            });
        }
        Pass {
            config,
            now,
            book,
            nodes: node_book,
            held,
            pending,
            memo: Memo::default(),
            decisions,
        }
    }

    fn run(mut self) -> Decisions {
        let policy = &self.config.policy;
        let queue_count = self.pending.len();
        let mut cursor = vec![0usize; queue_count];
        let mut first_unfit_seen = vec![false; queue_count];
        let mut preemption_tries = vec![0usize; queue_count];
        let mut last_unfit: Vec<Option<(Ask, Rc<Verdict>)>> = vec![None; queue_count];
        let mut reservations: Vec<Reservation> = Vec::new();
        let mut heads = BinaryHeap::new();
        for queue in 0..queue_count {
            if let Some(key) = self.head_key(queue, 0) {
                heads.push(Reverse(key));
            }
        }
        while let Some(Reverse(HeadKey { queue, .. })) = heads.pop() {
            let position = cursor[queue];
            let Pending { workload, ask, .. } = self.pending[queue][position];
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
                Some((failed, verdict)) if *failed == ask => {
                    Err(Unfitting::AsBefore(Rc::clone(verdict)))
                }
                _ => self.try_fit(&ask, queue).map_err(Unfitting::Found),
            };
            match fitted {
                Ok(fitted) => {
                    if let Some(reservation) =
                        self.blocking_reservation(&reservations, workload, queue, &fitted)
                    {
                        let message = reservation.message.clone();
                        self.decisions
                            .waiting
                            .push(waiting(WaitReason::Reservation, message));
                        stop_queue = policy.queueing == Queueing::StrictFifo;
                    } else {
                        let placements = placements(self.nodes.as_ref(), &ask, &fitted);
                        self.commit(workload, queue, fitted, placements);
                    }
                }
                Err(unfitting) => {
                    let first_unfit = !std::mem::replace(&mut first_unfit_seen[queue], true);
                    // The first job that does not fit may preempt; so may any later one that
                    // fits its queue's nominal quota, so a small job behind a big one still
                    // reclaims its team's share. Bounded, to keep a pass cheap.
                    let may_preempt = first_unfit
                        || (preemption_tries[queue] < MAX_PREEMPTION_TRIES_PER_QUEUE
                            && self.fits_nominal_alone(&ask, queue));
                    if may_preempt {
                        preemption_tries[queue] += 1;
                    }
                    let preempted = may_preempt && self.try_preemption(workload, &ask, queue);
                    if preempted {
                        last_unfit.iter_mut().for_each(|memo| *memo = None);
                    } else {
                        let verdict = match unfitting {
                            Unfitting::AsBefore(verdict) => verdict,
                            Unfitting::Found(verdict) => {
                                if first_unfit && self.waited_long_enough(workload) {
                                    let reservation = self.reserve(workload, &ask, queue, &verdict);
                                    reservations.push(reservation);
                                }
                                last_unfit[queue] = Some((ask, Rc::clone(&verdict)));
                                verdict
                            }
                        };
                        let message = verdict.message.clone();
                        self.decisions
                            .waiting
                            .push(waiting(verdict.reason, message));
                        stop_queue = policy.queueing == Queueing::StrictFifo;
                    }
                }
            }
            if stop_queue {
                for (i, behind) in self.pending[queue].iter().enumerate().skip(position + 1) {
                    self.decisions.waiting.push(Waiting {
                        job: behind.workload.id.clone(),
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
        let admitted = self.held.into_iter().filter(|h| !h.released);
        self.decisions.admitted = admitted
            .filter_map(|h| {
                Some(Admitted {
                    job: h.workload.id.clone(),
                    admission: h.admission?,
                })
            })
            .collect();
        self.decisions
    }

    fn head_key(&mut self, queue: usize, position: usize) -> Option<HeadKey> {
        let pending = *self.pending[queue].get(position)?;
        let book = &self.book;
        let memo = self.memo.asks.entry((queue, pending.ask)).or_default();
        let borrows = *memo.borrows.get_or_insert_with(|| {
            !book
                .choices(&pending.ask, queue)
                .any(|f| book.within_nominal(queue, &pending.ask.demand(f)))
        });
        let share = if self.config.policy.fair_sharing {
            if self.memo.shares.len() <= queue {
                self.memo.shares.resize(queue + 1, None);
            }
            *self.memo.shares[queue].get_or_insert_with(|| book.share(queue))
        } else {
            0.0
        };
        Some(HeadKey {
            borrows,
            share,
            priority: pending.priority,
            submitted_at: pending.submitted_at,
            queue,
        })
    }

    /// The best admission for the job now (see [`fit`]), or why there is none: the same for
    /// every job of the shape until something is charged or released, so worked out once.
    fn try_fit(&mut self, ask: &Ask, queue: usize) -> Result<Fitted, Rc<Verdict>> {
        let known = self
            .memo
            .asks
            .get(&(queue, *ask))
            .and_then(|m| m.fits.clone());
        if let Some(known) = known {
            return known;
        }
        let found = match fit(&self.book, self.nodes.as_ref(), ask, queue) {
            Some(fitted) => Ok(fitted),
            None => Err(Rc::new(self.explain(ask, queue))),
        };
        let memo = self.memo.asks.entry((queue, *ask)).or_default();
        memo.fits = Some(found.clone());
        found
    }

    /// Why the job fits with no GPU flavor, worked out only for a job that is told so.
    fn explain(&mut self, ask: &Ask, queue: usize) -> Verdict {
        let mut shortfalls = Vec::new();
        for flavor in self.book.choices(ask, queue) {
            let total = ask.demand(flavor);
            if self.book.check(queue, &total).is_none() {
                shortfalls.push(Shortfall::Quota(self.book.shortfalls(queue, &total)));
                continue;
            }
            let Some(nodes) = &self.nodes else {
                continue; // unreachable: quota alone decides without nodes
            };
            let short = nodes.shortfall(ask, flavor);
            let listing = self.memo.listing(nodes, short.resource);
            shortfalls.push(Shortfall::Nodes {
                resource: short.resource,
                message: short.message(self.book.dims(), listing),
            });
        }
        Unfit(shortfalls).verdict(&self.config.queues[queue].name)
    }

    fn commit(
        &mut self,
        workload: &'a Workload,
        queue: usize,
        fitted: Fitted,
        placements: Vec<Placement>,
    ) {
        let dims = self.book.dims();
        let admission = Admission {
            admitted_at: self.now,
            gpu_flavor: fitted.flavor.map(|f| dims.flavor_name(f).to_string()),
            usage: dims.resources(&fitted.total),
            placements,
        };
        let seat = self
            .nodes
            .as_ref()
            .map(|n| n.seat(&admission.placements))
            .unwrap_or_default();
        let held = Held {
            workload,
            queue,
            admitted_at: self.now,
            usage: fitted.total.to_vec(),
            seat,
            admission: Some(admission),
            released: false,
        };
        charge(&mut self.book, self.nodes.as_mut(), &held);
        self.memo.clear();
        self.held.push(held);
    }

    fn fits_nominal_alone(&self, ask: &Ask, queue: usize) -> bool {
        self.book
            .choices(ask, queue)
            .any(|f| self.book.fits_nominal(queue, ask.demand(f).iter().copied()))
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
        fitted: &Fitted,
    ) -> Option<&'r Reservation> {
        let cohort = self.book.cohort_of(queue);
        let borrows = !self.book.within_nominal(queue, &fitted.total);
        let ends_by = workload.max_runtime_ms.map(|m| self.now + m);
        reservations.iter().find(|r| {
            r.cohort == cohort
                && (r.queue == queue || borrows)
                && r.lacking.iter().any(|res| fitted.total.get(*res) > 0)
                && !matches!((ends_by, r.expected_start), (Some(end), Some(start)) if end <= start)
        })
    }

    fn reserve(
        &self,
        workload: &Workload,
        ask: &Ask,
        queue: usize,
        verdict: &Verdict,
    ) -> Reservation {
        let expected_start = self.expected_start(ask, queue);
        let message = format!(
            "held back: job {} reserves {} {}",
            workload.id,
            self.describe_resources(&verdict.lacking),
            match expected_start {
                Some(t) => format!(
                    "and is expected to start in {} s; a max runtime ending by then would let this job run first",
                    (t - self.now).max(0) / 1000
                ),
                None => "until running jobs without a max runtime end".into(),
            }
        );
        Reservation {
            queue,
            cohort: self.book.cohort_of(queue),
            lacking: verdict.lacking.clone(),
            expected_start,
            message,
        }
    }

    /// When the job could start if running jobs end at their max runtime and nothing else is
    /// admitted: their ends, in order, until it fits.
    fn expected_start(&self, ask: &Ask, queue: usize) -> Option<i64> {
        let mut book = self.book.clone();
        let mut nodes = self.nodes.clone();
        let mut ends: Vec<(i64, &Held)> = self
            .held
            .iter()
            .filter(|h| !h.released)
            .filter_map(|h| Some((h.admitted_at + h.workload.max_runtime_ms?, h)))
            .collect();
        ends.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.workload.id.cmp(&y.workload.id)));
        for (end, held) in ends {
            release(&mut book, nodes.as_mut(), held);
            if fit(&book, nodes.as_ref(), ask, queue).is_some() {
                return Some(end.max(self.now));
            }
        }
        None
    }

    fn try_preemption(&mut self, workload: &'a Workload, ask: &Ask, queue: usize) -> bool {
        let Some(plan) = preemption::plan(self, workload, ask, queue) else {
            return false;
        };
        for (victim, reason) in plan.victims {
            let held = &mut self.held[victim];
            held.released = true;
            release(&mut self.book, self.nodes.as_mut(), held);
            self.memo.clear();
            let id = held.workload.id.clone();
            if held.fresh() {
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
        self.commit(workload, queue, plan.fitted, plan.placements);
        true
    }

    fn describe_resources(&self, resources: &[usize]) -> String {
        let dims = self.book.dims();
        resources
            .iter()
            .map(|r| dims.name(*r).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn release(book: &mut QuotaBook, nodes: Option<&mut NodeBook>, held: &Held) {
    book.release(held.queue, &held.usage);
    if let Some(nodes) = nodes {
        nodes.give_back(&held.workload.request, &held.seat);
    }
}

fn charge(book: &mut QuotaBook, nodes: Option<&mut NodeBook>, held: &Held) {
    book.charge(held.queue, &held.usage);
    if let Some(nodes) = nodes {
        nodes.take(&held.workload.request, &held.seat);
    }
}

/// The best admission for the job now: a flavor that fits within nominal quota, else one that
/// fits by borrowing, in the queue's flavor order. Nothing is charged yet.
fn fit(book: &QuotaBook, nodes: Option<&NodeBook>, ask: &Ask, queue: usize) -> Option<Fitted> {
    let mut borrowing_fit = None;
    for flavor in book.choices(ask, queue) {
        match fit_flavor(book, nodes, ask, queue, flavor) {
            Some(fitted) if fitted.within_nominal => return Some(fitted),
            Some(fitted) => {
                borrowing_fit.get_or_insert(fitted);
            }
            None => {}
        }
    }
    borrowing_fit
}

/// The admission with one GPU flavor, if quota and nodes allow it.
fn fit_flavor(
    book: &QuotaBook,
    nodes: Option<&NodeBook>,
    ask: &Ask,
    queue: usize,
    flavor: Option<usize>,
) -> Option<Fitted> {
    let total = ask.demand(flavor);
    let within_nominal = book.check(queue, &total)?;
    let fits = nodes.is_none_or(|n| n.fits(ask, flavor));
    fits.then_some(Fitted {
        flavor,
        total,
        within_nominal,
    })
}

/// Where a job that fits goes on the nodes as they are; none without an inventory.
fn placements(nodes: Option<&NodeBook>, ask: &Ask, fitted: &Fitted) -> Vec<Placement> {
    nodes.map_or_else(Vec::new, |n| n.place(ask, fitted.flavor))
}

/// Why a job does not fit: found now, or as a job it dominates did earlier in the pass.
enum Unfitting {
    Found(Rc<Verdict>),
    AsBefore(Rc<Verdict>),
}

#[cfg(test)]
mod tests;
