//! Teams, queues, cohorts, quotas, priority classes and the scheduling policy: the file users
//! apply (`galley queues apply`), its validation into [`ComputeConfig`], the configuration a
//! fresh server starts with, and the plan shown before a change is applied.

use std::collections::{BTreeMap, BTreeSet};

use galley_core::duration::{format_duration_ms, parse_duration_ms};
use serde::{Deserialize, Serialize};

use crate::error::{ComputeError, Result};
use crate::inventory::{total_capacity, Gpu, Node};
use crate::resources::{valid_flavor, Resource};

/// The validated configuration the scheduler works from. Queue names are unique across teams.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComputeConfig {
    pub queues: Vec<Queue>,
    pub priority_classes: Vec<PriorityClass>,
    pub policy: Policy,
    /// A declared inventory; `None` means the executor's own (discovered) one.
    pub nodes: Option<Vec<Node>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub name: String,
    pub team: String,
    /// Queues of one cohort lend unused quota to each other; `None` stands alone.
    pub cohort: Option<String>,
    /// Fair-sharing weight: a queue with weight 2 may borrow twice the share of one with 1.
    pub weight: f64,
    /// In file order, which is the order GPU flavors are tried in.
    pub quotas: Vec<(Resource, Quota)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Guaranteed to the queue; others use it only while the queue does not.
    pub nominal: u64,
    /// How far above nominal the queue may borrow; `None` is as far as the cohort can lend.
    pub borrowing_limit: Option<u64>,
    /// How much of the nominal quota others may borrow; `None` is all of it.
    pub lending_limit: Option<u64>,
}

impl Quota {
    /// The part of the nominal quota the cohort may lend out.
    pub fn lendable(&self) -> u64 {
        self.lending_limit.unwrap_or(self.nominal).min(self.nominal)
    }

