#!/usr/bin/env bash
# Compares our job queue with bare FOR UPDATE SKIP LOCKED under pgbench and with PgQueuer, in one
# go, on one throwaway Postgres cluster this script starts itself (fsync on) and deletes on exit.
# See benchmarks/README.md.
#
#   benchmarks/compare_queue.sh [--jobs N] [--workers W] [--batch B] [--steps LIST]
#                               [--timeout SECONDS] [--pgqueuer-processes P] [--json-out FILE] [--no-build]
#
# Steps (default: all, in this order): ours idle lateness bare bare_batch pgqueuer
#   ours        followup bench queue (drain N jobs)       idle      ... --mode idle
#   lateness    ... --mode lateness                          bare      pgbench, per-job completion
#   bare_batch  pgbench, batch completion                    pgqueuer  benchmarks/pgqueuer_bench.py
# Environment: BENCH_JOBS/N, BENCH_WORKERS/W, BENCH_BATCH/B, BENCH_STEPS, STEP_TIMEOUT (default 600),
# BUILD_TIMEOUT (1800), FOLLOWUP_BIN, BENCH_NO_BUILD=1, PGQUEUER_PROCESSES, PG_BIN, PGBENCH_THREADS,
# OURS_ARGS / OURS_IDLE_ARGS / OURS_LATENESS_ARGS (extra arguments for the three `followup` runs),
# PYTHON (default python3).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
JOBS=${BENCH_JOBS:-${N:-50000}}
WORKERS=${BENCH_WORKERS:-${W:-16}}
BATCH=${BENCH_BATCH:-${B:-10}}
STEPS=${BENCH_STEPS:-"ours idle lateness bare bare_batch pgqueuer"}
TIMEOUT=${STEP_TIMEOUT:-600}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1800}
NO_BUILD=${BENCH_NO_BUILD:-0}
PGQ_PROCESSES=${PGQUEUER_PROCESSES:-}
JSON_OUT=""
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PYTHON=${PYTHON:-python3}
DEFAULT_BIN=$ROOT/.build/release/followup
BIN=${FOLLOWUP_BIN:-$DEFAULT_BIN}

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) JOBS=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --batch) BATCH=$2; shift 2 ;;
        --steps) STEPS=${2//,/ }; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --pgqueuer-processes) PGQ_PROCESSES=$2; shift 2 ;;
        --json-out) JSON_OUT=$2; shift 2 ;;
        --no-build) NO_BUILD=1; shift ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
for v in JOBS WORKERS BATCH TIMEOUT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$v must be a positive integer, got '${!v}'" >&2; exit 2; }
done
for s in $STEPS; do
    case "$s" in ours|idle|lateness|bare|bare_batch|pgqueuer) ;; *) echo "unknown step: $s" >&2; exit 2 ;; esac
done
has_step() { [[ " $STEPS " == *" $1 "* ]]; }
log() { echo "==> $*" >&2; }

[ -x "$PG_BIN/initdb" ] || { echo "no initdb in $PG_BIN (set PG_BIN; scripts/setup.sh installs Postgres)" >&2; exit 1; }
[ -x "$PG_BIN/pgbench" ] || { echo "no pgbench in $PG_BIN" >&2; exit 1; }

# --- the throwaway cluster, removed on any exit (also Ctrl-C) --------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/followup-bench.XXXXXX")
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
CLUSTER=$WORK/pg
DATA=$CLUSTER/data
CHILD=""
PG_STARTED=0

