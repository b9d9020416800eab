"""Serving benchmark: one scikit-learn model behind (a) Galley, (b) a naive FastAPI +
onnxruntime server, (c) MLServer's sklearn runtime, measured by one load generator on this
machine in one run, one server at a time.

Each request carries one row (the common online-inference case). Two figures per server:
- throughput at p99 < 10 ms: closed-loop clients at increasing concurrency, the best
  requests/s whose p99 latency stayed under 10 ms (and the best throughput overall);
- latency at a fixed offered load (open loop, --rate requests/s): p50 and p99.

--log-overhead ROUNDS (Galley only): the closed-loop sweep on one deployment with
log_sample_rate 0 and 1 (every answered request logged to Parquet), alternated ROUNDS times;
the overhead is taken within each round (the two rates measured back to back), then the median
over rounds.

The load generators share the machine's cores with the server under test; every server faces
the same ones. Closed loops run by default through aiohttp in one Python process, which takes a
large and varying share of the CPU at high rates (round-to-round spread about 15% on 2 cores);
--wrk runs them through wrk instead: one native thread (-t1), the same JSON bodies round-robin,
p50/p99 from its --latency report, non-2xx answers and socket errors counted as errors;
--seconds is then whole seconds. Open loops (the fixed load and --overload) run through
galley-loadgen (bench/loadgen, one native thread), which holds a rate whatever the server does.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import loadgen  # noqa: E402  (bench/loadgen.py: the native open-loop generator)
import wrk  # noqa: E402  (bench/wrk.py, shared with bench/features)

FEATURES = 16
CONCURRENCY = [1, 2, 4, 8, 16, 32, 64]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def train(workdir: Path) -> tuple[Path, Path, np.ndarray, object]:
    """A StandardScaler + RandomForest pipeline, saved as ONNX (skl2onnx defaults) and joblib."""
    import joblib
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from skl2onnx import to_onnx

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, FEATURES)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] * x[:, 2] - x[:, 3] > 0).astype(np.int64)
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0))
    model.fit(x, y)
    onnx_path = workdir / "model.onnx"
    onnx_path.write_bytes(to_onnx(model, x[:1], target_opset={"": 17, "ai.onnx.ml": 3}).SerializeToString())
    joblib_path = workdir / "model.joblib"
    joblib.dump(model, joblib_path)
    return onnx_path, joblib_path, x[:256], model


class Server:
    name: str

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def url(self) -> str:
        raise NotImplementedError

    def payload(self, row: np.ndarray) -> dict:
        raise NotImplementedError

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def v2_payload(row: np.ndarray, name: str = "X") -> dict:
    return {"inputs": [{"name": name, "datatype": "FP32", "shape": [1, FEATURES], "data": row.tolist()}]}


class Galley(Server):
    name = "Galley"

    def __init__(self, workdir: Path, binary: str, onnx_path: Path, max_queue: int = 1024,
                 log_sample_rate: float | None = None):
        super().__init__(workdir)
        data = workdir / "galley-data"
        self.process = subprocess.Popen(
            [binary, "server", "--port", str(self.port), "--data-dir", str(data)],
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "galley.log", "w"),
            env={**os.environ, "GALLEY_LOG": "warn"},
        )
        wait_until_up(f"{self.base}/health")
        api = f"{self.base}/api/2.0/mlflow"
        run = requests.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]
        path = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
        requests.put(f"{self.base}/api/2.0/mlflow-artifacts/artifacts/{path}/model/model.onnx",
                     data=onnx_path.read_bytes()).raise_for_status()
        requests.post(f"{api}/registered-models/create", json={"name": "bench"}).raise_for_status()
        requests.post(f"{api}/model-versions/create",
                      json={"name": "bench", "source": f"runs:/{run['run_id']}/model",
                            "run_id": run["run_id"]}).raise_for_status()
        deployment = {"name": "bench", "model": "bench", "version": 1, "replicas": 2,
                      "max_batch_size": 64, "max_batch_delay_ms": 1, "max_queue": max_queue}
        if log_sample_rate is not None:
            deployment["log_sample_rate"] = log_sample_rate
        requests.post(f"{self.base}/api/v1/deployments", json=deployment).raise_for_status()
        self.input = requests.get(f"{self.base}/v2/models/bench").json()["inputs"][0]["name"]

    def url(self) -> str:
        return f"{self.base}/v2/models/bench/infer"

    def payload(self, row: np.ndarray) -> dict:
        return v2_payload(row, self.input)

    def payload_rows(self, rows: np.ndarray) -> dict:
        return {"inputs": [{"name": self.input, "datatype": "FP32", "shape": list(rows.shape),
                            "data": rows.flatten().tolist()}]}

    def set_log_sample_rate(self, rate: float) -> None:
        response = requests.patch(f"{self.base}/api/v1/deployments/bench", json={"log_sample_rate": rate})
        response.raise_for_status()
        assert response.json()["deployment"]["log_sample_rate"] == rate, response.text

    def prediction_log(self) -> dict:
        """Rows written and records dropped by the prediction log since the server started."""
        response = requests.get(f"{self.base}/api/v1/monitoring/prediction-log")
        return response.json() if response.status_code == 200 else {}

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


NAIVE_APP = '''
import os
import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from pydantic import BaseModel

session = ort.InferenceSession(os.environ["MODEL_PATH"], providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name
app = FastAPI()


class Request(BaseModel):
    inputs: list[list[float]]


@app.get("/health")
def health():
    return {"ok": True}


@app.post("/predict")
def predict(request: Request):
    label, _ = session.run(None, {input_name: np.asarray(request.inputs, dtype=np.float32)})
    return {"predictions": label.tolist()}
'''


class Naive(Server):
    name = "FastAPI + onnxruntime"

    def __init__(self, workdir: Path, onnx_path: Path):
        super().__init__(workdir)
        (workdir / "naive_app.py").write_text(NAIVE_APP)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "naive_app:app", "--port", str(self.port), "--log-level", "warning"],
            cwd=workdir,
            env={**os.environ, "MODEL_PATH": str(onnx_path)},
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "naive.log", "w"),
        )
        wait_until_up(f"{self.base}/health")

    def url(self) -> str:
        return f"{self.base}/predict"

    def payload(self, row: np.ndarray) -> dict:
        return {"inputs": [row.tolist()]}


class MLServer(Server):
    name = "MLServer (sklearn runtime)"

    def __init__(self, workdir: Path, joblib_path: Path):
        super().__init__(workdir)
        model_dir = workdir / "mlserver"
        model_dir.mkdir()
        shutil.copy(joblib_path, model_dir / "model.joblib")
        (model_dir / "model-settings.json").write_text(json.dumps({
            "name": "bench",
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": "./model.joblib"},
        }))
        (model_dir / "settings.json").write_text(json.dumps({
            "http_port": self.port, "grpc_port": free_port(), "metrics_port": free_port(),
        }))
        mlserver = Path(sys.executable).with_name("mlserver")
        self.process = subprocess.Popen(
            [str(mlserver), "start", str(model_dir)],
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "mlserver.log", "w"),
        )
        wait_until_up(f"{self.base}/v2/models/bench/ready", timeout=180)

    def url(self) -> str:
        return f"{self.base}/v2/models/bench/infer"

    def payload(self, row: np.ndarray) -> dict:
        return v2_payload(row, "predict")


async def closed_loop(url: str, payloads: list[dict], concurrency: int, seconds: float) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession, k: int) -> None:
        nonlocal errors
        i = k
        while time.perf_counter() < stop:
            started = time.perf_counter()
            async with session.post(url, json=payloads[i % len(payloads)]) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - started)
            i += concurrency

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(client(session, k) for k in range(concurrency)))
        elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, latencies, errors


def pct(latencies: list[float], q: float) -> float:
    return float(np.percentile(np.array(latencies) * 1000, q)) if latencies else float("nan")


def closed_level(url: str, payloads: list[dict], concurrency: int, seconds: float, use_wrk: bool) -> dict:
    """One closed-loop level through wrk or the aiohttp generator: req/s, p50 and p99 in ms, and
    errors (answers other than 200, or 2xx/3xx for wrk, plus wrk's socket errors: requests it
    timed out or lost have no latency, so a level with any cannot claim its p99)."""
    if use_wrk:
        result = wrk.closed_loop(url, [json.dumps(p).encode() for p in payloads], concurrency, seconds)
        return {"rps": result["rps"], "p50": result["p50_ms"], "p99": result["p99_ms"],
                "errors": result["errors"] + result["socket_errors"]}
    throughput, latencies, errors = asyncio.run(closed_loop(url, payloads, concurrency, seconds))
    return {"rps": throughput, "p50": pct(latencies, 50), "p99": pct(latencies, 99), "errors": errors}


def generator(args: argparse.Namespace) -> str:
    """The closed-loop load generator, as the reports name it."""
    return "`wrk -t1` (one native thread)" if args.wrk else "aiohttp (one Python process)"


def closed_loop_sweep(server: Server, payloads: list[dict], args: argparse.Namespace, label: str) -> dict:
    """The closed-loop sweep over --concurrency: every level, the best req/s with p99 < 10 ms and
    the best overall."""
    sweep = []
    for concurrency in args.concurrency:
        level = closed_level(server.url(), payloads, concurrency, args.seconds, args.wrk)
        sweep.append({"concurrency": concurrency, **level})
        print(f"  {label:28} c={concurrency:3} {level['rps']:8.0f} req/s p50 {level['p50']:6.2f} ms "
              f"p99 {level['p99']:6.2f} ms errors {level['errors']}", flush=True)
    under_slo = [s for s in sweep if s["p99"] < 10.0 and s["errors"] == 0]
    return {
        "sweep": sweep,
        "best_under_slo": max(under_slo, key=lambda s: s["rps"]) if under_slo else None,
        "best": max(sweep, key=lambda s: s["rps"]),
    }


def measure(server: Server, rows: np.ndarray, args: argparse.Namespace) -> dict:
    payloads = [server.payload(row) for row in rows]
    assert requests.post(server.url(), json=payloads[0]).status_code == 200, f"{server.name} refused a request"
    closed_level(server.url(), payloads, 8, 2, args.wrk)  # warm-up
    result = closed_loop_sweep(server, payloads, args, server.name)
    fixed = loadgen.open_loop(server.url(), json.dumps(payloads[0]).encode(), args.rate, args.seconds * 2)
    served = fixed["served_ms"] or {"p50": float("nan"), "p99": float("nan")}
    return {
        **result,
        "fixed": {"rate": args.rate, "p50": served["p50"], "p99": served["p99"],
                  "errors": fixed["requests"] - fixed["statuses"].get("200", 0)},
    }


def report(results: dict[str, dict], args: argparse.Namespace) -> str:
    galley = results.get("Galley")
    lines = [
        f"### Serving, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC ({os.cpu_count()} cores, one request = one row)",
        "",
        f"Command: `{os.environ.get('BENCH_CMDLINE', 'bench/serving/run.sh')}`; closed loop through "
        f"{generator(args)}, {args.seconds:g} s per concurrency level in {args.concurrency}; fixed load "
        f"{args.rate:g} req/s for {2 * args.seconds:g} s (open loop, galley-loadgen).",
        "",
        "| server | req/s at p99 < 10 ms (concurrency) | best req/s (concurrency, p99 ms) | fixed load p50 / p99 ms | Galley ratio at p99 < 10 ms | Galley ratio, best req/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        slo = r["best_under_slo"]
        slo_text = f"{slo['rps']:,.0f} ({slo['concurrency']})" if slo else "none"
        best = r["best"]
        fixed = r["fixed"]
        slo_ratio = best_ratio = ""
        if galley and name != "Galley":
            if galley["best_under_slo"] and slo:
                slo_ratio = f"{galley['best_under_slo']['rps'] / slo['rps']:.1f}x"
            best_ratio = f"{galley['best']['rps'] / best['rps']:.1f}x"
        lines.append(
            f"| {name} | {slo_text} | {best['rps']:,.0f} ({best['concurrency']}, {best['p99']:.1f}) | "
            f"{fixed['p50']:.2f} / {fixed['p99']:.2f} | {slo_ratio} | {best_ratio} |"
        )
    return "\n".join(lines) + "\n"


OVERLOAD_ROWS = 256


def run_overload(workdir: Path, binary: str, onnx_path: Path, rows: np.ndarray, model, args) -> None:
    """Galley at 4x its capacity: capacity is the closed-loop rate of 64-row requests (16 clients),
    then 4x that is offered open loop for --overload seconds through galley-loadgen, which checks
    every 200 answer against the first one (itself checked against the model's own labels) while
    the server's resident memory is sampled twice a second."""
    server = Galley(workdir, binary, onnx_path, max_queue=64)
    try:
        batch = rows[:OVERLOAD_ROWS]
        # A fixed request id: answers echo it, so every correct answer is the same bytes.
        payload = {**server.payload_rows(batch), "id": "overload"}
        first = requests.post(server.url(), json=payload)
        labels = next(o["data"] for o in first.json()["outputs"] if o["name"] == "output_label")
        assert labels == model.predict(batch).tolist(), "Galley's answer differs from the model's own labels"
        capacity = closed_level(server.url(), [payload], 16, 4, args.wrk)["rps"]
        rss_before = server.rss_kib()
        outcome: dict = {}
        soak = threading.Thread(target=lambda: outcome.update(loadgen.open_loop(
            server.url(), json.dumps(payload).encode(), 4 * capacity, args.overload,
            expect_body=first.content, connections=1000)))
        rss: list[int] = []
        soak.start()
        while soak.is_alive():
            rss.append(server.rss_kib())
            soak.join(0.5)
        after = requests.post(server.url(), json=payload)
        assert after.status_code == 200 and after.content == first.content, \
            f"Galley did not recover after the soak: {after.status_code} {after.text[:300]} (before: {first.text[:300]})"
    finally:
        server.stop()
    statuses = dict(outcome["statuses"])
    seconds = outcome["offered_seconds"]
    served, rejected = statuses.pop("200", 0), statuses.pop("429", 0)
    tail = rss[len(rss) // 2:]
    head = rss[:len(rss) // 2] or tail

    def ms(key: str, q: str) -> str:
        return f"{outcome[key][q]:.1f}" if outcome[key] else "n/a"

    text = (
        f"### Serving overload, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC ({os.cpu_count()} cores)\n\n"
        f"Command: `{os.environ.get('BENCH_CMDLINE', 'bench/serving/run.sh')}`; {OVERLOAD_ROWS}-row requests, "
        f"replicas 2, max_queue 64; capacity {capacity:,.0f} req/s (closed loop, 16 clients, {generator(args)}), "
        f"then 4x that offered open loop for {args.overload:g} s by galley-loadgen (up to 1,000 connections; "
        f"latency from each request's dispatch, waiting for a connection included).\n\n"
        "| offered req/s | served req/s | rejected (429) req/s | served p50 / p99 ms | 429 p50 / p99 ms | wrong answers "
        "| other statuses | transport errors | RSS MiB: before, first half max, second half max |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        f"| {outcome['offered_rps']:,.0f} | {served / seconds:,.0f} | {rejected / seconds:,.0f} | "
        f"{ms('served_ms', 'p50')} / {ms('served_ms', 'p99')} | {ms('refused_ms', 'p50')} / {ms('refused_ms', 'p99')} | "
        f"{outcome['wrong_bodies']} | {statuses or 'none'} | {outcome['transport_errors']} | "
        f"{rss_before / 1024:.0f}, {max(head) / 1024:.0f}, {max(tail) / 1024:.0f} |\n"
    )
    print(text)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"serving-overload-{dt.datetime.now():%Y%m%d-%H%M%S}.md").write_text(text)


def run_log_overhead(workdir: Path, binary: str, onnx_path: Path, rows: np.ndarray, args) -> None:
    """One Galley deployment, its log_sample_rate switched (PATCH) between 0 and 1 in alternating
    order each round; the closed-loop sweep at each. The overhead is taken within each round, where
    the two rates ran back to back, so that drift between rounds (other work on the machine) cancels;
    the median over rounds is reported."""
    server = Galley(workdir, binary, onnx_path, log_sample_rate=0.0)
    by_rate: dict[float, list[dict]] = {0.0: [], 1.0: []}
    try:
        payloads = [server.payload(row) for row in rows]
        closed_level(server.url(), payloads, 8, 2, args.wrk)  # warm-up
        for round_ in range(args.log_overhead):
            for rate in ((0.0, 1.0) if round_ % 2 == 0 else (1.0, 0.0)):
                server.set_log_sample_rate(rate)
                closed_level(server.url(), payloads, 8, 1, args.wrk)  # settle after the change
                before = server.prediction_log()
                result = closed_loop_sweep(server, payloads, args, f"Galley log_sample_rate {rate:g}")
                after = server.prediction_log()
                result["dropped"] = (after.get("records_dropped", 0) - before.get("records_dropped", 0)
                                     if after and before else None)
                by_rate[rate].append(result)
        time.sleep(2.0)  # let the writer flush what it buffered
        log = server.prediction_log()
    finally:
        server.stop()

    def rps(result: dict, key: str) -> float:
        return result[key]["rps"] if result[key] else 0.0

    def med(rate: float, key: str) -> float:
        return float(np.median([rps(r, key) for r in by_rate[rate]]))

    def overheads(key: str) -> list[float]:
        """Per round: how much lower throughput was with every request logged, in %."""
        return [(1 - rps(on, key) / rps(off, key)) * 100 if rps(off, key) else float("nan")
                for off, on in zip(by_rate[0.0], by_rate[1.0])]

    lines = [
        f"### Serving overhead of prediction logging, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC "
        f"({os.cpu_count()} cores, one request = one row)",
        "",
        f"Command: `{os.environ.get('BENCH_CMDLINE', 'bench/serving/run.sh')}`; one deployment (replicas 2), "
        f"log_sample_rate switched by PATCH, {args.log_overhead} round(s) in alternating order; each a closed-loop "
        f"sweep through {generator(args)}, {args.seconds:g} s per concurrency level in {args.concurrency}; "
        f"median over rounds.",
        "",
        "| log_sample_rate | req/s at p99 < 10 ms (each round) | best req/s (each round) | records dropped |",
        "|---|---|---|---|",
    ]
    for rate, results in by_rate.items():
        slo = ", ".join(f"{r['best_under_slo']['rps']:,.0f}" if r["best_under_slo"] else "none" for r in results)
        best = ", ".join(f"{r['best']['rps']:,.0f}" for r in results)
        dropped = sum(r["dropped"] for r in results) if all(r["dropped"] is not None for r in results) else "n/a"
        lines.append(f"| {rate:g} | {med(rate, 'best_under_slo'):,.0f} ({slo}) | {med(rate, 'best'):,.0f} ({best}) | "
                     f"{dropped} |")
    overhead = {key: overheads(key) for key in ("best_under_slo", "best")}

    def overhead_text(key: str) -> str:
        each = ", ".join(f"{o:.1f}%" for o in overhead[key])
        return f"{float(np.median(overhead[key])):.1f}% (each round: {each})"

    lines += [
        "",
        f"Overhead of logging every request (within each round, median over rounds): "
        f"{overhead_text('best')} of max throughput (goal: below 5%), {overhead_text('best_under_slo')} of req/s "
        f"at p99 < 10 ms. Prediction log at the end: {log or 'n/a'}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"serving-log-overhead-{dt.datetime.now():%Y%m%d-%H%M%S}.md"
    path.write_text(text)
    print(f"written to {path.relative_to(ROOT)}")


def main() -> None:
    # Open-loop load keeps one socket per request in flight; the default 1024 is too few.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per concurrency level")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=CONCURRENCY,
                        help=f"closed-loop clients, comma-separated (default {','.join(map(str, CONCURRENCY))})")
    parser.add_argument("--wrk", action="store_true",
                        help="drive the closed loops with wrk (one native thread; apt-get install wrk) instead of aiohttp")
    parser.add_argument("--rate", type=float, default=200.0, help="offered load for the fixed-load latency")
    parser.add_argument("--overload", type=float, metavar="SECONDS",
                        help="instead: offer Galley 4x its capacity for SECONDS and report what it did")
    parser.add_argument("--log-overhead", type=int, metavar="ROUNDS",
                        help="instead: Galley's throughput with log_sample_rate 0 and 1, alternated ROUNDS times")
    parser.add_argument("--only", action="append", choices=["galley", "naive", "mlserver"],
                        help="run only these servers (repeatable)")
    args = parser.parse_args()
    if args.wrk:
        if args.seconds != int(args.seconds) or args.seconds < 1:
            parser.error("with --wrk, --seconds is whole seconds (wrk takes no fractions)")
        if not shutil.which("wrk"):
            parser.error("--wrk needs wrk on PATH (apt-get install wrk)")
    only = set(args.only or ["galley", "naive", "mlserver"])
    binary = os.environ.get("GALLEY_BIN")
    if "galley" in only and not binary:
        sys.exit("GALLEY_BIN must point at a release build of galley")

    workdir = Path(tempfile.mkdtemp(prefix="galley-bench-serving-"))
    try:
        run_all(workdir, binary, only, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_all(workdir: Path, binary: str | None, only: set[str], args: argparse.Namespace) -> None:
    onnx_path, joblib_path, rows, model = train(workdir)
    if args.overload:
        run_overload(workdir, binary, onnx_path, rows, model, args)
        return
    if args.log_overhead:
        run_log_overhead(workdir, binary, onnx_path, rows, args)
        return
    factories = {
        "galley": lambda: Galley(workdir, binary, onnx_path),
        "naive": lambda: Naive(workdir, onnx_path),
        "mlserver": lambda: MLServer(workdir, joblib_path),
    }
    results: dict[str, dict] = {}
    for key in ["galley", "naive", "mlserver"]:
        if key not in only:
            continue
        server = factories[key]()
        try:
            results[server.name] = measure(server, rows, args)
        finally:
            server.stop()
    text = report(results, args)
    print(text)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"serving-{dt.datetime.now():%Y%m%d-%H%M%S}.md"
    path.write_text(text)
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
