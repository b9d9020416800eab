//! Quota accounting: each queue's usage against its nominal quota and borrowing limit, and each
//! cohort's pool of lendable quota (Kueue's model, lending limits included).
//!
//! A queue's quota for a resource splits into a guaranteed part, never lent, and a lendable part
//! that goes into its cohort's pool. Usage up to the guaranteed part is the queue's own; usage
//! beyond it draws on the pool, whether from the queue's own lendable part or borrowed from others.
//! A queue that stands alone is a cohort of one, so one rule covers both cases.

use std::collections::HashMap;

use crate::config::{ComputeConfig, Quota};
use crate::resources::{Resource, Resources};

#[derive(Clone, Debug)]
pub(crate) struct QuotaBook {
    queues: Vec<QueueBook>,
    by_name: HashMap<String, usize>,
    cohorts: Vec<CohortBook>,
    borrowing: bool,
}

#[derive(Clone, Debug)]
struct QueueBook {
    cohort: usize,
    weight: f64,
    quotas: Vec<(Resource, Quota)>,
    usage: Resources,
}

#[derive(Clone, Debug, Default)]
struct CohortBook {
    capacity: Resources,
    usage: Resources,
}

/// Why a request does not fit a queue's quota, for the pending reason.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct QuotaShortfall {
    pub resource: Resource,
    pub message: String,
}

impl QuotaBook {
    pub fn new(config: &ComputeConfig) -> Self {
        let mut cohort_index: HashMap<&str, usize> = HashMap::new();
        let mut cohorts = Vec::new();
        let mut queues = Vec::new();
        let mut by_name = HashMap::new();
        for queue in &config.queues {
            let cohort = match &queue.cohort {
                Some(name) if config.policy.borrowing => {
                    *cohort_index.entry(name.as_str()).or_insert_with(|| {
                        cohorts.push(CohortBook::default());
                        cohorts.len() - 1
                    })
                }
                _ => {
                    cohorts.push(CohortBook::default());
                    cohorts.len() - 1
                }
            };
            for (resource, quota) in &queue.quotas {
                let pool = &mut cohorts[cohort].capacity;
                let lendable = pool.get(resource) + quota.lendable();
                pool.set(resource.clone(), lendable);
            }
            by_name.insert(queue.name.clone(), queues.len());
            queues.push(QueueBook {
                cohort,
                weight: queue.weight,
                quotas: queue.quotas.clone(),
                usage: Resources::new(),
            });
        }
        QuotaBook {
            queues,
            by_name,
            cohorts,
            borrowing: config.policy.borrowing,
        }
    }

    pub fn queue_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn cohort_of(&self, queue: usize) -> usize {
        self.queues[queue].cohort
    }

    pub fn queue_count(&self) -> usize {
        self.queues.len()
    }

    fn quota(&self, queue: usize, resource: &Resource) -> Option<&Quota> {
        self.queues[queue]
            .quotas
            .iter()
            .find(|(r, _)| r == resource)
            .map(|(_, q)| q)
    }

    /// The queue's GPU flavors in the order its quotas list them.
    pub fn gpu_flavors(&self, queue: usize) -> impl Iterator<Item = &str> {
        self.queues[queue]
            .quotas
            .iter()
            .filter_map(|(r, _)| match r {
                Resource::Gpu(flavor) => Some(flavor.as_str()),
                _ => None,
            })
    }

    pub fn has_quota_for(&self, queue: usize, resource: &Resource) -> bool {
        self.quota(queue, resource).is_some()
    }

    /// The most of `resource` the queue could ever use: its borrowing limit, or what its cohort
    /// could lend with every other queue idle.
    pub fn ceiling(&self, queue: usize, resource: &Resource) -> u64 {
        let Some(quota) = self.quota(queue, resource) else {
            return 0;
        };
        let pool = self.cohorts[self.queues[queue].cohort]
            .capacity
            .get(resource);
        let by_pool = quota.guaranteed() + pool;
        match (self.borrowing, quota.borrowing_limit) {
            (false, _) => quota.nominal,
            (true, Some(limit)) => by_pool.min(quota.nominal + limit),
            (true, None) => by_pool,
        }
    }

