#!/usr/bin/env bash
# Scheduler benchmark: FIFO (Kueue StrictFIFO with borrowing) against Galley's policy on the same
# generated traces, replayed through the scheduling core on a virtual clock, and the wall time of
# one scheduling pass over 10,000 pending jobs. Pure computation: no server, no network.
#
#   bench/scheduler/run.sh                                   # 3 seeds x 5,000 jobs, load 1.0
#   bench/scheduler/run.sh --seeds 1,2,3 --jobs 5000 --loads 0.9,1.1 --ablations
#   bench/scheduler/run.sh --cli --seeds 1 --jobs 5000       # through `galley sim` instead
#
# The default mode runs the ignored test galley-compute's sim::bench::bench_report in release mode
# (settings passed as GALLEY_SIM_* variables; see crates/galley-compute/src/sim/bench.rs).
# --cli generates each trace with `galley sim generate` and replays it with
# `galley sim --trace FILE --policy fifo|galley`, printing each report.
# Set CARGO_TARGET_DIR to build elsewhere than target/. Prints markdown and writes it to
# bench/results/scheduler-<timestamp>.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/bench/common.sh"
bench_cmdline scheduler "$@"

jobs=5000 seeds=1,2,3 loads=1.0 teams=4 nodes=32 pending=10000 ablations=0 cli=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --jobs) jobs="$2"; shift 2 ;;
        --seeds) seeds="$2"; shift 2 ;;
        --loads) loads="$2"; shift 2 ;;
        --teams) teams="$2"; shift 2 ;;
        --nodes) nodes="$2"; shift 2 ;;
        --pending) pending="$2"; shift 2 ;;
        --ablations) ablations=1; shift ;;
        --cli) cli=1; shift ;;
        *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done

mkdir -p "$ROOT/bench/results"
out="$ROOT/bench/results/scheduler-$(date -u +%Y%m%dT%H%M%SZ).md"
cd "$ROOT"

run_test() {
    GALLEY_SIM_JOBS="$jobs" GALLEY_SIM_SEEDS="$seeds" GALLEY_SIM_LOADS="$loads" \
    GALLEY_SIM_TEAMS="$teams" GALLEY_SIM_NODES="$nodes" GALLEY_SIM_PENDING="$pending" \
    GALLEY_SIM_ABLATIONS="$ablations" \
        cargo test --release -q -p galley-compute --lib bench_report -- --ignored --nocapture
}

run_cli() {
    cargo build --release -q -p galley-cli --bin galley
    local galley="${CARGO_TARGET_DIR:-$ROOT/target}/release/galley" dir
    dir="$(mktemp -d)"
    trap 'rm -rf "$dir"' EXIT
    local seed load policy
    for load in ${loads//,/ }; do
        for seed in ${seeds//,/ }; do
            "$galley" sim generate --jobs "$jobs" --seed "$seed" --teams "$teams" --load "$load" \
                --gpus $((nodes * 8)) --out "$dir/trace-$seed-$load.csv"
            for policy in fifo galley; do
                echo "### load $load, seed $seed, policy $policy"
                echo
                "$galley" sim --trace "$dir/trace-$seed-$load.csv" --policy "$policy" --nodes "$nodes"
                echo
            done
        done
    done
}

{
    echo "Command: \`$BENCH_CMDLINE\` ($(nproc) cores, $(date -u +%Y-%m-%d))"
    echo
    if [[ "$cli" == 1 ]]; then run_cli; else run_test; fi
} | grep -v '^\(running 1 test\|test result:.*\|test .* has been running for over 60 seconds\|\.\)$' | tee "$out"
echo "written to $out" >&2
