#!/usr/bin/env bash
# Starts a throwaway S3-compatible server (moto's `moto_server`) for the S3 artifact-store tests.
#
#   eval "$(scripts/s3-test-server.sh)"     # starts it in the background and exports the variables
#   ... cargo test ...
#   kill "$GALLEY_S3_SERVER_PID"            # the caller stops it (scripts/test.sh does, in a trap)
#
# stdout is only `export` lines: GALLEY_TEST_S3_ENDPOINT (turns the S3 tests on), the standard
# AWS_* variables that `galley server --artifact-root s3://...` reads (endpoint, dummy credentials,
# region, plain http), and GALLEY_S3_SERVER_PID. Progress and errors go to stderr; a non-zero exit
# means no server is running (nothing to clean up).
#
# moto[server] is pinned below and installed into ${GALLEY_S3_VENV:-$HOME/.cache/galley/s3-venv},
# reinstalled only when the pin changes. The server log is ${GALLEY_S3_LOG:-<tmp>/moto-server.log}.
set -euo pipefail

MOTO_VERSION="5.2.5"
VENV="${GALLEY_S3_VENV:-$HOME/.cache/galley/s3-venv}"
STAMP="$VENV/.galley-moto-version"
PYTHON="${GALLEY_PYTHON:-python3}"
LOG="${GALLEY_S3_LOG:-$(mktemp -d)/moto-server.log}"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "s3-test-server: creating venv at $VENV" >&2
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV" >&2
    rm -f "$STAMP"
fi
if [[ "$(cat "$STAMP" 2>/dev/null || true)" != "$MOTO_VERSION" ]]; then
    echo "s3-test-server: installing moto[server]==$MOTO_VERSION into $VENV" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
    printf '%s\n' "$MOTO_VERSION" > "$STAMP"
fi

# moto_server cannot report a port it picked itself, so ask the OS for a free one; the window
# between closing this socket and moto binding it is too short to matter for a test server.
PORT="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ENDPOINT="http://127.0.0.1:$PORT"

# Its output goes to the log, never to our stdout: `eval "$(...)"` would otherwise wait for the
# background server to close the pipe.
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 </dev/null &
PID=$!

for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$ENDPOINT/moto-api/" 2>/dev/null; then
        cat <<EOF
export GALLEY_TEST_S3_ENDPOINT=$ENDPOINT
export GALLEY_S3_SERVER_PID=$PID
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_ALLOW_HTTP=true
export AWS_ACCESS_KEY_ID=galley-test
export AWS_SECRET_ACCESS_KEY=galley-test
export AWS_REGION=us-east-1
EOF
        echo "s3-test-server: moto_server $MOTO_VERSION (pid $PID) on $ENDPOINT, log $LOG" >&2
        exit 0
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

echo "s3-test-server: moto_server did not answer on $ENDPOINT; log $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
kill "$PID" 2>/dev/null || true
exit 1
