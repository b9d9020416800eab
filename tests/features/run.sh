#!/usr/bin/env bash
# Entry point for the feature-store tests: Galley against Feast on a generated dataset, and the
# Python client (python/galley) against Galley.
#
#   GALLEY_BIN=target/release/galley tests/features/run.sh [extra pytest args]
#
# Runs pytest in the Feast venv (scripts/feast-env.sh). The Feast-side tests always run; every
# Galley test is skipped, with a banner, when GALLEY_BIN is unset or `$GALLEY_BIN features --help`
# fails. The Redis online-store case uses GALLEY_TEST_REDIS_URL, or starts a throwaway
# redis-server when one is installed, and is skipped otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [[ -n "${GALLEY_BIN:-}" ]]; then
    # absolute, since pytest runs from the repository root
    if [[ "$GALLEY_BIN" != /* ]]; then
        GALLEY_BIN="$(cd "$(dirname "$GALLEY_BIN")" && pwd)/$(basename "$GALLEY_BIN")"
    fi
    if [[ ! -x "$GALLEY_BIN" ]]; then
        echo "tests/features/run.sh: GALLEY_BIN=$GALLEY_BIN is missing or not executable" >&2
        exit 2
    fi
    export GALLEY_BIN
else
    echo "================================================================================" >&2
    echo "tests/features/run.sh: GALLEY_BIN is not set: only the Feast-side tests will run." >&2
    echo "================================================================================" >&2
fi

VENV="$("$ROOT/scripts/feast-env.sh" | tail -1)"
export FEAST_USAGE=False DO_NOT_TRACK=1

cd "$ROOT"
rc=0
"$VENV/bin/python" -m pytest tests/features -q -p no:cacheprovider "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
    echo "tests/features/run.sh: pytest collected no tests; treating that as a failure" >&2
fi
exit "$rc"
