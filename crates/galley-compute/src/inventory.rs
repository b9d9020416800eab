//! What an executor can run on: nodes with cpu, memory and GPUs (a device id, a flavor, and how
//! many jobs may share it by time-slicing).

use serde::{Deserialize, Serialize};

use crate::resources::{Resource, Resources};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    #[serde(default)]
    pub gpus: Vec<Gpu>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gpu {
    /// What `CUDA_VISIBLE_DEVICES` takes: a `GPU-…` or `MIG-…` UUID, or an index.
    pub id: String,
    pub flavor: String,
    /// Time-sliced replicas of this device; 1 means a job has it to itself.
    #[serde(default = "one")]
    pub slices: u32,
}

fn one() -> u32 {
    1
}

impl Node {
    pub fn capacity(&self) -> Resources {
        let mut total = Resources::new()
            .with(Resource::Cpu, self.cpu_millis)
            .with(Resource::Memory, self.memory_bytes);
        total.add(
            &self
                .gpus
                .iter()
                .map(|g| (Resource::Gpu(g.flavor.clone()), u64::from(g.slices)))
                .collect(),
        );
        total
    }
}

pub fn total_capacity(nodes: &[Node]) -> Resources {
    let mut total = Resources::new();
    for node in nodes {
        total.add(&node.capacity());
    }
    total
}
