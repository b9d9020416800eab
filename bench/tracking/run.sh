#!/usr/bin/env bash
# Tracking-server benchmark: the same MLflow-client workload against Galley and
# against `mlflow server` (SQLite, artifacts in a temp dir), one after the other.
#
#   GALLEY_BIN=target/release/galley bench/tracking/run.sh                 # 10k runs
#   GALLEY_BIN=target/release/galley bench/tracking/run.sh --runs 10000,100000
#   bench/tracking/run.sh --only mlflow --runs 1000                         # smoke
#
# Prints a markdown table (Galley/MLflow ratios) and writes it to
# bench/results/tracking-<timestamp>.md. See bench_tracking.py --help.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$("$ROOT/scripts/python-env.sh" | tail -1)"

source "$ROOT/bench/common.sh"
bench_cmdline tracking "$@"

exec "$VENV/bin/python" "$ROOT/bench/tracking/bench_tracking.py" "$@"
