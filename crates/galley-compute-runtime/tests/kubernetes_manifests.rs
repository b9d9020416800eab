//! The Kubernetes executor's manifests against the Kubernetes OpenAPI schema: representative jobs
//! rendered to files and checked, strictly (unknown fields fail), by the `kubernetes-validate`
//! package from PyPI, plus a broken manifest it must refuse, which shows the check checks.
//!
//! Runs when `GALLEY_TEST_PYTHON` names a Python with `kubernetes-validate` installed (the venv
//! of `scripts/python-env.sh` has it); otherwise it says loudly that it skipped.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use galley_compute::config::ComputeConfig;
use galley_compute::inventory::Node;
use galley_compute::job::{Job, JobSpec};
use galley_compute::resources::Resources;
use galley_compute::scheduler::Admission;
use galley_compute::submit;
use galley_compute_runtime::kubernetes::render_job;
use galley_compute_runtime::KubernetesSettings;
use serde_json::Value;

/// An older Kubernetes still common in clusters, and the newest the package bundles.
const VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

/// The validator's Python, or `None` after saying loudly why the test skipped. Written straight
/// to the stderr handle because the test harness swallows `eprintln!` of passing tests.
fn validator_python() -> Option<String> {
    let skip = |why: &str| {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: Kubernetes manifest validation ({why}; scripts/python-env.sh makes a venv \
             with kubernetes-validate)"
        );
        None
    };
    let Ok(python) = std::env::var("GALLEY_TEST_PYTHON") else {
        return skip("GALLEY_TEST_PYTHON is not set");
    };
    let found = Command::new(&python)
        .args(["-c", "import kubernetes_validate"])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        return skip(&format!("{python} cannot import kubernetes_validate"));
    }
    Some(python)
}

fn job(replicas: u32) -> Job {
    let nodes = [Node {
        name: "cluster".into(),
        cpu_millis: 64_000,
        memory_bytes: 256 << 30,
        gpus: vec![],
    }];
    let config = ComputeConfig::for_inventory(&nodes);
    let spec = JobSpec {
        command: vec!["python".into(), "-m".into(), "train".into()],
        replicas: Some(replicas),
        executor: Some("kubernetes".into()),
        env: BTreeMap::from([("MLFLOW_EXPERIMENT_ID".into(), "3".into())]),
        ..Default::default()
    };
    submit::prepare(spec, &config, Some(&nodes), submit::new_job_id(), 0).unwrap()
}

/// What the run loop passes to every job.
fn server_env(job: &Job) -> Vec<(String, String)> {
    vec![
        ("GALLEY_JOB_ID".into(), job.id.clone()),
        ("GALLEY_JOB_ATTEMPT".into(), job.attempt.to_string()),
        ("GALLEY_REPLICAS".into(), job.replicas.to_string()),
        ("MLFLOW_TRACKING_URI".into(), "http://galley:5000".into()),
    ]
}

/// Representative manifests by file name.
fn manifests() -> Vec<(&'static str, Value)> {
    let mut settings = KubernetesSettings::new("http://127.0.0.1:8001", "ml", "train:1");
    settings.flavor_node_selectors.insert(
        "nvidia-h100".into(),
        BTreeMap::from([(
            "nvidia.com/gpu.product".into(),
            "NVIDIA-H100-80GB-HBM3".into(),
        )]),
    );
    let mut out = Vec::new();

    let single = job(1);
    out.push((
        "single-cpu.json",
        render_job(&single, &server_env(&single), &settings),
    ));

    let mut gang = job(4);
    gang.request.gpus = 8;
    gang.request.cpu_millis = 16_500;
    gang.request.memory_bytes = 3 << 29;
    gang.admission = Some(Admission {
        admitted_at: 0,
        gpu_flavor: Some("nvidia-h100".into()),
        usage: Resources::new(),
        placements: vec![],
    });
    out.push((
        "gang-gpus-flavor.json",
        render_job(&gang, &server_env(&gang), &settings),
    ));

    let mut limited = job(1);
    limited.max_runtime_ms = Some(2 * 3_600_000);
    limited.working_dir = Some("/workspace".into());
    limited.attempt = 2;
    limited.env.insert("GALLEY_IMAGE".into(), "other:2".into());
    out.push((
        "max-runtime.json",
        render_job(&limited, &server_env(&limited), &settings),
    ));

    let mut unflavored = job(2);
    unflavored.request.gpus = 1;
    unflavored.request.gpu_flavor = Some("nvidia-a100-1g.5gb".into());
    let mut plain = settings.clone();
    plain.manage_with_kueue = false;
    plain.kueue_priority_classes = true;
    out.push(("no-kueue.json", render_job(&unflavored, &[], &plain)));
    out
}

fn write(dir: &Path, name: &str, manifest: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(manifest).unwrap()).unwrap();
    path
}

/// Runs the validator on `files` for every version; its exit status and output.
fn validate(python: &str, files: &[PathBuf]) -> (bool, String) {
    let mut command = Command::new(python);
    command.args(["-m", "kubernetes_validate", "--strict"]);
    for version in VERSIONS {
        command.args(["-k", version]);
    }
    let out = command.args(files).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn rendered_jobs_are_valid_kubernetes_manifests() {
    let Some(python) = validator_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = manifests()
        .iter()
        .map(|(name, manifest)| write(dir.path(), name, manifest))
        .collect();
    let (ok, output) = validate(&python, &files);
    assert!(ok, "the validator refused a manifest:\n{output}");
    // A kind or apiVersion it has no schema for is only a warning; each file must have passed.
    assert!(!output.contains("WARN"), "{output}");
    for file in &files {
        for version in VERSIONS {
            let minor = &version[..version.rfind('.').unwrap()];
            let passed = format!("INFO {} passed for resource job/", file.display());
            assert!(
                output
                    .lines()
                    .any(|l| l.starts_with(&passed) && l.ends_with(&format!("version {minor}"))),
                "no pass for {} on {version}:\n{output}",
                file.display()
            );
        }
    }
}

#[test]
fn the_validator_refuses_a_misspelled_field() {
    let Some(python) = validator_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, mut manifest) = manifests().swap_remove(1);
    let spec = manifest["spec"].as_object_mut().unwrap();
    let mode = spec.remove("completionMode").unwrap();
    spec.insert("completionsMode".into(), mode);
    let file = write(dir.path(), "broken.json", &manifest);
    let (ok, output) = validate(&python, &[file]);
    assert!(!ok, "a misspelled field passed:\n{output}");
    assert!(output.contains("completionsMode"), "{output}");
}
