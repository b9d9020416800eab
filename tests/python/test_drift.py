"""`galley monitor drift` against Evidently 0.7.23 on the datasets of scripts/drift_expected.py.

The script writes each case's reference and current CSV files and the verdicts Evidently's
`DataDriftPreset` gives on them (cross-checked with direct scipy calls) in the JSON shape of
`galley monitor drift --json`; every case must come out the same from Galley.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "drift_expected.py"

# The cases scripts/drift_expected.py writes; test_every_case_is_covered keeps the two in step.
CASES = [
    "small_stable",
    "small_drifted",
    "equal_sizes",
    "asymptotic_ks",
    "large_stable",
    "large_drifted",
    "half_drifted",
    "bool_with_missing",
    "psi_small",
    "psi_large",
]

pytestmark = pytest.mark.galley_only


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    out = tmp_path_factory.mktemp("drift")
    run = subprocess.run([sys.executable, str(SCRIPT), str(out)], capture_output=True, text=True)
    assert run.returncode == 0, f"drift_expected.py failed:\n{run.stderr[-4000:]}"
    cases = json.loads((out / "expected.json").read_text())["cases"]
    return out, {case["name"]: case for case in cases}


def _galley_bin() -> str:
    path = os.environ.get("GALLEY_BIN", "").strip()
    if not path:
        pytest.skip("GALLEY_BIN is not set")
    return path


def _drift(out: Path, case: dict) -> dict:
    cmd = [
        _galley_bin(), "monitor", "drift",
        "--reference", str(out / case["reference"]),
        "--current", str(out / case["current"]),
        "--json",
    ]
    for column, test in case["tests"].items():
        cmd += ["--test", f"{column}={test}"]
    for column, threshold in case["thresholds"].items():
        cmd += ["--threshold", f"{column}={threshold!r}"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{' '.join(cmd)} exited {run.returncode}:\n{run.stderr[-4000:]}"
    return json.loads(run.stdout)


def _close(value: float) -> object:
    return pytest.approx(value, rel=1e-9, abs=1e-12)


def test_every_case_is_covered(expected):
    _, cases = expected
    assert sorted(cases) == sorted(CASES)


@pytest.mark.parametrize("name", CASES)
def test_drift_matches_evidently(expected, name):
    out, cases = expected
    case = cases[name]
    want = case["expected"]
    got = _drift(out, case)

    got_columns = {c["column"]: c for c in got["columns"]}
    assert sorted(got_columns) == sorted(c["column"] for c in want["columns"])
    for w in want["columns"]:
        g = got_columns[w["column"]]
        where = f"{name}.{w['column']}"
        assert (g["type"], g["test"]) == (w["type"], w["test"]), where
        assert g["score"] == _close(w["score"]), where
        assert g["threshold"] == _close(w["threshold"]), where
        assert g["drift_detected"] == w["drift_detected"], f"{where}: score {g['score']}"

    assert got["number_of_columns"] == want["number_of_columns"]
    assert got["number_of_drifted_columns"] == want["number_of_drifted_columns"]
    assert got["drift_share"] == _close(want["drift_share"])
    assert got["drift_share_threshold"] == _close(want["drift_share_threshold"])
    assert got["dataset_drift"] == want["dataset_drift"]
