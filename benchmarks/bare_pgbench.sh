#!/usr/bin/env bash
# The baseline: bare FOR UPDATE SKIP LOCKED under pgbench, no application in between.
#
# In schema `bare_bench` of the database DATABASE_URL names (dropped and recreated: never point it
# at a schema you care about), it applies Sources/Jobs/SQL/0001_jobs.sql (so the table, indexes and
# insert trigger are exactly ours), loads N due no-op jobs, and drains them with pgbench:
# W clients, each pgbench "transaction" (one run of the script) being
#
#   1. the claim, one autocommit statement: up to B 'available' rows in (priority, run_at, id)
#      order, FOR UPDATE SKIP LOCKED, marked 'running' (attempt + 1, lease), ids returned;
#   2. the completion, as a worker does it:
#        --complete each  (default) one autocommit UPDATE per claimed job, fenced on (id, attempt),
#                         the statement our worker runs (QueueSQL.complete): B + 1 commits per batch;
#        --complete history like `each`, but as the worker completes now: DELETE the row and write
#                         its record to job_history in one statement (docs/queue.md);
#        --complete batch one UPDATE ... FROM unnest(ids, attempts) for the whole batch: 2 commits.
#
# The claim and the completion are separate transactions (as in a real worker); a pgbench
# "transaction" is one claim plus its completions.
#
# jobs/s = completed rows / (last finished_at - first attempted_at), both read from the table, so
# the idle tail of pgbench (clients finding nothing left) is not counted. pgbench runs a fixed
# number of scripts per client (-t), sized to drain the backlog with a little slack; if rows are
# left anyway (possible when a client's claims come back short), a one-client pass finishes them
# and its time counts. Latency p50/p99 = pgbench's per-script latency (one claim + its
# completions), from its transaction log.
#
# Prints ONE JSON line on stdout; progress goes to stderr.
set -euo pipefail

usage() {
    echo "usage: $0 --database-url URL [--jobs N] [--workers W] [--batch B] [--complete each|batch] [--threads J] [--timeout SECONDS]" >&2
    echo "       $0 --emit-script FILE [--batch B] [--complete each|batch]   (the worker's pgbench script, sleeping 5 ms when it claims nothing; for sustained.py)" >&2
    exit 2
}

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
URL=${DATABASE_URL:-}
JOBS=${BENCH_JOBS:-50000}
WORKERS=${BENCH_WORKERS:-16}
BATCH=${BENCH_BATCH:-10}
COMPLETE=${BARE_COMPLETE:-each}
THREADS=${PGBENCH_THREADS:-2}
TIMEOUT=${STEP_TIMEOUT:-600}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
MIGRATION=${MIGRATION:-$ROOT/Sources/Jobs/SQL/0001_jobs.sql}
EMIT=""

while [ $# -gt 0 ]; do
    case "$1" in
        --database-url) URL=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --batch) BATCH=$2; shift 2 ;;
        --complete) COMPLETE=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --emit-script) EMIT=$2; shift 2 ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
