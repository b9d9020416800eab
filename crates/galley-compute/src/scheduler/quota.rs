//! Quota accounting: each queue's usage against its nominal quota and borrowing limit, and each
//! cohort's pool of lendable quota (Kueue's model, lending limits included).
//!
//! A queue's quota for a resource splits into a guaranteed part, never lent, and a lendable part
//! that goes into its cohort's pool. Usage up to the guaranteed part is the queue's own; usage
//! beyond it draws on the pool, whether from the queue's own lendable part or borrowed from others.
//! A queue that stands alone is a cohort of one, so one rule covers both cases.
//!
//! Amounts are rows indexed by the pass's interned resources; what the configuration fixes is
//! shared, so a trial copy of the book copies only the usage rows.

use std::collections::HashMap;
use std::rc::Rc;

use super::amounts::{Amount, Ask, Dims};
use crate::config::{ComputeConfig, Quota};

#[derive(Clone, Debug)]
pub(crate) struct QuotaBook {
    rules: Rc<Rules>,
    /// Per queue, a row of usage per resource.
    usage: Vec<u64>,
    /// Per cohort, a row of what its queues draw from the pool.
    pooled: Vec<u64>,
}

#[derive(Debug)]
struct Rules {
    dims: Rc<Dims>,
    queues: Vec<QueueRules>,
    by_name: HashMap<String, usize>,
    /// Per queue, the first quota it lists for each resource.
    quotas: Vec<Option<Quota>>,
    /// Per cohort, the lendable quota pooled for each resource.
    capacity: Vec<u64>,
    borrowing: bool,
}

#[derive(Debug)]
struct QueueRules {
    cohort: usize,
    weight: f64,
    /// Its GPU quotas' flavors in the order it lists them.
    gpu_flavors: Vec<usize>,
}

/// Why a request does not fit a queue's quota, for the pending reason.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct QuotaShortfall {
    pub resource: usize,
    pub message: String,
}

/// What falls short for one resource, worked out by [`QuotaBook::verdict`].
enum Short {
    NoQuota,
    OverLimit { limit: u64 },
    NoRoom { free: u64 },
}

/// The GPU flavors admission may try, in order: none for a CPU job, the one asked for, or every
/// flavor the queue has quota for.
pub(crate) enum Choices<'b> {
    One(Option<Option<usize>>),
    Listed(std::slice::Iter<'b, usize>),
}

impl Iterator for Choices<'_> {
    type Item = Option<usize>;

    fn next(&mut self) -> Option<Option<usize>> {
        match self {
            Choices::One(choice) => choice.take(),
            Choices::Listed(flavors) => flavors.next().map(|f| Some(*f)),
        }
    }
}

impl QuotaBook {
    pub fn new(config: &ComputeConfig, dims: Rc<Dims>) -> Self {
        let width = dims.len();
        let mut cohort_index: HashMap<&str, usize> = HashMap::new();
        let mut cohorts = 0;
        let mut capacity: Vec<u64> = Vec::new();
        let mut queues = Vec::new();
        let mut quotas = vec![None; config.queues.len() * width];
        let mut by_name = HashMap::new();
        for (index, queue) in config.queues.iter().enumerate() {
            let mut new_cohort = || {
                cohorts += 1;
                capacity.resize(cohorts * width, 0);
                cohorts - 1
            };
            let cohort = match &queue.cohort {
                Some(name) if config.policy.borrowing => {
                    *cohort_index.entry(name.as_str()).or_insert_with(new_cohort)
                }
                _ => new_cohort(),
            };
            let mut gpu_flavors = Vec::new();
            for (resource, quota) in &queue.quotas {
                let Some(dim) = dims.of(resource) else {
                    continue; // unreachable: the configuration's resources are interned
                };
                capacity[cohort * width + dim] += quota.lendable();
                quotas[index * width + dim].get_or_insert(*quota);
                if dim >= 2 {
                    gpu_flavors.push(dim);
                }
            }
            by_name.insert(queue.name.clone(), index);
            queues.push(QueueRules {
                cohort,
                weight: queue.weight,
                gpu_flavors,
            });
        }
        QuotaBook {
            usage: vec![0; queues.len() * width],
            pooled: vec![0; capacity.len()],
            rules: Rc::new(Rules {
                dims,
                queues,
                by_name,
                quotas,
                capacity,
                borrowing: config.policy.borrowing,
            }),
        }
    }

