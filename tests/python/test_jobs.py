"""Jobs on the compute layer, driven through the ``galley`` CLI, running code that logs to
Galley with the real ``mlflow`` client and no setup: the job's environment carries
``MLFLOW_TRACKING_URI`` and the ``MLFLOW_RUN_ID`` of a run made for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.galley_only

TRAIN = """
import mlflow

with mlflow.start_run() as run:
    mlflow.log_param("lr", 0.1)
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    print("trained in run", run.info.run_id, flush=True)
"""


def galley(tracking_uri: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    binary = os.environ.get("GALLEY_BIN", "").strip()
    if not binary:
        pytest.skip("GALLEY_BIN is not set")
    done = subprocess.run(
        [binary, "--url", tracking_uri, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"galley {' '.join(args)} failed: {done.stderr}")
    return done


def submit(tracking_uri: str, *args: str) -> dict:
    done = galley(tracking_uri, "jobs", "submit", "--json", *args)
    return json.loads(done.stdout)


def test_a_job_logs_to_its_own_run_with_the_mlflow_client(tracking_uri, client, tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    job = submit(
        tracking_uri,
        "--name", "train", "--cpus", "500m", "--memory", "512Mi",
        "--working-dir", str(tmp_path),
        "--", sys.executable, "train.py",
    )
    assert job["state"] == "pending" and job["queue"] == "default"
    galley(tracking_uri, "jobs", "wait", job["id"])

    shown = json.loads(galley(tracking_uri, "jobs", "show", job["id"], "--json").stdout)
    run_id = shown["job"]["run_id"]
    assert [e["kind"] for e in shown["events"]] == ["submitted", "admitted", "started", "succeeded"]
    logs = galley(tracking_uri, "jobs", "logs", job["id"]).stdout
    assert f"trained in run {run_id}" in logs

    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "train"
    assert run.data.params == {"lr": "0.1"}
    assert run.data.metrics["loss"] == pytest.approx(1 / 3)
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [0, 1, 2]
    assert run.data.tags["galley.job_id"] == job["id"]


def test_wait_fails_for_failed_and_cancelled_jobs(tracking_uri):
    failing = submit(tracking_uri, "--", sys.executable, "-c", "import sys; sys.exit(4)")
    done = galley(tracking_uri, "jobs", "wait", failing["id"], check=False)
    assert done.returncode != 0
    assert "exited with code 4" in done.stderr

    sleeping = submit(tracking_uri, "--cpus", "100m", "--", "sleep", "60")
    galley(tracking_uri, "jobs", "cancel", sleeping["id"])
    done = galley(tracking_uri, "jobs", "wait", sleeping["id"], check=False)
    assert done.returncode != 0 and "cancelled" in done.stderr
    listed = json.loads(galley(tracking_uri, "jobs", "list", "--state", "cancelled", "--json").stdout)
    assert sleeping["id"] in [j["id"] for j in listed["jobs"]]


def test_bad_submissions_and_queue_files_fail_clearly(tracking_uri, tmp_path):
    done = galley(tracking_uri, "jobs", "submit", "--team", "ghosts", "--", "true", check=False)
    assert done.returncode != 0 and "unknown team 'ghosts'" in done.stderr
    done = galley(tracking_uri, "jobs", "submit", "--gpus", "2:nvidia-h100", "--", "true", check=False)
    assert done.returncode != 0 and "can never run" in done.stderr

    bad = tmp_path / "queues.yaml"
    bad.write_text("teams:\n  - {name: vision, queues: [{name: vision, quota: {cpu: -3}}]}\n")
    done = galley(tracking_uri, "queues", "apply", str(bad), check=False)
    assert done.returncode != 0 and "INVALID_PARAMETER_VALUE" in done.stderr

    good = tmp_path / "good.yaml"
    good.write_text("teams:\n  - {name: default, queues: [{name: default, quota: {cpu: 64, memory: 64Gi}}]}\n")
    plan = galley(tracking_uri, "queues", "apply", "--dry-run", str(good)).stdout
    assert "~ queue default" in plan and "dry run" in plan
    queues = json.loads(galley(tracking_uri, "queues", "list", "--json").stdout)["queues"]
    assert [q["name"] for q in queues] == ["default"]
