#!/usr/bin/env bash
# Drains the same backlogs with several builds (or schema variants) of `followup`, interleaved on
# one throwaway cluster (fsync on), so that a shared machine's drift hits every variant alike.
# Used for docs/queue.md's "Measured" table; compare the ratios, not the absolute figures.
#
#   benchmarks/queue_builds.sh [--sizes "50000 300000"] [--rounds R] [--bare] VARIANT...
#
# VARIANT is LABEL=BINARY or LABEL=BINARY:SQLFILE — SQLFILE is applied after `followup migrate`
# and before the drain (e.g. `ALTER TABLE jobs SET (fillfactor = 70)`), so schema levers are
# measured without a rebuild — or LABEL=bare:COMPLETE[:MIGRATION], benchmarks/bare_pgbench.sh
# with `--complete COMPLETE` (each, batch, history) on the schema MIGRATION (default: this
# tree's 0001_jobs.sql). --bare adds `bare=bare:each`, the same-schema bare worker.
# Each round runs every size for every variant, in an
# order that rotates per round. One JSON line per run on stdout (with "label" and "round");
# progress on stderr. Environment: WORKERS (16), BATCH (10), PG_BIN, STEP_TIMEOUT (900).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SIZES="50000 300000"
ROUNDS=3
BARE=0
WORKERS=${WORKERS:-16}
BATCH=${BATCH:-10}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
TIMEOUT=${STEP_TIMEOUT:-900}
VARIANTS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) SIZES=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --bare) BARE=1; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
        *=*) VARIANTS+=("$1"); shift ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ "$BARE" = 1 ] && VARIANTS+=("bare=bare:each")
[ ${#VARIANTS[@]} -gt 0 ] || { echo "no variants (LABEL=BINARY[:SQLFILE])" >&2; exit 2; }

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
WORK=$(mktemp -d /tmp/queue-builds.XXXXXX)
chmod 755 "$WORK"
DATA=$WORK/data
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
    as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] && chown postgres: "$WORK"
as_pg "$PG_BIN/initdb" -D "$DATA" -U followup -A trust -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1
cat >>"$DATA/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
fsync = on
synchronous_commit = on
max_connections = 200
shared_buffers = 256MB
max_wal_size = 4GB
log_min_messages = warning
CONF
as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w start >/dev/null
ADMIN="postgresql://followup@127.0.0.1:$PORT/postgres"
psql_admin() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$ADMIN" "$@"; }
echo "cluster on 127.0.0.1:$PORT; sizes: $SIZES; rounds: $ROUNDS; variants: ${VARIANTS[*]}" >&2

n=${#VARIANTS[@]}
for ((round = 1; round <= ROUNDS; round++)); do
    for size in $SIZES; do
        for ((k = 0; k < n; k++)); do
            variant=${VARIANTS[$(( (k + round - 1) % n ))]}
            label=${variant%%=*}; spec=${variant#*=}
            bin=${spec%%:*}; sql=""; [[ $spec == *:* ]] && sql=${spec#*:}
            db="b_${label//[^a-z0-9]/_}_${size}_$round"
            psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" -c "CHECKPOINT" >/dev/null
            url="postgresql://followup@127.0.0.1:$PORT/$db"
            echo "round $round, $size jobs: $label" >&2
            if [ "$bin" = bare ]; then
                complete=${sql%%:*}; migration=""; [[ $sql == *:* ]] && migration=${sql#*:}
                out=$(timeout "$TIMEOUT" env PG_BIN="$PG_BIN" ${migration:+MIGRATION=$migration} "$HERE/bare_pgbench.sh" --database-url "$url" \
                      --jobs "$size" --workers "$WORKERS" --batch "$BATCH" --complete "${complete:-each}" 2>"$WORK/err" | tail -1) \
                      || { tail "$WORK/err" >&2; out="{}"; }
            else
                if [ -n "$sql" ]; then
                    "$bin" migrate --database-url "$url" >/dev/null 2>"$WORK/err" || { tail "$WORK/err" >&2; }
                    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$url" -f "$sql" >/dev/null
                fi
                out=$(timeout "$TIMEOUT" "$bin" bench queue --database-url "$url" --jobs "$size" --workers "$WORKERS" --batch "$BATCH" \
                      2>"$WORK/err" | tail -1) || { tail "$WORK/err" >&2; out="{}"; }
            fi
            python3 -c 'import json, sys; d = json.loads(sys.argv[1] or "{}"); d.update(label=sys.argv[2], round=int(sys.argv[3]), size=int(sys.argv[4])); print(json.dumps(d))' \
                "$out" "$label" "$round" "$size"
            psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
        done
    done
done
