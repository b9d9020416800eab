#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, property, conformance and black-box API tests), the
# Python scenarios with the real clients against a real Galley server, and galley-onnx's optional
# ONNX Runtime engine with the library from the onnxruntime wheel in the same venv.
#
# PostgreSQL cases run when GALLEY_TEST_POSTGRES_URL is set (e.g. postgres://postgres@127.0.0.1:5432/test),
# Redis online-store cases when GALLEY_TEST_REDIS_URL is set (e.g. redis://127.0.0.1:6379).
# S3 artifact-store cases run against GALLEY_TEST_S3_ENDPOINT (with the AWS_* variables pointing at
# it); when it is not set, a throwaway moto server is started for this run and stopped at exit.
# Ray executor cases run against GALLEY_TEST_RAY_ADDRESS; when it is not set, a local Ray head
# (scripts/ray-test-head.sh, from the ray package on PyPI) is started for this run and stopped at exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

if [[ -z "${GALLEY_TEST_POSTGRES_URL:-}" ]]; then
    echo "================================================================================" >&2
    echo "SKIPPING PostgreSQL conformance cases: GALLEY_TEST_POSTGRES_URL is not set." >&2
    echo "================================================================================" >&2
fi

if [[ -z "${GALLEY_TEST_REDIS_URL:-}" ]]; then
    echo "================================================================================" >&2
    echo "SKIPPING Redis online-store cases: GALLEY_TEST_REDIS_URL is not set." >&2
    echo "================================================================================" >&2
fi

cleanup() {
    if [[ -n "${s3_pid:-}" ]]; then kill "$s3_pid" 2>/dev/null || true; fi
    if [[ -n "${ray_started:-}" ]]; then scripts/ray-test-head.sh stop || true; fi
}
trap cleanup EXIT

if [[ -z "${GALLEY_TEST_S3_ENDPOINT:-}" ]]; then
    if s3_env="$(scripts/s3-test-server.sh)"; then
        eval "$s3_env"
        s3_pid="$GALLEY_S3_SERVER_PID"
    else
        echo "================================================================================" >&2
        echo "SKIPPING S3 artifact-store cases: the moto S3 test server could not be started." >&2
        echo "================================================================================" >&2
    fi
fi

if [[ -z "${GALLEY_TEST_RAY_ADDRESS:-}" ]]; then
    if ray_env="$(scripts/ray-test-head.sh)"; then
        eval "$ray_env"
        ray_started=1
    else
        echo "================================================================================" >&2
        echo "SKIPPING Ray executor cases: the local Ray head could not be started." >&2
        echo "================================================================================" >&2
    fi
fi

# The Kubernetes manifest test (galley-compute-runtime/tests/kubernetes_manifests.rs) validates
# rendered Jobs against the Kubernetes OpenAPI schema with kubernetes-validate from the test venv.
GALLEY_TEST_PYTHON="${GALLEY_TEST_PYTHON:-$(scripts/python-env.sh | tail -1)/bin/python}"
export GALLEY_TEST_PYTHON

echo "--- cargo test --workspace"
cargo test --workspace --locked

echo "--- Python scenarios with the real mlflow client"
cargo build --locked -p galley-cli --bin galley
GALLEY_BIN="$TARGET_DIR/debug/galley" tests/python/run.sh

echo "--- Feature store: Galley against Feast (in its own venv), and the Python client"
GALLEY_BIN="$TARGET_DIR/debug/galley" tests/features/run.sh

echo "--- The optional ONNX Runtime engine, with the onnxruntime wheel's library"
# --workspace keeps the dependency features of the run above, so nothing but galley-onnx rebuilds.
VENV="$(scripts/python-env.sh | tail -1)"
ORT_DYLIB_PATH="$(ls "$VENV"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -1)" \
    cargo test --locked --workspace --features galley-onnx/onnxruntime --test onnxruntime
