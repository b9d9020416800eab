//! The scheduling core's rules, case by case, and its invariants as properties over random
//! clusters: quotas and nodes never overdrawn, gangs all or nothing, preemption minimal and
//! loop-free, no starvation under nominal quota.

use std::collections::HashMap;
use std::rc::Rc;

use proptest::prelude::*;

use super::*;
use crate::config::{Policy, Queue, Quota};
use crate::inventory::Gpu;
use crate::resources::Resource;

const GI: u64 = 1 << 30;

fn queue(name: &str, cohort: Option<&str>, quotas: &[(Resource, u64)]) -> Queue {
    Queue {
        name: name.into(),
        team: name.into(),
        cohort: cohort.map(str::to_string),
        weight: 1.0,
        quotas: quotas
            .iter()
            .map(|(r, n)| {
                let quota = Quota {
                    nominal: *n,
                    borrowing_limit: None,
                    lending_limit: None,
                };
                (r.clone(), quota)
            })
            .collect(),
    }
}

fn config(queues: Vec<Queue>, policy: Policy) -> ComputeConfig {
    let mut config = ComputeConfig::for_inventory(&[]);
    config.queues = queues;
    config.policy = policy;
    config
}

fn gpu(flavor: &str) -> Resource {
    Resource::Gpu(flavor.into())
}

fn cpu_queue(name: &str, cohort: Option<&str>, cores: u64) -> Queue {
    queue(
        name,
        cohort,
        &[(Resource::Cpu, cores * 1000), (Resource::Memory, 1 << 40)],
    )
}

fn pending(id: &str, queue: &str, cores: u64, at: i64) -> Workload {
    Workload {
        id: id.into(),
        queue: queue.into(),
        priority: 0,
        submitted_at: at,
        replicas: 1,
        request: ReplicaRequest {
            cpu_millis: cores * 1000,
            memory_bytes: GI,
            gpus: 0,
            gpu_flavor: None,
        },
        max_runtime_ms: None,
        not_before: None,
        admission: None,
    }
}

fn gpu_job(id: &str, queue: &str, gpus: u32, replicas: u32, at: i64) -> Workload {
    let mut w = pending(id, queue, 1, at);
    w.request.gpus = gpus;
    w.replicas = replicas;
    w
}

/// Runs a pass and folds its decisions back into the workloads, as the run loop does.
fn step(
    config: &ComputeConfig,
    nodes: Option<&[Node]>,
    workloads: &mut [Workload],
    now: i64,
) -> Decisions {
    let decisions = schedule(config, nodes, workloads, now);
    apply(workloads, &decisions);
    decisions
}

fn apply(workloads: &mut [Workload], decisions: &Decisions) {
    for p in &decisions.preempted {
        workloads
            .iter_mut()
            .find(|w| w.id == p.job)
            .unwrap()
            .admission = None;
    }
    for a in &decisions.admitted {
        workloads
            .iter_mut()
            .find(|w| w.id == a.job)
            .unwrap()
            .admission = Some(a.admission.clone());
    }
}

fn admitted(decisions: &Decisions) -> Vec<&str> {
    decisions.admitted.iter().map(|a| a.job.as_str()).collect()
}

fn waiting<'d>(decisions: &'d Decisions, job: &str) -> &'d Waiting {
    decisions.waiting.iter().find(|w| w.job == job).unwrap()
}

fn no_min_runtime() -> Policy {
    Policy {
        min_runtime_ms: 0,
        ..Policy::default()
    }
}

#[test]
fn best_effort_fifo_lets_small_jobs_past_a_big_one_and_strict_fifo_does_not() {
    let mut jobs = vec![pending("big", "a", 8, 0), pending("small", "a", 2, 1)];
    let best_effort = config(vec![cpu_queue("a", None, 4)], Policy::default());
    let decisions = schedule(&best_effort, None, &jobs, 10);
    assert_eq!(admitted(&decisions), ["small"]);
    let big = waiting(&decisions, "big");
    assert_eq!(big.reason, WaitReason::Quota);
    assert_eq!((big.position, big.queue_length), (Some(1), 2));
    assert!(big.message.contains("queue a"), "{}", big.message);

    let strict = config(vec![cpu_queue("a", None, 4)], Policy::fifo());
    let decisions = step(&strict, None, &mut jobs, 10);
    assert!(decisions.admitted.is_empty());
    assert_eq!(waiting(&decisions, "small").reason, WaitReason::QueueOrder);
}

