"""Monitoring benchmark: data drift on the same reference/current files with (a) Galley's offline
`galley monitor drift --json` and (b) Evidently's `Report([DataDriftPreset()])`, on this machine
in one run, one tool at a time.

The data is generated (seeded numpy; not timed) and written to a temporary folder: by default
1,000,000 rows x 20 columns on both sides, a mix of continuous numeric columns of different
distributions, low-cardinality integer columns and string categorical columns, with about half of
the columns shifted in the current set. Both tools run as child processes on the same files, and
each child's peak resident memory is the kernel's own count (wait4's ru_maxrss).

- Galley: the command's wall time, reading included.
- Evidently: a child process reads the files with pandas and runs the report with its default
  behaviour (column types inferred by Evidently from the current data, its default tests and
  thresholds); reading and computing are timed separately, and the end-to-end figure compared with
  Galley is read + compute (importing Evidently, a few seconds, is left out in its favour).
  `include_tests=True` is set only to read Evidently's own per-column verdicts.

The verdicts are compared column by column (drift detected, the test chosen) along with the
dataset verdict, and the scores (largest relative difference). For the memory claim the same
comparison runs again at a tenth of the rows (--small-rows).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Evidently's stattest display names -> the names `galley monitor drift --json` prints.
EVIDENTLY_TESTS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
}


# ---------------------------------------------------------------------------------------------
# Data


def _numeric_columns():
    """(name, reference sampler, current sampler or None when the column does not drift),
    drifting and stable ones alternating so that any prefix is about half drifted. The drifted ones
    move far enough past Evidently's thresholds (normed Wasserstein 0.1, p 0.05) that
    a verdict never hangs on the last digits of a score."""
    import numpy as np

    def bimodal(r, n, right=0.5):
        return np.where(r.random(n) < right, r.normal(5.0, 1.0, n), r.normal(-5.0, 1.5, n))

    def with_missing(r, n, mean=0.0):
        x = r.normal(mean, 1.0, n)
        x[r.random(n) < 0.03] = np.nan
        return x

    return [
        ("amount", lambda r, n: r.lognormal(3.0, 1.0, n), lambda r, n: r.lognormal(3.4, 1.0, n)),
        ("ratio", lambda r, n: r.beta(2.0, 5.0, n), None),
        ("latency_ms", lambda r, n: r.gamma(2.0, 50.0, n), lambda r, n: r.gamma(2.6, 50.0, n)),
        ("temperature", lambda r, n: r.normal(20.0, 5.0, n), None),
        ("score", lambda r, n: r.normal(0.0, 1.0, n), lambda r, n: r.normal(0.4, 1.0, n)),
        ("returns", lambda r, n: r.standard_t(4.0, n), None),
        ("wait_s", lambda r, n: r.exponential(30.0, n), lambda r, n: r.exponential(45.0, n)),
        ("uniform", lambda r, n: r.uniform(0.0, 100.0, n), None),
        ("bimodal", bimodal, lambda r, n: bimodal(r, n, right=0.7)),
        ("price", lambda r, n: np.round(r.lognormal(2.0, 0.5, n), 2), None),
        ("with_missing", with_missing, lambda r, n: with_missing(r, n, mean=0.5)),
        ("sensor", lambda r, n: r.normal(100.0, 10.0, n), None),
        # An integer column with many values: numerical for Evidently (more than 10 distinct).
        ("age", lambda r, n: r.integers(18, 90, n), lambda r, n: r.integers(25, 95, n)),
        ("balance", lambda r, n: r.lognormal(8.0, 2.0, n), None),
    ]


def _integer_columns():
    """Integers with at most 10 distinct values: Evidently types them categorical."""
    import numpy as np

    def weekday(r, n, p=None):
        return r.choice(7, n, p=p)

    return [
        ("weekday", weekday, lambda r, n: weekday(r, n, p=[0.05, 0.05, 0.1, 0.1, 0.2, 0.25, 0.25])),
        ("rating", lambda r, n: r.choice(np.arange(1, 6), n, p=[0.05, 0.1, 0.2, 0.35, 0.3]), None),
        ("n_items", lambda r, n: np.minimum(r.poisson(2.0, n), 9), None),
    ]


def _string_columns():
    import numpy as np

    countries = np.array(["US", "DE", "FR", "GB", "IN", "BR", "JP", "ES", "IT", "NL", "PL", "SE"])
    country_p = np.array([30, 12, 10, 10, 9, 7, 6, 5, 4, 3, 2, 2], dtype=float)
    devices = np.array(["mobile", "desktop", "tablet"])
    plans = np.array(["free", "basic", "plus", "pro", "enterprise"])

    def pick(values, p):
        p = np.asarray(p, dtype=float)
        return lambda r, n: values[r.choice(len(values), n, p=p / p.sum())]

    return [
        ("device", pick(devices, [60, 30, 10]), pick(devices, [40, 45, 15])),
        ("plan", pick(plans, [50, 25, 12, 10, 3]), pick(plans, [30, 25, 20, 17, 8])),
        ("country", pick(countries, country_p), None),
    ]


def schema(n_columns: int) -> list[tuple[str, object, object]]:
    """n_columns column specs in the default 20's proportions (14 numeric, 3 integer, 3 string)."""
    n_str = max(1, round(n_columns * 3 / 20)) if n_columns >= 3 else 0
    n_int = max(1, round(n_columns * 3 / 20)) if n_columns >= 3 else 0
    n_num = n_columns - n_str - n_int

    def take(templates, count):
        out = []
        for i in range(count):
            name, ref, cur = templates[i % len(templates)]
            out.append((name if i < len(templates) else f"{name}_{i // len(templates)}", ref, cur))
        return out

    return take(_numeric_columns(), n_num) + take(_integer_columns(), n_int) + take(_string_columns(), n_str)


