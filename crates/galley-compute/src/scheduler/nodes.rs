//! Node capacity: which node each replica of a gang lands on and which GPU devices it gets.
//! Placement is all or nothing, so a gang never starts partly.
//!
//! Free capacity is plain numbers per node and per device, with each node's free slices per
//! GPU flavor kept summed: a fit is a scan of integers, and a trial copy of the book copies a
//! few arrays; names and ids are shared and only read to write placements and messages.

use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

use super::amounts::{Ask, Dims, CPU, MEMORY};
use crate::inventory::Node;
use crate::job::ReplicaRequest;
use crate::scheduler::Placement;

#[derive(Clone, Debug)]
pub(crate) struct NodeBook {
    layout: Rc<Layout>,
    cpu_millis: Vec<u64>,
    memory_bytes: Vec<u64>,
    /// Free slices per device, the devices of every node in inventory order.
    slices: Vec<u32>,
    /// Per node, a row of free slices per resource; only GPU flavors' entries are used.
    flavor_free: Vec<u32>,
}

#[derive(Debug)]
struct Layout {
    dims: Rc<Dims>,
    names: Vec<String>,
    /// Each node's devices, as a range of `devices`.
    devices_of: Vec<Range<usize>>,
    devices: Vec<Device>,
    /// The first node of each name: the one a placement naming it is accounted on.
    by_name: HashMap<String, usize>,
    /// Nodes as messages list them: by name, a repeated name standing for its last node.
    listing: Vec<usize>,
}

#[derive(Debug)]
struct Device {
    id: String,
    node: usize,
    flavor: Option<usize>,
}

/// Where a job's placements are accounted: a node per replica, and the devices it holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Seat {
    nodes: Vec<usize>,
    devices: Vec<usize>,
}

/// Why a gang does not fit on the nodes: the resource that falls short, per replica.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CapacityShortfall {
    pub resource: usize,
    wanted: u64,
    replicas: u32,
}

impl CapacityShortfall {
    /// `listing` is [`NodeBook::free_listing`] of the shortfall's resource.
    pub fn message(&self, dims: &Dims, listing: &str) -> String {
        format!(
            "nodes: {} replica(s) need {} {} each; free: {listing}",
            self.replicas,
            dims.format_amount(self.resource, self.wanted),
            dims.name(self.resource),
        )
    }
}

impl NodeBook {
    pub fn new(nodes: &[Node], dims: Rc<Dims>) -> Self {
        let width = dims.len();
        let mut devices = Vec::new();
        let mut devices_of = Vec::with_capacity(nodes.len());
        let mut flavor_free = vec![0u32; nodes.len() * width];
        let mut by_name = HashMap::with_capacity(nodes.len());
        for (index, node) in nodes.iter().enumerate() {
            let start = devices.len();
            for gpu in &node.gpus {
                let flavor = dims.flavor(&gpu.flavor);
                if let Some(flavor) = flavor {
                    flavor_free[index * width + flavor] += gpu.slices;
                }
                devices.push(Device {
                    id: gpu.id.clone(),
                    node: index,
                    flavor,
                });
            }
            devices_of.push(start..devices.len());
            by_name.entry(node.name.clone()).or_insert(index);
        }
        let mut listing: Vec<usize> = (0..nodes.len()).collect();
        listing.sort_by(|a, b| nodes[*a].name.cmp(&nodes[*b].name).then(b.cmp(a)));
        listing.dedup_by(|later, earlier| nodes[*later].name == nodes[*earlier].name);
        NodeBook {
            cpu_millis: nodes.iter().map(|n| n.cpu_millis).collect(),
            memory_bytes: nodes.iter().map(|n| n.memory_bytes).collect(),
            slices: nodes
                .iter()
                .flat_map(|n| n.gpus.iter().map(|g| g.slices))
                .collect(),
            flavor_free,
            layout: Rc::new(Layout {
                dims,
                names: nodes.iter().map(|n| n.name.clone()).collect(),
                devices_of,
                devices,
                by_name,
                listing,
            }),
        }
    }

    fn free_gpus(&self, node: usize, flavor: Option<usize>) -> u32 {
        flavor.map_or(0, |f| self.flavor_free[node * self.layout.dims.len() + f])
    }

    /// How many replicas fit on the node one after another, counting up to `most`.
    fn room(&self, node: usize, ask: &Ask, flavor: Option<usize>, gpus: u32, most: u64) -> u64 {
        let free_gpus = self.free_gpus(node, flavor);
        let fits_one = self.cpu_millis[node] >= ask.cpu_millis
            && self.memory_bytes[node] >= ask.memory_bytes
            && free_gpus >= gpus;
        if !fits_one || most <= 1 {
            return u64::from(fits_one).min(most);
        }
        // A resource the replica does not need sets no limit.
        let limits = [
            self.cpu_millis[node].checked_div(ask.cpu_millis),
            self.memory_bytes[node].checked_div(ask.memory_bytes),
            u64::from(free_gpus).checked_div(u64::from(gpus)),
        ];
        limits.into_iter().flatten().fold(most, u64::min)
    }

    /// Whether every replica of a gang has a node (first fit, node by node). Replicas that go
    /// to a node until it is full are what first fit replica by replica gives, since nodes
    /// passed over never gain room; so this is one scan that allocates nothing.
    pub fn fits(&self, ask: &Ask, flavor: Option<usize>) -> bool {
        let gpus = if flavor.is_some() { ask.gpus } else { 0 };
        let mut left = u64::from(ask.replicas);
        for node in 0..self.layout.names.len() {
            if left == 0 {
                break;
            }
            left -= self.room(node, ask, flavor, gpus, left);
        }
        left == 0
    }

