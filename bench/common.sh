# Shared by the bench/*/run.sh scripts (source it after setting ROOT):
#   bench_venv NAME        VENV := a venv for bench/NAME/requirements.txt, at
#                          ${GALLEY_BENCH_VENV:-$HOME/.cache/galley/bench-NAME-venv}, reinstalled
#                          when that file changes
#   bench_cmdline NAME ARGS...
#                          exports BENCH_CMDLINE (the command, for the results file) and an
#                          absolute GALLEY_BIN

bench_venv() {
    local name="$1"
    local requirements="$ROOT/bench/$name/requirements.txt"
    VENV="${GALLEY_BENCH_VENV:-$HOME/.cache/galley/bench-$name-venv}"
    local stamp="$VENV/.requirements.sha256"
    local want
    want="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if [[ ! -x "$VENV/bin/python" ]]; then
        python3 -m venv "$VENV"
    fi
    if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
        echo "bench/$name: installing $requirements into $VENV" >&2
        "$VENV/bin/pip" install -q -r "$requirements" >&2
        echo "$want" > "$stamp"
    fi
}

bench_cmdline() {
    local name="$1"
    shift
    BENCH_CMDLINE="bench/$name/run.sh"
    local arg
    for arg in "$@"; do BENCH_CMDLINE+=" $(printf '%q' "$arg")"; done
    if [[ -n "${GALLEY_BIN:-}" ]]; then
        BENCH_CMDLINE="GALLEY_BIN=$(printf '%q' "$GALLEY_BIN") $BENCH_CMDLINE"
        GALLEY_BIN="$(cd "$(dirname "$GALLEY_BIN")" && pwd)/$(basename "$GALLEY_BIN")"
        export GALLEY_BIN
    fi
    export BENCH_CMDLINE
}