#[test]
fn priority_then_age_orders_a_queue() {
    let mut low_old = pending("low-old", "a", 2, 0);
    low_old.priority = 0;
    let mut high_new = pending("high-new", "a", 2, 5);
    high_new.priority = 10;
    let jobs = vec![low_old, high_new, pending("low-new", "a", 2, 6)];
    let decisions = schedule(
        &config(vec![cpu_queue("a", None, 4)], Policy::default()),
        None,
        &jobs,
        10,
    );
    assert_eq!(admitted(&decisions), ["high-new", "low-old"]);
    assert_eq!(waiting(&decisions, "low-new").position, Some(3));
}

#[test]
fn idle_quota_is_lent_and_reclaimed_when_its_owner_needs_it() {
    let config = config(
        vec![cpu_queue("a", Some("c"), 4), cpu_queue("b", Some("c"), 4)],
        no_min_runtime(),
    );
    let mut jobs = vec![pending("b1", "b", 4, 0), pending("b2", "b", 4, 1)];
    let decisions = step(&config, None, &mut jobs, 10);
    assert_eq!(
        admitted(&decisions),
        ["b1", "b2"],
        "b borrows a's idle quota"
    );

    jobs.push(pending("a1", "a", 2, 20));
    let decisions = step(&config, None, &mut jobs, 30);
    assert_eq!(admitted(&decisions), ["a1"]);
    assert_eq!(decisions.preempted.len(), 1);
    assert_eq!(
        decisions.preempted[0].job, "b2",
        "the most recently admitted borrower goes"
    );
    assert!(decisions.preempted[0].reason.contains("reclaims"));

    // The victim cannot take the quota back: its queue is at its nominal quota.
    let decisions = step(&config, None, &mut jobs, 40);
    assert!(decisions.preempted.is_empty() && decisions.admitted.is_empty());
    assert_eq!(waiting(&decisions, "b2").reason, WaitReason::Quota);
}

#[test]
fn lending_and_borrowing_limits_hold() {
    let mut lender = cpu_queue("a", Some("c"), 8);
    lender.quotas[0].1.lending_limit = Some(2000);
    let mut borrower = cpu_queue("b", Some("c"), 2);
    borrower.quotas[0].1.borrowing_limit = Some(1000);
    let config = config(vec![lender, borrower], Policy::default());
    let jobs = vec![
        pending("b1", "b", 2, 0),
        pending("b2", "b", 2, 1),
        pending("b3", "b", 1, 2),
    ];
    let decisions = schedule(&config, None, &jobs, 10);
    assert_eq!(
        admitted(&decisions),
        ["b1", "b3"],
        "b may borrow one core, not two"
    );
}

#[test]
fn higher_priority_displaces_lower_only_after_the_minimum_runtime() {
    let policy = Policy {
        min_runtime_ms: 1_000,
        ..Policy::default()
    };
    let config = config(vec![cpu_queue("a", None, 4)], policy);
    let mut jobs = vec![pending("low", "a", 4, 0)];
    step(&config, None, &mut jobs, 0);
    let mut urgent = pending("urgent", "a", 4, 1);
    urgent.priority = 100;
    jobs.push(urgent);
    let decisions = step(&config, None, &mut jobs, 500);
    assert!(decisions.preempted.is_empty(), "low has not run 1 s yet");
    let decisions = step(&config, None, &mut jobs, 1_000);
    assert_eq!(admitted(&decisions), ["urgent"]);
    assert_eq!(decisions.preempted[0].job, "low");
    assert!(decisions.preempted[0].reason.contains("higher priority"));
}

#[test]
fn borrowers_are_admitted_in_order_of_weighted_share() {
    let mut heavy = cpu_queue("heavy", Some("c"), 1);
    heavy.weight = 1.0;
    let mut light = cpu_queue("light", Some("c"), 1);
    light.weight = 3.0;
    let config = config(
        vec![heavy, light, cpu_queue("idle", Some("c"), 10)],
        Policy::default(),
    );
    // Both queues already borrow 2 cores; light's weight makes its share a third of heavy's.
    let mut jobs = vec![pending("h0", "heavy", 3, 0), pending("l0", "light", 3, 0)];
    step(&config, None, &mut jobs, 1);
    jobs.extend([pending("h1", "heavy", 5, 2), pending("l1", "light", 5, 3)]);
    let decisions = schedule(&config, None, &jobs, 4);
    assert_eq!(
        admitted(&decisions),
        ["l1"],
        "only 6 cores are left: the lower share wins"
    );
}

