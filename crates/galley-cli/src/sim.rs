//! `galley sim`: replays a job trace through the scheduling core on a virtual clock, and writes
//! synthetic traces. No server involved.

use std::path::Path;

use anyhow::Context as _;
use galley_compute::config::ComputeConfig;
use galley_compute::sim::{
    generate, parse_trace, policy_named, report_markdown, simulate, trace_teams, write_trace,
    Cluster, GenerateOptions, SimOptions,
};

/// Replays `trace` under `policy` (default: the queues file's, else Galley's) and prints the
/// report as markdown, or JSON.
pub fn replay(
    trace: &Path,
    policy: Option<&str>,
    queues: Option<&Path>,
    nodes: usize,
    json: bool,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(trace)
        .with_context(|| format!("cannot read {}", trace.display()))?;
    let trace = parse_trace(&text)?;
    let cluster = Cluster {
        nodes,
        ..Cluster::default()
    };
    let (config, inventory) = match queues {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let config = ComputeConfig::parse(&text)?;
            let inventory = config.nodes.clone().unwrap_or_else(|| cluster.inventory());
            (config, inventory)
        }
        None => (cluster.config(&trace_teams(&trace)), cluster.inventory()),
    };
    let policy = match policy {
        Some(name) => policy_named(name)?,
        None => config.policy.clone(),
    };
    let options = SimOptions {
        policy,
        ..SimOptions::default()
    };
    let report = simulate(&trace, &config, &inventory, &options)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report_markdown(&report));
    }
    Ok(())
}

pub fn write_generated(out: &Path, options: &GenerateOptions) -> anyhow::Result<()> {
    std::fs::write(out, write_trace(&generate(options)))
        .with_context(|| format!("cannot write {}", out.display()))
}
