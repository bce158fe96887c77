# shellcheck shell=bash
# Sourced helper: find or start a PostgreSQL server for the test suite.
#
#   ensure_postgres     exports TSUNAGU_TEST_POSTGRES_URL.
#
# Order of preference:
#   1. TSUNAGU_TEST_POSTGRES_URL already set: used as-is.
#   2. A server answering on 127.0.0.1:5432 (pg_isready, else a /dev/tcp
#      probe): postgres://postgres@127.0.0.1:5432/postgres
#   3. A throwaway cluster (initdb + pg_ctl from /usr/lib/postgresql/*/bin;
#      the `postgresql` package is apt-installed if root and absent) on the
#      first free port from 55432, in a temp dir that is stopped and removed
#      by an EXIT trap. As root it runs as the `postgres` user, because
#      PostgreSQL refuses to run as root.
#
# Knobs:
#   TSUNAGU_PG_FORCE_THROWAWAY=1  skip the 127.0.0.1:5432 probe and always
#                                 start a throwaway cluster (used to test
#                                 this helper itself; see step 3 above).
#   TSUNAGU_PG_PORT=N             first port to try for the throwaway
#                                 cluster (default 55432).
#
# Note: ensure_postgres installs an EXIT trap (and INT/TERM traps that exit,
# so EXIT runs) when it starts a throwaway cluster. A caller with its own
# EXIT trap should call tsunagu_pg_cleanup from it instead.

_TSUNAGU_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/apt.sh
. "$_TSUNAGU_LIB_DIR/apt.sh"

_TSUNAGU_PG_DIR=""
_TSUNAGU_PG_BIN=""

# tcp_port_open HOST PORT: true if something accepts connections there.
tcp_port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

_tsunagu_pg_answers() {
    local host=$1 port=$2
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$host" -p "$port" -t 3
    else
        tcp_port_open "$host" "$port"
    fi
}

_tsunagu_pg_find_bin() {
    local d found=()
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            found+=("$d")
        fi
    done
    [ "${#found[@]}" -gt 0 ] || return 1
    # Highest installed major version wins.
    printf '%s\n' "${found[@]}" | sort -V | tail -n 1
}

# Run a command line as the user that owns the cluster.
_tsunagu_pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        su -s /bin/sh postgres -c "$1"
    else
        sh -c "$1"
    fi
}

tsunagu_pg_cleanup() {
    if [ -n "$_TSUNAGU_PG_DIR" ] && [ -d "$_TSUNAGU_PG_DIR" ]; then
        echo "==> stopping throwaway PostgreSQL cluster in $_TSUNAGU_PG_DIR"
        if [ -f "$_TSUNAGU_PG_DIR/data/postmaster.pid" ]; then
            _tsunagu_pg_as_owner "$(printf '%q' "$_TSUNAGU_PG_BIN/pg_ctl") -D $(printf '%q' "$_TSUNAGU_PG_DIR/data") -m fast -w stop" >/dev/null || true
        fi
        rm -rf "$_TSUNAGU_PG_DIR" || true
    fi
    _TSUNAGU_PG_DIR=""
}

_tsunagu_pg_start_throwaway() {
    if ! _TSUNAGU_PG_BIN="$(_tsunagu_pg_find_bin)"; then
        apt_ensure postgresql || return 1
        _TSUNAGU_PG_BIN="$(_tsunagu_pg_find_bin)" || {
            echo "error: initdb/pg_ctl not found under /usr/lib/postgresql/*/bin" >&2
            return 1
        }
    fi

    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "error: running as root but there is no 'postgres' user to run the cluster as" >&2
        return 1
    fi

    local port="${TSUNAGU_PG_PORT:-55432}" last
    last=$((port + 100))
    while tcp_port_open 127.0.0.1 "$port"; do
        port=$((port + 1))
        if [ "$port" -ge "$last" ]; then
            echo "error: no free port for a throwaway PostgreSQL cluster" >&2
            return 1
        fi
    done

    # /tmp rather than $TMPDIR: the postgres user must be able to reach it,
    # and the socket path must stay short.
    _TSUNAGU_PG_DIR="$(mktemp -d /tmp/tsunagu-pg.XXXXXX)" || return 1
    trap tsunagu_pg_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$_TSUNAGU_PG_DIR" || return 1
    fi
    chmod 700 "$_TSUNAGU_PG_DIR" || return 1

    local dir bin
    dir="$(printf '%q' "$_TSUNAGU_PG_DIR")"
    bin="$(printf '%q' "$_TSUNAGU_PG_BIN")"
    echo "==> starting throwaway PostgreSQL ($_TSUNAGU_PG_BIN) on 127.0.0.1:$port in $_TSUNAGU_PG_DIR"
    if ! _tsunagu_pg_as_owner "$bin/initdb -D $dir/data -A trust -U postgres -E UTF8 --no-locale" >"$_TSUNAGU_PG_DIR/initdb.log" 2>&1; then
        echo "error: initdb failed:" >&2
        cat "$_TSUNAGU_PG_DIR/initdb.log" >&2
        return 1
    fi
    if ! _tsunagu_pg_as_owner "$bin/pg_ctl -D $dir/data -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off' -l $dir/log start -w" >/dev/null; then
        echo "error: pg_ctl start failed:" >&2
        cat "$_TSUNAGU_PG_DIR/log" >&2 || true
        return 1
    fi
    export TSUNAGU_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

ensure_postgres() {
    if [ -n "${TSUNAGU_TEST_POSTGRES_URL:-}" ]; then
        echo "using PostgreSQL from TSUNAGU_TEST_POSTGRES_URL"
    elif [ "${TSUNAGU_PG_FORCE_THROWAWAY:-0}" != 1 ] && _tsunagu_pg_answers 127.0.0.1 5432; then
        export TSUNAGU_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
        echo "using PostgreSQL on 127.0.0.1:5432"
    else
        _tsunagu_pg_start_throwaway || return 1
    fi
    export TSUNAGU_TEST_POSTGRES_URL
}