#[test]
fn gpu_flavors_are_tried_in_quota_order_and_gangs_land_whole() {
    let queue = queue(
        "a",
        None,
        &[
            (Resource::Cpu, 64_000),
            (Resource::Memory, 1 << 40),
            (gpu("h100"), 2),
            (gpu("a100"), 16),
        ],
    );
    let nodes: Vec<Node> = ["n1", "n2"]
        .iter()
        .map(|name| Node {
            name: name.to_string(),
            cpu_millis: 32_000,
            memory_bytes: 1 << 39,
            gpus: (0..4)
                .map(|i| Gpu {
                    id: format!("{name}-a100-{i}"),
                    flavor: "a100".into(),
                    slices: 1,
                })
                .chain((0..1).map(|i| Gpu {
                    id: format!("{name}-h100-{i}"),
                    flavor: "h100".into(),
                    slices: 1,
                }))
                .collect(),
        })
        .collect();
    let config = config(vec![queue], Policy::default());
    let jobs = vec![
        gpu_job("two-h100", "a", 1, 2, 0),
        gpu_job("gang", "a", 3, 2, 1),
        gpu_job("too-wide", "a", 2, 2, 2),
    ];
    let decisions = schedule(&config, Some(&nodes), &jobs, 10);
    assert_eq!(admitted(&decisions), ["two-h100", "gang"]);
    let first = &decisions.admitted[0].admission;
    assert_eq!(first.gpu_flavor.as_deref(), Some("h100"));
    assert_eq!(first.placements.len(), 2);
    let gang = &decisions.admitted[1].admission;
    assert_eq!(
        gang.gpu_flavor.as_deref(),
        Some("a100"),
        "h100 quota is used up"
    );
    assert_eq!(
        gang.placements.iter().map(|p| p.gpus.len()).sum::<usize>(),
        6
    );
    assert_ne!(gang.placements[0].node, gang.placements[1].node);
    // 2 a100 left (one per node); two replicas of 2 cannot land, so neither does.
    assert_eq!(waiting(&decisions, "too-wide").reason, WaitReason::Nodes);
}

#[test]
fn a_long_waiting_job_reserves_and_only_jobs_that_end_in_time_backfill() {
    let policy = Policy {
        reservation_after_ms: Some(1_000),
        ..Policy::default()
    };
    let config = config(vec![cpu_queue("a", None, 4)], policy);
    let mut running = pending("running", "a", 3, 0);
    running.max_runtime_ms = Some(60_000);
    let mut jobs = vec![running];
    step(&config, None, &mut jobs, 0);
    let mut quick = pending("quick", "a", 1, 3);
    quick.max_runtime_ms = Some(30_000);
    jobs.extend([
        pending("wide", "a", 4, 1),
        pending("open-ended", "a", 1, 2),
        quick,
    ]);

    // Before the wait threshold the small job simply goes past.
    let decisions = schedule(&config, None, &jobs, 500);
    assert_eq!(admitted(&decisions), ["open-ended"]);

    let decisions = schedule(&config, None, &jobs, 2_000);
    assert_eq!(
        admitted(&decisions),
        ["quick"],
        "quick ends before `wide` can start at 60 s"
    );
    let held = waiting(&decisions, "open-ended");
    assert_eq!(held.reason, WaitReason::Reservation);
    assert!(held.message.contains("job wide"), "{}", held.message);
}

#[test]
fn backoff_and_removed_queues_are_reasons_too() {
    let config = config(vec![cpu_queue("a", None, 4)], Policy::default());
    let mut retry = pending("retry", "a", 1, 0);
    retry.not_before = Some(5_000);
    let decisions = schedule(
        &config,
        None,
        &[retry, pending("orphan", "gone", 1, 0)],
        1_000,
    );
    assert!(decisions.admitted.is_empty());
    assert_eq!(waiting(&decisions, "retry").reason, WaitReason::Backoff);
    assert_eq!(
        waiting(&decisions, "orphan").reason,
        WaitReason::UnknownQueue
    );
}

// ---- properties ----

