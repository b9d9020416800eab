#!/usr/bin/env python3
"""Drift test datasets and the verdicts Evidently 0.7.23 gives on them.

    python scripts/drift_expected.py OUT_DIR [--fixture FILE]

Writes, for each case, ``OUT_DIR/<case>_reference.csv`` and ``OUT_DIR/<case>_current.csv``
(numpy-seeded, so the files are the same on every run) and ``OUT_DIR/expected.json``:

    {"cases": [{"name", "reference", "current", "tests": {column: test},
                "thresholds": {column: value}, "expected": <DatasetDrift>}]}

``expected`` has the exact JSON shape of ``galley monitor drift --json``. Its per-column type,
test, score and threshold come from Evidently's public 0.7 API (``Report`` with
``DataDriftPreset``: one ``ValueDrift`` metric per column gives the test, score and threshold,
its test result whether the column drifted, ``DriftedColumnsCount`` the share of drifted
columns). Every score is also recomputed with direct scipy/numpy calls and must agree to 1e-12,
which checks our reading of what Evidently computes. ``psi_reference_deciles`` is Galley's own
test (PSI over ten reference-decile bins); its expected values come from numpy alone.

``--fixture FILE`` also writes the same cases as value counts per column (small enough to keep
in the repository) for the Rust test ``crates/galley-monitoring/tests/evidently_golden.rs``.

The CSV files are read back with pandas before anything is computed, so Evidently sees exactly
the values a CSV reader sees.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path

# Evidently sums chi-square, PSI and Jensen-Shannon terms in `set` order, which follows string
# hashing; a fixed hash seed makes every run write byte-identical files.
if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

# Evidently 0.7.23 imports `infer_dtype_from_object`, which pandas 3 removed, from a legacy
# test module the drift metrics never call. Providing the name lets Evidently import under
# pandas 3; results were checked identical to a pandas 2.3 environment.
import pandas.core.dtypes.common as _pandas_common

if not hasattr(_pandas_common, "infer_dtype_from_object"):
    _pandas_common.infer_dtype_from_object = lambda dtype: dtype

from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

SEED = 20240607
DEFAULT_DRIFT_SHARE = 0.5

# Evidently names a test by its display name when it chose the test itself.
TEST_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
}
EVIDENTLY_TESTS = set(TEST_NAMES.values())
COLUMN_TYPES = {"num": "numerical", "cat": "categorical"}


# ---------------------------------------------------------------- data


def _shares(base, shift):
    """Category probabilities moved towards the last category by `shift` (0 = none)."""
    p = np.asarray(base, dtype=float) + np.linspace(-shift, shift, len(base))
    p = np.clip(p, 0.02, None)
    return p / p.sum()


def _features(rng, n, shift):
    """One frame of every column kind; `shift` in [0, 1] moves each distribution."""
    with_missing = np.round(rng.normal(shift, 1.0, n), 2)
    holes = rng.random(n)
    with_missing[holes < 0.1] = np.nan
    with_missing[holes > 0.99] = np.inf
    return pd.DataFrame(
        {
            # float, many values: ks (small reference) / wasserstein (large)
            "num_cont": np.round(rng.normal(0.6 * shift, 1.0 + 0.3 * shift, n), 2),
            # integer with more than 10 values: numerical
            "num_int_many": rng.integers(0, 60 + int(20 * shift), n),
            # float with at most 5 values: numerical, chisquare / jensenshannon
            "num_few": rng.choice([0.5, 1.5, 2.5, 3.5], n, p=_shares([0.4, 0.3, 0.2, 0.1], 0.15 * shift)),
            # float with 2 values: numerical, z
            "num_two": rng.choice([0.25, 0.75], n, p=_shares([0.5, 0.5], 0.2 * shift)),
            # integer with at most 10 values: categorical
            "int_few": rng.choice([0, 1, 2, 3], n, p=_shares([0.25, 0.25, 0.25, 0.25], 0.15 * shift)),
            # strings: categorical
            "cat_many": rng.choice(list("abcde"), n, p=_shares([0.3, 0.25, 0.2, 0.15, 0.1], 0.12 * shift)),
            "cat_two": rng.choice(["no", "yes"], n, p=_shares([0.6, 0.4], 0.2 * shift)),
            "flag": rng.choice([True, False], n, p=_shares([0.5, 0.5], 0.2 * shift)),
            # missing values (NaN) and ±inf, which Evidently drops
            "with_missing": with_missing,
        }
    )


def _sparse(rng, n, missing, shift):
    """A float column with `missing` empty cells: the test choice counts only the others."""
    values = np.round(rng.normal(shift, 1.0, n), 2)
    values[rng.permutation(n)[:missing]] = np.nan
    return values


def _cases(rng):
    """(name, reference frame, current frame, {column: test}, {column: threshold})."""
    small_ref = _features(rng, 500, 0.0)
    large_ref = _features(rng, 3000, 0.0)
    large_ref["sparse"] = _sparse(rng, 3000, 2100, 0.0)

    def large_cur(shift):
        frame = _features(rng, 2500, shift)
        frame["sparse"] = _sparse(rng, 2500, 1500, shift)
        return frame

    def two(n, shift_a):
        return pd.DataFrame({"a": np.round(rng.normal(shift_a, 1.0, n), 2), "b": np.round(rng.normal(0, 1.0, n), 2)})

    flagged_ref = _features(rng, 400, 0.0)
    flagged_cur = _features(rng, 400, 0.3)
    for frame in (flagged_ref, flagged_cur):
        flag = frame["flag"].astype(object)
        flag.iloc[3] = np.nan
        frame["flag_missing"] = flag

    return [
        ("small_stable", small_ref, _features(rng, 400, 0.0), {}, {}),
        ("small_drifted", small_ref, _features(rng, 400, 0.6), {}, {}),
        ("equal_sizes", _features(rng, 300, 0.0), _features(rng, 300, 0.4), {}, {}),
        ("asymptotic_ks", _features(rng, 200, 0.0)[["num_cont", "num_int_many"]],
         _features(rng, 12000, 0.1)[["num_cont", "num_int_many"]], {}, {}),
        ("large_stable", large_ref, large_cur(0.0), {}, {}),
        ("large_drifted", large_ref, large_cur(1.0), {}, {}),
        ("half_drifted", two(400, 0.0), two(400, 2.0), {}, {}),
        ("bool_with_missing", flagged_ref, flagged_cur, {}, {}),
        (
            "psi_small",
            small_ref,
            _features(rng, 400, 0.5),
            {"num_cont": "psi", "num_few": "psi", "cat_many": "psi", "int_few": "psi",
             "num_int_many": "psi_reference_deciles", "flag": "jensenshannon"},
            {"cat_two": 0.2, "num_cont": 0.3},
        ),
        (
            "psi_large",
            large_ref,
            large_cur(0.5),
            {"num_cont": "psi", "int_few": "psi", "cat_many": "psi", "num_two": "psi",
             "num_int_many": "psi_reference_deciles", "with_missing": "jensenshannon"},
            {"num_few": 0.05},
        ),
    ]


def _round_trip(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    frame.to_csv(path, index=False)
    return pd.read_csv(path)


# ---------------------------------------------------------------- Evidently


def _evidently(reference: pd.DataFrame, current: pd.DataFrame, tests, thresholds):
    """Per-column (type, test, score, threshold, drift) and (count, share) from Evidently."""
    evidently_tests = {c: t for c, t in tests.items() if t in EVIDENTLY_TESTS}
    preset = DataDriftPreset(
        per_column_method=evidently_tests or None,
        per_column_threshold=dict(thresholds) or None,
    )
    # Evidently's column statistics warn about the ±inf values it later drops.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        current_ds = Dataset.from_pandas(current, data_definition=DataDefinition())
        reference_ds = Dataset.from_pandas(reference, data_definition=DataDefinition())
        result = Report([preset], include_tests=True).run(current_ds, reference_ds).dict()
    status = {
        t["name"].removeprefix("Value Drift for column "): t["status"]
        for t in result["tests"]
        if t["name"].startswith("Value Drift for column ")
    }
    columns, dataset = {}, None
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"] == "evidently:metric_v2:DriftedColumnsCount":
            dataset = (int(metric["value"]["count"]), float(metric["value"]["share"]))
        elif config["type"] == "evidently:metric_v2:ValueDrift":
            name = config["column"]
            columns[name] = {
                "column": name,
                "type": COLUMN_TYPES[current_ds.data_definition.get_column_type(name).value],
                "test": TEST_NAMES.get(config["method"], config["method"]),
                "score": float(metric["value"]),
                "threshold": float(config["threshold"]),
                "drift_detected": status[name] == "FAIL",
            }
    return columns, dataset


# ---------------------------------------------------------------- direct scipy / numpy


def _clean(series: pd.Series) -> pd.Series:
    return series.replace([np.inf, -np.inf], np.nan).dropna()


def _category_shares(r, c):
    keys = sorted(set(r) | set(c))
    rc, cc = r.value_counts(), c.value_counts()
    return (np.array([rc.get(k, 0) / len(r) for k in keys]), np.array([cc.get(k, 0) / len(c) for k in keys]))


def _binned(r, c, column_type):
    if column_type == "numerical" and r.nunique() > 20:
        edges = np.histogram_bin_edges(np.concatenate([r.values, c.values]), bins="sturges")
        return np.histogram(r, edges)[0] / len(r), np.histogram(c, edges)[0] / len(c)
    return _category_shares(r, c)


def _fill_zeroes(shares):
    shares = shares.copy()
    smallest = shares[shares != 0].min()
    shares[shares == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return shares


def _psi(r_shares, c_shares):
    r_shares, c_shares = _fill_zeroes(r_shares), _fill_zeroes(c_shares)
    return float(np.sum((r_shares - c_shares) * np.log(r_shares / c_shares)))


def psi_reference_deciles(r: pd.Series, c: pd.Series) -> float:
    """Galley's decile PSI: cuts at np.quantile(reference, 0.1..0.9), outer bins to ±inf."""
    cuts = []
    for q in np.quantile(r, np.arange(1, 10) / 10):
        if not cuts or q > cuts[-1]:
            cuts.append(float(q))
    edges = np.concatenate([[-np.inf], cuts, [np.inf]])
    return _psi(np.histogram(r, edges)[0] / len(r), np.histogram(c, edges)[0] / len(c))


