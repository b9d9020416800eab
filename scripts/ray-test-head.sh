#!/usr/bin/env bash
# Starts (or stops) a throwaway local Ray head for the Ray executor's integration test.
#
#   eval "$(scripts/ray-test-head.sh)"      # starts a head in the background and exports its address
#   ... cargo test -p galley-compute-runtime --test ray ...
#   scripts/ray-test-head.sh stop           # the caller stops it (scripts/test.sh does, in a trap)
#
# stdout is only `export` lines: GALLEY_TEST_RAY_ADDRESS (the dashboard URL; turns the Ray test
# on). Progress and errors go to stderr; a non-zero exit means no head is running. Ray's own
# output of `ray start` and `ray stop` goes to <temp dir>/ray-start.log and ray-stop.log.
#
# ray[default] (the dashboard and its job server are in the extra) is pinned below and installed
# into ${GALLEY_RAY_VENV:-${GALLEY_CACHE:-$HOME/.cache/galley}/ray-venv}, reinstalled only when the
# pin changes; wheels are kept in ${PIP_CACHE_DIR:-<cache>/pip} so a new venv installs quickly.
# The head's files (sessions, logs, sockets) live under ${GALLEY_RAY_TEMP:-/tmp/galley-ray}, apart
# from any other Ray on the machine. Ports: dashboard ${GALLEY_RAY_DASHBOARD_PORT:-8265}, GCS
# ${GALLEY_RAY_PORT:-6390}.
#
# `stop` runs `ray stop`, which ends every Ray process of this user on this machine: Ray has no way
# to stop one head of several.
set -euo pipefail

RAY_VERSION="2.60.0"
CACHE="${GALLEY_CACHE:-$HOME/.cache/galley}"
VENV="${GALLEY_RAY_VENV:-$CACHE/ray-venv}"
STAMP="$VENV/.galley-ray-version"
PYTHON="${GALLEY_PYTHON:-python3}"
TEMP_DIR="${GALLEY_RAY_TEMP:-/tmp/galley-ray}"
DASHBOARD_PORT="${GALLEY_RAY_DASHBOARD_PORT:-8265}"
GCS_PORT="${GALLEY_RAY_PORT:-6390}"
ADDRESS="http://127.0.0.1:$DASHBOARD_PORT"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$CACHE/pip}"

case "${1:-start}" in
    start) ;;
    stop)
        if [[ -x "$VENV/bin/ray" ]]; then
            mkdir -p "$TEMP_DIR"
            "$VENV/bin/ray" stop >"$TEMP_DIR/ray-stop.log" 2>&1
            echo "ray-test-head: $(tail -n 1 "$TEMP_DIR/ray-stop.log")" >&2
        fi
        exit 0
        ;;
    *)
        echo "usage: $0 [start|stop]" >&2
        exit 2
        ;;
esac

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "ray-test-head: creating venv at $VENV" >&2
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV" >&2
    rm -f "$STAMP"
fi
if [[ "$(cat "$STAMP" 2>/dev/null || true)" != "$RAY_VERSION" ]]; then
    echo "ray-test-head: installing ray[default]==$RAY_VERSION into $VENV (a few minutes the first time)" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "ray[default]==$RAY_VERSION" >&2
    printf '%s\n' "$RAY_VERSION" > "$STAMP"
fi

if curl -fsS -o /dev/null "$ADDRESS/api/version" 2>/dev/null; then
    echo "ray-test-head: something already answers on $ADDRESS; stop it first ($0 stop)" >&2
    exit 1
fi

# Jobs run their entrypoint through a shell with the head's environment: the venv first on PATH
# makes `python` in an entrypoint the venv's, which has ray, as on a real cluster's nodes.
# `ray start` daemonizes and returns; its chatter goes to a log so `eval "$(...)"` sees only exports.
mkdir -p "$TEMP_DIR"
if ! PATH="$VENV/bin:$PATH" "$VENV/bin/ray" start --head \
    --port "$GCS_PORT" \
    --dashboard-host 127.0.0.1 \
    --dashboard-port "$DASHBOARD_PORT" \
    --include-dashboard true \
    --num-cpus 2 \
    --temp-dir "$TEMP_DIR" \
    --disable-usage-stats </dev/null >"$TEMP_DIR/ray-start.log" 2>&1; then
    echo "ray-test-head: ray start failed; $TEMP_DIR/ray-start.log:" >&2
    tail -n 20 "$TEMP_DIR/ray-start.log" >&2
    exit 1
fi

for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "$ADDRESS/api/version" 2>/dev/null; then
        echo "export GALLEY_TEST_RAY_ADDRESS=$ADDRESS"
        echo "ray-test-head: ray $RAY_VERSION head on $ADDRESS, files under $TEMP_DIR" >&2
        exit 0
    fi
    sleep 0.5
done

echo "ray-test-head: the dashboard did not answer on $ADDRESS; dashboard log:" >&2
tail -n 20 "$TEMP_DIR"/session_latest/logs/dashboard.log >&2 || true
"$VENV/bin/ray" stop >"$TEMP_DIR/ray-stop.log" 2>&1 || true
exit 1
