# shellcheck shell=bash
# Sourced helper: an S3-compatible server (moto) for the S3 tests of tsunagu-blobs
# (crates/blobs/tests/s3.rs).
#
#   ensure_moto     exports TSUNAGU_TEST_S3_ENDPOINT=http://127.0.0.1:PORT
#
# Order of preference:
#   1. TSUNAGU_TEST_S3_ENDPOINT already set: used as-is.
#   2. A moto server this shell started earlier (ensure_moto is idempotent).
#   3. `moto_server` started in the background on the first free port from
#      TSUNAGU_MOTO_PORT (default 5055), logging to a temp dir. If `moto_server`
#      does not run, `moto[server]` is pip-installed first (into whatever
#      `python3` is); if its script is then still not on PATH (e.g. pyenv has
#      not rehashed), `python3 -m moto.server` is run instead.
#
# Stopping: the server is stopped when the calling shell exits, two ways:
#   - an EXIT trap that runs tsunagu_moto_cleanup and then whatever EXIT trap
#     was already set (plus INT/TERM traps that exit, so EXIT runs, unless
#     INT/TERM traps were already set);
#   - a watchdog process that stops the server once the calling shell is gone.
#     It is needed because a later `trap ... EXIT` replaces ours:
#     scripts/lib/postgres.sh sets `trap tsunagu_pg_cleanup EXIT` when it
#     starts a throwaway cluster. A caller with its own EXIT trap may also call
#     tsunagu_moto_cleanup from it.

_TSUNAGU_MOTO_PID=""
_TSUNAGU_MOTO_WATCHDOG=""
_TSUNAGU_MOTO_DIR=""
_TSUNAGU_MOTO_CMD=()

