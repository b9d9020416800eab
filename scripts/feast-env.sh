#!/usr/bin/env bash
# Create or update the Python venv with Feast used by tests/features (the Galley vs Feast
# feature-store comparison and the Python client tests).
#
#   VENV=$(scripts/feast-env.sh | tail -1)
#
# Venv location: ${GALLEY_FEAST_VENV:-$HOME/.cache/galley/feast-venv}. Packages come from
# tests/features/requirements-feast.txt; they are (re)installed only when that file's hash differs
# from the stamp kept inside the venv. A separate venv from scripts/python-env.sh because Feast
# requires pandas<3 and that one pins pandas 3. The last stdout line is the venv path; everything
# else goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/tests/features/requirements-feast.txt"
VENV="${GALLEY_FEAST_VENV:-$HOME/.cache/galley/feast-venv}"
STAMP="$VENV/.galley-requirements.sha256"
PYTHON="${GALLEY_PYTHON:-python3}"

if [[ ! -f "$REQ" ]]; then
    echo "feast-env: missing $REQ" >&2
    exit 1
fi

want="$(sha256sum "$REQ" | cut -d' ' -f1)"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "feast-env: creating venv at $VENV" >&2
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV" >&2
    rm -f "$STAMP"
fi

have="$(cat "$STAMP" 2>/dev/null || true)"
if [[ "$have" != "$want" ]]; then
    echo "feast-env: installing $REQ into $VENV (this can take a minute)" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" >&2
    printf '%s\n' "$want" > "$STAMP"
fi

echo "$VENV"