# --- the pgbench script -----------------------------------------------------------------------
write_script() { # file idle(0|1)
local SCRIPT=$1
cat >"$SCRIPT" <<'SQL'
-- Claim (autocommit): up to :batch due jobs, most urgent first, FOR UPDATE SKIP LOCKED.
WITH picked AS MATERIALIZED (
    SELECT id FROM bare_bench.jobs
    WHERE state = 'available' AND queue = 'default' AND run_at <= now()
    ORDER BY priority, run_at, id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE bare_bench.jobs j
    SET state = 'running', attempt = j.attempt + 1, attempted_at = now(),
        attempted_by = 'pgbench', lease_expires_at = now() + interval '5 minutes'
    FROM picked WHERE j.id = picked.id
    RETURNING j.id, j.attempt
)
SELECT count(*) AS n,
       coalesce(array_agg(id ORDER BY id), '{}')::text AS ids,
       coalesce(array_agg(attempt ORDER BY id), '{}')::text AS attempts
FROM claimed
\gset
SQL
if [ "$COMPLETE" = batch ]; then
    cat >>"$SCRIPT" <<'SQL'
-- Complete the whole batch in one autocommit statement, fenced on (id, attempt).
\if :n > 0
UPDATE bare_bench.jobs j SET state = 'completed', finished_at = now(), lease_expires_at = NULL
FROM unnest(:ids::bigint[], :attempts::int[]) AS mine(id, attempt)
WHERE j.id = mine.id AND j.attempt = mine.attempt AND j.state = 'running';
\endif
SQL
elif [ "$COMPLETE" = history ]; then
    echo "-- Complete each job in its own autocommit statement, moving it to job_history." >>"$SCRIPT"
    for ((i = 1; i <= BATCH; i++)); do
        cat >>"$SCRIPT" <<SQL
\\if :n >= $i
WITH done AS (DELETE FROM bare_bench.jobs WHERE id = (:ids::bigint[])[$i] AND attempt = (:attempts::int[])[$i] AND state = 'running' RETURNING *)
INSERT INTO bare_bench.job_history (id, queue, kind, state, priority, attempt, max_attempts, unique_key, errors, created_at, run_at, attempted_at, attempted_by, finished_at)
SELECT id, queue, kind, 'completed', priority, attempt, max_attempts, unique_key, nullif(errors, '[]'), created_at, run_at, attempted_at, attempted_by, now() FROM done;
\\endif
SQL
    done
else
    echo "-- Complete each job in its own autocommit statement (QueueSQL.complete)." >>"$SCRIPT"
    for ((i = 1; i <= BATCH; i++)); do
        cat >>"$SCRIPT" <<SQL
\\if :n >= $i
UPDATE bare_bench.jobs SET state = 'completed', finished_at = now(), lease_expires_at = NULL
WHERE id = (:ids::bigint[])[$i] AND attempt = (:attempts::int[])[$i] AND state = 'running';
\\endif
SQL
    done
fi
if [ "$2" = 1 ]; then
    printf '%s\n' '\if :n = 0' '\sleep 5 ms' '\endif' >>"$SCRIPT"
fi
}

if [ -n "$EMIT" ]; then
    [[ $BATCH =~ ^[1-9][0-9]*$ ]] || { echo "BATCH must be a positive integer" >&2; exit 2; }
    case "$COMPLETE" in each|batch) ;; *) echo "--complete must be each or batch" >&2; exit 2 ;; esac
    write_script "$EMIT" 1
    exit 0
fi
[ -n "$URL" ] || usage
case "$COMPLETE" in each|batch|history) ;; *) echo "--complete must be each, batch or history" >&2; exit 2 ;; esac
for v in JOBS WORKERS BATCH THREADS TIMEOUT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$v must be a positive integer, got '${!v}'" >&2; exit 2; }
done
[ "$THREADS" -le "$WORKERS" ] || THREADS=$WORKERS

PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$URL")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bare-pgbench.XXXXXX")
trap '[ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"' EXIT

log() { echo "[bare/$COMPLETE] $*" >&2; }

# --- schema and backlog ---------------------------------------------------------------------
log "schema bare_bench from $(basename "$MIGRATION"); loading $JOBS jobs"
timeout "$TIMEOUT" "${PSQL[@]}" -c "DROP SCHEMA IF EXISTS bare_bench CASCADE" -c "CREATE SCHEMA bare_bench" >/dev/null
PGOPTIONS="-c search_path=bare_bench" timeout "$TIMEOUT" "${PSQL[@]}" -f "$MIGRATION" >/dev/null
timeout "$TIMEOUT" "${PSQL[@]}" >/dev/null <<SQL
INSERT INTO bare_bench.jobs (kind, payload) SELECT 'bench.noop', '{}' FROM generate_series(1, $JOBS);
VACUUM ANALYZE bare_bench.jobs;
CHECKPOINT;
SQL

SCRIPT=$WORK/claim.sql
write_script "$SCRIPT" 0

# Scripts per client: enough batches for the backlog, plus a little slack for short claims.
BATCHES=$(( (JOBS + BATCH - 1) / BATCH ))
PER_CLIENT=$(( (BATCHES + WORKERS - 1) / WORKERS ))
PER_CLIENT=$(( PER_CLIENT + PER_CLIENT / 50 + 2 ))