    pub fn dims(&self) -> &Dims {
        &self.rules.dims
    }

    fn width(&self) -> usize {
        self.rules.dims.len()
    }

    pub fn queue_index(&self, name: &str) -> Option<usize> {
        self.rules.by_name.get(name).copied()
    }

    pub fn cohort_of(&self, queue: usize) -> usize {
        self.rules.queues[queue].cohort
    }

    pub fn queue_count(&self) -> usize {
        self.rules.queues.len()
    }

    fn quota(&self, queue: usize, resource: usize) -> Option<&Quota> {
        self.rules.quotas[queue * self.width() + resource].as_ref()
    }

    fn nominal(&self, queue: usize, resource: usize) -> u64 {
        self.quota(queue, resource).map_or(0, |q| q.nominal)
    }

    fn used(&self, queue: usize, resource: usize) -> u64 {
        self.usage[queue * self.width() + resource]
    }

    fn capacity(&self, queue: usize, resource: usize) -> u64 {
        self.rules.capacity[self.cohort_of(queue) * self.width() + resource]
    }

    /// The flavors a job of the queue may be admitted with; see [`Choices`].
    pub fn choices(&self, ask: &Ask, queue: usize) -> Choices<'_> {
        match (ask.gpus, ask.gpu_flavor) {
            (0, _) => Choices::One(Some(None)),
            (_, Some(flavor)) => Choices::One(Some(Some(flavor))),
            (_, None) => Choices::Listed(self.rules.queues[queue].gpu_flavors.iter()),
        }
    }

    pub fn has_quota_for(&self, queue: usize, resource: usize) -> bool {
        self.quota(queue, resource).is_some()
    }

    /// The most of `resource` the queue could ever use: its borrowing limit, or what its cohort
    /// could lend with every other queue idle.
    pub fn ceiling(&self, queue: usize, resource: usize) -> u64 {
        let Some(quota) = self.quota(queue, resource) else {
            return 0;
        };
        let by_pool = quota.guaranteed() + self.capacity(queue, resource);
        match (self.rules.borrowing, quota.borrowing_limit) {
            (false, _) => quota.nominal,
            (true, Some(limit)) => by_pool.min(quota.nominal + limit),
            (true, None) => by_pool,
        }
    }

    /// Whether `request` fits the queue now: `Some(true)` when it fits within nominal quota,
    /// `Some(false)` when it fits by borrowing. [`QuotaBook::shortfalls`] says why not.
    pub fn check(&self, queue: usize, request: &[Amount]) -> Option<bool> {
        let mut fits = true;
        let within_nominal = self.verdict(queue, request, |_, _, _| fits = false);
        fits.then_some(within_nominal)
    }

    /// Every resource of `request` that falls short of the queue's quota now.
    pub fn shortfalls(&self, queue: usize, request: &[Amount]) -> Vec<QuotaShortfall> {
        let dims = self.dims();
        let mut short = Vec::new();
        self.verdict(queue, request, |resource, amount, why| {
            let name = dims.name(resource);
            let amount_of = |a| dims.format_amount(resource, a);
            let used = self.used(queue, resource);
            let message = match why {
                Short::NoQuota => format!("queue has no quota for {name}"),
                Short::OverLimit { limit } => format!(
                    "{name}: needs {}, queue uses {} of its limit {}",
                    amount_of(amount),
                    amount_of(used),
                    amount_of(limit),
                ),
                Short::NoRoom { free } => format!(
                    "{name}: needs {}, {} free (queue uses {} of nominal {}{})",
                    amount_of(amount),
                    amount_of(free),
                    amount_of(used),
                    amount_of(self.nominal(queue, resource)),
                    if self.rules.borrowing {
                        "; the cohort has no more to lend"
                    } else {
                        ""
                    },
                ),
            };
            short.push(QuotaShortfall { resource, message });
        });
        short
    }

    /// Calls `short` for each resource that does not fit; returns whether all that do fit stay
    /// within nominal quota.
    fn verdict(
        &self,
        queue: usize,
        request: &[Amount],
        mut short: impl FnMut(usize, u64, Short),
    ) -> bool {
        let cohort = self.cohort_of(queue) * self.width();
        let mut within_nominal = true;
        for &(resource, amount) in request {
            let Some(quota) = self.quota(queue, resource) else {
                short(resource, amount, Short::NoQuota);
                continue;
            };
            let used = self.used(queue, resource);
            let after = used + amount;
            within_nominal &= after <= quota.nominal;
            let limit = match (self.rules.borrowing, quota.borrowing_limit) {
                (false, _) => Some(quota.nominal),
                (true, limit) => limit.map(|l| quota.nominal + l),
            };
            if let Some(limit) = limit.filter(|l| after > *l) {
                short(resource, amount, Short::OverLimit { limit });
                continue;
            }
            let guaranteed = quota.guaranteed();
            let pooled = self.pooled[cohort + resource];
            let pool_after = pooled.saturating_sub(used.saturating_sub(guaranteed))
                + after.saturating_sub(guaranteed);
            let capacity = self.rules.capacity[cohort + resource];
            if pool_after > capacity {
                let free = guaranteed.saturating_sub(used) + capacity.saturating_sub(pooled);
                short(resource, amount, Short::NoRoom { free });
            }
        }
        within_nominal
    }

    /// Whether `request` would fit within the queue's nominal quota with the queue's own usage
    /// only: a queue in that position may reclaim what others borrowed.
    pub fn within_nominal(&self, queue: usize, request: &[Amount]) -> bool {
        request.iter().all(|&(resource, amount)| {
            self.quota(queue, resource)
                .is_some_and(|q| self.used(queue, resource) + amount <= q.nominal)
        })
    }

    pub fn charge(&mut self, queue: usize, amount: &[Amount]) {
        self.shift(queue, amount, true);
    }

    pub fn release(&mut self, queue: usize, amount: &[Amount]) {
        self.shift(queue, amount, false);
    }

    fn shift(&mut self, queue: usize, amount: &[Amount], add: bool) {
        let width = self.width();
        let cohort = self.cohort_of(queue);
        for &(resource, delta) in amount {
            let guaranteed = self.quota(queue, resource).map_or(0, |q| q.guaranteed());
            let usage = &mut self.usage[queue * width + resource];
            let before = *usage;
            let after = if add {
                before + delta
            } else {
                before.saturating_sub(delta)
            };
            *usage = after;
            let pool = &mut self.pooled[cohort * width + resource];
            *pool = *pool - before.saturating_sub(guaranteed).min(*pool)
                + after.saturating_sub(guaranteed);
        }
    }

    /// True when the queue uses more than its nominal quota of a resource that both `held` and
    /// `wanted` use.
    pub fn is_borrowing(&self, queue: usize, held: &[Amount], wanted: &[Amount]) -> bool {
        held.iter().any(|&(resource, _)| {
            wanted.iter().any(|&(r, _)| r == resource)
                && self.used(queue, resource) > self.nominal(queue, resource)
        })
    }

    /// Whether `amount` alone is within the queue's nominal quota.
    pub fn fits_nominal(&self, queue: usize, amount: impl IntoIterator<Item = Amount>) -> bool {
        amount
            .into_iter()
            .all(|(r, a)| self.quota(queue, r).is_some_and(|q| a <= q.nominal))
    }

    /// Dominant weighted share above nominal: for each resource, usage above nominal over what
    /// the cohort can lend; the largest of these, divided by the queue's weight.
    pub fn share(&self, queue: usize) -> f64 {
        self.share_with(queue, &[])
    }

    /// The share after adding `plus`.
    pub fn share_with(&self, queue: usize, plus: &[Amount]) -> f64 {
        let mut dominant: f64 = 0.0;
        for resource in 0..self.width() {
            let extra = plus
                .iter()
                .find(|(r, _)| *r == resource)
                .map_or(0, |(_, a)| *a);
            let used = self.used(queue, resource).saturating_add(extra);
            let lendable = self.capacity(queue, resource);
            if used > 0 && lendable > 0 {
                let above = used.saturating_sub(self.nominal(queue, resource));
                dominant = dominant.max(above as f64 / lendable as f64);
            }
        }
        dominant / self.rules.queues[queue].weight
    }

    /// Invariant checked by the property tests: no queue above its limit, no pool overdrawn.
    #[cfg(test)]
    pub fn within_limits(&self) -> bool {
        let width = self.width();
        let queues_ok = (0..self.queue_count())
            .all(|q| (0..width).all(|r| self.used(q, r) <= self.ceiling(q, r)));
        let pools_ok = self
            .pooled
            .iter()
            .zip(&self.rules.capacity)
            .all(|(used, capacity)| used <= capacity);
        queues_ok && pools_ok
    }
}