def write_data(folder: Path, reference_rows: int, current_rows: int, n_columns: int, formats: list[str],
               row_group_rows: int | None, seed: int) -> dict[str, tuple[Path, Path]]:
    """Writes reference and current in each format; answers {format: (reference, current)}."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    specs = schema(n_columns)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, tuple[Path, Path]] = {}
    tables = {}
    for side, rows, side_seed in (("reference", reference_rows, seed), ("current", current_rows, seed + 1)):
        rng = np.random.default_rng(side_seed)
        arrays = {}
        for name, ref, cur in specs:
            sampler = cur if side == "current" and cur is not None else ref
            # from_pandas: NaN becomes a null (a missing value) in both Parquet and CSV.
            arrays[name] = pa.array(sampler(rng, rows), from_pandas=True)
        tables[side] = pa.table(arrays)
    for fmt in formats:
        out = []
        for side in ("reference", "current"):
            path = folder / f"{side}.{fmt}"
            if fmt == "parquet":
                pq.write_table(tables[side], path, row_group_size=row_group_rows)
            else:
                pacsv.write_csv(tables[side], path)
            out.append(path)
        paths[fmt] = (out[0], out[1])
    return paths


def generate_worker(spec: str) -> None:
    """In a child, so that the parent stays small (see run_measured): writes the data, prints
    where it went and which columns drift by design."""
    a = json.loads(spec)
    paths = write_data(Path(a["folder"]), a["reference_rows"], a["current_rows"], a["columns"], a["formats"],
                       a["row_group_rows"], a["seed"])
    print(json.dumps({"paths": {fmt: [str(p) for p in ps] for fmt, ps in paths.items()},
                      "drifted_by_design": [name for name, _, cur in schema(a["columns"]) if cur is not None]}))


def generate(folder: Path, reference_rows: int, current_rows: int, args: argparse.Namespace,
             formats: list[str]) -> tuple[dict[str, tuple[Path, Path]], list[str]]:
    spec = {"folder": str(folder), "reference_rows": reference_rows, "current_rows": current_rows,
            "columns": args.columns, "formats": formats, "row_group_rows": args.row_group_rows, "seed": args.seed}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "_generate_worker", json.dumps(spec)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"generating the data failed ({done.returncode}):\n{done.stderr[-4000:]}")
    answer = json.loads(done.stdout)
    return {fmt: (Path(r), Path(c)) for fmt, (r, c) in answer["paths"].items()}, answer["drifted_by_design"]


# ---------------------------------------------------------------------------------------------
# Measuring a child process


def run_measured(command: list[str], timeout: float | None = None, env: dict | None = None) -> dict:
    """Runs `command`; answers its exit code, wall seconds, peak RSS (KiB, the kernel's count for
    this child alone) and stdout. On timeout the child is killed and `timed_out` is set.

    Linux carries the peak RSS of the process image a child replaced at exec into the child's
    count, and that image is a copy of this process: so this process keeps to the standard library
    (the data is generated in another child) and its own peak, the floor of every child figure, is
    reported."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        deadline = None if timeout is None else began + timeout
        timed_out = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.send_signal(signal.SIGKILL)
                timed_out = True
                deadline = None
                continue
            time.sleep(0.05)
        wall = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "rc": process.returncode,
            "wall_s": wall,
            "maxrss_kib": usage.ru_maxrss,
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
            "timed_out": timed_out,
        }


