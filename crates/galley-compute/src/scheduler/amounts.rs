//! The resources one pass deals in, interned once: cpu, memory and each GPU flavor as a small
//! index, so quota checks, node fits and shares run on plain numbers instead of maps keyed by
//! names; a job's request with its flavor interned, and its total as the at most three amounts
//! it can hold.

use std::fmt;
use std::ops::Deref;

use super::Workload;
use crate::config::ComputeConfig;
use crate::inventory::Node;
use crate::resources::{format_cpu, format_memory, Resource, Resources};

pub(crate) const CPU: usize = 0;
pub(crate) const MEMORY: usize = 1;

/// An amount of one interned resource. Lists of them are kept in index order without zeros,
/// which is the order and content of the [`Resources`] they stand for.
pub(crate) type Amount = (usize, u64);

/// Index order is [`Resource`]'s order (cpu, memory, then flavors by name), so walking indices
/// walks amounts as a [`Resources`] map lists them and messages come out in the same order.
#[derive(Debug)]
pub(crate) struct Dims {
    flavors: Vec<String>,
}

impl Dims {
    /// Every resource the configuration, the inventory and the jobs name, so that every amount
    /// of the pass has an index.
    pub fn new(config: &ComputeConfig, nodes: Option<&[Node]>, workloads: &[Workload]) -> Dims {
        let resources = config
            .queues
            .iter()
            .flat_map(|q| q.quotas.iter().map(|(r, _)| r));
        let used = workloads
            .iter()
            .filter_map(|w| w.admission.as_ref())
            .flat_map(|a| a.usage.resources());
        let of_resources = resources.chain(used).filter_map(|r| match r {
            Resource::Gpu(flavor) => Some(flavor.as_str()),
            _ => None,
        });
        let of_nodes = nodes
            .into_iter()
            .flatten()
            .flat_map(|n| &n.gpus)
            .map(|g| g.flavor.as_str());
        let of_jobs = workloads.iter().flat_map(|w| {
            let chosen = w.admission.as_ref().and_then(|a| a.gpu_flavor.as_deref());
            w.request.gpu_flavor.as_deref().into_iter().chain(chosen)
        });
        let mut flavors: Vec<&str> = Vec::new();
        for flavor in of_resources.chain(of_nodes).chain(of_jobs) {
            if !flavors.contains(&flavor) {
                flavors.push(flavor);
            }
        }
        flavors.sort_unstable();
        Dims {
            flavors: flavors.into_iter().map(str::to_string).collect(),
        }
    }

    pub fn len(&self) -> usize {
        2 + self.flavors.len()
    }

    pub fn flavor(&self, name: &str) -> Option<usize> {
        self.flavors
            .binary_search_by(|f| f.as_str().cmp(name))
            .ok()
            .map(|i| i + 2)
    }

    pub fn flavor_name(&self, dim: usize) -> &str {
        &self.flavors[dim - 2]
    }

    pub fn of(&self, resource: &Resource) -> Option<usize> {
        match resource {
            Resource::Cpu => Some(CPU),
            Resource::Memory => Some(MEMORY),
            Resource::Gpu(flavor) => self.flavor(flavor),
        }
    }

    pub fn resource(&self, dim: usize) -> Resource {
        match dim {
            CPU => Resource::Cpu,
            MEMORY => Resource::Memory,
            _ => Resource::Gpu(self.flavor_name(dim).to_string()),
        }
    }

    /// The resource's name as [`Resource`] displays it.
    pub fn name(&self, dim: usize) -> Name<'_> {
        Name { dims: self, dim }
    }

    /// See [`Resource::format_amount`].
    pub fn format_amount(&self, dim: usize, amount: u64) -> String {
        match dim {
            CPU => format_cpu(amount),
            MEMORY => format_memory(amount),
            _ => amount.to_string(),
        }
    }

    /// Stored amounts as a list; every resource a pass sees was interned when it began.
    pub fn amounts(&self, resources: &Resources) -> Vec<Amount> {
        resources
            .iter()
            .filter(|(_, amount)| *amount > 0)
            .filter_map(|(r, amount)| Some((self.of(r)?, amount)))
            .collect()
    }

    pub fn resources(&self, amounts: &[Amount]) -> Resources {
        amounts
            .iter()
            .map(|(dim, amount)| (self.resource(*dim), *amount))
            .collect()
    }
}

pub(crate) struct Name<'a> {
    dims: &'a Dims,
    dim: usize,
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.dim {
            CPU => f.write_str("cpu"),
            MEMORY => f.write_str("memory"),
            dim => write!(f, "gpu/{}", self.dims.flavor_name(dim)),
        }
    }
}

/// A job's request with its GPU flavor interned: all that decides whether and where it fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Ask {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub gpus: u32,
    /// The flavor asked for; `None` takes any the queue has quota for.
    pub gpu_flavor: Option<usize>,
    pub replicas: u32,
}

impl Ask {
    /// Jobs' flavors are interned with the pass, so the one asked for has an index.
    pub fn of(workload: &Workload, dims: &Dims) -> Ask {
        let request = &workload.request;
        Ask {
            cpu_millis: request.cpu_millis,
            memory_bytes: request.memory_bytes,
            gpus: request.gpus,
            gpu_flavor: request.gpu_flavor.as_deref().and_then(|f| dims.flavor(f)),
            replicas: workload.replicas,
        }
    }

    /// What the job holds in all once admitted with `flavor`: [`crate::job::ReplicaRequest::resources`]
    /// times the replicas.
    pub fn demand(&self, flavor: Option<usize>) -> Demand {
        let factor = u64::from(self.replicas);
        let mut demand = Demand {
            amounts: [(0, 0); 3],
            len: 0,
        };
        let gpus = flavor.map(|dim| (dim, u64::from(self.gpus)));
        let per_replica = [(CPU, self.cpu_millis), (MEMORY, self.memory_bytes)];
        for (dim, amount) in per_replica.into_iter().chain(gpus) {
            let total = amount.saturating_mul(factor);
            if total > 0 {
                demand.amounts[demand.len] = (dim, total);
                demand.len += 1;
            }
        }
        demand
    }
}

/// A job's total once its GPU flavor is settled: cpu, memory and at most one flavor. Held
/// inline, so trying a job against quotas and nodes allocates nothing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Demand {
    amounts: [Amount; 3],
    len: usize,
}

impl Demand {
    pub fn get(&self, dim: usize) -> u64 {
        self.iter().find(|(d, _)| *d == dim).map_or(0, |(_, a)| *a)
    }
}

impl Deref for Demand {
    type Target = [Amount];

    fn deref(&self) -> &[Amount] {
        &self.amounts[..self.len]
    }
}
