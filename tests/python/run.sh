#!/usr/bin/env bash
# Entry point for the MLflow wire-compatibility suite (real `mlflow` client
# against a Galley server).
#
#   GALLEY_BIN=target/release/galley tests/python/run.sh [extra pytest args]
#
# The suite starts `$GALLEY_BIN server` itself. To run it against a server that
# is already up instead (e.g. a real `mlflow server`, to check the tests):
#   GALLEY_TEST_TRACKING_URI=http://127.0.0.1:5055 GALLEY_TEST_PEER=mlflow tests/python/run.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [[ -z "${GALLEY_TEST_TRACKING_URI:-}" ]]; then
    if [[ -z "${GALLEY_BIN:-}" ]]; then
        echo "tests/python/run.sh: GALLEY_BIN must point at the galley binary (e.g. target/release/galley)" >&2
        exit 2
    fi
    # absolute, since pytest runs from the repository root
    if [[ "$GALLEY_BIN" != /* ]]; then
        GALLEY_BIN="$(cd "$(dirname "$GALLEY_BIN")" && pwd)/$(basename "$GALLEY_BIN")"
    fi
    if [[ ! -x "$GALLEY_BIN" ]]; then
        echo "tests/python/run.sh: GALLEY_BIN=$GALLEY_BIN is missing or not executable" >&2
        exit 2
    fi
    export GALLEY_BIN
fi

VENV="$("$ROOT/scripts/python-env.sh" | tail -1)"

cd "$ROOT"
rc=0
"$VENV/bin/python" -m pytest tests/python -q -p no:cacheprovider "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
    echo "tests/python/run.sh: pytest collected no tests; treating that as a failure" >&2
fi
exit "$rc"
