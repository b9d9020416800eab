#!/usr/bin/env bash
# Serving benchmark: one sklearn model behind Galley, a naive FastAPI + onnxruntime server and
# MLServer's sklearn runtime, one load generator, one run (see bench_serving.py).
#
#   cargo build --release -p galley-cli -p galley-loadgen   # galley-loadgen: the open-loop generator
#   GALLEY_BIN=target/release/galley bench/serving/run.sh [--seconds 5] [--rate 200] [--only galley]
#   GALLEY_BIN=target/release/galley bench/serving/run.sh --overload 30     # Galley at 4x capacity
#   GALLEY_BIN=target/release/galley bench/serving/run.sh --log-overhead 2  # cost of logging every request
#   GALLEY_BIN=target/release/galley bench/serving/run.sh --wrk --seconds 5 --rate 200       # closed loops through wrk
#   GALLEY_BIN=target/release/galley bench/serving/run.sh --wrk --log-overhead 6 --seconds 5 # logging cost, through wrk
#   GALLEY_BIN=target/release/galley bench/serving/run.sh --concurrency 8,16,32 ...           # fewer closed-loop levels
#
# --wrk: the closed loops (sweep, warm-up) run through wrk with one native thread (apt-get install
# wrk) instead of the aiohttp generator, which shares the cores with the server and makes the
# figures noisy; --seconds is then whole seconds. Open loops (fixed load, --overload) always run
# through galley-loadgen, found beside GALLEY_BIN (or at GALLEY_LOADGEN).
#
# Prints a markdown table and writes it to bench/results/serving-<timestamp>.md.
# Peers are installed into ${GALLEY_BENCH_VENV:-$HOME/.cache/galley/bench-serving-venv}.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/bench/common.sh"
bench_venv serving
bench_cmdline serving "$@"
cd "$ROOT"
exec "$VENV/bin/python" "$ROOT/bench/serving/bench_serving.py" "$@"
