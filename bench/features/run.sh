#!/usr/bin/env bash
# Feature-store benchmark: Galley against Feast on the same generated data, one machine, one run
# (see bench_features.py): (a) point-in-time join, `galley features get-historical` against Feast's
# file offline store; (b) online reads of 1 entity x 25 features, Galley (embedded store and
# Redis) against `feast serve` (SQLite and Redis).
#
#   cargo build --release -p galley-cli --bin galley
#   GALLEY_BIN=target/release/galley bench/features/run.sh            # 1,000,000 entity rows, 10,000,000 feature rows
#   GALLEY_BIN=target/release/galley bench/features/run.sh --entity-rows 100000 --feature-rows 1000000 --timeout 900
#   GALLEY_BIN=target/release/galley bench/features/run.sh --skip-historical --concurrency 1,8,32 --load-procs 2
#   GALLEY_BIN=target/release/galley bench/features/run.sh --skip-historical --wrk      # also through wrk (native)
#   bench/features/run.sh --only feast --entity-rows 10000 --feature-rows 100000     # Feast alone
#
# Builds nothing. Redis: GALLEY_BENCH_REDIS_URL, else a throwaway redis-server on a free port when
# one is installed (apt-get install redis-server), else the Redis rows are skipped.
# Prints a markdown table and writes it to bench/results/features-<timestamp>.md.
# Feast is installed into ${GALLEY_BENCH_VENV:-$HOME/.cache/galley/bench-features-venv}.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/bench/common.sh"
bench_venv features
bench_cmdline features "$@"
# No usage telemetry from Feast during a benchmark.
export FEAST_USAGE=False DO_NOT_TRACK=1
cd "$ROOT"
exec "$VENV/bin/python" "$ROOT/bench/features/bench_features.py" "$@"
