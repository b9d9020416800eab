#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, property, conformance and black-box API tests) and
# the Python scenarios with the real MLflow client against a real Galley server.
#
# PostgreSQL cases run when GALLEY_TEST_POSTGRES_URL is set (e.g. postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

if [[ -z "${GALLEY_TEST_POSTGRES_URL:-}" ]]; then
    echo "================================================================================" >&2
    echo "SKIPPING PostgreSQL conformance cases: GALLEY_TEST_POSTGRES_URL is not set." >&2
    echo "================================================================================" >&2
fi

echo "--- cargo test --workspace"
cargo test --workspace --locked

echo "--- Python scenarios with the real mlflow client"
cargo build --locked -p galley-cli --bin galley
GALLEY_BIN="$TARGET_DIR/debug/galley" tests/python/run.sh