# --- the drain --------------------------------------------------------------------------------
log "pgbench -n -M prepared -c $WORKERS -j $THREADS -t $PER_CLIENT (batch $BATCH)"
START_NS=$(date +%s%N)
set +e
(cd "$WORK" && timeout -k 5 "$TIMEOUT" "$PG_BIN/pgbench" -n -M prepared -f "$SCRIPT" -D batch="$BATCH" \
    -c "$WORKERS" -j "$THREADS" -t "$PER_CLIENT" -l --log-prefix="$WORK/txlog" "$URL" >"$WORK/pgbench.out" 2>"$WORK/pgbench.err")
RC=$?
set -e
END_NS=$(date +%s%N)
if [ $RC -ne 0 ]; then
    log "pgbench failed (exit $RC):"; tail -20 "$WORK/pgbench.err" >&2; tail -20 "$WORK/pgbench.out" >&2
    exit 1
fi

LEFT=$("${PSQL[@]}" -At -c "SELECT count(*) FROM bare_bench.jobs WHERE state <> 'completed'")
TAIL_PASSES=0
while [ "$LEFT" -gt 0 ] && [ $TAIL_PASSES -lt 5 ]; do
    TAIL_PASSES=$((TAIL_PASSES + 1))
    log "$LEFT jobs left after pgbench; one-client pass $TAIL_PASSES"
    (cd "$WORK" && timeout -k 5 "$TIMEOUT" "$PG_BIN/pgbench" -n -M prepared -f "$SCRIPT" -D batch="$BATCH" \
        -c 1 -j 1 -t $(( (LEFT + BATCH - 1) / BATCH + 1 )) "$URL" >/dev/null 2>"$WORK/tail.err") || { tail -5 "$WORK/tail.err" >&2; exit 1; }
    LEFT=$("${PSQL[@]}" -At -c "SELECT count(*) FROM bare_bench.jobs WHERE state <> 'completed'")
done

STATS=$("${PSQL[@]}" -At -F ' ' -c "
    SELECT count(*) FILTER (WHERE state = 'completed'),
           extract(epoch FROM max(finished_at) - min(attempted_at)),
           count(*) FILTER (WHERE attempt <> 1)
    FROM bare_bench.$([ "$COMPLETE" = history ] && echo job_history || echo jobs)")
read -r COMPLETED ELAPSED REATTEMPTED <<<"$STATS"

python3 - "$WORK" "$COMPLETED" "$ELAPSED" "$REATTEMPTED" "$LEFT" "$TAIL_PASSES" "$START_NS" "$END_NS" \
    "$JOBS" "$WORKERS" "$BATCH" "$THREADS" "$COMPLETE" "$PER_CLIENT" <<'PY'
import glob, json, re, sys
(work, completed, elapsed, reattempted, left, tail_passes, start_ns, end_ns,
 jobs, workers, batch, threads, complete, per_client) = sys.argv[1:]
lat = []
for path in glob.glob(f"{work}/txlog*"):
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                lat.append(int(parts[2]) / 1000.0)  # microseconds -> ms
lat.sort()
def pct(p):
    if not lat:
        return None
    return round(lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))], 3)
out = open(f"{work}/pgbench.out").read()
tps = re.search(r"tps = ([0-9.]+)", out)
completed = int(completed); elapsed = float(elapsed or 0)
print(json.dumps({
    "system": f"bare_pgbench_{complete}",
    "mode": "drain",
    "jobs": int(jobs), "workers": int(workers), "claim_batch": int(batch),
    "completed": completed,
    "jobs_per_second": round(completed / elapsed, 1) if elapsed > 0 else None,
    "latency_p50_ms": pct(50), "latency_p99_ms": pct(99),
    "latency_measures": f"pgbench script latency: one claim of <= {batch} + its completion ({complete})",
    "elapsed_s": round(elapsed, 3),
    "wall_s": round((int(end_ns) - int(start_ns)) / 1e9, 3),
    "pgbench_scripts": len(lat), "scripts_per_client": int(per_client),
    "pgbench_tps": float(tps.group(1)) if tps else None,
    "pgbench_threads": int(threads),
    "complete": complete,
    "commits_per_batch": int(batch) + 1 if complete == "each" else 2,
    "left_undrained": int(left), "tail_passes": int(tail_passes),
    "reattempted": int(reattempted),
}))
PY