def direct_score(test, column_type, r, c):
    if test == "ks":
        return float(stats.ks_2samp(r, c).pvalue)
    if test == "wasserstein":
        return float(stats.wasserstein_distance(r, c) / max(float(np.std(r)), 0.001))
    if test == "chisquare":
        keys = sorted(set(r) | set(c))
        rc, cc = r.value_counts(), c.value_counts()
        expected = [rc.get(k, 0) * (len(c) / len(r)) for k in keys]
        return float(stats.chisquare([cc.get(k, 0) for k in keys], expected).pvalue)
    if test == "z":
        if r.nunique() == 1 and c.nunique() == 1 and r.unique()[0] == c.unique()[0]:
            return 1.0
        first = sorted(set(r) | set(c))[0]
        p1, p2 = float((r != first).sum()) / len(r), float((c != first).sum()) / len(c)
        pooled = (p1 * len(r) + p2 * len(c)) / (len(r) + len(c))
        z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1.0 / len(r) + 1.0 / len(c)))
        return float(2 * (1 - stats.norm.cdf(abs(z))))
    if test == "jensenshannon":
        return float(distance.jensenshannon(*_binned(r, c, column_type)))
    if test == "psi":
        return _psi(*_binned(r, c, column_type))
    if test == "psi_reference_deciles":
        return psi_reference_deciles(r, c)
    raise ValueError(f"unknown test {test}")


