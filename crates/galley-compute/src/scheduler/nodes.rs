//! Node capacity: which node each replica of a gang lands on and which GPU devices it gets.
//! Placement is all or nothing, so a gang never starts partly.

use std::collections::BTreeMap;

use crate::inventory::Node;
use crate::job::ReplicaRequest;
use crate::resources::Resource;
use crate::scheduler::Placement;

#[derive(Clone, Debug)]
pub(crate) struct NodeBook {
    nodes: Vec<NodeFree>,
}

#[derive(Clone, Debug)]
struct NodeFree {
    name: String,
    cpu_millis: u64,
    memory_bytes: u64,
    /// Free slices per device, in inventory order, with the device's flavor.
    gpus: Vec<(String, String, u32)>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CapacityShortfall {
    pub resource: Resource,
    pub message: String,
}

impl NodeBook {
    pub fn new(nodes: &[Node]) -> Self {
        NodeBook {
            nodes: nodes
                .iter()
                .map(|n| NodeFree {
                    name: n.name.clone(),
                    cpu_millis: n.cpu_millis,
                    memory_bytes: n.memory_bytes,
                    gpus: n
                        .gpus
                        .iter()
                        .map(|g| (g.id.clone(), g.flavor.clone(), g.slices))
                        .collect(),
                })
                .collect(),
        }
    }

    /// Where every replica of a gang would go (first fit, node by node), or why it cannot all
    /// go; the caller commits with [`NodeBook::take`]. Tried on plain numbers first so a refusal
    /// allocates little; only the chosen nodes are copied to pick devices.
    pub fn place(
        &self,
        request: &ReplicaRequest,
        flavor: Option<&str>,
        replicas: u32,
    ) -> Result<Vec<Placement>, CapacityShortfall> {
        let gpus_wanted = if flavor.is_some() { request.gpus } else { 0 };
        let mut free: Vec<(u64, u64, u32)> = self
            .nodes
            .iter()
            .map(|n| (n.cpu_millis, n.memory_bytes, free_gpus(n, flavor)))
            .collect();
        let mut chosen = Vec::with_capacity(replicas as usize);
        for _ in 0..replicas {
            let fits = free.iter().position(|(cpu, memory, gpus)| {
                *cpu >= request.cpu_millis
                    && *memory >= request.memory_bytes
                    && *gpus >= gpus_wanted
            });
            let Some(i) = fits else {
                return Err(self.shortfall(request, flavor, replicas));
            };
            free[i].0 -= request.cpu_millis;
            free[i].1 -= request.memory_bytes;
            free[i].2 -= gpus_wanted;
            chosen.push(i);
        }
        let mut scratch: Vec<(usize, NodeFree)> = Vec::new();
        let mut placements = Vec::with_capacity(chosen.len());
        for i in chosen {
            let at = match scratch.iter().position(|(n, _)| *n == i) {
                Some(at) => at,
                None => {
                    scratch.push((i, self.nodes[i].clone()));
                    scratch.len() - 1
                }
            };
            placements.push(scratch[at].1.take_replica(request, flavor, gpus_wanted));
        }
        Ok(placements)
    }

    pub fn take(&mut self, request: &ReplicaRequest, placements: &[Placement]) {
        self.adjust(request, placements, false);
    }

    pub fn give_back(&mut self, request: &ReplicaRequest, placements: &[Placement]) {
        self.adjust(request, placements, true);
    }

    fn adjust(&mut self, request: &ReplicaRequest, placements: &[Placement], give: bool) {
        for placement in placements {
            let Some(node) = self.nodes.iter_mut().find(|n| n.name == placement.node) else {
                continue; // the node left the inventory; nothing to account
            };
            if give {
                node.cpu_millis += request.cpu_millis;
                node.memory_bytes += request.memory_bytes;
            } else {
                node.cpu_millis = node.cpu_millis.saturating_sub(request.cpu_millis);
                node.memory_bytes = node.memory_bytes.saturating_sub(request.memory_bytes);
            }
            for id in &placement.gpus {
                if let Some(slot) = node.gpus.iter_mut().find(|(d, _, _)| d == id) {
                    slot.2 = if give {
                        slot.2 + 1
                    } else {
                        slot.2.saturating_sub(1)
                    };
                }
            }
        }
    }

    fn shortfall(
        &self,
        request: &ReplicaRequest,
        flavor: Option<&str>,
        replicas: u32,
    ) -> CapacityShortfall {
        let (resource, wanted, free): (Resource, u64, BTreeMap<&str, u64>) = if self
            .nodes
            .iter()
            .all(|n| free_gpus(n, flavor) >= request.gpus)
            || flavor.is_none()
        {
            if self
                .nodes
                .iter()
                .all(|n| n.cpu_millis >= request.cpu_millis)
            {
                (
                    Resource::Memory,
                    request.memory_bytes,
                    self.nodes
                        .iter()
                        .map(|n| (n.name.as_str(), n.memory_bytes))
                        .collect(),
                )
            } else {
                (
                    Resource::Cpu,
                    request.cpu_millis,
                    self.nodes
                        .iter()
                        .map(|n| (n.name.as_str(), n.cpu_millis))
                        .collect(),
                )
            }
        } else {
            (
                Resource::Gpu(flavor.unwrap_or_default().to_string()),
                u64::from(request.gpus),
                self.nodes
                    .iter()
                    .map(|n| (n.name.as_str(), u64::from(free_gpus(n, flavor))))
                    .collect(),
            )
        };
        let free = free
            .iter()
            .map(|(node, amount)| format!("{node} {}", resource.format_amount(*amount)))
            .collect::<Vec<_>>()
            .join(", ");
        CapacityShortfall {
            message: format!(
                "nodes: {replicas} replica(s) need {} {resource} each; free: {free}",
                resource.format_amount(wanted),
            ),
            resource,
        }
    }
}

impl NodeFree {
    /// Deducts one replica known to fit, giving it distinct devices first so a replica asking
    /// for two GPUs gets two when it can.
    fn take_replica(
        &mut self,
        request: &ReplicaRequest,
        flavor: Option<&str>,
        gpus_wanted: u32,
    ) -> Placement {
        self.cpu_millis -= request.cpu_millis;
        self.memory_bytes -= request.memory_bytes;
        let mut gpus: Vec<String> = Vec::new();
        while gpus.len() < gpus_wanted as usize {
            let Some(slot) = self
                .gpus
                .iter_mut()
                .filter(|(_, f, free)| Some(f.as_str()) == flavor && *free > 0)
                .max_by_key(|(id, _, free)| (!gpus.contains(id), *free))
            else {
                break; // unreachable: the caller counted the free slices
            };
            slot.2 -= 1;
            gpus.push(slot.0.clone());
        }
        Placement {
            node: self.name.clone(),
            gpus,
        }
    }
}

fn free_gpus(node: &NodeFree, flavor: Option<&str>) -> u32 {
    node.gpus
        .iter()
        .filter(|(_, f, _)| Some(f.as_str()) == flavor)
        .map(|(_, _, free)| *free)
        .sum()
}
