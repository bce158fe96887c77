# shellcheck shell=bash
# Sourced helper: a local SMTP server (PyPI aiosmtpd) that writes every message it
# receives into a Maildir, for the notification-mail tests (crates/cli/tests/
# integration/family.rs read the messages from it).
#
#   ensure_smtp     exports TSUNAGU_TEST_SMTP=127.0.0.1:PORT and TSUNAGU_TEST_MAILDIR
#
# aiosmtpd is installed into target/smtp-venv when missing. The server stops when
# the calling shell exits (an EXIT trap, and a watchdog in case a later trap
# replaces ours, as scripts/lib/postgres.sh does).

_TSUNAGU_SMTP_PID=""
_TSUNAGU_SMTP_DIR=""

_tsunagu_smtp_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

tsunagu_smtp_cleanup() {
    if [ -n "$_TSUNAGU_SMTP_PID" ]; then
        kill "$_TSUNAGU_SMTP_PID" 2>/dev/null || true
        wait "$_TSUNAGU_SMTP_PID" 2>/dev/null || true
        _TSUNAGU_SMTP_PID=""
    fi
    if [ -n "$_TSUNAGU_SMTP_DIR" ]; then
        rm -rf "$_TSUNAGU_SMTP_DIR" || true
        _TSUNAGU_SMTP_DIR=""
    fi
}

ensure_smtp() {
    if [ -n "$_TSUNAGU_SMTP_PID" ] && kill -0 "$_TSUNAGU_SMTP_PID" 2>/dev/null; then
        return 0
    fi
    local venv="$ROOT/target/smtp-venv"
    if ! "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
        echo "==> installing aiosmtpd into $venv"
        python3 -m venv "$venv" || return 1
        "$venv/bin/python" -m pip install --quiet 'aiosmtpd==1.4.6' || {
            echo "error: could not install aiosmtpd" >&2
            return 1
        }
    fi
    _TSUNAGU_SMTP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/tsunagu-smtp.XXXXXX")" || return 1
    mkdir -p "$_TSUNAGU_SMTP_DIR/maildir/tmp" "$_TSUNAGU_SMTP_DIR/maildir/new" "$_TSUNAGU_SMTP_DIR/maildir/cur"
    # shellcheck disable=SC2064
    trap "tsunagu_smtp_cleanup; $(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")" EXIT
    local port="${TSUNAGU_SMTP_PORT:-2525}" tries=0
    while _tsunagu_smtp_port_open "$port"; do
        port=$((port + 1))
    done
    "$venv/bin/python" -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$_TSUNAGU_SMTP_DIR/maildir" \
        </dev/null >"$_TSUNAGU_SMTP_DIR/log" 2>&1 &
    _TSUNAGU_SMTP_PID=$!
    until _tsunagu_smtp_port_open "$port"; do
        tries=$((tries + 1))
        if ! kill -0 "$_TSUNAGU_SMTP_PID" 2>/dev/null || [ "$tries" -ge 60 ]; then
            echo "error: aiosmtpd did not start; its log:" >&2
            cat "$_TSUNAGU_SMTP_DIR/log" >&2 || true
            return 1
        fi
        sleep 0.5
    done
    # shellcheck disable=SC2016
    bash -c '
        trap "" INT
        while kill -0 "$1" 2>/dev/null; do
            kill -0 "$2" 2>/dev/null || exit 0
            sleep 2
        done
        kill "$2" 2>/dev/null
    ' tsunagu-smtp-watchdog "$$" "$_TSUNAGU_SMTP_PID" </dev/null >/dev/null 2>&1 &
    export TSUNAGU_TEST_SMTP="127.0.0.1:$port"
    export TSUNAGU_TEST_MAILDIR="$_TSUNAGU_SMTP_DIR/maildir"
    echo "SMTP test server (aiosmtpd): $TSUNAGU_TEST_SMTP, Maildir $TSUNAGU_TEST_MAILDIR"
}
