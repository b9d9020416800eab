//! Synthetic job traces shaped after the public GPU cluster traces, deterministic per seed.
//!
//! Sources: Hu et al., "Characterization and Prediction of Deep Learning Workloads in Large-Scale
//! GPU Datacenters" (SC '21; the Helios traces from SenseTime) and Jeon et al., "Analysis of
//! Large-Scale Multi-Tenant GPU Clusters for DNN Training Workloads" (USENIX ATC '19; the Philly
//! traces from Microsoft). What is taken from them is the shape, not fitted parameters:
//!
//! - **GPU count.** Most GPU jobs use one GPU and a few percent use 8 or more, yet those few hold
//!   much of the GPU time (both papers). Mix here: 1 GPU 75%, 2 GPUs 10%, 4 GPUs 9%, 8 GPUs 4%,
//!   16 GPUs 1.5%, 32 GPUs 0.5% (6% at 8 or more).
//! - **CPU-only jobs.** Helios' clusters run many of them (1.58 million of its 3.36 million jobs
//!   used a GPU), short and small; they barely load a GPU cluster, so 10% of jobs here are
//!   CPU-only (1–16 cores) to keep them present without letting them dominate the job count.
//! - **Durations** are heavy-tailed in both traces: many jobs end within minutes (debugging runs,
//!   early failures), most within hours, and a tail runs for days. Mix here, independent of the
//!   GPU count: 40% log-normal with median 2 min (σ = 1), 50% log-normal with median 30 min
//!   (σ = 1.2), 10% Pareto from 4 h with α = 1.5; capped at 2 days, at least 1 s.
//! - **CPU per GPU job**: 2, 4 or 6 cores per GPU, equally likely (an assumption: the papers
//!   report GPUs, not cores per GPU).
//! - **Teams** have skewed demand, as Helios' virtual clusters do: team *i* (from 0) submits a
//!   share of jobs proportional to 1 / (i + 1); each team has five users, also Zipf-skewed.
//! - **Arrivals** are a Poisson process. Its rate is set from the drawn jobs themselves so the
//!   offered GPU load (GPU-seconds submitted per second over the submission span) is `load`
//!   times the cluster's GPUs; with heavy tails a per-sample rate keeps the load as asked
//!   instead of drifting with a few huge jobs.

use super::trace::TraceJob;

#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub seed: u64,
    pub jobs: usize,
    pub teams: usize,
    /// Offered GPU load as a fraction of `cluster_gpus`; 1.0 keeps every GPU busy on average.
    pub load: f64,
    pub cluster_gpus: u64,
    /// GPU counts drawn above this are cut to it (for clusters smaller than the largest jobs, or
    /// to take gangs out of a workload); the load is set after the cut.
    pub max_gpus: Option<u32>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            seed: 1,
            jobs: 5_000,
            teams: 4,
            load: 1.0,
            cluster_gpus: 256,
            max_gpus: None,
        }
    }
}

const GPU_MIX: [(u32, f64); 6] = [
    (1, 0.75),
    (2, 0.10),
    (4, 0.09),
    (8, 0.04),
    (16, 0.015),
    (32, 0.005),
];
const CPU_ONLY_SHARE: f64 = 0.10;
const CPU_ONLY_CORES: [(u32, f64); 5] = [(1, 0.3), (2, 0.25), (4, 0.25), (8, 0.15), (16, 0.05)];
const MAX_DURATION_S: f64 = 2.0 * 86_400.0;
const USERS_PER_TEAM: usize = 5;

/// Team names the generator uses: `team-1`, `team-2`, …
pub fn team_name(index: usize) -> String {
    format!("team-{}", index + 1)
}

/// A trace sorted by submission time, starting at 0 s.
pub fn generate(options: &GenerateOptions) -> Vec<TraceJob> {
    let mut rng = Rng::new(options.seed);
    let teams = options.teams.max(1);
    let team_weights: Vec<f64> = (0..teams).map(|i| 1.0 / (i + 1) as f64).collect();
    let user_weights: Vec<f64> = (0..USERS_PER_TEAM).map(|i| 1.0 / (i + 1) as f64).collect();
    let mut jobs: Vec<TraceJob> = (0..options.jobs)
        .map(|i| {
            let team = rng.pick(&team_weights);
            let user = rng.pick(&user_weights);
            let (gpus, cpus) = if rng.unit() < CPU_ONLY_SHARE {
                (
                    0,
                    CPU_ONLY_CORES[rng.pick(&CPU_ONLY_CORES.map(|(_, w)| w))].0,
                )
            } else {
                let gpus = GPU_MIX[rng.pick(&GPU_MIX.map(|(_, w)| w))].0;
                let gpus = options.max_gpus.map_or(gpus, |max| gpus.min(max.max(1)));
                let per_gpu = [2, 4, 6][rng.below(3)];
                (gpus, gpus * per_gpu)
            };
            TraceJob {
                id: format!("j{i}"),
                user: format!("{}-u{}", team_name(team), user + 1),
                team: team_name(team),
                submit_s: 0,
                duration_s: duration_s(&mut rng),
                gpus,
                cpus,
            }
        })
        .collect();
    let gpu_seconds: f64 = jobs
        .iter()
        .map(|j| f64::from(j.gpus) * j.duration_s as f64)
        .sum();
    let capacity = options.load.max(1e-9) * options.cluster_gpus.max(1) as f64;
    let mean_gap_s = gpu_seconds / capacity / options.jobs.max(1) as f64;
    let mut clock = 0.0_f64;
    for job in &mut jobs {
        job.submit_s = clock.round() as i64;
        clock += rng.exponential(mean_gap_s);
    }
    jobs
}

