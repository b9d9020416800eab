#!/usr/bin/env bash
# Create or update the Python venv used by tests/python and bench/tracking.
#
#   VENV=$(scripts/python-env.sh | tail -1)
#
# Venv location: ${GALLEY_VENV:-$HOME/.cache/galley/venv}. Packages come from
# tests/python/requirements.txt; they are (re)installed only when that file's
# hash differs from the stamp kept inside the venv. The last stdout line is the
# venv path; everything else goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/tests/python/requirements.txt"
VENV="${GALLEY_VENV:-$HOME/.cache/galley/venv}"
STAMP="$VENV/.galley-requirements.sha256"
PYTHON="${GALLEY_PYTHON:-python3}"

if [[ ! -f "$REQ" ]]; then
    echo "python-env: missing $REQ" >&2
    exit 1
fi

want="$(sha256sum "$REQ" | cut -d' ' -f1)"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "python-env: creating venv at $VENV" >&2
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV" >&2
    rm -f "$STAMP"
fi

have="$(cat "$STAMP" 2>/dev/null || true)"
if [[ "$have" != "$want" ]]; then
    echo "python-env: installing $REQ into $VENV (this can take a few minutes)" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" >&2
    printf '%s\n' "$want" > "$STAMP"
fi

echo "$VENV"
