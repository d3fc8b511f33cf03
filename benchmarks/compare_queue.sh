#!/usr/bin/env bash
# Compares our job queue with its two anchors and with PgQueuer, in one go, on one throwaway
# Postgres cluster this script starts itself (fsync on) and deletes on exit. See benchmarks/README.md.
#
#   benchmarks/compare_queue.sh [--backlogs LIST] [--workers W] [--batch B] [--repeat R] [--steps LIST]
#                               [--minutes M] [--step-seconds S] [--start-rate R0] [--rate-step D] [--quick]
#                               [--timeout SECONDS] [--pgqueuer-processes P] [--json-out FILE] [--no-build]
#
# Steps (default: all): ours bare bare_batch floor pgqueuer sustained idle lateness
#   ours        followup bench queue: drain each backlog (built first if .build/release/followup is missing)
#   bare        the same-schema bare worker: SKIP LOCKED under pgbench on our jobs table, one completion per job
#   bare_batch  the same, one completion statement per batch
#   floor       the pattern's floor (benchmarks/floor/): one statement claims and completes a batch
#   pgqueuer    benchmarks/pgqueuer_bench.py (pgqueuer and asyncpg are pip-installed when missing)
#   sustained   the sustained shape for ours, bare, floor and PgQueuer: a step search for the highest rate
#               with enqueue->start p99 < 1 s, then that rate held for M minutes (first vs last 10%)
#   idle        followup bench queue --mode idle       lateness  followup bench queue --mode lateness
# --backlogs: comma-separated backlogs to drain (default 50000,300000,1000000; --jobs N = one backlog).
# The drain steps run R rounds (default 3) per backlog, interleaved; the summary shows each median.
# --quick: a smoke run (backlog 20000, 1 round, sustained steps of 5 s and a 30 s hold, 50,000 later jobs).
# Environment: BENCH_BACKLOGS, BENCH_WORKERS or W, BENCH_BATCH or B, BENCH_REPEAT, BENCH_STEPS,
# STEP_TIMEOUT (seconds per step, default 600; a sustained step gets its own bound), BUILD_TIMEOUT (1800),
# FOLLOWUP_BIN, BENCH_NO_BUILD=1, PGQUEUER_PROCESSES, PGBENCH_THREADS (2), PG_BIN (/usr/lib/postgresql/15/bin),
# PYTHON (python3), OURS_ARGS / OURS_IDLE_ARGS / OURS_LATENESS_ARGS: extra arguments for the `followup` runs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BACKLOGS=${BENCH_BACKLOGS:-${BENCH_JOBS:-${N:-50000,300000,1000000}}}
WORKERS=${BENCH_WORKERS:-${W:-16}}
BATCH=${BENCH_BATCH:-${B:-10}}
STEPS=${BENCH_STEPS:-"ours bare bare_batch floor pgqueuer sustained idle lateness"}
MINUTES=${BENCH_MINUTES:-10}
STEP_SECONDS=${BENCH_STEP_SECONDS:-20}
START_RATE=${BENCH_START_RATE:-1000}
RATE_STEP=${BENCH_RATE_STEP:-1000}
QUICK=0
TIMEOUT=${STEP_TIMEOUT:-600}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1800}
NO_BUILD=${BENCH_NO_BUILD:-0}
REPEAT=${BENCH_REPEAT:-3}
PGQ_PROCESSES=${PGQUEUER_PROCESSES:-}
JSON_OUT=""
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PYTHON=${PYTHON:-python3}
DEFAULT_BIN=$ROOT/.build/release/followup
BIN=${FOLLOWUP_BIN:-$DEFAULT_BIN}

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs|--backlogs) BACKLOGS=$2; shift 2 ;;
        --minutes) MINUTES=$2; shift 2 ;;
        --step-seconds) STEP_SECONDS=$2; shift 2 ;;
        --start-rate) START_RATE=$2; shift 2 ;;
        --rate-step) RATE_STEP=$2; shift 2 ;;
        --quick) QUICK=1; BACKLOGS=20000; REPEAT=1; MINUTES=0.5; STEP_SECONDS=5; shift ;;  # flags after it still apply
        --workers) WORKERS=$2; shift 2 ;;
        --batch) BATCH=$2; shift 2 ;;
        --steps) STEPS=${2//,/ }; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --pgqueuer-processes) PGQ_PROCESSES=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        --json-out) JSON_OUT=$2; shift 2 ;;
        --no-build) NO_BUILD=1; shift ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
