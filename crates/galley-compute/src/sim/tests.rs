//! Replays small enough to work out by hand, and the fairness promise on a generated trace.

use super::*;

fn job(id: &str, team: &str, submit_s: i64, duration_s: i64, gpus: u32) -> TraceJob {
    TraceJob {
        id: id.into(),
        user: "u".into(),
        team: team.into(),
        submit_s,
        duration_s,
        gpus,
        cpus: 1,
    }
}

fn cluster(nodes: usize, gpus_per_node: u32) -> Cluster {
    Cluster {
        nodes,
        gpus_per_node,
        cpus_per_node: 16,
        ..Cluster::default()
    }
}

fn replay(trace: &[TraceJob], cluster: &Cluster, policy: Policy, declared: bool) -> SimReport {
    let config = cluster.config(&trace_teams(trace));
    let options = SimOptions {
        policy,
        declared_max_runtime: declared,
    };
    simulate(trace, &config, &cluster.inventory(), &options).unwrap()
}

fn jct_of(trace: &[TraceJob], cluster: &Cluster, policy: Policy, declared: bool) -> f64 {
    replay(trace, cluster, policy, declared).jct_s.mean
}

#[test]
fn two_jobs_on_one_gpu_under_fifo() {
    // a runs 0–100 s; b, submitted at 10 s, waits for it and runs 100–150 s.
    let trace = [job("a", "t", 0, 100, 1), job("b", "t", 10, 50, 1)];
    let report = replay(&trace, &cluster(1, 1), Policy::fifo(), true);
    assert_eq!((report.jobs, report.finished, report.unfinished), (2, 2, 0));
    assert_eq!(report.jct_s.mean, 120.0); // (100 + 140) / 2
    assert_eq!(report.jct_s.p95, 140.0);
    assert_eq!(report.queueing_s.mean, 45.0); // (0 + 90) / 2
    assert_eq!(report.makespan_s, 150.0);
    assert_eq!(report.gpu_utilisation, 1.0);
    assert_eq!(report.gpu_hours, 150.0 / 3_600.0);
    // At 0 s, at 10 s and at 100 s; at 150 s nothing waits.
    assert_eq!(report.passes, 3);
    assert_eq!(report.preemptions, 0);
}

#[test]
fn a_small_job_passes_a_big_one_only_under_galley() {
    // On 2 GPUs: a (1 GPU, 0–100 s) runs; b (2 GPUs) must wait for it; c (1 GPU, 50 s) fits now.
    let trace = [
        job("a", "t", 0, 100, 1),
        job("b", "t", 1, 100, 2),
        job("c", "t", 2, 50, 1),
    ];
    let two = cluster(1, 2);
    // Strict FIFO: c waits behind b, which runs 100–200 s; c 200–250 s.
    assert_eq!(
        jct_of(&trace, &two, Policy::fifo(), true),
        (100.0 + 199.0 + 248.0) / 3.0
    );
    // Best effort: c runs 2–52 s at once.
    assert_eq!(
        jct_of(&trace, &two, Policy::default(), true),
        (100.0 + 199.0 + 50.0) / 3.0
    );
}

#[test]
fn backfill_needs_a_declared_runtime_that_ends_before_the_reservation() {
    // b reserves at once and expects to start when a ends at 100 s.
    let reserve_at_once = Policy {
        reservation_after_ms: Some(0),
        ..Policy::default()
    };
    let trace = |c_duration| {
        [
            job("a", "t", 0, 100, 1),
            job("b", "t", 1, 100, 2),
            job("c", "t", 2, c_duration, 1),
        ]
    };
    let two = cluster(1, 2);
    // c ends at 52 s, before b could start: it backfills.
    assert_eq!(
        jct_of(&trace(50), &two, reserve_at_once.clone(), true),
        (100.0 + 199.0 + 50.0) / 3.0
    );
    // Undeclared, c might run past 100 s: it waits for b (100–200 s) and runs 200–250 s.
    assert_eq!(
        jct_of(&trace(50), &two, reserve_at_once.clone(), false),
        (100.0 + 199.0 + 248.0) / 3.0
    );
    // c would end at 202 s, after b's expected start: it waits too.
    assert_eq!(
        jct_of(&trace(200), &two, reserve_at_once, true),
        (100.0 + 199.0 + 398.0) / 3.0
    );
}

#[test]
fn a_team_reclaims_its_share_once_borrowers_reach_the_minimum_runtime() {
    // 4 GPUs, 2 nominal each. Team a borrows all 4 at 0 s; team b asks for its 2 at 30 s.
    let mut trace: Vec<TraceJob> = (0..4)
        .map(|i| job(&format!("a{i}"), "a", 0, 1_000, 1))
        .collect();
    trace.extend((0..2).map(|i| job(&format!("b{i}"), "b", 30, 100, 1)));
    let four = cluster(1, 4);
    let galley = replay(&trace, &four, Policy::default(), true);
    let b = &galley.teams[1];
    assert_eq!(b.team, "b");
    // a's jobs may be preempted from 60 s: b waits 30 s, both its jobs start at 60 s.
    assert_eq!((b.below_nominal_s, b.longest_below_nominal_s), (30.0, 30.0));
    assert_eq!(b.jct_s.mean, 130.0);
    assert_eq!(galley.preemptions, 2);
    // Two preempted jobs had run 60 s each and start over.
    assert_eq!(galley.gpu_hours_lost, 120.0 / 3_600.0);
    assert_eq!(galley.teams[0].below_nominal_s, 0.0);
    let fifo = replay(&trace, &four, Policy::fifo(), true);
    // Under FIFO b waits for a's jobs to end at 1,000 s.
    assert_eq!(fifo.teams[1].below_nominal_s, 970.0);
    assert_eq!(fifo.preemptions, 0);
}

