#!/usr/bin/env bash
# Serving benchmark: one sklearn model behind Galley, a naive FastAPI + onnxruntime server and
# MLServer's sklearn runtime, one load generator, one run (see bench_serving.py).
#
#   cargo build --release -p galley-cli --bin galley
#   GALLEY_BIN=target/release/galley bench/serving/run.sh [--seconds 5] [--rate 200] [--only galley]
#   GALLEY_BIN=target/release/galley bench/serving/run.sh --overload 30     # Galley at 4x capacity
#   GALLEY_BIN=target/release/galley bench/serving/run.sh --log-overhead 2  # cost of logging every request
#
# Prints a markdown table and writes it to bench/results/serving-<timestamp>.md.
# Peers are installed into ${GALLEY_BENCH_VENV:-$HOME/.cache/galley/bench-serving-venv}.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REQ="$ROOT/bench/serving/requirements.txt"
VENV="${GALLEY_BENCH_VENV:-$HOME/.cache/galley/bench-serving-venv}"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    echo "bench/serving: installing $REQ into $VENV" >&2
    "$VENV/bin/pip" install -q -r "$REQ" >&2
    echo "$want" > "$STAMP"
fi

BENCH_CMDLINE="bench/serving/run.sh"
for a in "$@"; do BENCH_CMDLINE+=" $(printf '%q' "$a")"; done
if [[ -n "${GALLEY_BIN:-}" ]]; then
    BENCH_CMDLINE="GALLEY_BIN=$(printf '%q' "$GALLEY_BIN") $BENCH_CMDLINE"
    GALLEY_BIN="$(cd "$(dirname "$GALLEY_BIN")" && pwd)/$(basename "$GALLEY_BIN")"
    export GALLEY_BIN
fi
export BENCH_CMDLINE
cd "$ROOT"
exec "$VENV/bin/python" "$ROOT/bench/serving/bench_serving.py" "$@"
