"""Fixtures for Galley's MLflow wire-compatibility tests.

The tests drive a tracking server through the real ``mlflow`` client.

* ``GALLEY_TEST_TRACKING_URI`` set: use that server as is (e.g. a real
  ``mlflow server`` to check that the tests encode MLflow's behaviour). Set
  ``GALLEY_TEST_PEER=mlflow`` as well when it is MLflow, so tests marked
  ``galley_only`` are skipped.
* otherwise: start ``$GALLEY_BIN server --host 127.0.0.1 --port P --data-dir D``
  for the whole session and stop it at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

# Must be set before the client issues its first request: a server error has
# to fail the test right away instead of being retried with backoff for
# minutes.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "0"
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
# No git lookups / telemetry / env-manager noise from the client.
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

import mlflow  # noqa: E402
import pytest  # noqa: E402
import requests  # noqa: E402

EXTERNAL_URI = os.environ.get("GALLEY_TEST_TRACKING_URI", "").strip()
# Which implementation is behind the URI: "galley" (default) or "mlflow".
PEER = os.environ.get("GALLEY_TEST_PEER", "galley").strip().lower() or "galley"
HEALTH_TIMEOUT_S = 30.0


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "galley_only: behaviour Galley is required to have but real MLflow does "
        "not share; skipped when GALLEY_TEST_PEER=mlflow",
    )


def pytest_collection_modifyitems(config, items):
    if PEER != "mlflow":
        return
    skip = pytest.mark.skip(reason="galley_only: not MLflow behaviour (GALLEY_TEST_PEER=mlflow)")
    for item in items:
        if "galley_only" in item.keywords:
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, limit: int = 8000) -> str:
    try:
        data = path.read_text(errors="replace")
    except OSError as e:  # pragma: no cover - diagnostics only
        return f"<cannot read {path}: {e}>"
    return data[-limit:]


class ServerInfo:
    """Where the server under test lives; ``data_dir`` only when we started it."""

    def __init__(self, uri: str, data_dir: Path | None, peer: str):
        self.uri = uri.rstrip("/")
        self.data_dir = data_dir
        self.peer = peer


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> ServerInfo:
    if EXTERNAL_URI:
        uri = EXTERNAL_URI.rstrip("/")
        try:
            r = requests.get(f"{uri}/health", timeout=10)
        except requests.RequestException as e:
            pytest.exit(f"GALLEY_TEST_TRACKING_URI={uri} is not reachable: {e}", returncode=3)
        if r.status_code != 200:
            pytest.exit(f"GET {uri}/health answered {r.status_code}: {r.text[:500]}", returncode=3)
        yield ServerInfo(uri, None, PEER)
        return

    bin_path = os.environ.get("GALLEY_BIN", "").strip()
    if not bin_path:
        pytest.exit(
            "GALLEY_BIN is not set: point it at the galley binary "
            "(e.g. GALLEY_BIN=target/release/galley) or set GALLEY_TEST_TRACKING_URI "
            "to test an already running server",
            returncode=3,
        )
    if not (os.path.isfile(bin_path) and os.access(bin_path, os.X_OK)):
        pytest.exit(f"GALLEY_BIN={bin_path} does not exist or is not executable", returncode=3)

    base = tmp_path_factory.mktemp("galley")
    data_dir = base / "data"
    data_dir.mkdir()
    stdout_path = base / "server.stdout"
    stderr_path = base / "server.stderr"
    port = _free_port()
    cmd = [
        bin_path, "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
        # Logged predictions reach their files quickly, so monitoring scenarios need not wait.
        "--prediction-flush-seconds", "0.5",
    ]
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"

    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    last_err = "no attempt"
    while True:
        rc = proc.poll()
        if rc is not None:
            pytest.exit(
                f"galley server exited with status {rc} before answering /health\n"
                f"command: {' '.join(cmd)}\n--- stderr ---\n{_tail(stderr_path)}\n"
                f"--- stdout ---\n{_tail(stdout_path)}",
                returncode=3,
            )
        try:
            r = requests.get(f"{uri}/health", timeout=2)
            if r.status_code == 200:
                break
            last_err = f"status {r.status_code}"
        except requests.RequestException as e:
            last_err = str(e)
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.exit(
                f"galley server did not answer GET /health with 200 within {HEALTH_TIMEOUT_S:.0f}s "
                f"(last: {last_err})\ncommand: {' '.join(cmd)}\n--- stderr ---\n{_tail(stderr_path)}",
                returncode=3,
            )
        time.sleep(0.1)

    try:
        yield ServerInfo(uri, data_dir, "galley")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def tracking_uri(server: ServerInfo) -> str:
    os.environ["MLFLOW_TRACKING_URI"] = server.uri
    mlflow.set_tracking_uri(server.uri)
    return server.uri


@pytest.fixture(autouse=True)
def _mlflow_state(tracking_uri):
    """Every test talks to the server under test and leaves no active run behind."""
    mlflow.set_tracking_uri(tracking_uri)
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def client(tracking_uri) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=tracking_uri)


def unique(prefix: str = "t") -> str:
    """A name no other test (or earlier run of this suite) has used."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def uniq():
    return unique


@pytest.fixture
def experiment_id(client, request) -> str:
    """A fresh experiment for this test."""
    return client.create_experiment(unique(f"exp-{request.node.name[:40]}"))


class Api:
    """Thin raw-REST helper for what the client cannot express."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def post(self, endpoint: str, payload=None, **kw) -> requests.Response:
        return requests.post(self.url(f"/api/2.0/mlflow/{endpoint}"), json=payload, timeout=30, **kw)

    def get(self, endpoint: str, params=None, **kw) -> requests.Response:
        return requests.get(self.url(f"/api/2.0/mlflow/{endpoint}"), params=params, timeout=30, **kw)


@pytest.fixture
def api(tracking_uri) -> Api:
    return Api(tracking_uri)
