"""Feature-store benchmark: Galley against Feast on this machine, in one run, one peer at a time.

(a) Point-in-time join. Generated data (seeded numpy; not timed): an entity dataframe of
    --entity-rows rows (driver_id int64, customer_id string, event_timestamp, label) and
    --feature-rows feature rows split over 3 feature views (driver_stats: driver_id, ttl 3d;
    customer_profile: customer_id string, ttl 7d; driver_daily: driver_id, ttl 30d), 3 features
    each, with a `created` column, as Parquet.
    - Galley: `galley server` on a fresh data dir, the definitions applied, then
      `galley --url ... features get-historical --entity-df ... --features ... --output out.parquet`
      timed end to end (the CLI uploads the entity file and writes the answer); peak RSS is the
      server's VmHWM (the CLI's own is reported beside it).
    - Feast: a child process builds a Feast repo (file offline store), applies it and runs
      `get_historical_features(entity_df, features).to_df()` with the entity frame read by pandas;
      the reported time is read + retrieval (import and apply left out, in Feast's favour); peak
      RSS is the child's ru_maxrss. Each peer has a timeout (--timeout); a timed-out or killed
      peer is reported as such (Feast's file store merges every entity row with every feature row
      of its key before filtering, so memory grows with rows-per-key x entity-rows-per-key).
    The two training sets are compared afterwards on the rows both answered.
(b) Online reads: one feature view of 25 float64 features for --online-entities drivers,
    materialized, then `POST /get-online-features` for one random entity and all 25 features:
    Galley (embedded store; and `--online-store redis://...`) against `feast serve` (SQLite online
    store; and Redis), the same request bodies and the same load generator: sequential single
    client (p50/p99) and closed-loop clients at each --concurrency (req/s, p50/p99). The load
    generator (keep-alive connections; --load-procs processes) shares the machine's cores with the
    server under test; that is said in the output.

Prints a markdown table and writes it to bench/results/features-<timestamp>.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import wrk  # noqa: E402  (bench/wrk.py, shared with bench/serving)

THIS = str(Path(__file__).resolve())
BASE_TIME = "2024-01-01T00:00:00+00:00"
SPAN_DAYS = 30

HIST_VIEWS = {
    "driver_stats": {"source": "driver_stats", "keys": ["driver_id"], "entity": "driver", "ttl_s": 3 * 86400,
                      "features": [("conv_rate", "float64"), ("acc_rate", "float32"), ("trips", "int64")]},
    "customer_profile": {"source": "customer_profile", "keys": ["customer_id"], "entity": "customer",
                         "ttl_s": 7 * 86400,
                         "features": [("tier", "string"), ("lifetime_value", "float64"), ("age", "int32")]},
    "driver_daily": {"source": "driver_daily", "keys": ["driver_id"], "entity": "driver", "ttl_s": 30 * 86400,
                     "features": [("rating", "float64"), ("cancellations", "int64"), ("online_hours", "float32")]},
}
HIST_ENTITIES = {"driver": ("driver_id", "int64"), "customer": ("customer_id", "string")}
ONLINE_VIEW = "driver_online"
RESULT_MARK = "@@result "
ONLINE_FEATURES = [f"f{i:02d}" for i in range(25)]


def ttl_text(seconds: int) -> str:
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds}s"


def feature_refs() -> list[str]:
    return [f"{v}:{f}" for v, spec in HIST_VIEWS.items() for f, _ in spec["features"]]


def online_refs() -> list[str]:
    return [f"{ONLINE_VIEW}:{f}" for f in ONLINE_FEATURES]


# ---------------------------------------------------------------------------------------------
# Child processes: data, Feast, load. The parent keeps to the standard library, so its own peak
# RSS (the floor of every child's ru_maxrss, see run_measured) stays small.


def generate_historical(spec: dict) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = Path(spec["folder"])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec["seed"])
    base_us = int(dt.datetime.fromisoformat(BASE_TIME).timestamp() * 1_000_000)
    span_s = SPAN_DAYS * 86400
    ts_type = pa.timestamp("us", tz="UTC")
    n_drivers, n_customers = spec["drivers"], spec["customers"]

    def customer_ids(ints):
        return pc.binary_join_element_wise(pa.scalar("c"), pc.cast(pa.array(ints), pa.string()), "")

    def times(n, lo_s=0):
        seconds = rng.integers(lo_s, span_s, n)
        ts = base_us + seconds * 1_000_000
        created = ts + rng.integers(0, 3600, n) * 1_000_000
        return pa.array(ts).cast(ts_type), pa.array(created).cast(ts_type)

    rows = {}
    for index, (view, vs) in enumerate(HIST_VIEWS.items()):
        per_view = spec["feature_rows"] // len(HIST_VIEWS) + (index < spec["feature_rows"] % len(HIST_VIEWS))
        ts, created = times(per_view)
        cols = {}
        if vs["keys"] == ["driver_id"]:
            cols["driver_id"] = pa.array(rng.integers(0, n_drivers, per_view))
        else:
            cols["customer_id"] = customer_ids(rng.integers(0, n_customers, per_view))
        cols["event_timestamp"] = ts
        cols["created"] = created
        for name, dtype in vs["features"]:
            if dtype == "float64":
                cols[name] = pa.array(rng.random(per_view))
            elif dtype == "float32":
                cols[name] = pa.array(rng.random(per_view).astype("float32"))
            elif dtype == "int64":
                cols[name] = pa.array(rng.integers(0, 1000, per_view))
            elif dtype == "int32":
                cols[name] = pa.array(rng.integers(18, 90, per_view).astype("int32"))
            elif dtype == "string":
                cols[name] = pa.array(np.array(["bronze", "silver", "gold"])[rng.integers(0, 3, per_view)])
        pq.write_table(pa.table(cols), out / f"{vs['source']}.parquet")
        rows[view] = per_view
        del cols

    n = spec["entity_rows"]
    ts, _ = times(n, lo_s=86400)
    entity = pa.table({
        "driver_id": pa.array(rng.integers(0, n_drivers, n)),
        "customer_id": customer_ids(rng.integers(0, n_customers, n)),
        "event_timestamp": ts,
        "label": pa.array(rng.integers(0, 2, n)),
    })
    pq.write_table(entity, out / "entity_df.parquet")

    lines = ["entities:"]
    lines += [f"  - {{name: {e}, join_keys: [{k}]}}" for e, (k, _) in HIST_ENTITIES.items()]
    lines.append("sources:")
    lines += [f"  - {{name: {vs['source']}, path: {out / (vs['source'] + '.parquet')}, timestamp_field: event_timestamp, "
              f"created_timestamp_column: created}}" for vs in HIST_VIEWS.values()]
    lines.append("feature_views:")
    for view, vs in HIST_VIEWS.items():
        lines += [f"  - name: {view}", f"    entities: [{vs['entity']}]", f"    source: {vs['source']}",
                  f"    ttl: {ttl_text(vs['ttl_s'])}", "    online: false", "    schema:"]
        lines += [f"      - {{name: {f}, dtype: {t}}}" for f, t in vs["features"]]
    (out / "features.yaml").write_text("\n".join(lines) + "\n")
    return {"entity_rows": n, "feature_rows": rows, "folder": str(out)}


def generate_online(spec: dict) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(spec["folder"])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec["seed"])
    n = spec["entities"]
    # every value within the last hour, so that a 1d ttl never hides one
    now_us = int(time.time()) * 1_000_000
    ts = now_us - rng.integers(60, 3600, n) * 1_000_000
    cols = {"driver_id": pa.array(np.arange(n, dtype="int64")),
            "event_timestamp": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
            "created": pa.array(ts).cast(pa.timestamp("us", tz="UTC"))}
    for name in ONLINE_FEATURES:
        cols[name] = pa.array(np.round(rng.random(n), 6))
    pq.write_table(pa.table(cols), out / "driver_online.parquet")
    yaml = [
        "entities:", "  - {name: driver, join_keys: [driver_id]}",
        "sources:", f"  - {{name: driver_online, path: {out / 'driver_online.parquet'}, timestamp_field: event_timestamp, "
        "created_timestamp_column: created}",
        "feature_views:", f"  - name: {ONLINE_VIEW}", "    entities: [driver]", "    source: driver_online",
        "    ttl: 1d", "    online: true", "    schema:",
    ] + [f"      - {{name: {f}, dtype: float64}}" for f in ONLINE_FEATURES]
    (out / "features.yaml").write_text("\n".join(yaml) + "\n")
    start = dt.datetime.fromtimestamp((now_us // 1_000_000) - 2 * 3600, dt.timezone.utc)
    end = dt.datetime.fromtimestamp(now_us // 1_000_000 + 1, dt.timezone.utc)
    return {"folder": str(out), "entities": n, "start": start.isoformat().replace("+00:00", "Z"),
            "end": end.isoformat().replace("+00:00", "Z")}


def feast_repo(repo: Path, online: str | None) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    if online and online.startswith("redis://"):
        hostport, _, db = online.removeprefix("redis://").partition("/")
        connection = f"{hostport},db={db}" if db else hostport
        online_cfg = f"online_store:\n  type: redis\n  connection_string: \"{connection}\"\n"
    else:
        online_cfg = f"online_store:\n  type: sqlite\n  path: {repo / 'online.db'}\n"
    (repo / "feature_store.yaml").write_text(
        f"project: bench\nregistry: {repo / 'registry.db'}\nprovider: local\n{online_cfg}"
        "offline_store:\n  type: file\nentity_key_serialization_version: 3\n")


def feast_objects(folder: Path, views: dict, entities: dict):
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast import types as t

    dtypes = {"int32": t.Int32, "int64": t.Int64, "float32": t.Float32, "float64": t.Float64, "string": t.String}
    vtypes = {"int64": ValueType.INT64, "string": ValueType.STRING}
    ents = {name: Entity(name=name, join_keys=[key], value_type=vtypes[dtype]) for name, (key, dtype) in entities.items()}
    objects = list(ents.values())
    for view, vs in views.items():
        source = FileSource(name=vs["source"], path=str(folder / f"{vs['source']}.parquet"),
                            timestamp_field="event_timestamp", created_timestamp_column="created")
        objects += [source, FeatureView(name=view, entities=[ents[vs["entity"]]], ttl=dt.timedelta(seconds=vs["ttl_s"]),
                                        schema=[Field(name=f, dtype=dtypes[d]) for f, d in vs["features"]],
                                        source=source, online=vs.get("online", False))]
    return objects


def feast_historical(spec: dict) -> None:
    """In the child: Feast's file offline store on the generated data; timings to spec['result']."""
    import resource

    began = time.perf_counter()
    import feast
    import pandas as pd
    import pyarrow.parquet  # noqa: F401
    from feast import FeatureStore

    imported = time.perf_counter()
    folder, repo = Path(spec["folder"]), Path(spec["repo"])
    feast_repo(repo, None)
    store = FeatureStore(repo_path=str(repo))
    store.apply(feast_objects(folder, HIST_VIEWS, HIST_ENTITIES))
    applied = time.perf_counter()
    entity_df = pd.read_parquet(folder / "entity_df.parquet")
    read = time.perf_counter()
    rss_read = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    frame = store.get_historical_features(entity_df=entity_df, features=feature_refs()).to_df()
    joined = time.perf_counter()
    if spec.get("output"):
        frame.to_parquet(spec["output"], index=False)
    Path(spec["result"]).write_text(json.dumps({
        "import_s": imported - began, "apply_s": applied - imported, "read_s": read - applied,
        "join_s": joined - read, "rows_out": len(frame), "rss_read_kib": rss_read,
        "versions": {"feast": feast.__version__, "pandas": pd.__version__},
    }))