def run_galley(binary: str, reference: Path, current: Path) -> dict:
    r = run_measured([binary, "monitor", "drift", "--reference", str(reference), "--current", str(current), "--json"])
    if r["rc"] != 0:
        raise RuntimeError(f"galley monitor drift failed ({r['rc']}):\n{r['stderr'][-4000:]}")
    return {"wall_s": r["wall_s"], "maxrss_kib": r["maxrss_kib"], "result": json.loads(r["stdout"])}


def run_evidently(reference: Path, current: Path, timeout: float) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        r = run_measured([sys.executable, str(Path(__file__).resolve()), "_evidently_worker",
                          str(reference), str(current), result.name], timeout=timeout,
                         env={**os.environ, "DO_NOT_TRACK": "1"})
        if r["timed_out"]:
            return {"timed_out": True, "wall_s": r["wall_s"], "maxrss_kib": r["maxrss_kib"]}
        if r["rc"] != 0:
            raise RuntimeError(f"the Evidently worker failed ({r['rc']}):\n{r['stderr'][-4000:]}")
        worker = json.loads(Path(result.name).read_text())
    return {"timed_out": False, "wall_s": r["wall_s"], "maxrss_kib": r["maxrss_kib"], **worker}


def evidently_worker(reference: str, current: str, out: str) -> None:
    """In the child: import, read with pandas, run the report, write what it found as JSON."""
    import resource

    began = time.perf_counter()
    import pandas as pd
    import pyarrow.parquet  # noqa: F401  (pandas imports it lazily on the first read; not a read cost)
    import evidently
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    imported = time.perf_counter()
    rss_imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def read(path: str) -> pd.DataFrame:
        return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)

    reference_df = read(reference)
    current_df = read(current)
    read_done = time.perf_counter()
    rss_read = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    # What Report.run does with two DataFrames (Dataset.from_any -> from_pandas, types inferred),
    # spelled out so that the inferred types can be reported.
    current_ds = Dataset.from_pandas(current_df)
    reference_ds = Dataset.from_pandas(reference_df)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current_ds, reference_ds)
    found = snapshot.dict()
    computed = time.perf_counter()

    definition = current_ds.data_definition
    types = {c: "numerical" for c in definition.get_numerical_columns()}
    types.update({c: "categorical" for c in definition.get_categorical_columns()})
    drift_by_metric = {}
    dataset_drift = None
    for test in found["tests"]:
        metric_id = test["metric_config"]["metric_id"]
        failed = test["status"] == "FAIL"
        if test["metric_config"]["params"]["type"].endswith(":DriftedColumnsCount"):
            dataset_drift = failed
        else:
            drift_by_metric[metric_id] = failed
    columns = []
    share = threshold = count = None
    for metric in found["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":DriftedColumnsCount"):
            count, share, threshold = metric["value"]["count"], metric["value"]["share"], config["drift_share"]
        elif config["type"].endswith(":ValueDrift"):
            columns.append({
                "column": config["column"],
                "type": types.get(config["column"], "other"),
                "test": EVIDENTLY_TESTS.get(config["method"], config["method"]),
                "score": metric["value"],
                "threshold": config["threshold"],
                "drift_detected": drift_by_metric[metric["id"]],
            })
    Path(out).write_text(json.dumps({
        "import_s": imported - began,
        "read_s": read_done - imported,
        "compute_s": computed - read_done,
        "rss_imported_kib": rss_imported,
        "rss_read_kib": rss_read,
        "versions": {"evidently": evidently.__version__, "pandas": pd.__version__},
        "result": {
            "dataset_drift": dataset_drift,
            "drift_share": share,
            "drift_share_threshold": threshold,
            "number_of_columns": len(columns),
            "number_of_drifted_columns": int(count) if count is not None else None,
            "columns": columns,
        },
    }))


# ---------------------------------------------------------------------------------------------
# Comparing and reporting


def rel_diff(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale > 0 else 0.0


def compare(galley: dict, evidently: dict) -> dict:
    g = {c["column"]: c for c in galley["columns"]}
    e = {c["column"]: c for c in evidently["columns"]}
    names = list(e) + [n for n in g if n not in e]
    rows = []
    for name in names:
        gc, ec = g.get(name), e.get(name)
        row = {"column": name, "galley": gc, "evidently": ec,
               "same_verdict": bool(gc and ec and gc["drift_detected"] == ec["drift_detected"]),
               "same_test": bool(gc and ec and gc["test"] == ec["test"]),
               "same_type": bool(gc and ec and gc["type"] == ec["type"])}
        if gc and ec and gc["score"] is not None and ec["score"] is not None:
            row["rel_diff"] = rel_diff(float(gc["score"]), float(ec["score"]))
            row["abs_diff"] = abs(float(gc["score"]) - float(ec["score"]))
        rows.append(row)
    # Relative differences of p-values below 1e-9 say nothing about agreement (both are "zero").
    meaningful = [r for r in rows if "rel_diff" in r
                  and max(abs(r["galley"]["score"]), abs(r["evidently"]["score"])) >= 1e-9]
    worst = max(meaningful, key=lambda r: r["rel_diff"], default=None)
    worst_abs = max((r for r in rows if "abs_diff" in r), key=lambda r: r["abs_diff"], default=None)
    return {
        "rows": rows,
        "columns_equal": sum(r["same_verdict"] for r in rows),
        "columns": len(rows),
        "tests_equal": sum(r["same_test"] for r in rows),
        "dataset_equal": galley["dataset_drift"] == evidently["dataset_drift"],
        "all_equal": all(r["same_verdict"] for r in rows) and galley["dataset_drift"] == evidently["dataset_drift"],
        "max_rel_diff": worst["rel_diff"] if worst else 0.0,
        "max_rel_diff_column": worst["column"] if worst else None,
        "max_abs_diff": worst_abs["abs_diff"] if worst_abs else 0.0,
        "max_abs_diff_column": worst_abs["column"] if worst_abs else None,
    }


def median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def launcher_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def mib(kib: int) -> float:
    return kib / 1024


def ratio(x: float) -> str:
    return f"{x:.0f}x" if x >= 10 else f"{x:.1f}x"


def fmt_rows(case: dict) -> str:
    if case["reference_rows"] == case["current_rows"]:
        return f"{case['current_rows']:,} x {case['columns']}"
    return f"{case['reference_rows']:,} / {case['current_rows']:,} x {case['columns']}"


def report(cases: list[dict], args: argparse.Namespace, versions: dict) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    lines = [
        f"### Monitoring (offline drift), {now:%Y-%m-%d %H:%M} UTC ({os.cpu_count()} cores)",
        "",
        f"Command: `{os.environ.get('BENCH_CMDLINE', 'bench/monitoring/run.sh')}`; {os.cpu_count()} cores; "
        f"Evidently {versions.get('evidently', '?')} (`Report([DataDriftPreset()])`, default tests and thresholds, "
        f"types inferred by Evidently) with pandas {versions.get('pandas', '?')}; {args.repeat} run(s) per "
        f"tool and case (median time, largest RSS). Rows: reference / current (the same when one number). Galley's figure is "
        f"the whole `galley monitor drift --json` process; Evidently's end-to-end is pandas read + report run "
        f"in its own process (Python start-up and `import evidently` left out). Peak RSS: each child's "
        f"ru_maxrss (floor: the launching process's own {mib(launcher_kib()):,.0f} MiB). "
        f"Parquet row groups: {args.row_group_rows or 'pyarrow default'}.",
        "",
        "| tool | rows x cols | format | read s | drift s | end-to-end s | peak RSS MiB | verdicts equal (columns, dataset) | score diff: max relative; max absolute | Galley speedup |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        g, e, cmp = case.get("galley"), case.get("evidently"), case.get("compare")
        size = fmt_rows(case)
        if g:
            lines.append(f"| Galley | {size} | {case['format']} | - | - | {g['wall_s']:.2f} | "
                         f"{mib(g['maxrss_kib']):,.0f} | | | |")
        if e and e.get("timed_out"):
            speedup = f"> {ratio(e['wall_s'] / g['wall_s'])}" if g else ""
            lines.append(f"| Evidently | {size} | {case['format']} | | | did not finish in {e['wall_s']:.0f} s "
                         f"| {mib(e['maxrss_kib']):,.0f} (when stopped) | | | {speedup} |")
        elif e:
            end_to_end = e["read_s"] + e["compute_s"]
            verdicts = ""
            if cmp:
                verdicts = (f"{cmp['columns_equal']}/{cmp['columns']}, "
                            f"{'yes' if cmp['dataset_equal'] else 'NO'}")
            diff = (f"{cmp['max_rel_diff']:.1e} ({cmp['max_rel_diff_column']}); "
                    f"{cmp['max_abs_diff']:.1e} ({cmp['max_abs_diff_column']})") if cmp else ""
            speedup = ratio(end_to_end / g["wall_s"]) if g else ""
            lines.append(f"| Evidently | {size} | {case['format']} | {e['read_s']:.2f} | {e['compute_s']:.2f} | "
                         f"{end_to_end:.2f} | {mib(e['maxrss_kib']):,.0f} | {verdicts} | {diff} | {speedup} |")
    lines.append("")

    # Memory against rows, per tool and format.
    sizes = sorted({c["current_rows"] for c in cases})
    if len(sizes) > 1:
        parts = []
        for tool, key in (("Galley", "galley"), ("Evidently", "evidently")):
            for fmt in sorted({c["format"] for c in cases}):
                points = [f"{mib(c[key]['maxrss_kib']):,.0f} at {c['current_rows']:,} rows"
                          for c in sorted(cases, key=lambda c: c["current_rows"])
                          if c["format"] == fmt and c.get(key) and not c[key].get("timed_out")]
                if len(points) > 1:
                    parts.append(f"{tool} ({fmt}) {' -> '.join(points)}")
        if parts:
            lines.append("Peak RSS against rows, MiB: " + "; ".join(parts) + ".")
        base = [c for c in cases if c.get("evidently") and not c["evidently"].get("timed_out")]
        if base:
            lines.append(f"Evidently's process after `import evidently`: "
                         f"{mib(min(c['evidently']['rss_imported_kib'] for c in base)):,.0f} MiB; after pandas read "
                         "both files: " + ", ".join(f"{mib(c['evidently']['rss_read_kib']):,.0f} MiB at "
                                                    f"{c['current_rows']:,} rows ({c['format']})" for c in base) + ".")
        lines.append("")

    compared = [c for c in cases if c.get("compare")]
    for case in compared:
        cmp = case["compare"]
        if case["current_rows"] != max(c["current_rows"] for c in compared):
            continue
        lines += [
            f"Per column, {fmt_rows(case)}, {case['format']} (drifted by design: "
            f"{', '.join(case['drifted_by_design'])}):",
            "",
            "| column | Evidently type | Evidently test | Galley test | Evidently score | Galley score | threshold | Evidently drift | Galley drift |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in cmp["rows"]:
            e, g = r["evidently"] or {}, r["galley"] or {}
            mark = "" if r["same_verdict"] and r["same_test"] and r["same_type"] else " **differs**"
            lines.append(
                f"| {r['column']}{mark} | {e.get('type', '-')} | {e.get('test', '-')} | {g.get('test', '-')} | "
                f"{e.get('score', float('nan')):.6g} | {g.get('score', float('nan')):.6g} | "
                f"{e.get('threshold', g.get('threshold', '-'))} | {e.get('drift_detected', '-')} | "
                f"{g.get('drift_detected', '-')} |")
        flagged = [r["column"] for r in cmp["rows"] if r["column"] not in case["drifted_by_design"]
                   and r["evidently"] and r["evidently"]["drift_detected"]]
        if flagged:
            lines += ["", f"Stable by design but flagged by Evidently: {', '.join(flagged)} (with a small reference, "
                          "its chi-square compares reference shares, noisy, with many current rows)."]
        ge, gg = case["evidently"]["result"], case["galley"]["result"]
        lines += ["", f"Dataset drift: Evidently {ge['dataset_drift']} ({ge['number_of_drifted_columns']} of "
                      f"{ge['number_of_columns']}), Galley {gg['dataset_drift']} ({gg['number_of_drifted_columns']} "
                      f"of {gg['number_of_columns']}).", ""]
        break
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


def measure_case(case: dict, paths: tuple[Path, Path], binary: str | None, only: set[str],
                 args: argparse.Namespace) -> None:
    reference, current = paths
    label = f"{fmt_rows(case)} {case['format']}"
    if "galley" in only:
        runs = [run_galley(binary, reference, current) for _ in range(args.repeat)]
        case["galley"] = {"wall_s": median([r["wall_s"] for r in runs]),
                          "maxrss_kib": max(r["maxrss_kib"] for r in runs), "result": runs[0]["result"]}
        print(f"  Galley     {label}: {case['galley']['wall_s']:.2f} s, "
              f"{mib(case['galley']['maxrss_kib']):,.0f} MiB", flush=True)
    if "evidently" in only:
        if case["current_rows"] >= 500_000:
            print(f"  Evidently  {label}: running (this can take minutes at this size) ...", flush=True)
        runs = []
        for _ in range(args.repeat):
            r = run_evidently(reference, current, args.evidently_timeout)
            runs.append(r)
            if r["timed_out"]:
                break
        if runs[-1]["timed_out"]:
            case["evidently"] = runs[-1]
            print(f"  Evidently  {label}: did not finish in {args.evidently_timeout:g} s", flush=True)
        else:
            best = sorted(runs, key=lambda r: r["read_s"] + r["compute_s"])[len(runs) // 2]
            case["evidently"] = {**best, "maxrss_kib": max(r["maxrss_kib"] for r in runs)}
            e = case["evidently"]
            print(f"  Evidently  {label}: read {e['read_s']:.2f} s + report {e['compute_s']:.2f} s "
                  f"(process {e['wall_s']:.2f} s, import {e['import_s']:.2f} s), "
                  f"{mib(e['maxrss_kib']):,.0f} MiB", flush=True)
    if case.get("galley") and case.get("evidently") and not case["evidently"].get("timed_out"):
        case["compare"] = compare(case["galley"]["result"], case["evidently"]["result"])
        cmp = case["compare"]
        print(f"  verdicts equal: {cmp['columns_equal']}/{cmp['columns']} columns, dataset "
              f"{'yes' if cmp['dataset_equal'] else 'NO'}; tests equal {cmp['tests_equal']}/{cmp['columns']}; "
              f"score diff: max relative {cmp['max_rel_diff']:.2e} ({cmp['max_rel_diff_column']}), "
              f"max absolute {cmp['max_abs_diff']:.2e} ({cmp['max_abs_diff_column']})", flush=True)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "_evidently_worker":
        evidently_worker(*sys.argv[2:])
        return
    if len(sys.argv) == 3 and sys.argv[1] == "_generate_worker":
        generate_worker(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="current rows (default 1,000,000)")
    parser.add_argument("--reference-rows", type=int,
                        help="reference rows (default: --rows; at most 1000 switches Evidently's default "
                             "tests to KS / chi-square / Z)")
    parser.add_argument("--columns", type=int, default=20, help="columns (default 20: 14 numeric, 3 integer, 3 string)")
    parser.add_argument("--format", choices=["parquet", "csv", "both"], default="parquet",
                        help="file format both tools read (default parquet; both: every run in each)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool and case (median reported)")
    parser.add_argument("--small-rows", type=int,
                        help="rows of the second, smaller case for the memory comparison (default --rows / 10; "
                             "0 skips it)")
    parser.add_argument("--small-galley-only", action="store_true",
                        help="run only Galley in the smaller case")
    parser.add_argument("--galley-only-rows", type=int, action="append", default=[], metavar="ROWS",
                        help="also run Galley alone at ROWS rows (repeatable), e.g. past Evidently's reach "
                             "to see where Galley's memory levels off")
    parser.add_argument("--row-group-rows", type=int,
                        help="Parquet row group size in rows (default: pyarrow's, 1Mi rows)")
    parser.add_argument("--evidently-timeout", type=float, default=3600.0,
                        help="seconds before an Evidently run is stopped and reported as unfinished")
    parser.add_argument("--only", action="append", choices=["galley", "evidently"],
                        help="run only this tool (repeatable)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-data", action="store_true", help="leave the generated files and print where")
    args = parser.parse_args()
    only = set(args.only or ["galley", "evidently"])
    binary = os.environ.get("GALLEY_BIN")
    if "galley" in only and not binary:
        sys.exit("GALLEY_BIN must point at a release build of galley")
    if binary and "/debug/" in binary:
        print(f"warning: {binary} looks like a debug build; its figures are not Galley's", file=sys.stderr)

    reference_rows = args.reference_rows or args.rows
    small = args.rows // 10 if args.small_rows is None else args.small_rows
    formats = ["parquet", "csv"] if args.format == "both" else [args.format]
    def scaled(rows: int) -> int:
        return max(1, round(reference_rows * rows / args.rows))

    # (reference rows, current rows, tools)
    sizes = [(reference_rows, args.rows, only)]
    if small:
        sizes.append((scaled(small), small, {"galley"} & only if args.small_galley_only else only))
    sizes += [(scaled(rows), rows, {"galley"} & only) for rows in args.galley_only_rows]

    workdir = Path(tempfile.mkdtemp(prefix="galley-bench-monitoring-"))
    cases: list[dict] = []
    versions: dict = {}
    try:
        for reference_n, current_n, case_only in sizes:
            began = time.perf_counter()
            paths, drifted = generate(workdir / f"{current_n}", reference_n, current_n, args, formats)
            sizes_mib = ", ".join(f"{fmt} {sum(p.stat().st_size for p in ps) / 2**20:,.0f} MiB"
                                  for fmt, ps in paths.items())
            print(f"data: {reference_n:,} reference / {current_n:,} current rows x {args.columns} columns "
                  f"({sizes_mib}) generated in {time.perf_counter() - began:.1f} s (not timed)", flush=True)
            for fmt in formats:
                case = {"reference_rows": reference_n, "current_rows": current_n, "columns": args.columns,
                        "format": fmt, "drifted_by_design": drifted}
                measure_case(case, paths[fmt], binary, case_only, args)
                if case.get("evidently") and case["evidently"].get("versions"):
                    versions = case["evidently"]["versions"]
                cases.append(case)
    finally:
        if args.keep_data:
            print(f"data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    text = report(cases, args, versions)
    print()
    print(text)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"monitoring-{dt.datetime.now():%Y%m%d-%H%M%S}.md"
    path.write_text(text)
    print(f"written to {path.relative_to(ROOT)}")
    mismatched = [c for c in cases if c.get("compare") and not c["compare"]["all_equal"]]
    if mismatched:
        print(f"VERDICTS DIFFER in {len(mismatched)} case(s); see the per-column table", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
