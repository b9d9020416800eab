//! The scheduler benchmark (`bench/scheduler/run.sh`): FIFO and Galley's policy replayed on the
//! same generated traces, and one pass's latency over a large backlog. Ignored by default; run:
//!
//! ```text
//! cargo test --release -p galley-compute bench_report -- --ignored --nocapture
//! ```
//!
//! Settings come from the environment (defaults in brackets): `GALLEY_SIM_JOBS` [5000],
//! `GALLEY_SIM_SEEDS` [1,2,3], `GALLEY_SIM_LOADS` [1.0], `GALLEY_SIM_TEAMS` [4],
//! `GALLEY_SIM_NODES` [32, of 8 GPUs], `GALLEY_SIM_PENDING` [10000], and `GALLEY_SIM_ABLATIONS`
//! [0]: 1 adds runs with one part of Galley's policy at a time, to see which part matters.

use std::time::Instant;

use super::report::{human_seconds, policy_label};
use super::*;
use crate::config::Queueing;

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn list<T: std::str::FromStr>(name: &str, default: &str) -> Vec<T> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

/// (label, policy, declared max runtime)
fn contenders(ablations: bool) -> Vec<(String, Policy, bool)> {
    let mut runs = vec![
        ("fifo".to_string(), Policy::fifo(), true),
        ("galley".to_string(), Policy::default(), true),
    ];
    if ablations {
        let galley = Policy::default();
        let best_effort_only = Policy {
            queueing: Queueing::BestEffortFifo,
            ..Policy::fifo()
        };
        runs.extend([
            ("best-effort FIFO only".to_string(), best_effort_only, true),
            (
                "galley, no preemption".to_string(),
                Policy {
                    preemption: false,
                    ..galley.clone()
                },
                true,
            ),
            (
                "galley, no reservation".to_string(),
                Policy {
                    reservation_after_ms: None,
                    ..galley.clone()
                },
                true,
            ),
            (
                "galley, no fair sharing".to_string(),
                Policy {
                    fair_sharing: false,
                    ..galley.clone()
                },
                true,
            ),
            ("galley, max runtime undeclared".to_string(), galley, false),
        ]);
    }
    runs
}

#[test]
#[ignore = "a benchmark: run with --release --ignored --nocapture (bench/scheduler/run.sh)"]
fn bench_report() {
    let jobs: usize = setting("GALLEY_SIM_JOBS", 5_000);
    let teams: usize = setting("GALLEY_SIM_TEAMS", 4);
    let seeds: Vec<u64> = list("GALLEY_SIM_SEEDS", "1,2,3");
    let loads: Vec<f64> = list("GALLEY_SIM_LOADS", "1.0");
    let pending: usize = setting("GALLEY_SIM_PENDING", 10_000);
    let ablations = setting("GALLEY_SIM_ABLATIONS", 0) == 1;
    let cluster = Cluster {
        nodes: setting("GALLEY_SIM_NODES", 32),
        ..Cluster::default()
    };
    let nodes = cluster.inventory();
    println!(
        "Traces: {jobs} jobs, {teams} teams (demand ∝ 1/rank), seeds {seeds:?}, offered load {loads:?}; \
         cluster: {} nodes × {} GPUs = {} GPUs, {} cores each; one cohort, nominal quota split evenly.\n",
        cluster.nodes,
        cluster.gpus_per_node,
        cluster.gpus(),
        cluster.cpus_per_node
    );
    println!(
        "| load | seed | policy | avg JCT | p95 JCT | avg queueing | p95 queueing | 8+ GPU jobs: avg / max queueing | GPU util. | worst team below nominal (total / longest) | preemptions (GPU-h lost) | passes (mean / max ms) | FIFO ÷ this avg JCT |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut ratios: Vec<(f64, String, f64)> = Vec::new();
    for &load in &loads {
        for &seed in &seeds {
            let trace = generate(&GenerateOptions {
                seed,
                jobs,
                teams,
                load,
                cluster_gpus: cluster.gpus(),
                max_gpus: None,
            });
            let config = cluster.config(&trace_teams(&trace));
            let mut fifo_jct = None;
            for (label, policy, declared) in contenders(ablations) {
                let started = Instant::now();
                let options = SimOptions {
                    policy,
                    declared_max_runtime: declared,
                };
                let report = simulate(&trace, &config, &nodes, &options).unwrap();
                let wall = started.elapsed().as_secs_f64();
                let fifo = *fifo_jct.get_or_insert(report.jct_s.mean);
                let ratio = fifo / report.jct_s.mean;
                ratios.push((load, label.clone(), ratio));
                let worst = report
                    .teams
                    .iter()
                    .max_by(|a, b| a.below_nominal_s.total_cmp(&b.below_nominal_s))
                    .expect("a trace has teams");
                let big =
                    report
                        .sizes
                        .iter()
                        .find(|s| s.size == "8+ GPUs")
                        .map_or("none".into(), |s| {
                            format!(
                                "{} / {}",
                                human_seconds(s.queueing_s.mean),
                                human_seconds(s.queueing_s.max)
                            )
                        });
                println!(
                    "| {load} | {seed} | {label} | {} | {} | {} | {} | {big} | {:.1}% | {}: {} / {} | {} ({:.0}) | {} ({:.2} / {:.1}) | {ratio:.2}× |",
                    human_seconds(report.jct_s.mean),
                    human_seconds(report.jct_s.p95),
                    human_seconds(report.queueing_s.mean),
                    human_seconds(report.queueing_s.p95),
                    report.gpu_utilisation * 100.0,
                    worst.team,
                    human_seconds(worst.below_nominal_s),
                    human_seconds(worst.longest_below_nominal_s),
                    report.preemptions,
                    report.gpu_hours_lost,
                    report.passes,
                    report.pass_ms.mean,
                    report.pass_ms.max,
                );
                eprintln!(
                    "  [{label}, load {load}, seed {seed}: replayed in {wall:.1} s; {} finished, {} refused, {} never admitted; policy {}]",
                    report.finished,
                    report.refused,
                    report.unfinished,
                    policy_label(&report.policy)
                );
            }
        }
    }
    println!("\nFIFO ÷ policy average JCT, geometric mean over seeds:\n");
    println!("| load | policy | ratio |\n|---|---|---:|");
    for &load in &loads {
        for (label, _, _) in contenders(ablations).iter().skip(1) {
            let logs: Vec<f64> = ratios
                .iter()
                .filter(|(l, name, _)| *l == load && name == label)
                .map(|(_, _, r)| r.ln())
                .collect();
            let mean = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
            println!("| {load} | {label} | {mean:.2}× |");
        }
    }
    let latency = pass_latency(pending, 7, 1);
    println!(
        "\nOne pass over {} pending and {} running jobs on {} GPUs (64 nodes, 4 teams), {} repetitions: \
         min {:.1} ms, median {:.1} ms, max {:.1} ms ({} admitted, {} preempted).",
        latency.pending,
        latency.running,
        latency.gpus,
        latency.repetitions,
        latency.min_ms,
        latency.median_ms,
        latency.max_ms,
        latency.admitted,
        latency.preempted
    );
}
