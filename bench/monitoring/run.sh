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
source "$ROOT/bench/common.sh"
bench_venv monitoring
bench_cmdline monitoring "$@"
# Evidently's usage telemetry: nothing leaves this machine during a benchmark.
export DO_NOT_TRACK=1
cd "$ROOT"
exec "$VENV/bin/python" "$ROOT/bench/monitoring/bench_drift.py" "$@"
