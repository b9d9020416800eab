"""Fixtures for the feature-store tests: the dataset, Feast's answers on it, and Galley servers.

* The dataset (make_dataset.py) is generated once per session with its anchor one hour before
  now (floored to the minute), so that online ttl checks against the wall clock mean something.
* Feast's answers (feast_reference.py) are computed once per session with
  ``$GALLEY_FEAST_PYTHON`` (default: this interpreter; tests/features/run.sh runs pytest in the
  Feast venv from scripts/feast-env.sh).
* Galley: ``$GALLEY_BIN server --host 127.0.0.1 --port P --data-dir D`` is started per session
  (embedded online store), and a second one with ``--online-store redis://...`` when Redis is
  reachable (``GALLEY_TEST_REDIS_URL``, or a throwaway ``redis-server`` on a free port).
  Every Galley test is skipped, loudly, when ``$GALLEY_BIN`` is unset or
  ``$GALLEY_BIN features --help`` fails (the feature store not built in yet); the Feast-side
  tests run regardless.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# The client package is tested from the source tree (python/), whatever is installed.
sys.path.insert(0, str(ROOT / "python"))

HEALTH_TIMEOUT_S = 30.0
FEAST_PYTHON = os.environ.get("GALLEY_FEAST_PYTHON", "").strip() or sys.executable

_BANNER = "=" * 96


def _probe_galley() -> tuple[str | None, str]:
    """(binary, "") when the feature-store commands exist; (None, why) otherwise."""
    binary = os.environ.get("GALLEY_BIN", "").strip()
    if not binary:
        return None, "GALLEY_BIN is not set"
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        return None, f"GALLEY_BIN={binary} does not exist or is not executable"
    try:
        done = subprocess.run([binary, "features", "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"`{binary} features --help` could not run: {e}"
    if done.returncode != 0:
        return None, (f"`{binary} features --help` exited with {done.returncode}: the feature store is not in "
                      f"this binary yet\n{(done.stderr or done.stdout).strip()[:600]}")
    return binary, ""


GALLEY_BIN, GALLEY_MISSING = _probe_galley()


def pytest_report_header(config):
    if GALLEY_MISSING:
        return [_BANNER, f"SKIPPING every Galley feature-store test: {GALLEY_MISSING}",
                "Only the Feast-side tests run.", _BANNER]
    return [f"galley: {GALLEY_BIN}; Feast python: {FEAST_PYTHON}"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if GALLEY_MISSING:
        terminalreporter.write_line(_BANNER, red=True, bold=True)
        terminalreporter.write_line(f"SKIPPED every Galley feature-store test: {GALLEY_MISSING}", red=True, bold=True)
        terminalreporter.write_line(_BANNER, red=True, bold=True)


def require_galley() -> str:
    if GALLEY_MISSING:
        pytest.skip(f"SKIPPED (no Galley feature store): {GALLEY_MISSING}")
    return GALLEY_BIN


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError as e:
        return f"<cannot read {path}: {e}>"


# ---------------------------------------------------------------------------------------------
# Dataset and Feast


def anchor_now() -> dt.datetime:
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    return now - dt.timedelta(hours=1)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dataset")
    anchor = anchor_now().isoformat().replace("+00:00", "Z")
    subprocess.run([sys.executable, str(HERE / "make_dataset.py"), str(out), "--anchor", anchor],
                   check=True, capture_output=True, text=True)
    return out


@pytest.fixture(scope="session")
def meta(dataset) -> dict:
    return json.loads((dataset / "meta.json").read_text())


@pytest.fixture(scope="session")
def feast_out(dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("feast")
    done = subprocess.run([FEAST_PYTHON, str(HERE / "feast_reference.py"), str(dataset), str(out)],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "FEAST_USAGE": "False", "DO_NOT_TRACK": "1"})
    if done.returncode != 0:
        pytest.fail(f"feast_reference.py failed ({done.returncode}) with {FEAST_PYTHON}:\n{done.stderr[-6000:]}")
    return out


# ---------------------------------------------------------------------------------------------
# Galley


class Galley:
    """A running `galley server` and its CLI."""

    def __init__(self, binary: str, uri: str, data_dir: Path, proc: subprocess.Popen, log: Path):
        self.binary = binary
        self.uri = uri
        self.data_dir = data_dir
        self.proc = proc
        self.log = log

    def cli(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        cmd = [self.binary, "--url", self.uri, *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited with {done.returncode}\n--- stderr ---\n{done.stderr[-4000:]}"
                                 f"\n--- stdout ---\n{done.stdout[-2000:]}\n--- server log ---\n{_tail(self.log, 3000)}")
        return done

    def post(self, path: str, **kw) -> requests.Response:
        return requests.post(f"{self.uri}{path}", timeout=60, **kw)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_galley(binary: str, base: Path, extra: list[str] | None = None) -> Galley:
    data_dir = base / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log = base / "server.log"
    port = free_port()
    cmd = [binary, "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir), *(extra or [])]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"galley server exited with {proc.returncode} before answering /health\n"
                        f"command: {' '.join(cmd)}\n{_tail(log)}")
        try:
            if requests.get(f"{uri}/health", timeout=2).status_code == 200:
                return Galley(binary, uri, data_dir, proc, log)
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f"galley server did not answer /health within {HEALTH_TIMEOUT_S:.0f}s\n"
                        f"command: {' '.join(cmd)}\n{_tail(log)}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def galley(tmp_path_factory, dataset):
    """Galley on the embedded online store, with the dataset's definitions applied."""
    binary = require_galley()
    server = start_galley(binary, tmp_path_factory.mktemp("galley"))
    try:
        server.cli("features", "apply", str(dataset / "features.yaml"))
        yield server
    finally:
        server.stop()