def feast_online_setup(spec: dict) -> None:
    """In the child: a Feast repo for the online view, applied and materialized."""
    from feast import FeatureStore

    folder, repo = Path(spec["folder"]), Path(spec["repo"])
    feast_repo(repo, spec.get("online_store"))
    store = FeatureStore(repo_path=str(repo))
    views = {ONLINE_VIEW: {"source": "driver_online", "keys": ["driver_id"], "entity": "driver", "ttl_s": 86400,
                           "online": True, "features": [(f, "float64") for f in ONLINE_FEATURES]}}
    store.apply(feast_objects(folder, views, {"driver": ("driver_id", "int64")}))
    began = time.perf_counter()
    start = dt.datetime.fromisoformat(spec["start"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(spec["end"].replace("Z", "+00:00"))
    store.materialize(start_date=start, end_date=end)
    Path(spec["result"]).write_text(json.dumps({"materialize_s": time.perf_counter() - began}))


def compare_historical(spec: dict) -> dict:
    """Galley's and Feast's training sets on the rows both answered (unique entity keys + time)."""
    import numpy as np
    import pandas as pd

    keys = ["driver_id", "customer_id", "event_timestamp", "label"]
    g = pd.read_parquet(spec["galley"])
    f = pd.read_parquet(spec["feast"])
    for frame in (g, f):
        frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True).astype("datetime64[us, UTC]")
    g = g.drop_duplicates(keys, keep=False)
    f = f.drop_duplicates(keys, keep=False)
    both = g.merge(f, on=keys, suffixes=("_g", "_f"))
    features = [name for v in HIST_VIEWS.values() for name, _ in v["features"]]
    unequal = {}
    for name in features:
        a, b = both[f"{name}_g"], both[f"{name}_f"]
        if a.dtype == object or b.dtype == object:
            same = (a.astype(object).where(a.notna(), None) == b.astype(object).where(b.notna(), None)) | (a.isna() & b.isna())
        else:
            a, b = a.astype("float64").to_numpy(), b.astype("float64").to_numpy()
            same = np.isclose(a, b, rtol=1e-6, atol=0) | (np.isnan(a) & np.isnan(b))
        unequal[name] = int((~np.asarray(same)).sum())
    return {"galley_rows": int(len(pd.read_parquet(spec["galley"], columns=["label"]))),
            "feast_rows": int(len(pd.read_parquet(spec["feast"], columns=["label"]))),
            "compared_rows": int(len(both)), "unequal_values": unequal}


# --- the load generator ------------------------------------------------------------------------


def _bodies(spec: dict) -> list[bytes]:
    import random

    rnd = random.Random(spec["seed"])
    features = online_refs()
    return [json.dumps({"features": features, "entities": {"driver_id": [rnd.randrange(spec["entities"])]}}).encode()
            for _ in range(spec["distinct_bodies"])]


def load_sequential(spec: dict) -> dict:
    """One client, one keep-alive connection, one request at a time."""
    import http.client

    host, port = spec["host"], spec["port"]
    bodies = _bodies(spec)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Content-Type": "application/json"}
    latencies, errors = [], 0
    total = spec["warmup"] + spec["requests"]
    for i in range(total):
        body = bodies[i % len(bodies)]
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/get-online-features", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            ok = response.status == 200 and data.startswith(b"{")
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
        elapsed = time.perf_counter() - t0
        if i >= spec["warmup"]:
            latencies.append(elapsed)
            errors += not ok
    return {"latencies": latencies, "errors": errors}


def load_closed(spec: dict) -> dict:
    """`clients` closed-loop clients on keep-alive connections for `seconds` (after a warm-up)."""
    import asyncio

    import aiohttp

    bodies = _bodies(spec)
    url = f"http://{spec['host']}:{spec['port']}/get-online-features"

    async def main() -> dict:
        latencies: list[float] = []
        errors = 0
        connector = aiohttp.TCPConnector(limit=spec["clients"], force_close=False)
        async with aiohttp.ClientSession(connector=connector, headers={"Content-Type": "application/json"}) as session:
            warm_until = time.perf_counter() + spec["warmup_s"]
            stop = warm_until + spec["seconds"]

            async def client(k: int) -> None:
                nonlocal errors
                i = k
                while True:
                    now = time.perf_counter()
                    if now >= stop:
                        return
                    body = bodies[i % len(bodies)]
                    i += spec["clients"]
                    t0 = time.perf_counter()
                    try:
                        async with session.post(url, data=body) as response:
                            data = await response.read()
                            ok = response.status == 200 and data[:1] == b"{"
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        ok = False
                    t1 = time.perf_counter()
                    if t0 >= warm_until and t1 <= stop:
                        latencies.append(t1 - t0)
                        errors += not ok

            await asyncio.gather(*(client(k) for k in range(spec["clients"])))
        return {"latencies": latencies, "errors": errors, "seconds": spec["seconds"]}

    return asyncio.run(main())


WORKERS = {
    "_generate_historical": generate_historical,
    "_generate_online": generate_online,
    "_feast_historical": feast_historical,
    "_feast_online_setup": feast_online_setup,
    "_compare": compare_historical,
    "_load_sequential": load_sequential,
    "_load_closed": load_closed,
}


# ---------------------------------------------------------------------------------------------
# The parent (standard library only)


def child(name: str, spec: dict, timeout: float | None = None) -> dict:
    done = subprocess.run([sys.executable, THIS, name, json.dumps(spec)], capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    return {}


def run_measured(command: list[str], timeout: float | None = None, env: dict | None = None) -> dict:
    """Runs `command`; answers exit code, wall seconds, peak RSS (KiB, the kernel's count for
    this child alone; a child that execs starts from a copy of this process, so this process's
    own peak is the floor) and output. On timeout the child is killed and `timed_out` is set."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        deadline = None if timeout is None else began + timeout
        timed_out = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if deadline and time.perf_counter() > deadline:
                process.send_signal(signal.SIGKILL)
                timed_out = True
                deadline = None
                continue
            time.sleep(0.05)
        wall = time.perf_counter() - began
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"rc": code, "wall_s": wall, "maxrss_kib": usage.ru_maxrss, "timed_out": timed_out,
                "stdout": out.read().decode(errors="replace"), "stderr": err.read().decode(errors="replace")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0, process: subprocess.Popen | None = None, method: str = "GET",
              body: bytes | None = None) -> None:
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before {url} answered")
        try:
            request = urllib.request.Request(url, data=body, method=method,
                                             headers={"Content-Type": "application/json"} if body else {})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}: {e.read()[:300]!r}"
        except (urllib.error.URLError, OSError) as e:
            last = str(e)
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f}s (last: {last})")


def post_json(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def stop(process: subprocess.Popen | None, timeout: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
        process.wait()


class GalleyServer:
    def __init__(self, binary: str, workdir: Path, extra: list[str] | None = None):
        self.binary = binary
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "galley.log"
        self.process = subprocess.Popen(
            [binary, "server", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(workdir / "data"),
             *(extra or [])],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"), env={**os.environ, "GALLEY_LOG": "warn"},
            start_new_session=True)
        wait_http(f"{self.uri}/health", process=self.process)

    def cli(self, *args: str, timeout: float | None = None) -> dict:
        r = run_measured([self.binary, "--url", self.uri, *args], timeout=timeout)
        if r["rc"] != 0 and not r["timed_out"]:
            raise RuntimeError(f"galley {' '.join(args)} failed ({r['rc']}):\n{r['stderr'][-3000:]}\n"
                               f"--- server log ---\n{self.log.read_text()[-2000:]}")
        return r

    def stop(self) -> None:
        stop(self.process)


class FeastServer:
    def __init__(self, venv_bin: Path, repo: Path, workers: int):
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.log = repo / "feast-serve.log"
        command = [str(venv_bin / "feast"), "-c", str(repo), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--no-access-log", "--workers", str(workers), "--registry_ttl_sec", "3600",
                   "--max-requests", "100000000"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"),
                                        env={**os.environ, "FEAST_USAGE": "False"}, start_new_session=True)
        probe = json.dumps({"features": online_refs()[:1], "entities": {"driver_id": [0]}}).encode()
        wait_http(f"{self.uri}/get-online-features", timeout=120, process=self.process, method="POST", body=probe)

    def stop(self) -> None:
        stop(self.process)


def start_redis(workdir: Path) -> tuple[str | None, subprocess.Popen | None, str]:
    url = os.environ.get("GALLEY_BENCH_REDIS_URL", "").strip()
    if url:
        # a shared Redis: our own database number, emptied before each peer
        url = f"redis://{url.removeprefix('redis://').split('/')[0]}/{os.environ.get('GALLEY_BENCH_REDIS_DB', '12')}"
        return url, None, f"Redis at {url} (GALLEY_BENCH_REDIS_URL, database GALLEY_BENCH_REDIS_DB)"
    binary = shutil.which("redis-server")
    if not binary:
        return None, None, "no redis-server installed and GALLEY_BENCH_REDIS_URL not set"
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()
                    v = next((w for w in version if w.startswith("v=")), "v=?")[2:]
                    return f"redis://127.0.0.1:{port}", process, f"redis-server {v} on a free port"
        except OSError:
            time.sleep(0.05)
    stop(process)
    return None, None, "redis-server did not start"


def redis_flush(url: str) -> None:
    """Empties the database the URL names (0 when none)."""
    hostport, _, db = url.removeprefix("redis://").partition("/")
    host, port = hostport.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        for command in (f"SELECT {db or 0}".encode(), b"FLUSHDB"):
            s.sendall(command + b"\r\n")
            s.recv(64)


# --- (a) point-in-time join -------------------------------------------------------------------


def run_historical(args, workdir: Path) -> dict:
    folder = workdir / "historical"
    print(f"generating {args.entity_rows:,} entity rows and {args.feature_rows:,} feature rows ...", file=sys.stderr)
    began = time.perf_counter()
    data = child("_generate_historical", {"folder": str(folder), "seed": args.seed, "entity_rows": args.entity_rows,
                                          "feature_rows": args.feature_rows, "drivers": args.drivers,
                                          "customers": args.customers})
    print(f"  generated in {time.perf_counter() - began:.1f}s", file=sys.stderr)
    result: dict = {"data": data}
    refs = feature_refs()

    if args.only in (None, "galley"):
        if not args.galley_bin:
            result["galley"] = {"skipped": "GALLEY_BIN is not set"}
        else:
            print("Galley: get-historical ...", file=sys.stderr)
            server = GalleyServer(args.galley_bin, workdir / "galley-historical")
            try:
                server.cli("features", "apply", str(folder / "features.yaml"))
                hwm_before = vm_hwm_kib(server.process.pid)
                out = workdir / "galley-training.parquet"
                r = server.cli("features", "get-historical", "--entity-df", str(folder / "entity_df.parquet"),
                               "--features", ",".join(refs), "--output", str(out), timeout=args.timeout)
                result["galley"] = {"wall_s": r["wall_s"], "timed_out": r["timed_out"],
                                    "server_hwm_kib": vm_hwm_kib(server.process.pid), "server_hwm_before_kib": hwm_before,
                                    "cli_maxrss_kib": r["maxrss_kib"], "output": str(out) if out.exists() else None,
                                    "server_alive": server.process.poll() is None}
            finally:
                server.stop()

    if args.only in (None, "feast"):
        print("Feast: get_historical_features(...).to_df() ...", file=sys.stderr)
        result_file = workdir / "feast-historical.json"
        out = workdir / "feast-training.parquet"
        spec = {"folder": str(folder), "repo": str(workdir / "feast-historical-repo"), "result": str(result_file),
                "output": str(out)}
        r = run_measured([sys.executable, THIS, "_feast_historical", json.dumps(spec)], timeout=args.timeout,
                         env={**os.environ, "FEAST_USAGE": "False", "DO_NOT_TRACK": "1"})
        feast = {"wall_s": r["wall_s"], "maxrss_kib": r["maxrss_kib"], "timed_out": r["timed_out"], "rc": r["rc"]}
        if r["rc"] == 0 and result_file.exists():
            feast.update(json.loads(result_file.read_text()))
            feast["output"] = str(out)
        elif not r["timed_out"]:
            feast["error"] = r["stderr"][-1500:]
            if r["rc"] in (-9, 137):
                feast["error"] = "killed (SIGKILL: out of memory?)\n" + feast["error"]
        result["feast"] = feast

    g, f = result.get("galley", {}), result.get("feast", {})
    if g.get("output") and f.get("output"):
        try:
            result["compare"] = child("_compare", {"galley": g["output"], "feast": f["output"]}, timeout=args.timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            result["compare"] = {"error": str(e)[-500:]}
    return result


# --- (b) online reads ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(q / 100 * (len(values) - 1)))))
    return values[k]


def measure_online(host: str, port: int, args) -> dict:
    spec = {"host": host, "port": port, "seed": args.seed, "entities": args.online_entities,
            "distinct_bodies": 4096}
    seq = child("_load_sequential", {**spec, "warmup": args.warmup_requests, "requests": args.requests},
                timeout=args.timeout)
    result = {"sequential": {"p50_ms": percentile(seq["latencies"], 50) * 1000,
                             "p99_ms": percentile(seq["latencies"], 99) * 1000,
                             "n": len(seq["latencies"]), "errors": seq["errors"]}}
    for clients in args.concurrency:
        procs = max(1, min(args.load_procs, clients))
        per = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
        running = [subprocess.Popen([sys.executable, THIS, "_load_closed",
                                     json.dumps({**spec, "seed": args.seed + i, "clients": n, "seconds": args.seconds,
                                                 "warmup_s": 1.0})],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for i, n in enumerate(per)]
        latencies, errors = [], 0
        for p in running:
            out, err = p.communicate(timeout=args.seconds + 120)
            if p.returncode != 0:
                raise RuntimeError(f"load generator failed: {err[-2000:]}")
            answer = json.loads(next(line for line in reversed(out.splitlines()) if line.startswith(RESULT_MARK))
                                [len(RESULT_MARK):])
            latencies += answer["latencies"]
            errors += answer["errors"]
        result[f"c{clients}"] = {"rps": len(latencies) / args.seconds, "p50_ms": percentile(latencies, 50) * 1000,
                                 "p99_ms": percentile(latencies, 99) * 1000, "errors": errors}
        if args.wrk:
            result[f"wrk{clients}"] = measure_wrk(host, port, spec, clients, args.seconds)
    return result


def measure_wrk(host: str, port: int, spec: dict, clients: int, seconds: float) -> dict:
    """The same closed loop through wrk (one native thread), which leaves the server more CPU."""
    return wrk.closed_loop(f"http://{host}:{port}/get-online-features", _bodies({**spec, "distinct_bodies": 256}),
                           clients, seconds)


def check_same_answers(a_uri: str, b_uri: str, entities: int) -> str:
    """A few entities read from both servers: the same 25 values?"""
    features = online_refs()
    for driver in (0, entities // 2, entities - 1):
        body = {"features": features, "entities": {"driver_id": [driver]}}
        a, b = post_json(f"{a_uri}/get-online-features", body), post_json(f"{b_uri}/get-online-features", body)
        va = dict(zip(a["metadata"]["feature_names"], [r["values"][0] for r in a["results"]]))
        vb = dict(zip(b["metadata"]["feature_names"], [r["values"][0] for r in b["results"]]))
        if va != vb:
            return f"answers differ for driver {driver}: {va} vs {vb}"
    return "same values"


def run_online(args, workdir: Path) -> dict:
    folder = workdir / "online"
    data = child("_generate_online", {"folder": str(folder), "seed": args.seed, "entities": args.online_entities})
    venv_bin = Path(sys.executable).parent
    results: dict = {"data": data, "peers": {}}
    redis_url, redis_proc, redis_note = start_redis(workdir / "redis")
    results["redis"] = redis_note
    reference_uri = None
    try:
        peers = []
        if args.only in (None, "galley"):
            peers += [("Galley", "embedded"), ("Galley", "redis")]
        if args.only in (None, "feast"):
            peers += [("Feast", "sqlite"), ("Feast", "redis")]
        for peer, store in peers:
            name = f"{peer} ({store})"
            if store == "redis" and not redis_url:
                results["peers"][name] = {"skipped": redis_note}
                continue
            if peer == "Galley" and not args.galley_bin:
                results["peers"][name] = {"skipped": "GALLEY_BIN is not set"}
                continue
            if redis_url and store == "redis":
                redis_flush(redis_url)
            print(f"{name}: materialize + load ...", file=sys.stderr)
            server = None
            try:
                if peer == "Galley":
                    extra = ["--online-store", redis_url] if store == "redis" else []
                    server = GalleyServer(args.galley_bin, workdir / f"galley-{store}", extra)
                    server.cli("features", "apply", str(folder / "features.yaml"))
                    m = server.cli("features", "materialize", "--start", data["start"], "--end", data["end"])
                    entry = {"materialize_s": m["wall_s"]}
                else:
                    repo = workdir / f"feast-{store}-repo"
                    result_file = workdir / f"feast-{store}-materialize.json"
                    child("_feast_online_setup", {"folder": str(folder), "repo": str(repo), "result": str(result_file),
                                                  "online_store": redis_url if store == "redis" else None,
                                                  "start": data["start"], "end": data["end"]}, timeout=args.timeout)
                    entry = json.loads(result_file.read_text())
                    server = FeastServer(venv_bin, repo, args.feast_workers)
                if reference_uri is None:
                    reference_uri = server.uri
                    entry["check"] = "reference"
                elif reference_uri != server.uri:
                    try:
                        entry["check"] = check_same_answers(reference_uri, server.uri, args.online_entities)
                    except (urllib.error.URLError, OSError):
                        entry["check"] = "reference server gone"
                entry.update(measure_online("127.0.0.1", server.port, args))
                if peer == "Galley":
                    entry["rss_kib"] = vm_hwm_kib(server.process.pid)
                results["peers"][name] = entry
            except Exception as e:  # noqa: BLE001 - a failing peer is reported, the others still run
                results["peers"][name] = {"error": str(e)[-1500:]}
            finally:
                # the first server stays up as the reference for answer checks
                if server is not None and server.uri != reference_uri:
                    server.stop()
                elif server is not None:
                    results.setdefault("_keep", []).append(server)
    finally:
        for server in results.pop("_keep", []):
            server.stop()
        stop(redis_proc)
    return results


# --- report -------------------------------------------------------------------------------------


def mib(kib: float) -> str:
    return f"{kib / 1024:,.0f}"


def ratio(a: float, b: float) -> str:
    if not a or not b or a != a or b != b:
        return ""
    x = a / b
    return f"{x:.0f}x" if x >= 10 else f"{x:.1f}x"


def report(args, hist: dict | None, online: dict | None, versions: dict) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    lines = [f"### Feature store, {now:%Y-%m-%d %H:%M} UTC ({os.cpu_count()} cores)", "",
             f"Command: `{os.environ.get('BENCH_CMDLINE', 'bench/features/run.sh')}`; Feast {versions.get('feast', '?')} "
             f"(pandas {versions.get('pandas', '?')}); per-peer timeout {args.timeout:g} s; load average at the start "
             f"{args.loadavg[0]:.1f} (1 min) on {os.cpu_count()} cores" + (" — other work was running: figures are contended"
                                                                            if args.loadavg[0] > 0.5 else "") + ".", ""]
    if hist:
        d = hist["data"]
        feature_rows = sum(d["feature_rows"].values())
        lines += [
            f"**(a) Point-in-time join**: {d['entity_rows']:,} entity rows; {feature_rows:,} feature rows over "
            f"{len(d['feature_rows'])} views ({', '.join(f'{k} {v:,}' for k, v in d['feature_rows'].items())}); "
            f"{args.drivers:,} drivers, {args.customers:,} customers, 9 features. Galley: the whole "
            f"`galley features get-historical` command against a running server (upload, join, Parquet out), peak RSS "
            f"= the server's VmHWM. Feast: file offline store, `pd.read_parquet(entity_df)` + "
            f"`get_historical_features(...).to_df()` in a child process (import and apply left out), peak RSS = its ru_maxrss.",
            "",
            "| peer | time s | peak RSS MiB | rows out | note | Galley speedup |",
            "|---|---|---|---|---|---|",
        ]
        g, f = hist.get("galley", {}), hist.get("feast", {})
        if g.get("skipped"):
            lines.append(f"| Galley | - | - | - | skipped: {g['skipped']} | |")
        elif g:
            note = "timed out" if g["timed_out"] else ""
            lines.append(f"| Galley | {g['wall_s']:.2f} | {mib(g['server_hwm_kib'])} (CLI {mib(g['cli_maxrss_kib'])}) | "
                         f"{hist.get('compare', {}).get('galley_rows', '')} | {note} | |")
        if f:
            if f.get("timed_out"):
                lines.append(f"| Feast | > {args.timeout:g} (killed) | {mib(f['maxrss_kib'])} at the kill | - | timed out | |")
            elif f.get("error"):
                first = f["error"].strip().splitlines()[-1][:160] if f["error"].strip() else "failed"
                lines.append(f"| Feast | {f['wall_s']:.1f} (failed) | {mib(f['maxrss_kib'])} | - | rc {f['rc']}: {first} | |")
            else:
                t = f["read_s"] + f["join_s"]
                speed = ratio(t, g.get("wall_s")) if g.get("wall_s") and not g.get("timed_out") else ""
                lines.append(f"| Feast | {t:.2f} (read {f['read_s']:.2f} + join {f['join_s']:.2f}; import {f['import_s']:.1f}, "
                             f"apply {f['apply_s']:.1f}) | {mib(f['maxrss_kib'])} | {f['rows_out']:,} | "
                             f"drops rows matched only outside ttl, collapses duplicate keys+time | {speed} |")
        c = hist.get("compare")
        if c and "compared_rows" in c:
            bad = {k: v for k, v in c["unequal_values"].items() if v}
            lines += ["", f"Agreement on the {c['compared_rows']:,} rows both answered (unique keys + time + label): "
                      + ("every value equal." if not bad else f"values differ: {bad} (ties broken differently?)")]
        elif c:
            lines += ["", f"Comparison failed: {c.get('error', '')}"]
        lines.append("")
    if online:
        d = online["data"]
        lines += [
            f"**(b) Online reads**: `POST /get-online-features`, 1 entity x 25 float64 features (one view), "
            f"{d['entities']:,} entities materialized; sequential: {args.requests:,} requests on one keep-alive connection "
            f"after {args.warmup_requests} warm-up; closed loop: N clients for {args.seconds:g} s each, generator in "
            f"{args.load_procs} process(es). `feast serve --workers {args.feast_workers}` (no access log, registry ttl 3600 s). "
            f"Redis: {online['redis']}. **On {os.cpu_count()} cores the load generator competes with the server for CPU**: "
            f"throughput figures are lower bounds for both.",
            "",
        ]
        conc = [f"c{c}" for c in args.concurrency]
        header = "| server | materialize s | seq p50 ms | seq p99 ms | " + " | ".join(
            f"req/s @{c[1:]} (p50/p99 ms)" for c in conc) + " | errors | answers |"
        lines += [header, "|" + "---|" * (6 + len(conc))]
        peers = online["peers"]
        for name, r in peers.items():
            if "skipped" in r or "error" in r:
                lines.append(f"| {name} | " + " | ".join([""] * (4 + len(conc))) +
                             f" | {'skipped: ' + r['skipped'] if 'skipped' in r else 'failed: ' + r['error'].strip().splitlines()[-1][:150]} |")
                continue
            errors = r["sequential"]["errors"] + sum(r[c]["errors"] for c in conc)
            cells = [f"{r[c]['rps']:,.0f} ({r[c]['p50_ms']:.2f}/{r[c]['p99_ms']:.2f})" for c in conc]
            lines.append(f"| {name} | {r.get('materialize_s', float('nan')):.2f} | {r['sequential']['p50_ms']:.2f} | "
                         f"{r['sequential']['p99_ms']:.2f} | " + " | ".join(cells) + f" | {errors} | {r.get('check', '')} |")
        pairs = [("Galley (embedded)", "Feast (sqlite)"), ("Galley (redis)", "Feast (redis)")]
        ratios = []
        for g, f in pairs:
            if "sequential" in peers.get(g, {}) and "sequential" in peers.get(f, {}):
                G, F = peers[g], peers[f]
                parts = [f"sequential p99 Feast/Galley {ratio(F['sequential']['p99_ms'], G['sequential']['p99_ms'])}",
                         f"p50 Feast/Galley {ratio(F['sequential']['p50_ms'], G['sequential']['p50_ms'])}"]
                parts += [f"req/s @{c[1:]} Galley/Feast {ratio(G[c]['rps'], F[c]['rps'])}" for c in conc]
                ratios.append(f"- {g} vs {f}: " + ", ".join(parts))
        if ratios:
            lines += ["", *ratios]
        if args.wrk:
            lines += ["", f"The same closed loop through `wrk -t1` (one native thread), {args.seconds:g} s per level:", "",
                      "| server | " + " | ".join(f"req/s @{c} (p50/p99 ms)" for c in args.concurrency) + " | non-2xx |",
                      "|" + "---|" * (2 + len(args.concurrency))]
            for name, r in peers.items():
                if f"wrk{args.concurrency[0]}" not in r:
                    continue
                cells = [f"{r[f'wrk{c}']['rps']:,.0f} ({r[f'wrk{c}']['p50_ms']:.2f}/{r[f'wrk{c}']['p99_ms']:.2f})"
                         for c in args.concurrency]
                lines.append(f"| {name} | " + " | ".join(cells) +
                             f" | {sum(r[f'wrk{c}']['errors'] for c in args.concurrency)} |")
            for g, f in pairs:
                G, F = peers.get(g, {}), peers.get(f, {})
                if all(f"wrk{c}" in G and f"wrk{c}" in F for c in args.concurrency):
                    lines.append(f"- {g} vs {f} (wrk): " + ", ".join(
                        f"req/s @{c} Galley/Feast {ratio(G[f'wrk{c}']['rps'], F[f'wrk{c}']['rps'])}"
                        for c in args.concurrency))
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in WORKERS:
        answer = WORKERS[sys.argv[1]](json.loads(sys.argv[2]))
        if answer is not None:
            print(RESULT_MARK + json.dumps(answer))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entity-rows", type=int, default=1_000_000)
    ap.add_argument("--feature-rows", type=int, default=10_000_000, help="over the 3 views (default 10,000,000)")
    ap.add_argument("--drivers", type=int, help="distinct drivers (default: about 33 rows per driver and view)")
    ap.add_argument("--customers", type=int, help="distinct customers (default: as --drivers)")
    ap.add_argument("--timeout", type=float, default=1800, help="per peer and step, seconds (default 1800)")
    ap.add_argument("--only", choices=["galley", "feast"])
    ap.add_argument("--skip-historical", action="store_true")
    ap.add_argument("--skip-online", action="store_true")
    ap.add_argument("--online-entities", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=3000, help="sequential requests (default 3000)")
    ap.add_argument("--warmup-requests", type=int, default=300)
    ap.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[8, 32])
    ap.add_argument("--seconds", type=float, default=10.0, help="per closed-loop level (default 10)")
    ap.add_argument("--load-procs", type=int, default=1, help="load generator processes (default 1)")
    ap.add_argument("--feast-workers", type=int, default=1, help="`feast serve --workers` (default 1)")
    ap.add_argument("--wrk", action="store_true",
                    help="also measure the closed loop with wrk (a native load generator; apt-get install wrk)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, help="where data goes (default: a temporary folder)")
    ap.add_argument("--keep-data", action="store_true")
    args = ap.parse_args()
    args.galley_bin = os.environ.get("GALLEY_BIN", "").strip() or None
    args.loadavg = os.getloadavg()
    per_view = args.feature_rows // len(HIST_VIEWS)
    args.drivers = args.drivers or max(10, per_view // 33)
    args.customers = args.customers or args.drivers
    if args.galley_bin is None and args.only != "feast":
        print("=" * 80 + "\nGALLEY_BIN is not set: only Feast is measured.\n" + "=" * 80, file=sys.stderr)

    workdir = Path(tempfile.mkdtemp(prefix="bench-features-", dir=args.workdir))
    versions = {}
    try:
        out = subprocess.run([sys.executable, "-c", "import feast, pandas; print(feast.__version__, pandas.__version__)"],
                             capture_output=True, text=True)
        if out.returncode == 0:
            versions["feast"], versions["pandas"] = out.stdout.split()
        hist = None if args.skip_historical else run_historical(args, workdir)
        online = None if args.skip_online else run_online(args, workdir)
    finally:
        if args.keep_data:
            print(f"data kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    text = report(args, hist, online, versions)
    print()
    print(text)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"features-{dt.datetime.now():%Y%m%d-%H%M%S}.md"
    path.write_text(text)
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