def _close(a, b, rel=1e-12, abs_=1e-15):
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= max(rel * abs(b), abs_)


# ---------------------------------------------------------------- cases


def _detects(test, score, threshold):
    if test == "ks":
        return score <= threshold
    if test in ("chisquare", "z"):
        return score < threshold
    return score >= threshold


def expected_case(name, reference, current, tests, thresholds):
    columns, (count, share) = _evidently(reference, current, tests, thresholds)
    for column, test in tests.items():
        if test not in EVIDENTLY_TESTS:
            threshold = thresholds.get(column, 0.1)
            score = psi_reference_deciles(_clean(reference[column]), _clean(current[column]))
            columns[column] = {"column": column, "type": "numerical", "test": test, "score": score,
                               "threshold": threshold, "drift_detected": _detects(test, score, threshold)}
    for column, result in columns.items():
        r, c = _clean(reference[column]), _clean(current[column])
        direct = direct_score(result["test"], result["type"], r, c)
        if not _close(result["score"], direct):
            raise SystemExit(f"{name}.{column}: Evidently {result['score']!r} != scipy {direct!r}")
        if _detects(result["test"], result["score"], result["threshold"]) != result["drift_detected"]:
            raise SystemExit(f"{name}.{column}: unexpected drift verdict {result}")
    ordered = [columns[c] for c in current.columns if c in columns]
    drifted = sum(c["drift_detected"] for c in ordered)
    measured = drifted / len(ordered)
    if all(t in EVIDENTLY_TESTS for t in tests.values()) and (drifted, measured) != (count, share):
        raise SystemExit(f"{name}: Evidently counts {count} drifted ({share}), columns say {drifted}")
    return {
        "dataset_drift": measured >= DEFAULT_DRIFT_SHARE,
        "drift_share": measured,
        "drift_share_threshold": DEFAULT_DRIFT_SHARE,
        "number_of_columns": len(ordered),
        "number_of_drifted_columns": drifted,
        "columns": ordered,
    }