    /// The part never lent: usage up to here never touches the cohort's pool.
    pub fn guaranteed(&self) -> u64 {
        self.nominal - self.lendable()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityClass {
    pub name: String,
    pub value: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Queueing {
    /// A job that cannot fit does not hold back the jobs behind it.
    BestEffortFifo,
    /// A job that cannot fit holds back every job behind it in its queue.
    StrictFifo,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub queueing: Queueing,
    /// Queues lend unused quota within their cohort.
    pub borrowing: bool,
    /// Reclaim borrowed quota, let higher priority displace lower, and rebalance fair shares.
    pub preemption: bool,
    /// Order borrowing by each queue's weighted share above its nominal quota.
    pub fair_sharing: bool,
    /// A job runs at least this long before it can be preempted.
    pub min_runtime_ms: i64,
    /// A queue's first job that has waited this long reserves what it lacks; later jobs may use
    /// those resources only if their max runtime ends before it could start. `None` never reserves.
    pub reservation_after_ms: Option<i64>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            queueing: Queueing::BestEffortFifo,
            borrowing: true,
            preemption: true,
            fair_sharing: true,
            min_runtime_ms: 60_000,
            reservation_after_ms: Some(600_000),
        }
    }
}

impl Policy {
    /// Kueue's StrictFIFO with borrowing and nothing else: the baseline the simulator compares with.
    pub fn fifo() -> Self {
        Policy {
            queueing: Queueing::StrictFifo,
            borrowing: true,
            preemption: false,
            fair_sharing: false,
            min_runtime_ms: 0,
            reservation_after_ms: None,
        }
    }
}

pub const DEFAULT_TEAM: &str = "default";
pub const DEFAULT_PRIORITY_CLASS: &str = "normal";

fn default_priority_classes() -> Vec<PriorityClass> {
    [("low", 0), ("normal", 100), ("high", 1000)]
        .into_iter()
        .map(|(name, value)| PriorityClass {
            name: name.into(),
            value,
        })
        .collect()
}

impl ComputeConfig {
    /// What a server starts with before any file is applied: team `default` with one queue
    /// holding the whole inventory.
    pub fn for_inventory(nodes: &[Node]) -> Self {
        let quotas = total_capacity(nodes)
            .iter()
            .map(|(r, amount)| {
                let quota = Quota {
                    nominal: amount,
                    borrowing_limit: None,
                    lending_limit: None,
                };
                (r.clone(), quota)
            })
            .collect();
        ComputeConfig {
            queues: vec![Queue {
                name: DEFAULT_TEAM.into(),
                team: DEFAULT_TEAM.into(),
                cohort: None,
                weight: 1.0,
                quotas,
            }],
            priority_classes: default_priority_classes(),
            policy: Policy::default(),
            nodes: None,
        }
    }

    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.name == name)
    }

    pub fn teams(&self) -> BTreeSet<&str> {
        self.queues.iter().map(|q| q.team.as_str()).collect()
    }

    /// A priority given as a class name or an integer; `None` is the default class.
    pub fn priority(&self, given: Option<&str>) -> Result<(String, i64)> {
        let name = given.unwrap_or(DEFAULT_PRIORITY_CLASS);
        if let Some(class) = self.priority_classes.iter().find(|c| c.name == name) {
            return Ok((class.name.clone(), class.value));
        }
        if let Ok(value) = name.parse::<i64>() {
            return Ok((value.to_string(), value));
        }
        let known: Vec<_> = self
            .priority_classes
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        Err(ComputeError::InvalidInput(format!(
            "unknown priority '{name}': give an integer or one of {}",
            known.join(", ")
        )))
    }

    /// Reads and validates a queues file (YAML or JSON). Every problem is reported at once.
    pub fn parse(text: &str) -> Result<Self> {
        let spec: ConfigFile = yaml_serde::from_str(text)
            .map_err(|e| ComputeError::InvalidInput(format!("queues file: {e}")))?;
        spec.validate()
    }

    /// The changes applying `next` over `self` makes, one line each; empty when nothing changes.
    pub fn plan(&self, next: &ComputeConfig) -> Vec<String> {
        let mut lines = Vec::new();
        for queue in &next.queues {
            match self.queue(&queue.name) {
                None => lines.push(format!(
                    "+ queue {} (team {}): {}",
                    queue.name,
                    queue.team,
                    describe_quotas(&queue.quotas)
                )),
                Some(old) if old != queue => lines.push(format!(
                    "~ queue {} (team {}): {}",
                    queue.name,
                    queue.team,
                    queue_changes(old, queue).join("; ")
                )),
                Some(_) => {}
            }
        }
        for queue in &self.queues {
            if next.queue(&queue.name).is_none() {
                lines.push(format!("- queue {} (team {})", queue.name, queue.team));
            }
        }
        if self.priority_classes != next.priority_classes {
            lines.push(format!(
                "~ priority classes: {}",
                next.priority_classes
                    .iter()
                    .map(|c| format!("{}={}", c.name, c.value))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if self.policy != next.policy {
            lines.push(format!("~ policy: {}", describe_policy(&next.policy)));
        }
        if self.nodes != next.nodes {
            lines.push(match &next.nodes {
                Some(nodes) => format!("~ inventory: {} declared nodes", nodes.len()),
                None => "~ inventory: the executor's own".into(),
            });
        }
        lines
    }
}

fn describe_quotas(quotas: &[(Resource, Quota)]) -> String {
    quotas
        .iter()
        .map(|(r, q)| {
            let mut text = format!("{r} {}", r.format_amount(q.nominal));
            if let Some(limit) = q.borrowing_limit {
                text.push_str(&format!(" (borrow ≤ {})", r.format_amount(limit)));
            }
            if let Some(limit) = q.lending_limit {
                text.push_str(&format!(" (lend ≤ {})", r.format_amount(limit)));
            }
            text
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn queue_changes(old: &Queue, new: &Queue) -> Vec<String> {
    let mut changes = Vec::new();
    if old.team != new.team {
        changes.push(format!("team {} → {}", old.team, new.team));
    }
    if old.cohort != new.cohort {
        changes.push(format!(
            "cohort {} → {}",
            old.cohort.as_deref().unwrap_or("none"),
            new.cohort.as_deref().unwrap_or("none")
        ));
    }
    if old.weight != new.weight {
        changes.push(format!("weight {} → {}", old.weight, new.weight));
    }
    if old.quotas != new.quotas {
        changes.push(format!(
            "quota {} → {}",
            describe_quotas(&old.quotas),
            describe_quotas(&new.quotas)
        ));
    }
    changes
}

fn describe_policy(policy: &Policy) -> String {
    format!(
        "{:?}, borrowing {}, preemption {}, fair sharing {}, min runtime {}, reservation after {}",
        policy.queueing,
        policy.borrowing,
        policy.preemption,
        policy.fair_sharing,
        format_duration_ms(policy.min_runtime_ms),
        policy
            .reservation_after_ms
            .map(format_duration_ms)
            .unwrap_or_else(|| "never".into())
    )
}

/// Names go into Kubernetes labels and file paths: DNS-1123 labels.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

// ---- the file as users write it ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    teams: Vec<TeamSpec>,
    #[serde(default)]
    priority_classes: Option<Vec<PriorityClass>>,
    #[serde(default)]
    policy: PolicySpec,
    #[serde(default)]
    nodes: Option<Vec<NodeSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamSpec {
    name: String,
    queues: Vec<QueueSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueSpec {
    name: String,
    #[serde(default)]
    cohort: Option<String>,
    #[serde(default)]
    weight: Option<f64>,
    #[serde(default)]
    quota: OrderedMap<QuotaSpec>,
}

/// `cpu: 8` is short for `cpu: {nominal: 8}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum QuotaSpec {
    Nominal(Amount),
    Full {
        nominal: Amount,
        #[serde(default)]
        borrowing_limit: Option<Amount>,
        #[serde(default)]
        lending_limit: Option<Amount>,
    },
}

/// A number or a spelled quantity (`500m`, `4Gi`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Amount {
    Number(f64),
    Text(String),
}

impl Amount {
    fn read(&self, resource: &Resource) -> std::result::Result<u64, String> {
        match self {
            Amount::Text(text) => resource.parse_amount(text),
            Amount::Number(n) => resource.parse_amount(&n.to_string()),
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    queueing: Option<Queueing>,
    borrowing: Option<bool>,
    preemption: Option<bool>,
    fair_sharing: Option<bool>,
    min_runtime: Option<String>,
    /// A length, or `never`.
    reservation_after: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeSpec {
    name: String,
    cpu: Amount,
    memory: Amount,
    #[serde(default)]
    gpus: Vec<GpuSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GpuSpec {
    flavor: String,
    /// Device ids; `count` alone numbers them `<node>-<flavor>-<i>`.
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    slices: Option<u32>,
}

/// A YAML mapping read in file order (serde maps would sort or hash it away).
struct OrderedMap<V>(Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Visitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(OrderedMap(entries))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

impl ConfigFile {
    fn validate(self) -> Result<ComputeConfig> {
        let mut problems = Vec::new();
        let mut queues = Vec::new();
        let mut teams = BTreeSet::new();
        let mut queue_names = BTreeSet::new();
        for team in self.teams {
            if !valid_name(&team.name) {
                problems.push(format!(
                    "team '{}': names are lowercase letters, digits and '-' (at most 63)",
                    team.name
                ));
            }
            if !teams.insert(team.name.clone()) {
                problems.push(format!("team '{}' is listed twice", team.name));
            }
            if team.queues.is_empty() {
                problems.push(format!("team '{}' has no queue", team.name));
            }
            for spec in team.queues {
                let at = format!("queue '{}'", spec.name);
                if !valid_name(&spec.name) {
                    problems.push(format!(
                        "{at}: names are lowercase letters, digits and '-' (at most 63)"
                    ));
                }
                if !queue_names.insert(spec.name.clone()) {
                    problems.push(format!("{at} is listed twice (queue names are global)"));
                }
                if let Some(cohort) = &spec.cohort {
                    if !valid_name(cohort) {
                        problems.push(format!("{at}: cohort '{cohort}' is not a valid name"));
                    }
                }
                let weight = spec.weight.unwrap_or(1.0);
                if !(weight.is_finite() && weight > 0.0) {
                    problems.push(format!("{at}: weight must be a positive number"));
                }
                let mut quotas: Vec<(Resource, Quota)> = Vec::new();
                for (name, quota) in spec.quota.0 {
                    let resource: Resource = match name.parse() {
                        Ok(r) => r,
                        Err(e) => {
                            problems.push(format!("{at}: {e}"));
                            continue;
                        }
                    };
                    if quotas.iter().any(|(r, _)| *r == resource) {
                        problems.push(format!("{at}: {resource} is listed twice"));
                        continue;
                    }
                    match read_quota(&resource, &quota) {
                        Ok(q) => quotas.push((resource, q)),
                        Err(e) => problems.push(format!("{at}: {resource}: {e}")),
                    }
                }
                queues.push(Queue {
                    name: spec.name,
                    team: team.name.clone(),
                    cohort: spec.cohort,
                    weight,
                    quotas,
                });
            }
        }
        if teams.is_empty() {
            problems.push("the file names no team".into());
        }
        let priority_classes = self
            .priority_classes
            .unwrap_or_else(default_priority_classes);
        let mut class_names = BTreeSet::new();
        for class in &priority_classes {
            if !valid_name(&class.name) {
                problems.push(format!(
                    "priority class '{}' is not a valid name",
                    class.name
                ));
            }
            if !class_names.insert(&class.name) {
                problems.push(format!("priority class '{}' is listed twice", class.name));
            }
        }
        if !class_names.contains(&DEFAULT_PRIORITY_CLASS.to_string()) {
            problems.push(format!(
                "priority classes must include '{DEFAULT_PRIORITY_CLASS}', the default"
            ));
        }
        let policy = read_policy(self.policy).unwrap_or_else(|e| {
            problems.push(e);
            Policy::default()
        });
        let nodes = self.nodes.map(|specs| read_nodes(specs, &mut problems));
        if problems.is_empty() {
            Ok(ComputeConfig {
                queues,
                priority_classes,
                policy,
                nodes,
            })
        } else {
            Err(ComputeError::InvalidInput(format!(
                "queues file has {} problem(s): {}",
                problems.len(),
                problems.join("; ")
            )))
        }
    }
}

fn read_quota(resource: &Resource, spec: &QuotaSpec) -> std::result::Result<Quota, String> {
    let quota = match spec {
        QuotaSpec::Nominal(amount) => Quota {
            nominal: amount.read(resource)?,
            borrowing_limit: None,
            lending_limit: None,
        },
        QuotaSpec::Full {
            nominal,
            borrowing_limit,
            lending_limit,
        } => Quota {
            nominal: nominal.read(resource)?,
            borrowing_limit: borrowing_limit
                .as_ref()
                .map(|a| a.read(resource))
                .transpose()?,
            lending_limit: lending_limit
                .as_ref()
                .map(|a| a.read(resource))
                .transpose()?,
        },
    };
    if quota.lending_limit.is_some_and(|l| l > quota.nominal) {
        return Err("lending_limit exceeds the nominal quota".into());
    }
    Ok(quota)
}

fn read_policy(spec: PolicySpec) -> std::result::Result<Policy, String> {
    let defaults = Policy::default();
    let length = |field: &str, text: &str| {
        parse_duration_ms(text)
            .ok_or_else(|| format!("policy.{field}: '{text}' is not a length like 30s, 10m or 1h"))
    };
    Ok(Policy {
        queueing: spec.queueing.unwrap_or(defaults.queueing),
        borrowing: spec.borrowing.unwrap_or(defaults.borrowing),
        preemption: spec.preemption.unwrap_or(defaults.preemption),
        fair_sharing: spec.fair_sharing.unwrap_or(defaults.fair_sharing),
        min_runtime_ms: match spec.min_runtime {
            Some(text) => length("min_runtime", &text)?,
            None => defaults.min_runtime_ms,
        },
        reservation_after_ms: match spec.reservation_after.as_deref() {
            Some("never") => None,
            Some(text) => Some(length("reservation_after", text)?),
            None => defaults.reservation_after_ms,
        },
    })
}

fn read_nodes(specs: Vec<NodeSpec>, problems: &mut Vec<String>) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut names = BTreeSet::new();
    let mut device_ids = BTreeMap::new();
    for spec in specs {
        let at = format!("node '{}'", spec.name);
        if spec.name.is_empty() || !names.insert(spec.name.clone()) {
            problems.push(format!("{at}: names must be present and unique"));
        }
        let cpu = spec.cpu.read(&Resource::Cpu).unwrap_or_else(|e| {
            problems.push(format!("{at}: {e}"));
            0
        });
        let memory = spec.memory.read(&Resource::Memory).unwrap_or_else(|e| {
            problems.push(format!("{at}: {e}"));
            0
        });
        let mut gpus = Vec::new();
        for gpu in spec.gpus {
            if !valid_flavor(&gpu.flavor) {
                problems.push(format!("{at}: '{}' is not a valid GPU flavor", gpu.flavor));
            }
            let slices = gpu.slices.unwrap_or(1);
            if slices == 0 {
                problems.push(format!("{at}: slices must be at least 1"));
            }
            let ids = match (gpu.ids.is_empty(), gpu.count) {
                (false, None) => gpu.ids,
                (true, Some(count)) => (0..count)
                    .map(|i| format!("{}-{}-{i}", spec.name, gpu.flavor))
                    .collect(),
                _ => {
                    problems.push(format!("{at}: give a GPU entry either ids or count"));
                    Vec::new()
                }
            };
            for id in ids {
                if device_ids.insert(id.clone(), ()).is_some() {
                    problems.push(format!("{at}: GPU id '{id}' is declared twice"));
                }
                gpus.push(Gpu {
                    id,
                    flavor: gpu.flavor.clone(),
                    slices,
                });
            }
        }
        nodes.push(Node {
            name: spec.name,
            cpu_millis: cpu,
            memory_bytes: memory,
            gpus,
        });
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
teams:
  - name: vision
    queues:
      - name: vision
        cohort: research
        weight: 2
        quota:
          cpu: {nominal: 32, borrowing_limit: 16}
          memory: 128Gi
          gpu/nvidia-h100: {nominal: 4, lending_limit: 2}
          gpu/nvidia-a100: 8
  - name: nlp
    queues:
      - {name: nlp, cohort: research, quota: {cpu: 500m, memory: 1Gi}}
policy: {min_runtime: 30s, reservation_after: never}
nodes:
  - {name: a, cpu: 64, memory: 256Gi, gpus: [{flavor: nvidia-h100, count: 2, slices: 2}]}
"#;

    #[test]
    fn a_file_reads_into_a_config_in_file_order() {
        let config = ComputeConfig::parse(FILE).unwrap();
        let vision = config.queue("vision").unwrap();
        assert_eq!(vision.weight, 2.0);
        let order: Vec<_> = vision.quotas.iter().map(|(r, _)| r.to_string()).collect();
        assert_eq!(
            order,
            ["cpu", "memory", "gpu/nvidia-h100", "gpu/nvidia-a100"]
        );
        assert_eq!(vision.quotas[0].1.borrowing_limit, Some(16_000));
        assert_eq!(vision.quotas[2].1.guaranteed(), 2);
        assert_eq!(config.queue("nlp").unwrap().quotas[0].1.nominal, 500);
        assert_eq!(config.policy.min_runtime_ms, 30_000);
        assert_eq!(config.policy.reservation_after_ms, None);
        let nodes = config.nodes.unwrap();
        assert_eq!(nodes[0].gpus.len(), 2);
        assert_eq!(nodes[0].gpus[1].id, "a-nvidia-h100-1");
        assert_eq!(config.priority_classes.len(), 3);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = ComputeConfig::parse(
            "teams:\n  - name: Bad_Name\n    queues:\n      - {name: q, quota: {disk: 1, cpu: {nominal: 1, lending_limit: 2}}}\n      - {name: q, weight: 0}\n",
        )
        .unwrap_err()
        .to_string();
        for expected in [
            "Bad_Name",
            "unknown resource 'disk'",
            "lending_limit",
            "listed twice",
            "weight",
        ] {
            assert!(err.contains(expected), "{expected} missing from {err}");
        }
        assert!(ComputeConfig::parse("teams: []").is_err());
        assert!(ComputeConfig::parse("teems: []")
            .unwrap_err()
            .to_string()
            .contains("teems"));
        assert!(ComputeConfig::parse(": : :").is_err());
    }

    #[test]
    fn plans_name_each_change_and_nothing_when_equal() {
        let old = ComputeConfig::parse(FILE).unwrap();
        assert!(old.plan(&old).is_empty());
        let new = ComputeConfig::parse(
            &FILE
                .replace("gpu/nvidia-a100: 8", "gpu/nvidia-a100: 16")
                .replace("name: nlp\n", "name: lang\n")
                .replace("{name: nlp,", "{name: lang,"),
        )
        .unwrap();
        let plan = new.plan(&old).join("\n");
        let plan_forward = old.plan(&new).join("\n");
        assert!(plan_forward.contains("~ queue vision"), "{plan_forward}");
        assert!(plan_forward.contains("+ queue lang"), "{plan_forward}");
        assert!(plan_forward.contains("- queue nlp"), "{plan_forward}");
        assert!(plan.contains("+ queue nlp"), "{plan}");
    }

    #[test]
    fn priorities_are_class_names_or_integers() {
        let config = ComputeConfig::for_inventory(&[]);
        assert_eq!(config.priority(None).unwrap(), ("normal".into(), 100));
        assert_eq!(config.priority(Some("high")).unwrap().1, 1000);
        assert_eq!(config.priority(Some("-5")).unwrap().1, -5);
        assert!(config.priority(Some("urgent")).is_err());
    }
}