# _tsunagu_moto_answers PORT: true if an HTTP server answers on 127.0.0.1:PORT.
_tsunagu_moto_answers() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$1" >&3
        IFS= read -r -t 5 line <&3 || exit 1
        [[ $line == HTTP/* ]]
    ) 2>/dev/null
}

_tsunagu_moto_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Sets _TSUNAGU_MOTO_CMD to a command that runs moto's server, if there is one.
_tsunagu_moto_find() {
    if command -v moto_server >/dev/null 2>&1 && moto_server --help >/dev/null 2>&1; then
        _TSUNAGU_MOTO_CMD=(moto_server)
    elif command -v python3 >/dev/null 2>&1 &&
        python3 -m moto.server --help >/dev/null 2>&1; then
        _TSUNAGU_MOTO_CMD=(python3 -m moto.server)
    else
        return 1
    fi
}

# _tsunagu_trap_prepend CMD SIGNAL: make SIGNAL's trap run CMD, then the trap
# that was there before (if any).
_tsunagu_trap_prepend() {
    local cmd=$1 sig=$2 old
    old="$(trap -p "$sig")"
    if [ -n "$old" ]; then
        # `trap -- 'quoted command' SIG`: keep the quoted command, unquote it.
        old=${old#"trap -- "}
        old=${old% *}
        eval "old=$old"
    fi
    # shellcheck disable=SC2064  # expanded now on purpose
    trap -- "$cmd${old:+; $old}" "$sig"
}

tsunagu_moto_cleanup() {
    # The watchdog is not signalled (it may not have exec'd yet, and would then
    # run a copy of this shell's traps): it exits by itself once moto is gone.
    _TSUNAGU_MOTO_WATCHDOG=""
    if [ -n "$_TSUNAGU_MOTO_PID" ]; then
        echo "==> stopping moto (pid $_TSUNAGU_MOTO_PID)"
        kill "$_TSUNAGU_MOTO_PID" 2>/dev/null || true
        wait "$_TSUNAGU_MOTO_PID" 2>/dev/null || true
        _TSUNAGU_MOTO_PID=""
        unset TSUNAGU_TEST_S3_ENDPOINT
    fi
    if [ -n "$_TSUNAGU_MOTO_DIR" ]; then
        rm -rf "$_TSUNAGU_MOTO_DIR" || true
        _TSUNAGU_MOTO_DIR=""
    fi
}

_tsunagu_moto_start() {
    if ! _tsunagu_moto_find; then
        echo "==> installing moto[server] with pip"
        if ! PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet 'moto[server]'; then
            echo "error: could not install moto[server] (python3 -m pip install 'moto[server]')" >&2
            return 1
        fi
        command -v pyenv >/dev/null 2>&1 && pyenv rehash >/dev/null 2>&1
        hash -r
        if ! _tsunagu_moto_find; then
            echo "error: moto[server] installed but neither moto_server nor 'python3 -m moto.server' runs" >&2
            return 1
        fi
    fi

    _TSUNAGU_MOTO_DIR="$(mktemp -d "${TMPDIR:-/tmp}/tsunagu-moto.XXXXXX")" || return 1
    _tsunagu_trap_prepend tsunagu_moto_cleanup EXIT
    [ -n "$(trap -p INT)" ] || trap 'exit 130' INT
    [ -n "$(trap -p TERM)" ] || trap 'exit 143' TERM

    local port="${TSUNAGU_MOTO_PORT:-5055}" last tries
    last=$((port + 100))
    while :; do
        while _tsunagu_moto_port_open "$port"; do
            port=$((port + 1))
            if [ "$port" -ge "$last" ]; then
                echo "error: no free port for moto" >&2
                return 1
            fi
        done
        echo "==> starting moto (${_TSUNAGU_MOTO_CMD[*]}) on 127.0.0.1:$port"
        "${_TSUNAGU_MOTO_CMD[@]}" -H 127.0.0.1 -p "$port" \
            </dev/null >"$_TSUNAGU_MOTO_DIR/log" 2>&1 &
        _TSUNAGU_MOTO_PID=$!
        tries=0
        while ! _tsunagu_moto_answers "$port"; do
            if ! kill -0 "$_TSUNAGU_MOTO_PID" 2>/dev/null; then
                break
            fi
            tries=$((tries + 1))
            if [ "$tries" -ge 120 ]; then
                echo "error: moto did not answer on 127.0.0.1:$port within 60 s; its log:" >&2
                cat "$_TSUNAGU_MOTO_DIR/log" >&2 || true
                return 1
            fi
            sleep 0.5
        done
        if kill -0 "$_TSUNAGU_MOTO_PID" 2>/dev/null; then
            break
        fi
        wait "$_TSUNAGU_MOTO_PID" 2>/dev/null || true
        _TSUNAGU_MOTO_PID=""
        if _tsunagu_moto_port_open "$port"; then
            # Someone took the port between the probe and the start: next one.
            port=$((port + 1))
            continue
        fi
        echo "error: moto exited at start; its log:" >&2
        cat "$_TSUNAGU_MOTO_DIR/log" >&2 || true
        return 1
    done

    # Watchdog: stop the server once this shell is gone, even if our EXIT trap
    # was replaced. A fresh bash (not a subshell, which would carry this
    # shell's traps), with its own stdio so it holds no pipe of the caller open.
    # shellcheck disable=SC2016  # expanded by the watchdog's bash
    bash -c '
        trap "" INT
        while kill -0 "$1" 2>/dev/null; do
            kill -0 "$2" 2>/dev/null || exit 0
            sleep 2
        done
        kill "$2" 2>/dev/null
    ' tsunagu-moto-watchdog "$$" "$_TSUNAGU_MOTO_PID" </dev/null >/dev/null 2>&1 &
    _TSUNAGU_MOTO_WATCHDOG=$!

    export TSUNAGU_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
}

ensure_moto() {
    if [ -n "${TSUNAGU_TEST_S3_ENDPOINT:-}" ]; then
        echo "using S3 test server from TSUNAGU_TEST_S3_ENDPOINT ($TSUNAGU_TEST_S3_ENDPOINT)"
    elif [ -n "$_TSUNAGU_MOTO_PID" ] && kill -0 "$_TSUNAGU_MOTO_PID" 2>/dev/null; then
        : # ours, still running; endpoint exported when it started
    else
        _tsunagu_moto_start || return 1
        echo "S3 test server (moto): $TSUNAGU_TEST_S3_ENDPOINT"
    fi
    export TSUNAGU_TEST_S3_ENDPOINT
}