    /// Where each replica of a gang that [`NodeBook::fits`] goes, with its devices; the caller
    /// commits with [`NodeBook::take`].
    pub fn place(&self, ask: &Ask, flavor: Option<usize>) -> Vec<Placement> {
        let gpus = if flavor.is_some() { ask.gpus } else { 0 };
        let mut placements = Vec::with_capacity(ask.replicas as usize);
        let mut left = u64::from(ask.replicas);
        for node in 0..self.layout.names.len() {
            if left == 0 {
                break;
            }
            let here = self.room(node, ask, flavor, gpus, left);
            left -= here;
            if here > 0 {
                let mut free = self.slices[self.layout.devices_of[node].clone()].to_vec();
                for _ in 0..here {
                    placements.push(self.replica_on(node, &mut free, flavor, gpus));
                }
            }
        }
        placements
    }

    /// One replica's devices on a node known to have room, from `free` (the node's devices'
    /// free slices, as earlier replicas of the gang left them): distinct devices first, so a
    /// replica asking for two GPUs gets two when it can, then the freest, the last on ties.
    fn replica_on(
        &self,
        node: usize,
        free: &mut [u32],
        flavor: Option<usize>,
        gpus: u32,
    ) -> Placement {
        let devices = &self.layout.devices[self.layout.devices_of[node].clone()];
        let mut picked: Vec<usize> = Vec::with_capacity(gpus as usize);
        while picked.len() < gpus as usize {
            let mut best: Option<((bool, u32), usize)> = None;
            for (i, device) in devices.iter().enumerate() {
                if device.flavor != flavor || free[i] == 0 {
                    continue;
                }
                let unused = !picked.iter().any(|p| devices[*p].id == device.id);
                let key = (unused, free[i]);
                if best.is_none_or(|(best_key, _)| key >= best_key) {
                    best = Some((key, i));
                }
            }
            let Some((_, i)) = best else {
                break; // unreachable: the caller counted the free slices
            };
            free[i] -= 1;
            picked.push(i);
        }
        Placement {
            node: self.layout.names[node].clone(),
            gpus: picked.iter().map(|i| devices[*i].id.clone()).collect(),
        }
    }

    /// The nodes and devices placements name; those no longer in the inventory are left out.
    pub fn seat(&self, placements: &[Placement]) -> Seat {
        let mut seat = Seat::default();
        for placement in placements {
            let Some(&node) = self.layout.by_name.get(&placement.node) else {
                continue;
            };
            seat.nodes.push(node);
            let devices = self.layout.devices_of[node].clone();
            for id in &placement.gpus {
                let mut on_node = devices.clone();
                if let Some(device) = on_node.find(|d| self.layout.devices[*d].id == *id) {
                    seat.devices.push(device);
                }
            }
        }
        seat
    }

    pub fn take(&mut self, request: &ReplicaRequest, seat: &Seat) {
        self.adjust(request, seat, false);
    }

    pub fn give_back(&mut self, request: &ReplicaRequest, seat: &Seat) {
        self.adjust(request, seat, true);
    }

    fn adjust(&mut self, request: &ReplicaRequest, seat: &Seat, give: bool) {
        for &node in &seat.nodes {
            let (cpu, memory) = (&mut self.cpu_millis[node], &mut self.memory_bytes[node]);
            if give {
                *cpu += request.cpu_millis;
                *memory += request.memory_bytes;
            } else {
                *cpu = cpu.saturating_sub(request.cpu_millis);
                *memory = memory.saturating_sub(request.memory_bytes);
            }
        }
        let width = self.layout.dims.len();
        for &index in &seat.devices {
            let device = &self.layout.devices[index];
            let slot = &mut self.slices[index];
            let moved = if give {
                *slot += 1;
                true
            } else if *slot > 0 {
                *slot -= 1;
                true
            } else {
                false
            };
            if let Some(flavor) = device.flavor.filter(|_| moved) {
                let free = &mut self.flavor_free[device.node * width + flavor];
                *free = if give { *free + 1 } else { *free - 1 };
            }
        }
    }

    /// Why the gang does not fit: GPUs when some node lacks the flavor's slices for one
    /// replica, else cpu when some node lacks the cores, else memory.
    pub fn shortfall(&self, ask: &Ask, flavor: Option<usize>) -> CapacityShortfall {
        let nodes = 0..self.layout.names.len();
        let (resource, wanted) = match flavor {
            Some(flavor)
                if !nodes
                    .clone()
                    .all(|n| self.free_gpus(n, Some(flavor)) >= ask.gpus) =>
            {
                (flavor, u64::from(ask.gpus))
            }
            _ if nodes.clone().all(|n| self.cpu_millis[n] >= ask.cpu_millis) => {
                (MEMORY, ask.memory_bytes)
            }
            _ => (CPU, ask.cpu_millis),
        };
        CapacityShortfall {
            resource,
            wanted,
            replicas: ask.replicas,
        }
    }

    /// Each node's free amount of `resource`, by node name: `node-000 2, node-001 0`.
    pub fn free_listing(&self, resource: usize) -> String {
        let dims = &self.layout.dims;
        let mut out = String::new();
        for (i, &node) in self.layout.listing.iter().enumerate() {
            let amount = match resource {
                CPU => self.cpu_millis[node],
                MEMORY => self.memory_bytes[node],
                flavor => u64::from(self.free_gpus(node, Some(flavor))),
            };
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&self.layout.names[node]);
            out.push(' ');
            out.push_str(&dims.format_amount(resource, amount));
        }
        out
    }
}
