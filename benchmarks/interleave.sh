#!/usr/bin/env bash
# Two builds of `followup`, the same benchmark, alternating (A, B, A, B, …) for --rounds rounds, so
# slow drift of a shared machine is spread over both; prints every run and the ratio of the medians.
#
#   benchmarks/interleave.sh --a OLD_BIN --b NEW_BIN [--rounds 5] [--field followups_per_second] -- bench followups [args…]
#
# Each run is the benchmark's own process (by default on its own embedded cluster, fsync on); the
# figure is FIELD of the JSON object on its last line. Example (the 2026-11-29 regression):
#   git worktree add /tmp/old 7dda8c6 && (cd /tmp/old && swift build -c release --product followup)
#   benchmarks/interleave.sh --a /tmp/old/.build/release/followup --b .build/release/followup -- bench followups
set -euo pipefail
A="" B="" ROUNDS=5 FIELD=followups_per_second
while [ $# -gt 0 ]; do
    case "$1" in
        --a) A=$2; shift 2 ;;
        --b) B=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --field) FIELD=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "unknown argument: $1 (the benchmark's arguments go after --)" >&2; exit 2 ;;
    esac
done
[ -x "$A" ] && [ -x "$B" ] && [ $# -gt 0 ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "--rounds must be a positive integer" >&2; exit 2; }
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for ((r = 1; r <= ROUNDS; r++)); do
    for side in a b; do
        bin=$A; [ $side = b ] && bin=$B
        line=$(timeout 900 "$bin" "$@" 2>/dev/null | tail -1)
        value=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$line" "$FIELD" 2>/dev/null || true)
        echo "round $r $side: ${value:-failed}" >&2
        echo "$side ${value:-nan}" >>"$OUT"
    done
done
python3 - "$OUT" "$FIELD" <<'PY'
import statistics, sys
runs = {"a": [], "b": []}
for line in open(sys.argv[1]):
    side, v = line.split()
    if v != "nan":
        runs[side].append(float(v))
for side in "ab":
    print(f"{side}: {sys.argv[2]} " + " ".join(f"{v:.0f}" for v in runs[side]) + (f"  median {statistics.median(runs[side]):.0f}" if runs[side] else ""))
if runs["a"] and runs["b"]:
    print(f"b / a (medians): {statistics.median(runs['b']) / statistics.median(runs['a']):.2f}x")
    pairs = [b / a for a, b in zip(runs["a"], runs["b"])]
    print("b / a per round: " + " ".join(f"{p:.2f}" for p in pairs))
PY