#[derive(Clone, Debug)]
struct Scenario {
    config: ComputeConfig,
    nodes: Option<Vec<Node>>,
    earlier: Vec<Workload>,
    later: Vec<Workload>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let queue_specs = prop::collection::vec(
        (
            0u64..8,                   // cpu nominal, cores
            0u64..4,                   // gpu nominal
            prop::option::of(0u64..4), // cpu borrowing limit
            prop::option::of(0u64..4), // cpu lending limit (capped at nominal)
            prop::bool::ANY,           // in the cohort
            1u32..4,                   // weight
        ),
        1..4,
    );
    let job = (
        0usize..3,
        0u64..5,
        0u32..3,
        1u32..4,
        -2i64..3,
        prop::option::of(1i64..100),
    );
    (
        queue_specs,
        prop::collection::vec(job.clone(), 0..12),
        prop::collection::vec(job, 1..12),
        prop::bool::ANY,
        prop::sample::select(vec![Policy::default(), Policy::fifo(), no_min_runtime()]),
    )
        .prop_map(|(specs, earlier, later, with_nodes, policy)| {
            let queues: Vec<Queue> = specs
                .iter()
                .enumerate()
                .map(|(i, (cpu, gpus, borrow, lend, cohort, weight))| {
                    let mut q = queue(
                        &format!("q{i}"),
                        cohort.then_some("c"),
                        &[
                            (Resource::Cpu, cpu * 1000),
                            (Resource::Memory, 1 << 40),
                            (gpu("g"), *gpus),
                        ],
                    );
                    q.quotas[0].1.borrowing_limit = borrow.map(|b| b * 1000);
                    q.quotas[0].1.lending_limit = lend.map(|l| (l * 1000).min(cpu * 1000));
                    q.weight = f64::from(*weight);
                    q
                })
                .collect();
            let queue_count = queues.len();
            let nodes = with_nodes.then(|| {
                (0..2)
                    .map(|n| Node {
                        name: format!("n{n}"),
                        cpu_millis: 6_000,
                        memory_bytes: 1 << 40,
                        gpus: (0..2)
                            .map(|g| Gpu {
                                id: format!("n{n}-g{g}"),
                                flavor: "g".into(),
                                slices: 1 + g,
                            })
                            .collect(),
                    })
                    .collect()
            });
            let make =
                |prefix: &str, at: i64, jobs: Vec<(usize, u64, u32, u32, i64, Option<i64>)>| {
                    jobs.into_iter()
                        .enumerate()
                        .map(|(i, (q, cores, gpus, replicas, priority, runtime))| {
                            let mut w = gpu_job(
                                &format!("{prefix}{i}"),
                                &format!("q{}", q % queue_count),
                                gpus,
                                replicas,
                                at + i as i64,
                            );
                            w.request.cpu_millis = cores * 500;
                            w.priority = priority;
                            w.max_runtime_ms = runtime.map(|r| r * 1000);
                            w
                        })
                        .collect::<Vec<_>>()
                };
            Scenario {
                config: config(queues, policy),
                nodes,
                earlier: make("e", 0, earlier),
                later: make("l", 1_000, later),
            }
        })
}

/// Replays the scenario: earlier jobs admitted at t=100, later ones considered at t=200_000.
fn replay(s: &Scenario) -> (Vec<Workload>, Decisions) {
    let mut jobs = s.earlier.clone();
    step(&s.config, s.nodes.as_deref(), &mut jobs, 100);
    jobs.retain(|w| w.admission.is_some());
    jobs.extend(s.later.iter().cloned());
    let decisions = step(&s.config, s.nodes.as_deref(), &mut jobs, 200_000);
    (jobs, decisions)
}

fn dims_of(s: &Scenario, jobs: &[Workload]) -> Rc<Dims> {
    Rc::new(Dims::new(&s.config, s.nodes.as_deref(), jobs))
}

fn book_of(s: &Scenario, jobs: &[Workload]) -> QuotaBook {
    let dims = dims_of(s, jobs);
    let mut book = QuotaBook::new(&s.config, Rc::clone(&dims));
    for w in jobs {
        if let Some(a) = &w.admission {
            book.charge(book.queue_index(&w.queue).unwrap(), &dims.amounts(&a.usage));
        }
    }
    book
}