if [ "$QUICK" = 1 ]; then
    OURS_LATENESS_ARGS="${OURS_LATENESS_ARGS:-} --scheduled-later 50000"
fi
BACKLOGS=${BACKLOGS//,/ }
for JOBS in $BACKLOGS; do [[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "--backlogs must list positive integers, got '$JOBS'" >&2; exit 2; }; done
[[ $MINUTES =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "--minutes must be a number, got '$MINUTES'" >&2; exit 2; }
JOBS=${BACKLOGS%% *}
for v in JOBS WORKERS BATCH TIMEOUT REPEAT STEP_SECONDS START_RATE RATE_STEP; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$v must be a positive integer, got '${!v}'" >&2; exit 2; }
done
for s in $STEPS; do
    case "$s" in ours|idle|lateness|bare|bare_batch|floor|pgqueuer|sustained) ;; *) echo "unknown step: $s" >&2; exit 2 ;; esac
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
    timeout -k 10 "${RUN_TIMEOUT:-$TIMEOUT}" "$@" >"$out" 2>"$err" &
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
chmod 755 "$WORK"
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$CLUSTER"; fi
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
# A queue's server: autovacuum looks at each database every 5 s, not 60 (docs/queue.md,
# "Tuning the claim table"). Every system measured here runs on this same cluster.
autovacuum_naptime = 5s
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
# Each run gets a fresh database, dropped afterwards so that autovacuum of its dead rows does not
# run during the next system's measurement.
drop_db() { psql_admin -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1 || true; }
log "Postgres $("$PG_BIN/postgres" --version | awk '{print $3}') up on 127.0.0.1:$PORT (fsync on); jobs=$JOBS workers=$WORKERS batch=$BATCH rounds=$REPEAT"
CPUS=$(nproc)
LOAD=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD" -v c="$CPUS" 'BEGIN { exit !(l > c / 2) }'; then
    echo "    warning: load average $LOAD on $CPUS CPUs before starting: something else is busy, numbers will be noisy" >&2
fi

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
        if ! RUN_TIMEOUT=$BUILD_TIMEOUT run_step "$WORK/build.log" "$WORK/build.log.err" swift build --package-path "$ROOT" -c release --product followup; then
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

# Appends the step's last output line to the results, as {"system": ..., **that JSON object}.
take_json() { # system outfile
    tail -1 "$2" | "$PYTHON" -c '
import json, sys
d = json.loads(sys.stdin.read())
assert isinstance(d, dict)
print(json.dumps({**d, "system": sys.argv[1]}))' "$1" >>"$RESULTS" 2>/dev/null
}

run_ours() { # system mode run extra-args...
    local system=$1 mode=$2 run=$3; shift 3
    local tag=${system}_r$run
    if ! ours_ready; then skip "$system" "$OURS_WHY"; return 0; fi
    local url; url=$(new_db "$tag")
    local args=(bench queue --database-url "$url" --workers "$WORKERS" --batch "$BATCH")
    if [ "$mode" = drain ]; then
        args+=(--jobs "$JOBS")
    elif ! grep -q -- '--mode' "$WORK/ours-help.txt"; then
        skip "$system" "'bench queue' has no --mode option"; return 0
    else
        args+=(--mode "$mode")
    fi
    args+=("$@")
    checkpoint
    log "$system (run $run): $(basename "$BIN") ${args[*]}"
    if ! run_step "$WORK/$tag.out" "$WORK/$tag.err" "$BIN" "${args[@]}"; then
        tail -15 "$WORK/$tag.err" "$WORK/$tag.out" >&2 || true
        skip "$system" "followup bench queue --mode $mode failed or timed out (${TIMEOUT}s)"; drop_db "$tag"; return 0
    fi
    # The command prints one JSON object as its last line.
    take_json "$system" "$WORK/$tag.out" \
        || skip "$system" "last output line is not a JSON object: $(tail -1 "$WORK/$tag.out" | head -c 200)"
    drop_db "$tag"
}

run_bare() { # system complete run
    local system=$1 complete=$2 run=$3
    local tag=${system}_r$run
    local url; url=$(new_db "$tag")
    checkpoint
    log "$system (run $run): benchmarks/bare_pgbench.sh --complete $complete"
    if run_step "$WORK/$tag.out" "$WORK/$tag.err" env PG_BIN="$PG_BIN" "$HERE/bare_pgbench.sh" \
        --database-url "$url" --jobs "$JOBS" --workers "$WORKERS" --batch "$BATCH" --complete "$complete" --timeout "$TIMEOUT" \
        && take_json "$system" "$WORK/$tag.out"; then
        :
    else
        tail -15 "$WORK/$tag.err" >&2 || true
        skip "$system" "bare_pgbench.sh failed or timed out (${TIMEOUT}s)"
    fi
    drop_db "$tag"
}

run_pgqueuer() { # run
    local run=$1 tag=pgqueuer_r$1
    if ! pgqueuer_ready; then skip pgqueuer "python modules missing and pip install pgqueuer asyncpg failed"; return 0; fi
    local url; url=$(new_db "$tag")
    checkpoint
    local pargs=(--dsn "$url" --jobs "$JOBS" --workers "$WORKERS" --batch "$BATCH" --timeout "$TIMEOUT")
    [ -n "$PGQ_PROCESSES" ] && pargs+=(--processes "$PGQ_PROCESSES")
    log "pgqueuer (run $run): benchmarks/pgqueuer_bench.py ${pargs[*]}"
    if run_step "$WORK/$tag.out" "$WORK/$tag.err" "$PYTHON" "$HERE/pgqueuer_bench.py" "${pargs[@]}" \
        && take_json pgqueuer "$WORK/$tag.out"; then
        :
    else
        tail -15 "$WORK/$tag.err" >&2 || true
        skip pgqueuer "pgqueuer_bench.py failed or timed out (${TIMEOUT}s)"
    fi
    drop_db "$tag"
}

PGQ_READY=""
pgqueuer_ready() { # installs PgQueuer from PyPI once when it is missing
    if [ -z "$PGQ_READY" ]; then
        PGQ_READY=no
        if "$PYTHON" -c 'import pgqueuer, asyncpg' 2>/dev/null \
            || { log "pip install pgqueuer asyncpg"; "$PYTHON" -m pip install --quiet pgqueuer asyncpg >&2 && "$PYTHON" -c 'import pgqueuer, asyncpg'; }; then
            PGQ_READY=yes
        fi
    fi
    [ "$PGQ_READY" = yes ]
}

run_floor() { # run: the pattern's floor draining JOBS due jobs (benchmarks/floor/)
    local run=$1 tag=floor_r$1_$JOBS
    local url; url=$(new_db "$tag")
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$url" -f "$HERE/floor/schema.sql" >/dev/null 2>&1
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$url" -v n="$JOBS" -v spread=past -f "$HERE/floor/load.sql" >/dev/null
    local per_client=$(( (JOBS / BATCH + WORKERS - 1) / WORKERS + 2 ))
    checkpoint
    log "floor (run $run, $JOBS jobs): pgbench -c $WORKERS -t $per_client -D batch=$BATCH -f floor/claim_batch.pgb"
    if run_step "$WORK/$tag.out" "$WORK/$tag.err" "$PG_BIN/pgbench" -n -M prepared -c "$WORKERS" -j "${PGBENCH_THREADS:-2}" \
        -t "$per_client" -D batch="$BATCH" -f "$HERE/floor/claim_batch.pgb" "$url"; then
        # jobs/s from the table: completed rows over first to last completion (pgbench's idle tail not counted).
        "$PG_BIN/psql" -X -At -F ' ' -d "$url" -c "SELECT count(*) FILTER (WHERE state = 'completed'),
            extract(epoch FROM max(finished_at) - min(finished_at)) FROM jobs" | "$PYTHON" -c '
import json, sys
done, secs = sys.stdin.read().split()
done, secs = int(done), float(secs)
print(json.dumps({"system": "floor", "mode": "drain", "jobs": int(sys.argv[1]), "workers": int(sys.argv[2]), "claim_batch": int(sys.argv[3]),
                  "completed": done, "jobs_per_second": round(done / secs, 1) if secs > 0 else None,
                  "latency_measures": "none: one statement claims and completes a batch"}))' "$JOBS" "$WORKERS" "$BATCH" >>"$RESULTS"
    else
        tail -5 "$WORK/$tag.err" >&2 || true
        skip floor "pgbench on the floor failed or timed out (${TIMEOUT}s)"
    fi
    drop_db "$tag"
}

run_sustained() { # system: ours | bare | floor | pgqueuer, the same shape for each
    local system=$1 tag=sustained_$1
    local shape=(--workers "$WORKERS" --batch "$BATCH" --start-rate "$START_RATE" --rate-step "$RATE_STEP"
                 --step-seconds "$STEP_SECONDS" --minutes "$MINUTES")
    # Bounded: the search stops at 50,000/s, so at most 50 steps, plus the hold and its drain.
    local bound; bound=$("$PYTHON" -c "print(int(50 * $STEP_SECONDS + $MINUTES * 60 + 300))")
    local url; url=$(new_db "$tag")
    checkpoint
    local cmd
    case "$system" in
        ours)
            if ! ours_ready; then skip ours_sustained "$OURS_WHY"; drop_db "$tag"; return 0; fi
            cmd=("$BIN" bench queue --mode sustained --database-url "$url" "${shape[@]}") ;;
        pgqueuer)
            if ! pgqueuer_ready; then skip pgqueuer_sustained "pgqueuer missing"; drop_db "$tag"; return 0; fi
            cmd=("$PYTHON" "$HERE/sustained.py" --system pgqueuer --dsn "$url" "${shape[@]}")
            [ -n "$PGQ_PROCESSES" ] && cmd+=(--processes "$PGQ_PROCESSES") ;;
        *)  cmd=(env PG_BIN="$PG_BIN" "$PYTHON" "$HERE/sustained.py" --system "$system" --dsn "$url" "${shape[@]}") ;;
    esac
    log "sustained $system: ${cmd[*]}"
    if RUN_TIMEOUT=$bound run_step "$WORK/$tag.out" "$WORK/$tag.err" "${cmd[@]}"; then
        take_json "${system}_sustained" "$WORK/$tag.out" || skip "${system}_sustained" "no JSON line"
    else
        tail -15 "$WORK/$tag.err" "$WORK/$tag.out" >&2 || true
        skip "${system}_sustained" "failed or timed out (${bound}s)"
    fi
    drop_db "$tag"
}