    /// Whether `request` fits the queue now. `Ok(true)` when it fits within nominal quota,
    /// `Ok(false)` when it fits by borrowing, otherwise every resource that falls short.
    pub fn check(&self, queue: usize, request: &Resources) -> Result<bool, Vec<QuotaShortfall>> {
        let book = &self.queues[queue];
        let cohort = &self.cohorts[book.cohort];
        let mut within_nominal = true;
        let mut short = Vec::new();
        for (resource, amount) in request.iter() {
            let Some(quota) = self.quota(queue, resource) else {
                short.push(QuotaShortfall {
                    resource: resource.clone(),
                    message: format!("queue has no quota for {resource}"),
                });
                continue;
            };
            let used = book.usage.get(resource);
            let after = used + amount;
            within_nominal &= after <= quota.nominal;
            let limit = match (self.borrowing, quota.borrowing_limit) {
                (false, _) => Some(quota.nominal),
                (true, limit) => limit.map(|l| quota.nominal + l),
            };
            if let Some(limit) = limit.filter(|l| after > *l) {
                short.push(QuotaShortfall {
                    resource: resource.clone(),
                    message: format!(
                        "{resource}: needs {}, queue uses {} of its limit {}",
                        resource.format_amount(amount),
                        resource.format_amount(used),
                        resource.format_amount(limit),
                    ),
                });
                continue;
            }
            let guaranteed = quota.guaranteed();
            let pooled = cohort.usage.get(resource);
            let pool_after = pooled.saturating_sub(used.saturating_sub(guaranteed))
                + after.saturating_sub(guaranteed);
            let capacity = cohort.capacity.get(resource);
            if pool_after > capacity {
                let free = guaranteed.saturating_sub(used) + capacity.saturating_sub(pooled);
                short.push(QuotaShortfall {
                    resource: resource.clone(),
                    message: format!(
                        "{resource}: needs {}, {} free (queue uses {} of nominal {}{})",
                        resource.format_amount(amount),
                        resource.format_amount(free),
                        resource.format_amount(used),
                        resource.format_amount(quota.nominal),
                        if self.borrowing {
                            "; the cohort has no more to lend"
                        } else {
                            ""
                        },
                    ),
                });
            }
        }
        if short.is_empty() {
            Ok(within_nominal)
        } else {
            Err(short)
        }
    }

    /// Whether `request` would fit within the queue's nominal quota with the queue's own usage
    /// only: a queue in that position may reclaim what others borrowed.
    pub fn within_nominal(&self, queue: usize, request: &Resources) -> bool {
        let book = &self.queues[queue];
        request.iter().all(|(resource, amount)| {
            self.quota(queue, resource)
                .is_some_and(|q| book.usage.get(resource) + amount <= q.nominal)
        })
    }

    pub fn charge(&mut self, queue: usize, amount: &Resources) {
        self.shift(queue, amount, true);
    }

    pub fn release(&mut self, queue: usize, amount: &Resources) {
        self.shift(queue, amount, false);
    }

    fn shift(&mut self, queue: usize, amount: &Resources, add: bool) {
        for (resource, delta) in amount.iter() {
            let guaranteed = self.quota(queue, resource).map_or(0, |q| q.guaranteed());
            let book = &mut self.queues[queue];
            let before = book.usage.get(resource);
            let after = if add {
                before + delta
            } else {
                before.saturating_sub(delta)
            };
            book.usage.set(resource.clone(), after);
            let pool = &mut self.cohorts[book.cohort].usage;
            let pooled = pool.get(resource)
                - before.saturating_sub(guaranteed).min(pool.get(resource))
                + after.saturating_sub(guaranteed);
            pool.set(resource.clone(), pooled);
        }
    }

    /// True when the queue uses more than its nominal quota of any resource in `of`.
    pub fn is_borrowing(&self, queue: usize, of: &Resources) -> bool {
        self.queues[queue]
            .usage
            .iter()
            .any(|(r, used)| of.get(r) > 0 && used > self.quota(queue, r).map_or(0, |q| q.nominal))
    }

    /// Whether `amount` alone is within the queue's nominal quota.
    pub fn fits_nominal(&self, queue: usize, amount: &Resources) -> bool {
        amount
            .iter()
            .all(|(r, a)| self.quota(queue, r).is_some_and(|q| a <= q.nominal))
    }

    /// Dominant weighted share above nominal: for each resource, usage above nominal over what
    /// the cohort can lend; the largest of these, divided by the queue's weight.
    pub fn share(&self, queue: usize) -> f64 {
        self.share_with(queue, &Resources::new(), &Resources::new())
    }

    /// The share after adding `plus` and removing `minus`.
    pub fn share_with(&self, queue: usize, plus: &Resources, minus: &Resources) -> f64 {
        let book = &self.queues[queue];
        let pool = &self.cohorts[book.cohort].capacity;
        let mut usage = book.usage.clone();
        usage.add(plus);
        usage.sub(minus);
        let dominant = usage
            .iter()
            .filter_map(|(resource, used)| {
                let nominal = self.quota(queue, resource).map_or(0, |q| q.nominal);
                let lendable = pool.get(resource);
                (lendable > 0).then(|| used.saturating_sub(nominal) as f64 / lendable as f64)
            })
            .fold(0.0, f64::max);
        dominant / book.weight
    }

    /// Invariant checked by the property tests: no queue above its limit, no pool overdrawn.
    #[cfg(test)]
    pub fn within_limits(&self) -> bool {
        let queues_ok = (0..self.queues.len()).all(|q| {
            self.queues[q]
                .usage
                .iter()
                .all(|(r, used)| used <= self.ceiling(q, r))
        });
        let pools_ok = self.cohorts.iter().all(|c| c.usage.fits_in(&c.capacity));
        queues_ok && pools_ok
    }
}
