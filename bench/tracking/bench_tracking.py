#!/usr/bin/env python3
"""Galley vs MLflow tracking-server benchmark, same client workload on both.

Started by bench/tracking/run.sh (which provides the venv). For each server in
turn (never both at once: the machine is small) it

  1. starts the server on loopback with a fresh temp data dir,
  2. log-batch throughput: ``--batch-runs`` runs x ``--batches-per-run``
     ``MlflowClient().log_batch(run_id, metrics=[1000], params=[10], tags=[10])``
     spread over ``--threads`` client threads -> metrics/s,
  3. for each N in ``--runs``: seeds an experiment with N runs over raw REST
     (thread pool; each run gets a few metrics/params/tags), then times
     ``search_runs(filter "metrics.m1 > 0.5", order_by ["metrics.m1 DESC"],
     max_results=100)`` ``--queries`` times -> median / p95 latency,
  4. stops the server.

Then it prints a markdown table with Galley/MLflow ratios and writes it to
bench/results/tracking-<timestamp>.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

# No retries: a server error must surface, not be hidden behind backoff.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "0"
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "300")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import mlflow  # noqa: E402
import requests  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SEARCH_FILTER = "metrics.m1 > 0.5"
SEARCH_ORDER = ["metrics.m1 DESC"]
SEARCH_MAX_RESULTS = 100


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


# --------------------------------------------------------------------------- servers


class Server:
    def __init__(self, name: str, cmd: list[str], port: int, workdir: Path, env=None):
        self.name, self.cmd, self.port, self.workdir = name, cmd, port, workdir
        self.uri = f"http://127.0.0.1:{port}"
        self.log_path = workdir / f"{name}-server.log"
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float) -> None:
        log(f"starting {self.name}: {' '.join(self.cmd)}")
        self._log = open(self.log_path, "wb")
        # own process group: mlflow forks uvicorn workers and job runners
        self.proc = subprocess.Popen(
            self.cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=self.env,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if requests.get(f"{self.uri}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not answer /health within {timeout:.0f}s:\n{self.tail()}")
            time.sleep(0.2)
        log(f"{self.name} is up at {self.uri}")

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if not self.proc:
            return
        pgid = self.proc.pid  # == its process group id (start_new_session)
        if self.proc.poll() is None:
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        # leftovers of that same group (workers, job runners)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait()
        self._log.close()
        log(f"{self.name} stopped")


def make_server(kind: str, args, workdir: Path) -> Server:
    port = free_port()
    data = workdir / kind
    data.mkdir(parents=True)
    if kind == "galley":
        cmd = [args.galley_bin, "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)]
        return Server("galley", cmd, port, workdir)
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    cmd = [
        mlflow_bin, "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{data}/mlflow.db",
        "--artifacts-destination", str(data / "artifacts"),
        "--workers", str(args.mlflow_workers),
    ]
    return Server("mlflow", cmd, port, workdir)


# --------------------------------------------------------------------------- workloads


def bench_log_batch(uri: str, args) -> dict:
    client = mlflow.MlflowClient(uri)
    exp_id = client.create_experiment(f"bench-logbatch-{uuid.uuid4().hex[:8]}")
    run_ids = [client.create_run(exp_id).info.run_id for _ in range(args.batch_runs)]
    keys = [f"metric_{k:03d}" for k in range(100)]
    ts0 = int(time.time() * 1000)

    def job(run_idx: int, batch_idx: int) -> int:
        rid = run_ids[run_idx]
        # 1000 metrics: 100 keys x 10 steps, new steps for every batch of this run
        metrics = [
            Metric(k, random.random(), ts0 + batch_idx, batch_idx * 10 + s) for s in range(10) for k in keys
        ]
        params = [Param(f"param_{p}", f"value-{run_idx}-{p}") for p in range(10)] if batch_idx == 0 else []
        tags = [RunTag(f"tag_{t}", f"b{batch_idx}") for t in range(10)]
        client.log_batch(rid, metrics=metrics, params=params, tags=tags)
        return len(metrics)

    jobs = [(r, b) for b in range(args.batches_per_run) for r in range(args.batch_runs)]
    log(f"log_batch: {len(jobs)} calls x 1000 metrics on {args.threads} threads")
    errors = 0
    total = 0
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(args.threads) as pool:
        futs = [pool.submit(job, r, b) for r, b in jobs]
        for f in cf.as_completed(futs):
            try:
                total += f.result()
            except Exception as e:  # keep going, count it
                errors += 1
                if errors <= 3:
                    log(f"log_batch error: {e!r}"[:500])
    elapsed = time.perf_counter() - t0
    # sanity: one run holds what we sent
    sample = client.get_run(run_ids[0]).data
    assert len(sample.metrics) == len(keys), f"expected {len(keys)} metric keys, got {len(sample.metrics)}"
    return {
        "metrics_per_s": total / elapsed if elapsed else 0.0,
        "calls": len(jobs),
        "elapsed_s": elapsed,
        "errors": errors,
    }


def _raw_log_batch_worker(uri: str, run_ids: list[str], batches_per_run: int, ts0: int) -> tuple[float, float, int, int]:
    """Builds every body first, then sends them over one keep-alive connection; returns (start, end, metrics, errors)."""
    keys = [f"metric_{k:03d}" for k in range(100)]
    bodies = []
    for b in range(batches_per_run):
        for rid in run_ids:
            bodies.append(json.dumps({
                "run_id": rid,
                # 1000 metrics and nothing else: MLflow caps a request at 1000 entities in total.
                "metrics": [{"key": k, "value": random.random(), "timestamp": ts0 + b, "step": b * 10 + s}
                            for s in range(10) for k in keys],
            }))
    session = requests.Session()
    errors = 0
    start = time.time()
    for body in bodies:
        r = session.post(f"{uri}/api/2.0/mlflow/runs/log-batch", data=body,
                         headers={"Content-Type": "application/json"}, timeout=120)
        errors += r.status_code != 200
    return start, time.time(), 1000 * len(bodies), errors


def bench_log_batch_raw(uri: str, args) -> dict:
    """Server capacity without the Python client's serialisation cost: pre-built JSON bodies
    from `--raw-procs` processes, so neither the GIL nor protobuf encoding is what is measured."""
    client = mlflow.MlflowClient(uri)
    exp_id = client.create_experiment(f"bench-raw-{uuid.uuid4().hex[:8]}")
    run_ids = [client.create_run(exp_id).info.run_id for _ in range(args.batch_runs)]
    shares = [run_ids[i::args.raw_procs] for i in range(args.raw_procs)]
    ts0 = int(time.time() * 1000)
    log(f"log_batch (raw REST): {args.batch_runs * args.batches_per_run} calls x 1000 metrics from {args.raw_procs} processes")
    with cf.ProcessPoolExecutor(args.raw_procs) as pool:
        outcomes = list(pool.map(_raw_log_batch_worker, [uri] * len(shares), shares,
                                 [args.batches_per_run] * len(shares), [ts0] * len(shares)))
    elapsed = max(o[1] for o in outcomes) - min(o[0] for o in outcomes)
    total = sum(o[2] for o in outcomes)
    return {"metrics_per_s": total / elapsed if elapsed else 0.0, "elapsed_s": elapsed,
            "errors": sum(o[3] for o in outcomes)}


class Seeder:
    """Creates runs over raw REST (cheaper on the client side than MlflowClient)."""

    def __init__(self, uri: str, threads: int):
        self.uri = uri
        self.local = threading.local()
        self.threads = threads

    def session(self) -> requests.Session:
        s = getattr(self.local, "s", None)
        if s is None:
            s = requests.Session()
            s.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1))
            self.local.s = s
        return s

    def post(self, endpoint: str, body: dict) -> dict:
        url = f"{self.uri}/api/2.0/mlflow/{endpoint}"
        for attempt in range(6):
            try:
                r = self.session().post(url, json=body, timeout=120)
            except requests.RequestException as e:
                err = repr(e)
            else:
                if r.status_code == 200:
                    return r.json()
                err = f"{r.status_code} {r.text[:300]}"
                if r.status_code < 500 and r.status_code != 429:
                    break
            time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"POST {endpoint} failed: {err}")

    def one_run(self, exp_id: str, i: int) -> None:
        rng = random.Random(i)
        ts = int(time.time() * 1000)
        run = self.post("runs/create", {"experiment_id": exp_id, "start_time": ts, "run_name": f"seed-{i}",
                                        "tags": [{"key": "shard", "value": str(i % 10)}]})
        run_id = run["run"]["info"]["run_id"]
        self.post("runs/log-batch", {
            "run_id": run_id,
            "metrics": [
                {"key": "m1", "value": rng.random(), "timestamp": ts, "step": 0},
                {"key": "m2", "value": rng.random() * 100, "timestamp": ts, "step": 0},
                {"key": "loss", "value": rng.random(), "timestamp": ts, "step": 0},
            ],
            "params": [
                {"key": "lr", "value": str(rng.choice([0.1, 0.01, 0.001]))},
                {"key": "depth", "value": str(rng.randint(1, 12))},
                {"key": "model", "value": rng.choice(["lr", "rf", "gbm"])},
            ],
            "tags": [{"key": "team", "value": rng.choice(["a", "b", "c"])}],
        })

    def seed(self, exp_id: str, start: int, stop: int) -> tuple[float, int]:
        n = stop - start
        log(f"seeding runs {start}..{stop - 1} ({n}) with {self.threads} threads")
        t0 = time.perf_counter()
        done = errors = 0
        last = t0
        with cf.ThreadPoolExecutor(self.threads) as pool:
            futs = [pool.submit(self.one_run, exp_id, i) for i in range(start, stop)]
            for f in cf.as_completed(futs):
                try:
                    f.result()
                except Exception as e:
                    errors += 1
                    if errors <= 3:
                        log(f"seed error: {e}"[:500])
                done += 1
                now = time.perf_counter()
                if now - last >= 10 or done == n:
                    rate = done / (now - t0)
                    eta = (n - done) / rate if rate else float("inf")
                    log(f"  seeded {done}/{n} ({rate:.0f} runs/s, eta {eta:.0f}s, errors {errors})")
                    last = now
        return time.perf_counter() - t0, errors


def bench_search(uri: str, exp_id: str, queries: int) -> dict:
    client = mlflow.MlflowClient(uri)
    for _ in range(2):  # warm-up
        client.search_runs([exp_id], SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=SEARCH_MAX_RESULTS)
    lat = []
    page = None
    for _ in range(queries):
        t0 = time.perf_counter()
        page = client.search_runs([exp_id], SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=SEARCH_MAX_RESULTS)
        lat.append(time.perf_counter() - t0)
    vals = [r.data.metrics["m1"] for r in page]
    assert len(page) == SEARCH_MAX_RESULTS, f"expected {SEARCH_MAX_RESULTS} results, got {len(page)}"
    assert vals == sorted(vals, reverse=True) and all(v > 0.5 for v in vals), "search returned wrong results"
    return {"median_ms": statistics.median(lat) * 1000, "p95_ms": pct(lat, 95) * 1000, "n": queries}


def run_server_suite(kind: str, args, workdir: Path) -> dict:
    srv = make_server(kind, args, workdir)
    res: dict = {"search": {}, "seed": {}}
    srv.start(args.start_timeout)
    try:
        if kind == "mlflow":
            res["version"] = requests.get(f"{srv.uri}/version", timeout=10).text.strip()
        else:
            res["version"] = galley_version(args.galley_bin)
        res["log_batch"] = bench_log_batch(srv.uri, args)
        lb = res["log_batch"]
        log(f"{kind} log_batch: {lb['metrics_per_s']:.0f} metrics/s ({lb['elapsed_s']:.1f}s, errors {lb['errors']})")
        res["log_batch_raw"] = bench_log_batch_raw(srv.uri, args)
        lr = res["log_batch_raw"]
        log(f"{kind} log_batch (raw REST): {lr['metrics_per_s']:.0f} metrics/s ({lr['elapsed_s']:.1f}s, errors {lr['errors']})")

        seeder = Seeder(srv.uri, args.seed_threads)
        exp_id = mlflow.MlflowClient(srv.uri).create_experiment(f"bench-search-{uuid.uuid4().hex[:8]}")
        have = 0
        seed_time = 0.0
        seed_errors = 0
        for n in sorted(args.runs):
            t, e = seeder.seed(exp_id, have, n)
            seed_time += t
            seed_errors += e
            res["seed"][n] = {"runs_per_s": (n - have) / t if t else 0.0, "errors": seed_errors}
            have = n
            res["search"][n] = bench_search(srv.uri, exp_id, args.queries)
            s = res["search"][n]
            log(f"{kind} search @ {n} runs: median {s['median_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms")
    except Exception:
        log(f"{kind} failed; server log tail:\n{srv.tail()}")
        raise
    finally:
        srv.stop()
    return res


def galley_version(bin_path: str) -> str:
    try:
        out = subprocess.run([bin_path, "--version"], capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"
    except Exception:
        return "?"


# --------------------------------------------------------------------------- report


def fmt(v, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.1f}{unit}" if v < 1000 else f"{v:,.0f}{unit}"
    return f"{v}{unit}"


def ratio(g, m):
    if g is None or m is None or not m:
        return "–"
    return f"{g / m:.2f}×"


def report(results: dict, args, cmdline: str, started: dt.datetime, wall: float) -> str:
    g, m = results.get("galley"), results.get("mlflow")
    cores = os.cpu_count()
    lines = [
        f"# Tracking benchmark: Galley vs MLflow ({started:%Y-%m-%d %H:%M:%S})",
        "",
        f"- machine: {cores} cores, {platform.machine()}, {platform.system()} {platform.release()}; "
        f"both servers on 127.0.0.1, one at a time; client on the same machine",
        f"- command: `{cmdline}`",
        f"- client: mlflow {mlflow.__version__} (Python {platform.python_version()}), "
        f"{args.threads} threads for log_batch, {args.seed_threads} threads for seeding",
        f"- galley: {g['version'] if g else 'not run'}"
        + (f" (`{args.galley_bin}`)" if g else ""),
        f"- mlflow server: {m['version'] if m else 'not run'}"
        + (f", SQLite backend, artifacts in a temp dir, {args.mlflow_workers} uvicorn workers" if m else ""),
        f"- log_batch: {args.batch_runs} runs × {args.batches_per_run} calls, each 1000 metrics "
        f"(100 keys × 10 steps) + 10 tags (+10 params on a run's first call); once through MlflowClient "
        f"({args.threads} threads), once as pre-built JSON bodies of the 1000 metrics over raw REST ({args.raw_procs} processes)",
        f"- search_runs: filter `{SEARCH_FILTER}`, order_by `{SEARCH_ORDER}`, max_results={SEARCH_MAX_RESULTS}, "
        f"median/p95 over {args.queries} sequential queries after 2 warm-up queries",
        f"- total wall time: {wall:.0f}s",
        "",
        "Ratio = Galley / MLflow: above 1 is better for Galley on throughput, below 1 is better on latency.",
        "",
        "| measure | Galley | MLflow | Galley/MLflow |",
        "|---|---:|---:|---:|",
    ]

    def row(name, gv, mv, unit=""):
        lines.append(f"| {name} | {fmt(gv, unit)} | {fmt(mv, unit)} | {ratio(gv, mv)} |")

    gl = g["log_batch"] if g else None
    ml = m["log_batch"] if m else None
    row(f"log_batch throughput, mlflow client, {args.threads} threads (metrics/s)",
        gl and gl["metrics_per_s"], ml and ml["metrics_per_s"])
    gr = g and g.get("log_batch_raw")
    mr = m and m.get("log_batch_raw")
    row(f"log_batch throughput, raw REST, {args.raw_procs} processes (metrics/s)",
        gr and gr["metrics_per_s"], mr and mr["metrics_per_s"])
    for n in sorted(args.runs):
        gs = g["search"].get(n) if g else None
        ms = m["search"].get(n) if m else None
        row(f"search_runs @ {n:,} runs, median (ms)", gs and gs["median_ms"], ms and ms["median_ms"])
        row(f"search_runs @ {n:,} runs, p95 (ms)", gs and gs["p95_ms"], ms and ms["p95_ms"])
    prev = 0
    for n in sorted(args.runs):
        gd = g["seed"].get(n) if g else None
        md = m["seed"].get(n) if m else None
        row(f"seeding runs {prev:,}→{n:,} over REST, 2 requests/run (runs/s)",
            gd and gd["runs_per_s"], md and md["runs_per_s"])
        prev = n
    errs = []
    for name, r in (("galley", g), ("mlflow", m)):
        if r:
            e = r["log_batch"]["errors"] + r["log_batch_raw"]["errors"] + max([s["errors"] for s in r["seed"].values()] or [0])
            if e:
                errs.append(f"{name}: {e} failed requests")
    if errs:
        lines += ["", "**Errors:** " + "; ".join(errs)]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="10000",
                    help="comma-separated experiment sizes for search_runs, e.g. 1000,10000,100000 (default 10000)")
    ap.add_argument("--only", choices=["galley", "mlflow"], help="benchmark one server only")
    ap.add_argument("--threads", type=int, default=4, help="client threads for log_batch (default 4)")
    ap.add_argument("--batch-runs", type=int, default=20, help="runs receiving log_batch calls (default 20)")
    ap.add_argument("--batches-per-run", type=int, default=5, help="log_batch calls per run (default 5)")
    ap.add_argument("--raw-procs", type=int, default=4, help="processes for the raw-REST log_batch measure (default 4)")
    ap.add_argument("--seed-threads", type=int, default=8, help="client threads for seeding (default 8)")
    ap.add_argument("--queries", type=int, default=20, help="timed search_runs queries (default 20)")
    ap.add_argument("--mlflow-workers", type=int, default=4, help="mlflow server --workers (default 4, its default)")
    ap.add_argument("--start-timeout", type=float, default=120.0, help="seconds to wait for /health")
    ap.add_argument("--keep", action="store_true", help="keep the temp data dirs")
    ap.add_argument("--results-dir", default=str(REPO / "bench" / "results"))
    args = ap.parse_args()
    args.runs = sorted({int(x.replace("_", "")) for x in args.runs.split(",") if x.strip()})
    if not args.runs or min(args.runs) < SEARCH_MAX_RESULTS * 3:
        ap.error(f"--runs must be >= {SEARCH_MAX_RESULTS * 3}")

    kinds = [args.only] if args.only else ["galley", "mlflow"]
    args.galley_bin = os.environ.get("GALLEY_BIN", "")
    if "galley" in kinds:
        if not args.galley_bin or not os.access(args.galley_bin, os.X_OK):
            ap.error("GALLEY_BIN must point at the galley binary (or pass --only mlflow)")
        args.galley_bin = os.path.abspath(args.galley_bin)

    cmdline = os.environ.get("BENCH_CMDLINE") or " ".join([sys.argv[0], *sys.argv[1:]])
    started = dt.datetime.now()
    t0 = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="galley-bench-"))
    results = {}
    try:
        for kind in kinds:
            results[kind] = run_server_suite(kind, args, workdir)
    finally:
        if args.keep:
            log(f"data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    text = report(results, args, cmdline, started, time.perf_counter() - t0)
    print(text)
    out_dir = Path(args.results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"tracking-{started:%Y%m%d-%H%M%S}.md"
    out.write_text(text)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
