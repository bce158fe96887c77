# shellcheck shell=bash
# Sourced helper: API fuzzing with schemathesis against the served OpenAPI document.
#
#   run_schemathesis    0 when schemathesis reports no failure
#
# What it does, each time from nothing:
#   1. schemathesis (PyPI, pinned below) in a virtual environment under target/, like
#      the FHIR validator (scripts/lib/fhir.sh): installed once per checkout, never in
#      the system Python.
#   2. The tsunagu binary as the test steps built it, a fresh data directory in a temp
#      dir, and `tsunagu demo` on a free port on 127.0.0.1 (the demo region, SQLite).
#   3. A token for takahashi@station.example.jp (a visiting nurse on 山田 花子's care
#      team) from the real `tsunagu token create`.
#   4. A PNG uploaded to 山田 花子's chart, then the chart's ids (the patient, entries
#      and their versions, letters, the file, the team's organizations) read through
#      the API itself and given to schemathesis as dictionaries for the path parameters
#      and a few body fields, so that most generated requests reach a real chart; the
#      rest use generated ids, which must answer 404 (or 422) like any id out of reach.
#   5. `st run` with every check, a fixed seed and a bounded number of examples per
#      operation, one worker (the requests change the chart, so the order matters for
#      reproducibility). Then the server is stopped and the temp dir removed.
#
# Knobs: TSUNAGU_ST_MAX_EXAMPLES (default 30), TSUNAGU_ST_SEED (default 8).
# The report (JUnit XML and a cassette of every request and response) and the server
# log are kept in target/schemathesis-report/ for reading after a failure.

TSUNAGU_SCHEMATHESIS_VERSION=4.32.5

_tsunagu_st_root() {
    cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd
}

# ensure_schemathesis: sets TSUNAGU_ST to the `st` executable of the venv and
# TSUNAGU_ST_PYTHON to its python.
ensure_schemathesis() {
    local root venv
    root="$(_tsunagu_st_root)"
    venv="$root/target/schemathesis-venv"
    local have
    have="$("$venv/bin/st" --version 2>/dev/null)" || have=""
    if [[ $have != *"$TSUNAGU_SCHEMATHESIS_VERSION"* ]]; then
        echo "installing schemathesis $TSUNAGU_SCHEMATHESIS_VERSION into $venv"
        python3 -m venv "$venv" || return 1
        "$venv/bin/python" -m pip install --quiet "schemathesis==$TSUNAGU_SCHEMATHESIS_VERSION" || return 1
    fi
    TSUNAGU_ST="$venv/bin/st"
    TSUNAGU_ST_PYTHON="$venv/bin/python"
}

# A subshell (the body is in parentheses): its EXIT trap stops the server and removes
# the temp dir however it ends, and touches no trap of the caller.
run_schemathesis() (
    set -u
    root="$(_tsunagu_st_root)"
    cd "$root" || exit 1
    ensure_schemathesis || exit 1
    st="$TSUNAGU_ST" py="$TSUNAGU_ST_PYTHON"
    echo "schemathesis: $("$st" --version)"

    # The binary as the test steps built it: `cargo test --workspace` resolves features
    # with the dev-dependencies, so `cargo build -p tsunagu` would rebuild much of the
    # tree with another feature set. After the test steps this is a no-op.
    cargo test --workspace --locked --no-run --quiet || exit 1
    bin="${CARGO_TARGET_DIR:-$root/target}/debug/tsunagu"
    report="$root/target/schemathesis-report"
    rm -rf "$report"
    mkdir -p "$report" || exit 1

    tmp="$(mktemp -d "${TMPDIR:-/tmp}/tsunagu-schemathesis.XXXXXX")" || exit 1
    server_pid=""
    cleanup() {
        if [ -n "$server_pid" ]; then
            kill "$server_pid" 2>/dev/null || true
            wait "$server_pid" 2>/dev/null || true
            server_pid=""
        fi
        rm -rf "$tmp"
    }
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    # Only our flags configure the server: no tsunagu.toml from the working directory,
    # no TSUNAGU_* settings from the caller's environment.
    cd "$tmp" || exit 1
    max_examples="${TSUNAGU_ST_MAX_EXAMPLES:-30}" seed="${TSUNAGU_ST_SEED:-8}"
    # shellcheck disable=SC2046  # the names are plain identifiers
    unset $(compgen -v TSUNAGU_) 2>/dev/null || true
    export RUST_LOG=warn

    port="$("$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')" || exit 1
    base="http://127.0.0.1:$port"
    echo "==> starting the demo on $base (data in $tmp/data)"
    "$bin" --data "$tmp/data" demo --listen "127.0.0.1:$port" </dev/null >"$report/server.log" 2>&1 &
    server_pid=$!
    tries=0
    until "$bin" --data "$tmp/data" healthcheck --url "$base" >/dev/null 2>&1; do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "error: the server exited at start; its log:" >&2
            cat "$report/server.log" >&2
            exit 1
        fi
        tries=$((tries + 1))
        if [ "$tries" -ge 240 ]; then
            echo "error: the server did not answer /healthz within 120 s" >&2
            exit 1
        fi
        sleep 0.5
    done

    token="$("$bin" --data "$tmp/data" token create --user takahashi@station.example.jp --label schemathesis)" ||
        exit 1

    # The ids of 山田 花子's chart, as schemathesis dictionaries for the path parameters.
    "$py" - "$base" "$token" >"$tmp/schemathesis.toml" <<'PY' || exit 1
import json, struct, sys, urllib.parse, urllib.request, zlib

base, token = sys.argv[1], sys.argv[2]

def call(path, data=None, content_type=None):
    headers = {"Authorization": "Bearer " + token}
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(base + path, data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)

def png_1x1():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b"")