def _dtype(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series) or series.dropna().map(type).eq(bool).all() and series.dtype == object:
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "float"
    return "string"


def _value_counts(series: pd.Series, dtype: str):
    """Non-missing values with their counts; NaN and ±inf count as missing (as Evidently)."""
    clean = _clean(series)
    counts = clean.value_counts()
    missing = int(len(series) - len(clean))
    if dtype in ("int", "float"):
        counts = counts.sort_index()
        return {"values": [float(v) for v in counts.index], "counts": [int(n) for n in counts], "missing": missing}
    labels = {True: "True", False: "False"}
    return {"counts": {labels.get(k, str(k)): int(n) for k, n in sorted(counts.items(), key=lambda kv: str(kv[0]))},
            "missing": missing}


def fixture_case(name, reference, current, tests, thresholds, expected):
    columns = []
    for column in current.columns:
        dtype = _dtype(current[column])
        columns.append({"name": column, "dtype": dtype,
                        "reference": _value_counts(reference[column], _dtype(reference[column])),
                        "current": _value_counts(current[column], dtype),
                        "reference_dtype": _dtype(reference[column])})
    return {"name": name, "tests": tests, "thresholds": thresholds, "columns": columns, "expected": expected}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--fixture", type=Path, help="also write value counts for the Rust golden test")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    cases, fixtures = [], []
    for name, reference, current, tests, thresholds in _cases(rng):
        ref_file, cur_file = f"{name}_reference.csv", f"{name}_current.csv"
        reference = _round_trip(reference, args.out_dir / ref_file)
        current = _round_trip(current, args.out_dir / cur_file)
        expected = expected_case(name, reference, current, tests, thresholds)
        cases.append({"name": name, "reference": ref_file, "current": cur_file, "tests": tests,
                      "thresholds": thresholds, "expected": expected})
        fixtures.append(fixture_case(name, reference, current, tests, thresholds, expected))
        print(f"{name}: {expected['number_of_drifted_columns']}/{expected['number_of_columns']} drifted",
              file=sys.stderr)
    (args.out_dir / "expected.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")
    if args.fixture:
        args.fixture.parent.mkdir(parents=True, exist_ok=True)
        args.fixture.write_text(json.dumps({"generator": "scripts/drift_expected.py", "cases": fixtures},
                                           separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