fn nodes_hold(nodes: &[Node], jobs: &[Workload]) -> bool {
    let mut cpu: HashMap<&str, u64> = HashMap::new();
    let mut devices: HashMap<&str, u32> = HashMap::new();
    for w in jobs {
        for p in w.admission.iter().flat_map(|a| &a.placements) {
            *cpu.entry(p.node.as_str()).or_default() += w.request.cpu_millis;
            for d in &p.gpus {
                *devices.entry(d.as_str()).or_default() += 1;
            }
        }
    }
    nodes
        .iter()
        .all(|n| cpu.get(n.name.as_str()).copied().unwrap_or(0) <= n.cpu_millis)
        && nodes
            .iter()
            .flat_map(|n| &n.gpus)
            .all(|g| devices.get(g.id.as_str()).copied().unwrap_or(0) <= g.slices)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, max_global_rejects: 1 << 20, ..ProptestConfig::default() })]

    #[test]
    fn quotas_and_nodes_are_never_overdrawn_and_gangs_land_whole(s in scenario()) {
        let (jobs, decisions) = replay(&s);
        prop_assert!(book_of(&s, &jobs).within_limits());
        if let Some(nodes) = &s.nodes {
            prop_assert!(nodes_hold(nodes, &jobs));
            for a in &decisions.admitted {
                let w = jobs.iter().find(|w| w.id == a.job).unwrap();
                prop_assert_eq!(a.admission.placements.len(), w.replicas as usize);
                let gpus: usize = a.admission.placements.iter().map(|p| p.gpus.len()).sum();
                prop_assert_eq!(gpus, (w.request.gpus * w.replicas) as usize);
            }
        }
        // Every pending job is either admitted or told why it waits, exactly once.
        for w in &s.later {
            let told = decisions.admitted.iter().filter(|a| a.job == w.id).count()
                + decisions.waiting.iter().filter(|x| x.job == w.id).count();
            prop_assert_eq!(told, 1, "{}", w.id);
        }
    }

    #[test]
    fn preemption_is_minimal_and_never_undone_by_the_next_pass(s in scenario()) {
        let mut s = s;
        s.config.policy = no_min_runtime();
        // One preemptor at a time, so the state at its preemption is the state after the pass.
        s.later.truncate(1);
        s.later[0].priority = 5;
        let (mut jobs, decisions) = replay(&s);
        if let Some(admitted) = decisions.admitted.first().filter(|_| !decisions.preempted.is_empty()) {
            let preemptor = jobs.iter().find(|w| w.id == admitted.job).unwrap().clone();
            let queue = s.config.queues.iter().position(|q| q.name == preemptor.queue).unwrap();
            for victim in &decisions.preempted {
                // Keeping any one victim would leave no room for the preemptor.
                let mut kept = jobs.clone();
                let original = s.earlier.iter().find(|w| w.id == victim.job).unwrap();
                let restored = replay_admission(&s, &original.id);
                kept.iter_mut().find(|w| w.id == victim.job).unwrap().admission = restored;
                kept.iter_mut().find(|w| w.id == preemptor.id).unwrap().admission = None;
                let book = book_of(&s, &kept);
                let dims = book.dims();
                let mut node_book = s.nodes.as_deref().map(|n| NodeBook::new(n, dims_of(&s, &kept)));
                if let Some(nb) = &mut node_book {
                    for w in &kept {
                        if let Some(a) = &w.admission { nb.take(&w.request, &nb.seat(&a.placements)); }
                    }
                }
                let flavor = admitted.admission.gpu_flavor.as_deref().map(|f| dims.flavor(f).unwrap());
                let ask = Ask::of(&preemptor, dims);
                let fits = fit_flavor(&book, node_book.as_ref(), &ask, queue, flavor).is_some();
                // Reclaiming from another queue is only valid if the preemptor's queue then
                // stays within its nominal quota.
                let still_reclaims = decisions.preempted.iter().any(|p| p.job != victim.job && p.reason.contains("reclaims"));
                let valid = fits && (!still_reclaims || book.within_nominal(queue, &dims.amounts(&admitted.admission.usage)));
                prop_assert!(!valid, "victim {} was not needed", victim.job);
            }
            // The next pass must not take anything back from the preemptor.
            let next = step(&s.config, s.nodes.as_deref(), &mut jobs, 200_001);
            prop_assert!(next.preempted.iter().all(|p| p.job != preemptor.id));
        }
    }

    #[test]
    fn a_top_priority_job_within_nominal_quota_is_never_left_waiting(s in scenario()) {
        let mut s = s;
        s.config.policy = no_min_runtime();
        s.nodes = None;
        s.later.truncate(1);
        s.later[0].priority = 10;
        let job = &s.later[0];
        let queue = s.config.queue(&job.queue).unwrap().clone();
        let book = QuotaBook::new(&s.config, dims_of(&s, &s.later));
        let q = book.queue_index(&queue.name).unwrap();
        let ask = Ask::of(job, book.dims());
        let fits_nominal = book.choices(&ask, q).any(|f| book.fits_nominal(q, ask.demand(f).iter().copied()));
        prop_assume!(fits_nominal);
        let (_, decisions) = replay(&s);
        prop_assert_eq!(admitted(&decisions), [s.later[0].id.as_str()]);
    }
}

/// The admission an earlier job got in the scenario's first pass.
fn replay_admission(s: &Scenario, id: &str) -> Option<Admission> {
    let mut jobs = s.earlier.clone();
    step(&s.config, s.nodes.as_deref(), &mut jobs, 100);
    jobs.into_iter().find(|w| w.id == id)?.admission
}