#[test]
fn galley_keeps_every_team_at_its_share_beyond_the_minimum_runtime() {
    // One-GPU jobs: see the next test for why larger ones can break the promise.
    let cluster = Cluster {
        nodes: 8,
        ..Cluster::default()
    };
    let trace = generate(&GenerateOptions {
        seed: 5,
        jobs: 600,
        teams: 3,
        load: 1.1,
        cluster_gpus: cluster.gpus(),
        max_gpus: Some(1),
    });
    let galley = replay(&trace, &cluster, Policy::default(), true);
    assert_eq!(galley.finished, trace.len());
    let min_runtime_s = Policy::default().min_runtime_ms as f64 / 1e3;
    for team in &galley.teams {
        assert!(
            team.longest_below_nominal_s <= min_runtime_s,
            "{} below nominal for {} s at a stretch",
            team.team,
            team.longest_below_nominal_s
        );
    }
    let fifo = replay(&trace, &cluster, Policy::fifo(), true);
    let worst = |r: &SimReport| {
        r.teams
            .iter()
            .map(|t| t.below_nominal_s)
            .fold(0.0, f64::max)
    };
    // Without preemption, a team that arrives after others borrowed waits for their jobs to end.
    assert!(
        worst(&fifo) > 10.0 * min_runtime_s,
        "{}",
        report_markdown(&fifo)
    );
}

#[test]
fn a_small_job_behind_a_big_one_still_reclaims_its_teams_share() {
    // 4 GPUs, 2 nominal each. Team a borrows all 4 for 1,000 s. Team b asks for 3 GPUs (more
    // than its share: it cannot reclaim them), then for 1 GPU, which is within its share.
    let mut trace: Vec<TraceJob> = (0..4)
        .map(|i| job(&format!("a{i}"), "a", 0, 1_000, 1))
        .collect();
    trace.push(job("b-big", "b", 100, 100, 3));
    trace.push(job("b-small", "b", 101, 100, 1));
    let galley = replay(&trace, &cluster(1, 4), Policy::default(), true);
    let b = &galley.teams[1];
    assert!(
        b.longest_below_nominal_s <= 60.0,
        "{}",
        report_markdown(&galley)
    );
}

#[test]
fn wide_jobs_become_gangs_and_impossible_ones_are_refused() {
    let trace = [
        job("wide", "t", 0, 10, 12),
        job("huge", "t", 0, 10, 64),
        job("cpu", "t", 0, 10, 0),
    ];
    let report = replay(&trace, &cluster(2, 8), Policy::default(), true);
    assert_eq!((report.jobs, report.finished, report.refused), (3, 2, 1));
    let reason = report.refusal.as_deref().unwrap();
    assert!(reason.starts_with("job huge (64 GPUs):"), "{reason}");
    // 12 GPUs as 2 replicas of 6 for 10 s, on 16 GPUs for 10 s.
    assert_eq!(report.gpu_hours, 120.0 / 3_600.0);
    assert_eq!(report.gpu_utilisation, 120.0 / 160.0);
}

#[test]
fn a_trace_team_without_a_queue_is_an_error() {
    let trace = [job("a", "vision", 0, 10, 1), job("b", "nlp", 0, 10, 1)];
    let config = cluster(1, 1).config(&["vision".to_string()]);
    let error = simulate(&trace, &config, &[], &SimOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no queue in the configuration: nlp"),
        "{error}"
    );
}

#[test]
fn without_nodes_quota_alone_schedules() {
    let trace = [job("a", "t", 0, 100, 1), job("b", "t", 0, 100, 1)];
    let config = cluster(1, 1).config(&trace_teams(&trace));
    let report = simulate(&trace, &config, &[], &SimOptions::default()).unwrap();
    assert_eq!(report.cluster_gpus, 1);
    assert_eq!(report.jct_s.mean, 150.0);
}

#[test]
fn reports_render_and_serialise() {
    let trace = [job("a", "t", 0, 100, 1), job("b", "u", 10, 50, 1)];
    let report = replay(&trace, &cluster(1, 2), Policy::fifo(), true);
    let markdown = report_markdown(&report);
    assert!(
        markdown.starts_with("Policy: fifo; max runtime declared: yes."),
        "{markdown}"
    );
    assert!(markdown.contains("| average JCT | 75 s |"), "{markdown}");
    assert!(markdown.contains("| t | 1 | 66.7% | 50.0% |"), "{markdown}");
    assert!(
        markdown.contains("| 1 GPU | 2 | 75 s | 0 s | 0 s | 0 s |"),
        "{markdown}"
    );
    let json = serde_json::to_string(&report).unwrap();
    let back: SimReport = serde_json::from_str(&json).unwrap();
    assert_eq!((back.jct_s, back.teams), (report.jct_s, report.teams));
    assert!(policy_named("galley").is_ok() && policy_named("lifo").is_err());
}

#[test]
fn pass_latency_times_a_loaded_cluster() {
    let latency = pass_latency(300, 2, 1);
    assert_eq!(
        (latency.pending, latency.repetitions, latency.gpus),
        (300, 2, 512)
    );
    assert!(latency.running > 100, "{latency:?}");
    assert!(latency.min_ms <= latency.median_ms && latency.median_ms <= latency.max_ms);
}
