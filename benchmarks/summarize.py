#!/usr/bin/env python3
"""Prints the side-by-side table for compare_queue.sh from its JSON lines (one per system/mode)."""

from __future__ import annotations

import json
import sys

LABELS = {
    "ours": "ours (followup bench queue)",
    "bare_pgbench_each": "bare SKIP LOCKED, pgbench (per-job complete)",
    "bare_pgbench_batch": "bare SKIP LOCKED, pgbench (batch complete)",
    "pgqueuer": "PgQueuer",
    "ours_idle": "ours --mode idle",
    "ours_lateness": "ours --mode lateness",
}
TARGETS = {  # system: (p99 fields to try, in order; limit ms; what)
    "ours_idle": (("latency_p99_ms", "start_p99_ms"), 25.0, "enqueue->start p99 < 25 ms"),
    "ours_lateness": (("lateness_p99_ms", "latency_p99_ms"), 50.0, "lateness p99 < 50 ms (1,000,000 later jobs)"),
}


def p99_of(r: dict, fields) -> float | None:
    for f in fields:
        if isinstance(r.get(f), (int, float)):
            return float(r[f])
    for k, v in r.items():  # any other *p99* milliseconds field the command prints
        if "p99" in k and k.endswith("_ms") and isinstance(v, (int, float)):
            return float(v)
    return None


def fmt(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def main(path: str) -> int:
    runs: dict[str, list[dict]] = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                runs.setdefault(r["system"], []).append(r)
    # One row per system: its median run (by jobs/s; by p99 for the latency modes), else its skip.
    rows = []
    for system, rs in runs.items():
        ok = [r for r in rs if "skipped" not in r]
        if not ok:
            rows.append(rs[0])
            continue
        key = (lambda r: p99_of(r, TARGETS[system][0]) or 0) if system in TARGETS else (lambda r: r.get("jobs_per_second") or 0)
        ok.sort(key=key)
        row = dict(ok[(len(ok) - 1) // 2])
        row["_runs"] = [r.get("jobs_per_second") for r in rs if "skipped" not in r]
        row["_failed"] = len(rs) - len(ok)
        rows.append(row)
    by = {r["system"]: r for r in rows}

    drains = [r for r in rows if r["system"] not in TARGETS]
    header = ["system", "jobs/s", "batch", "workers", "p50 ms", "p99 ms", "RSS MiB", "jobs", "runs (jobs/s)"]
    table = []
    for r in drains:
        name = LABELS.get(r["system"], r["system"])
        if "skipped" in r:
            table.append([name, "skipped", "", "", "", "", "", "", ""])
        else:
            table.append([name, fmt(r.get("jobs_per_second")), fmt(r.get("claim_batch")), fmt(r.get("workers")),
                          fmt(r.get("latency_p50_ms"), 2), fmt(r.get("latency_p99_ms"), 2),
                          fmt(r.get("rss_mib")), fmt(r.get("jobs")),
                          " ".join(f"{x:.0f}" for x in r["_runs"] if x) + (f" +{r['_failed']} failed" if r["_failed"] else "")])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print("Drain: N no-op jobs enqueued up front, drained by W workers claiming B at a time (fsync on);")
    print("each row is the system's median run")
    print(line(header))
    print(line(["-" * w for w in widths]))
    for t in table:
        print(line(t))

    print("(RSS: peak resident memory of the queue's client side: our binary; PgQueuer's consumer processes, summed)")
    print()
    print("What the latency columns measure:")
    for r in drains:
        if "skipped" in r:
            print(f"  {LABELS.get(r['system'], r['system'])}: skipped: {r['skipped']}")
        else:
            print(f"  {LABELS.get(r['system'], r['system'])}: {r.get('latency_measures', 'as the command defines it')}")

    print()
    ours = by.get("ours", {}).get("jobs_per_second")
    for other in ("pgqueuer", "bare_pgbench_each", "bare_pgbench_batch"):
        theirs = by.get(other, {}).get("jobs_per_second")
        name = LABELS.get(other, other)
        if ours and theirs:
            print(f"ours / {name}: {ours / theirs:.2f}x")
        else:
            print(f"ours / {name}: n/a ({'ours' if not ours else other} missing)")

    others = [r for r in rows if r["system"] in ("ours_idle", "ours_lateness")]
    if others:
        print()
        print("Latency modes (the command's JSON, passed through):")
        for r in others:
            name = LABELS[r["system"]]
            if "skipped" in r:
                print(f"  {name}: skipped: {r['skipped']}")
                continue
            fields, limit, what = TARGETS[r["system"]]
            v = p99_of(r, fields)
            verdict = "n/a (no p99 field)" if v is None else (f"{'MET' if v < limit else 'MISSED'} (p99 {v:.2f} ms)")
            d = {k: v for k, v in r.items() if k != "system" and not k.startswith("_")}
            print(f"  {name}: target {what}: {verdict}")
            print(f"    {json.dumps(d)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