# Drain rounds: each round runs every system once, each on a fresh database; the summary reports
# the median run per system (all runs are in the JSON lines).
for JOBS in $BACKLOGS; do
    for ((run = 1; run <= REPEAT; run++)); do
        # shellcheck disable=SC2086
        if has_step ours; then run_ours ours drain "$run" ${OURS_ARGS:-}; fi
        if has_step bare; then run_bare bare_pgbench_each each "$run"; fi
        if has_step bare_batch; then run_bare bare_pgbench_batch batch "$run"; fi
        if has_step floor; then run_floor "$run"; fi
        if has_step pgqueuer; then run_pgqueuer "$run"; fi
    done
done
# The sustained shape, once per system.
if has_step sustained; then
    for system in ours bare floor pgqueuer; do run_sustained "$system"; done
fi
# Our latency modes, once each.
# shellcheck disable=SC2086
if has_step idle; then run_ours ours_idle idle 1 ${OURS_IDLE_ARGS:-}; fi
# shellcheck disable=SC2086
if has_step lateness; then run_ours ours_lateness lateness 1 ${OURS_LATENESS_ARGS:-}; fi

# --- summary ----------------------------------------------------------------------------------
echo
echo "machine: $CPUS CPUs, load average before the runs: $LOAD"
"$PYTHON" "$HERE/summarize.py" "$RESULTS"
if [ -n "$JSON_OUT" ]; then
    cp "$RESULTS" "$JSON_OUT"
    echo "results (JSON lines, one per run): $JSON_OUT" >&2
fi