def _redis_command(host: str, port: int, *commands: bytes) -> list[bytes]:
    with socket.create_connection((host, port), timeout=5) as s:
        replies = []
        for command in commands:
            s.sendall(command + b"\r\n")
            replies.append(s.recv(256))
        return replies


def _redis_url(tmp_path_factory):
    """(url, process we started or None); (None, None) when no Redis can be had. A shared Redis
    (GALLEY_TEST_REDIS_URL, as CI sets) is used through its own database number
    (GALLEY_TEST_FEATURES_REDIS_DB, default 11), emptied first."""
    url = os.environ.get("GALLEY_TEST_REDIS_URL", "").strip()
    if url:
        hostport = url.removeprefix("redis://").split("/")[0]
        host, _, port = hostport.partition(":")
        db = os.environ.get("GALLEY_TEST_FEATURES_REDIS_DB", "11")
        try:
            _redis_command(host, int(port or 6379), f"SELECT {db}".encode(), b"FLUSHDB")
        except OSError as e:
            pytest.fail(f"GALLEY_TEST_REDIS_URL={url} is not reachable: {e}")
        return f"redis://{host}:{port or 6379}/{db}", None
    binary = shutil.which("redis-server")
    if not binary:
        return None, None
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}", proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    return None, None


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A Redis for the online-store cases: GALLEY_TEST_REDIS_URL, or a throwaway redis-server on
    a free port; skipped loudly when neither can be had."""
    url, proc = _redis_url(tmp_path_factory)
    if url is None:
        pytest.skip("SKIPPED (no Redis): set GALLEY_TEST_REDIS_URL or install redis-server")
    try:
        yield url
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def feast_out_redis(dataset, redis_url, tmp_path_factory) -> Path:
    """Feast's answers with its Redis online store instead of SQLite."""
    out = tmp_path_factory.mktemp("feast-redis")
    done = subprocess.run([FEAST_PYTHON, str(HERE / "feast_reference.py"), str(dataset), str(out),
                           "--online-store", redis_url], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "FEAST_USAGE": "False", "DO_NOT_TRACK": "1"})
    if done.returncode != 0:
        pytest.fail(f"feast_reference.py --online-store {redis_url} failed ({done.returncode}):\n{done.stderr[-6000:]}")
    return out


@pytest.fixture(scope="session")
def galley_redis(tmp_path_factory, dataset, redis_url):
    """Galley with `--online-store redis://...`."""
    binary = require_galley()
    server = start_galley(binary, tmp_path_factory.mktemp("galley-redis"), ["--online-store", redis_url])
    try:
        server.cli("features", "apply", str(dataset / "features.yaml"))
        yield server
    finally:
        server.stop()
