"""The open-loop load generator of the bench/ scripts: `galley-loadgen` (bench/loadgen), a
native binary built beside galley (`cargo build --release -p galley-cli -p galley-loadgen`).

wrk (bench/wrk.py) drives closed loops, where a slow answer delays the next request; an open
loop offers a fixed rate whatever the server does, and counts each latency from the request's
dispatch at its due time (waiting for a free connection included), so a server that falls behind
is charged for the backlog it causes.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path


def binary() -> str:
    """GALLEY_LOADGEN, or galley-loadgen beside GALLEY_BIN."""
    explicit = os.environ.get("GALLEY_LOADGEN")
    if explicit:
        return explicit
    galley = os.environ.get("GALLEY_BIN")
    candidate = Path(galley).with_name("galley-loadgen") if galley else None
    if candidate is None or not candidate.exists():
        raise SystemExit("galley-loadgen not found: cargo build --release -p galley-cli -p galley-loadgen "
                         "(it is looked for beside GALLEY_BIN, or set GALLEY_LOADGEN)")
    return str(candidate)


def open_loop(url: str, body: bytes, rate: float, seconds: float, expect_body: bytes | None = None,
              connections: int = 256) -> dict:
    """POSTs `body` (JSON) to `url` at `rate` per second for `seconds`. Returns galley-loadgen's
    summary: requests, offered_rps, statuses (count per HTTP status), transport_errors,
    wrong_bodies (200 answers whose body differs from `expect_body`), and served_ms / refused_ms
    (p50, p90, p99 and max of the 200 answers and of the others; None when there were none), and
    dispatch_lag_ms (how late the generator itself sent requests, not charged to the server)."""
    with tempfile.TemporaryDirectory(prefix="bench-loadgen-") as folder:
        request = Path(folder) / "request.json"
        request.write_bytes(body)
        command = [binary(), "--url", url, "--body", str(request), "--rate", f"{rate:g}",
                   "--seconds", f"{seconds:g}", "--connections", str(connections)]
        if expect_body is not None:
            expected = Path(folder) / "expected.json"
            expected.write_bytes(expect_body)
            command += ["--expect-body", str(expected)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        return json.loads(done.stdout)
