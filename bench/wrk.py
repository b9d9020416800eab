"""wrk as the closed-loop load generator of the bench/ scripts (imported by bench/serving and
bench/features; apt-get install wrk).

On a machine of 2 cores the load generator shares the CPU with the server under test: a Python
generator takes a large and varying share of it, which makes throughput figures low and noisy.
wrk with one native thread (-t1) costs far less, and its --latency report gives p50 and p99.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

# wrk prints a latency in the largest unit that keeps it at least 1: us, ms, s, then m and h.
_MS_PER_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def lua_string(text: str) -> str:
    """`text` as a Lua long-bracket literal, of a level that nothing inside it closes early: JSON
    bodies hold `]]` (a row of rows) and may end in `]`, which the closing bracket would complete."""
    level = 0
    while f"]{'=' * level}]" in text + "]":
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def closed_loop(url: str, bodies: list[bytes], connections: int, seconds: float) -> dict:
    """`connections` clients on keep-alive connections, each POSTing the next of `bodies` (JSON,
    round-robin) to `url` as soon as its previous answer came, for `seconds`, through
    `wrk -t1 --latency`. Returns rps, p50_ms, p99_ms, errors (answers that were not 2xx or 3xx)
    and socket_errors (connect, read, write and timeout: those requests have no latency, so a p99
    is only whole without them)."""
    if seconds != int(seconds) or seconds < 1:
        raise ValueError(f"wrk runs for whole seconds, not {seconds:g}")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        script = Path(folder) / "post.lua"
        script.write_text(
            "wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/json'\n"
            "local bodies = {\n" + ",\n".join(lua_string(b.decode()) for b in bodies) + "\n}\nlocal i = 0\n"
            "request = function()\n  i = i % #bodies + 1\n  return wrk.format(nil, nil, nil, bodies[i])\nend\n")
        done = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(script),
                               url], capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {(done.stderr or done.stdout)[-1000:]}")
    return parse(done.stdout)


def parse(output: str) -> dict:
    """wrk's report (run with --latency) as numbers, latencies in ms whatever unit wrk chose.
    A figure missing from it raises: a silent NaN would pass for a measurement."""

    def number(pattern: str) -> re.Match:
        match = re.search(pattern, output, re.M)
        if not match:
            raise RuntimeError(f"wrk's output has no /{pattern}/:\n{output[-1500:]}")
        return match

    def latency(percent: str) -> float:
        match = number(rf"^\s+{percent}%\s+([0-9.]+)(us|ms|s|m|h)\s*$")
        return float(match.group(1)) * _MS_PER_UNIT[match.group(2)]

    # wrk prints these two lines only when there was something to count.
    non_2xx = re.search(r"^\s*Non-2xx or 3xx responses:\s+(\d+)\s*$", output, re.M)
    sockets = re.search(r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$", output, re.M)
    return {
        "rps": float(number(r"^Requests/sec:\s+([0-9.]+)\s*$").group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(n) for n in sockets.groups()) if sockets else 0,
    }