as_pg() {
    # Postgres refuses to run as root: run the server tools as the unprivileged `postgres` user.
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
        kill -TERM "$CHILD" 2>/dev/null || true
        sleep 1
        kill -KILL "$CHILD" 2>/dev/null || true
    fi
    if [ "$PG_STARTED" = 1 ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
        if [ -f "$DATA/postmaster.pid" ]; then
            local pid; pid=$(head -1 "$DATA/postmaster.pid" 2>/dev/null || true)
            [[ $pid =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "$WORK"
    echo "cluster stopped and $WORK deleted" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Runs a step in the background (so Ctrl-C reaches the trap at once) under a timeout.
run_step() {
    local out=$1 err=$2; shift 2
    timeout -k 10 "$TIMEOUT" "$@" >"$out" 2>"$err" &
    CHILD=$!
    local rc=0
    wait "$CHILD" || rc=$?
    CHILD=""
    return $rc
}

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PORT=$(free_port)
mkdir -p "$CLUSTER"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$CLUSTER"
log "initdb $DATA (port $PORT, socket dir $CLUSTER)"
as_pg "$PG_BIN/initdb" -D "$DATA" -U followup -A trust -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 \
    || { cat "$WORK/initdb.log" >&2; exit 1; }
cat >>"$DATA/postgresql.conf" <<CONF
# followup benchmark: durable (fsync on), TCP on loopback only, own socket dir.
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$CLUSTER'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
shared_buffers = 256MB
max_wal_size = 4GB
log_min_messages = warning
CONF
PG_STARTED=1
as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$CLUSTER/server.log" -w -t 60 start >/dev/null \
    || { cat "$CLUSTER/server.log" >&2; exit 1; }
ADMIN_URL="postgresql://followup@127.0.0.1:$PORT/postgres"
psql_admin() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$ADMIN_URL" "$@"; }
db_url() { echo "postgresql://followup@127.0.0.1:$PORT/$1"; }
new_db() { psql_admin -c "CREATE DATABASE $1" >/dev/null; db_url "$1"; }
checkpoint() { psql_admin -c "CHECKPOINT" >/dev/null; }
log "Postgres $("$PG_BIN/postgres" --version | awk '{print $3}') up on 127.0.0.1:$PORT (fsync on); jobs=$JOBS workers=$WORKERS batch=$BATCH"

skip() { # system reason
    "$PYTHON" -c 'import json, sys; print(json.dumps({"system": sys.argv[1], "skipped": sys.argv[2]}))' "$1" "$2" >>"$RESULTS"
    echo "    skipped $1: $2" >&2
}

# --- ours -------------------------------------------------------------------------------------
OURS_READY=""
ours_ready() { # builds the binary when needed; 0 when it can run `bench queue`
    [ -n "$OURS_READY" ] && { [ "$OURS_READY" = yes ]; return; }
    OURS_READY=no
    if [ ! -x "$BIN" ]; then
        if [ -n "${FOLLOWUP_BIN:-}" ]; then
            OURS_WHY="FOLLOWUP_BIN=$BIN is not an executable"; return 1
        elif [ "$NO_BUILD" = 1 ]; then
            OURS_WHY="$BIN missing and --no-build given"; return 1
        fi
        [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
        if ! command -v swift >/dev/null; then OURS_WHY="$BIN missing and no swift toolchain to build it"; return 1; fi
        log "building: swift build -c release --product followup (log: $WORK/build.log)"
        if ! (cd "$ROOT" && run_step "$WORK/build.log" "$WORK/build.log.err" swift build -c release --product followup); then
            tail -15 "$WORK/build.log" "$WORK/build.log.err" >&2 || true
            OURS_WHY="swift build -c release --product followup failed (see the lines above)"; return 1
        fi
        [ -x "$BIN" ] || { OURS_WHY="build finished but $BIN is missing"; return 1; }
    fi
    if ! timeout 30 "$BIN" bench queue --help >"$WORK/ours-help.txt" 2>&1; then
        OURS_WHY="'$(basename "$BIN") bench queue' is not available yet ($(head -c 200 "$WORK/ours-help.txt" | tr '\n' ' '))"; return 1
    fi
    OURS_READY=yes
}

run_ours() { # system mode db extra-args...
    local system=$1 mode=$2 db=$3; shift 3
    if ! ours_ready; then skip "$system" "$OURS_WHY"; return 0; fi
    local args=(bench queue --database-url "$(new_db "$db")" --workers "$WORKERS" --batch "$BATCH")
    if [ "$mode" = drain ]; then
        args+=(--jobs "$JOBS")
    elif ! grep -q -- '--mode' "$WORK/ours-help.txt"; then
        skip "$system" "'bench queue' has no --mode option"; return 0
    else
        args+=(--mode "$mode")
    fi
    args+=("$@")
    checkpoint
    log "$system: $(basename "$BIN") ${args[*]}"
    if ! run_step "$WORK/$system.out" "$WORK/$system.err" "$BIN" "${args[@]}"; then
        tail -15 "$WORK/$system.err" "$WORK/$system.out" >&2 || true
        skip "$system" "followup bench queue --mode $mode failed or timed out (${TIMEOUT}s)"; return 0
    fi
    # The command prints one JSON object as its last line.
    if ! tail -1 "$WORK/$system.out" | "$PYTHON" -c '
import json, sys
d = json.loads(sys.stdin.read())
assert isinstance(d, dict)
d = {"system": sys.argv[1], **d}
print(json.dumps(d))' "$system" >>"$RESULTS"; then
        skip "$system" "last output line is not a JSON object: $(tail -1 "$WORK/$system.out" | head -c 200)"
    fi
}

# shellcheck disable=SC2086
has_step ours && run_ours ours drain followup ${OURS_ARGS:-}
# shellcheck disable=SC2086
has_step idle && run_ours ours_idle idle followup_idle ${OURS_IDLE_ARGS:-}
# shellcheck disable=SC2086
has_step lateness && run_ours ours_lateness lateness followup_lateness ${OURS_LATENESS_ARGS:-}

# --- bare SKIP LOCKED under pgbench -----------------------------------------------------------
run_bare() { # system complete
    local system=$1 complete=$2
    local url; url=$(new_db "$system")
    checkpoint
    log "$system: benchmarks/bare_pgbench.sh --complete $complete"
    if run_step "$WORK/$system.out" "$WORK/$system.err" env PG_BIN="$PG_BIN" "$HERE/bare_pgbench.sh" \
        --database-url "$url" --jobs "$JOBS" --workers "$WORKERS" --batch "$BATCH" --complete "$complete" --timeout "$TIMEOUT" \
        && tail -1 "$WORK/$system.out" | "$PYTHON" -c 'import json, sys; json.loads(sys.stdin.read())' 2>/dev/null; then
        tail -1 "$WORK/$system.out" >>"$RESULTS"
    else
        tail -15 "$WORK/$system.err" >&2 || true
        skip "$system" "bare_pgbench.sh failed or timed out (${TIMEOUT}s)"
    fi
}
has_step bare && run_bare bare_pgbench_each each
has_step bare_batch && run_bare bare_pgbench_batch batch

# --- PgQueuer ---------------------------------------------------------------------------------
if has_step pgqueuer; then
    if ! "$PYTHON" -c 'import pgqueuer, asyncpg' 2>/dev/null; then
        skip pgqueuer "python modules missing: pip install pgqueuer asyncpg"
    else
        url=$(new_db pgqueuer)
        checkpoint
        pargs=(--dsn "$url" --jobs "$JOBS" --workers "$WORKERS" --batch "$BATCH" --timeout "$TIMEOUT")
        [ -n "$PGQ_PROCESSES" ] && pargs+=(--processes "$PGQ_PROCESSES")
        log "pgqueuer: benchmarks/pgqueuer_bench.py ${pargs[*]}"
        if run_step "$WORK/pgqueuer.out" "$WORK/pgqueuer.err" "$PYTHON" "$HERE/pgqueuer_bench.py" "${pargs[@]}" \
            && tail -1 "$WORK/pgqueuer.out" | "$PYTHON" -c 'import json, sys; json.loads(sys.stdin.read())' 2>/dev/null; then
            tail -1 "$WORK/pgqueuer.out" >>"$RESULTS"
        else
            tail -15 "$WORK/pgqueuer.err" >&2 || true
            skip pgqueuer "pgqueuer_bench.py failed or timed out (${TIMEOUT}s)"
        fi
    fi
fi

# --- summary ----------------------------------------------------------------------------------
echo
"$PYTHON" "$HERE/summarize.py" "$RESULTS"
if [ -n "$JSON_OUT" ]; then
    cp "$RESULTS" "$JSON_OUT"
    echo "results (JSON lines): $JSON_OUT" >&2
fi
