#!/usr/bin/env bash
# Monitoring benchmark: `galley monitor drift` against Evidently's Report([DataDriftPreset()]) on
# the same generated reference/current files, one machine, one run (see bench_drift.py).
#
#   cargo build --release -p galley-cli --bin galley
#   GALLEY_BIN=target/release/galley bench/monitoring/run.sh                  # 1,000,000 rows x 20 columns
#   GALLEY_BIN=target/release/galley bench/monitoring/run.sh --rows 100000 --format both
#   GALLEY_BIN=target/release/galley bench/monitoring/run.sh --reference-rows 1000   # KS / chi-square / Z
#
# Prints a markdown table and writes it to bench/results/monitoring-<timestamp>.md.
# Evidently is installed into ${GALLEY_BENCH_VENV:-$HOME/.cache/galley/bench-monitoring-venv}.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REQ="$ROOT/bench/monitoring/requirements.txt"
VENV="${GALLEY_BENCH_VENV:-$HOME/.cache/galley/bench-monitoring-venv}"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    echo "bench/monitoring: installing $REQ into $VENV" >&2
    "$VENV/bin/pip" install -q -r "$REQ" >&2
    echo "$want" > "$STAMP"
fi

BENCH_CMDLINE="bench/monitoring/run.sh"
for a in "$@"; do BENCH_CMDLINE+=" $(printf '%q' "$a")"; done
if [[ -n "${GALLEY_BIN:-}" ]]; then
    BENCH_CMDLINE="GALLEY_BIN=$(printf '%q' "$GALLEY_BIN") $BENCH_CMDLINE"
    GALLEY_BIN="$(cd "$(dirname "$GALLEY_BIN")" && pwd)/$(basename "$GALLEY_BIN")"
    export GALLEY_BIN
fi
export BENCH_CMDLINE
# Evidently's usage telemetry: nothing leaves this machine during a benchmark.
export DO_NOT_TRACK=1
cd "$ROOT"
exec "$VENV/bin/python" "$ROOT/bench/monitoring/bench_drift.py" "$@"