found = call("/api/v1/patients?q=" + urllib.parse.quote("ヤマダ"))["patients"]
patient = next(p["id"] for p in found if p["given_name"] == "花子")
# The demo chart has no stored file: upload one, so the download has something to fetch.
call(f"/api/v1/patients/{patient}/documents?doc_type=photo&title=schemathesis&filename=dot.png",
     png_1x1(), "application/octet-stream")
entries = call(f"/api/v1/patients/{patient}/entries?limit=500")["entries"]
letters = call(f"/api/v1/patients/{patient}/letters")["letters"]
attachments = [a["id"] for e in entries for a in (e.get("body") or {}).get("attachments") or []]
team = call(f"/api/v1/patients/{patient}/team")["team"]
ids = {
    "path.patient": [patient],
    "path.entry": sorted({e["entry_id"] for e in entries})[:20],
    "path.letter": [l["id"] for l in letters][:20],
    "path.attachment": attachments[:20],
    # So that some corrections name the current version and some letters a recipient.
    "body.version_id": sorted({e["version_id"] for e in entries})[:20],
    "body.to_org": sorted({m["org_id"] for m in team}),
}
for key, values in ids.items():
    if not values:
        sys.exit(f"the demo chart of 山田 花子 has no {key}")
    print(f"[dictionaries.{key.replace('.', '_')}]\nvalues = {json.dumps(values)}\n")
print("[parameters]")
for key in ids:
    # Mostly the real ids; sometimes a generated one (which must answer 404 or 422).
    print(f'"{key}" = {{ dictionary = "{key.replace(".", "_")}", probability = 0.8 }}')
PY
    # positive_data_acceptance (every request the schema calls valid gets 2xx) cannot
    # hold where the server enforces rules that JSON Schema cannot state: text lengths
    # counted after trimming, kana names, widths folded in patient numbers, birth dates
    # not in the future, "at least one of" and paired fields (SOAP parts, vital signs,
    # blood pressure), mentions of the care team, file types told from the bytes, a
    # letter complete for its kind with a recipient that exists, search words of two
    # characters or more counted after folding (a half-width kana and its voicing
    # mark are one character). For these operations
    # (and only these) a 422 is accepted besides schemathesis' default statuses; its
    # body is still checked against the Problem schema, and every other check,
    # negative_data_rejection included, runs in full everywhere.
    cat >>"$tmp/schemathesis.toml" <<'TOML'

[[operations]]
include-name = [
    "GET /api/v1/patients",
    "GET /api/v1/search",
    "POST /api/v1/patients",
    "POST /api/v1/patients/{patient}/entries",
    "POST /api/v1/patients/{patient}/messages",
    "POST /api/v1/patients/{patient}/entries/{entry}/corrections",
    "POST /api/v1/patients/{patient}/documents",
    "POST /api/v1/patients/{patient}/letters",
    "PUT /api/v1/patients/{patient}/letters/{letter}",
    "POST /api/v1/patients/{patient}/letters/{letter}/send",
]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
TOML
    cat "$tmp/schemathesis.toml"

    echo "==> st run $base/api/openapi.json"
    rc=0
    "$st" --config-file "$tmp/schemathesis.toml" run "$base/api/openapi.json" \
        --header "Authorization: Bearer $token" \
        --checks all \
        --max-examples "$max_examples" \
        --seed "$seed" \
        --workers 1 \
        --generation-database none \
        --request-timeout 30 \
        --no-color \
        --report junit,vcr --report-dir "$report" || rc=$?
    echo "schemathesis exit code $rc; report and server log in $report"
    exit "$rc"
)
