//! What this machine offers the local executor: cores, memory, and NVIDIA GPUs found with
//! `nvidia-smi -L` (whole GPUs, or their MIG devices when MIG is on).

use galley_compute::inventory::{Gpu, Node};

/// The machine as one node. GPUs come from `nvidia-smi` when it is installed.
pub async fn discover() -> Node {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let memory = tokio::fs::read_to_string("/proc/meminfo")
        .await
        .ok()
        .and_then(|text| mem_total(&text))
        .unwrap_or(4 << 30);
    let listing = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::process::Command::new("nvidia-smi")
            .arg("-L")
            .kill_on_drop(true)
            .output(),
    )
    .await;
    let gpus = match listing {
        Ok(Ok(output)) if output.status.success() => {
            parse_nvidia_smi_list(&String::from_utf8_lossy(&output.stdout))
        }
        _ => Vec::new(),
    };
    Node {
        name: hostname(),
        cpu_millis: cores * 1000,
        memory_bytes: memory,
        gpus,
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".into())
}

fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Reads `nvidia-smi -L`: `GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-…)`, each followed by
/// `  MIG 1g.10gb Device 0: (UUID: MIG-…)` lines when MIG is on. A GPU's flavor is `nvidia-`
/// and its model (`nvidia-h100`); a MIG device's adds its profile (`nvidia-h100-1g.10gb`), and a
/// GPU split into MIG devices is offered only as those devices.
pub fn parse_nvidia_smi_list(listing: &str) -> Vec<Gpu> {
    let mut gpus: Vec<Gpu> = Vec::new();
    let mut parent: Option<(String, usize)> = None;
    for line in listing.lines() {
        let Some(uuid) = line
            .split("(UUID: ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
        else {
            continue;
        };
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("MIG ") {
            let Some((model, parent_index)) = &parent else {
                continue;
            };
            let profile = rest.split_whitespace().next().unwrap_or("mig");
            // The parent GPU is replaced by its MIG devices.
            if gpus
                .get(*parent_index)
                .is_some_and(|g| g.id.starts_with("GPU-"))
            {
                gpus.remove(*parent_index);
            }
            gpus.push(Gpu {
                id: uuid.to_string(),
                flavor: format!("{model}-{profile}"),
                slices: 1,
            });
        } else if trimmed.starts_with("GPU ") {
            let name = trimmed
                .split_once(": ")
                .map(|(_, rest)| rest.split(" (UUID").next().unwrap_or(rest))
                .unwrap_or("");
            let model = gpu_model(name);
            parent = Some((model.clone(), gpus.len()));
            gpus.push(Gpu {
                id: uuid.to_string(),
                flavor: model,
                slices: 1,
            });
        }
    }
    gpus
}

/// `NVIDIA H100 80GB HBM3` → `nvidia-h100`; `NVIDIA A100-SXM4-40GB` → `nvidia-a100`;
/// `Tesla T4` → `nvidia-t4`.
fn gpu_model(name: &str) -> String {
    let model = name
        .split_whitespace()
        .find(|t| {
            !matches!(
                t.to_ascii_lowercase().as_str(),
                "nvidia" | "tesla" | "geforce" | "quadro"
            )
        })
        .unwrap_or("gpu");
    // `A100-SXM4-40GB` names the form factor after the model; the model is the flavor.
    let model: String = model
        .split('-')
        .next()
        .unwrap_or(model)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("nvidia-{model}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_whole_gpus_and_mig_devices() {
        let listing = "\
GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-bbbb)
  MIG 1g.5gb      Device  0: (UUID: MIG-cccc)
  MIG 3g.20gb     Device  1: (UUID: MIG-dddd)
GPU 2: Tesla T4 (UUID: GPU-eeee)
";
        let gpus = parse_nvidia_smi_list(listing);
        let seen: Vec<_> = gpus
            .iter()
            .map(|g| (g.id.as_str(), g.flavor.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("GPU-aaaa", "nvidia-h100"),
                ("MIG-cccc", "nvidia-a100-1g.5gb"),
                ("MIG-dddd", "nvidia-a100-3g.20gb"),
                ("GPU-eeee", "nvidia-t4"),
            ]
        );
        assert!(parse_nvidia_smi_list("No devices were found").is_empty());
    }

    #[test]
    fn reads_total_memory() {
        assert_eq!(
            mem_total("MemTotal:       16384 kB\nMemFree: 1 kB\n"),
            Some(16 << 20)
        );
        assert_eq!(mem_total("garbage"), None);
    }
}