fn duration_s(rng: &mut Rng) -> i64 {
    let seconds = match rng.unit() {
        u if u < 0.4 => rng.log_normal(120.0, 1.0),
        u if u < 0.9 => rng.log_normal(1_800.0, 1.2),
        _ => rng.pareto(4.0 * 3_600.0, 1.5),
    };
    seconds.clamp(1.0, MAX_DURATION_S).round() as i64
}

/// splitmix64 (Steele, Lea and Flood, 2014): tiny, seedable and good enough for workloads.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1): never 0, so logarithms of it are finite.
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n
    }

    /// An index drawn with probability proportional to its weight.
    pub fn pick(&mut self, weights: &[f64]) -> usize {
        let mut left = self.unit() * weights.iter().sum::<f64>();
        for (i, w) in weights.iter().enumerate() {
            left -= w;
            if left < 0.0 {
                return i;
            }
        }
        weights.len() - 1
    }

    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.unit().ln()
    }

    /// Box–Muller; one of the pair is enough here.
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Inverse transform of the Pareto distribution with scale `minimum` and shape `alpha`.
    fn pareto(&mut self, minimum: f64, alpha: f64) -> f64 {
        minimum / self.unit().powf(1.0 / alpha)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(seed: u64, jobs: usize) -> GenerateOptions {
        GenerateOptions {
            seed,
            jobs,
            ..GenerateOptions::default()
        }
    }

    #[test]
    fn a_seed_gives_the_same_trace_and_another_seed_another() {
        assert_eq!(generate(&options(7, 500)), generate(&options(7, 500)));
        assert_ne!(generate(&options(7, 500)), generate(&options(8, 500)));
        assert!(generate(&options(7, 0)).is_empty());
    }

    #[test]
    fn the_mix_is_the_documented_one() {
        let jobs = generate(&options(3, 20_000));
        let share = |f: &dyn Fn(&TraceJob) -> bool| {
            jobs.iter().filter(|j| f(j)).count() as f64 / jobs.len() as f64
        };
        let gpu_jobs = 1.0 - share(&|j| j.gpus == 0);
        assert!((share(&|j| j.gpus == 0) - 0.10).abs() < 0.01);
        assert!((share(&|j| j.gpus == 1) / gpu_jobs - 0.75).abs() < 0.015);
        assert!((share(&|j| j.gpus >= 8) / gpu_jobs - 0.06).abs() < 0.01);
        assert!(jobs
            .iter()
            .all(|j| j.cpus > 0 && (j.gpus == 0 || j.cpus % j.gpus == 0)));
        // Heavy tail: the median is minutes, yet a few percent run longer than 4 h.
        let mut durations: Vec<i64> = jobs.iter().map(|j| j.duration_s).collect();
        durations.sort_unstable();
        let median = durations[durations.len() / 2];
        assert!((300..3_600).contains(&median), "median {median} s");
        assert!((0.08..0.16).contains(&share(&|j| j.duration_s >= 4 * 3_600)));
        assert!(durations.iter().all(|d| (1..=172_800).contains(d)));
        // Skewed teams: team-1 submits about twice team-2's jobs and four times team-4's.
        let team = |n: &str| share(&|j: &TraceJob| j.team == n);
        assert!((team("team-1") / team("team-2") - 2.0).abs() < 0.2);
        assert!((team("team-1") / team("team-4") - 4.0).abs() < 0.4);
        assert!(jobs.windows(2).all(|w| w[0].submit_s <= w[1].submit_s));
    }

    #[test]
    fn arrivals_offer_the_asked_load() {
        for load in [0.5, 1.0] {
            let trace = generate(&GenerateOptions {
                load,
                ..options(11, 5_000)
            });
            let gpu_seconds: f64 = trace
                .iter()
                .map(|j| f64::from(j.gpus) * j.duration_s as f64)
                .sum();
            let span = trace.last().unwrap().submit_s as f64;
            let offered = gpu_seconds / span / 256.0;
            assert!(
                (offered / load - 1.0).abs() < 0.1,
                "offered {offered} for {load}"
            );
        }
    }
}
