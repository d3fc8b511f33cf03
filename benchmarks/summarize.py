#!/usr/bin/env python3
"""Prints the side-by-side table for compare_queue.sh from its JSON lines (one per system/mode)."""

from __future__ import annotations

import json
import sys

LABELS = {
    "ours": "ours (followup bench queue)",
    "bare_pgbench_each": "bare SKIP LOCKED, pgbench (per-job complete)",
    "bare_pgbench_batch": "bare SKIP LOCKED, pgbench (batch complete)",
    "floor": "the pattern's floor (claim + complete in one statement)",
    "pgqueuer": "PgQueuer",
    "ours_sustained": "ours",
    "bare_sustained": "same-schema bare worker",
    "floor_sustained": "the pattern's floor",
    "pgqueuer_sustained": "PgQueuer",
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


SUSTAINED = ("ours_sustained", "bare_sustained", "floor_sustained", "pgqueuer_sustained")


def print_table(header, table):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(header))
    print(line(["-" * w for w in widths]))
    for t in table:
        print(line(t))


def main(path: str) -> int:
    runs: dict[tuple[str, int], list[dict]] = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                runs.setdefault((r["system"], int(r.get("jobs") or 0)), []).append(r)
    # One row per system and backlog: its median run (by jobs/s; by p99 for the latency modes), else its skip.
    rows = []
    for (system, _), rs in runs.items():
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

    drains = [r for r in rows if r["system"] not in TARGETS and r["system"] not in SUSTAINED]
    backlogs = sorted({int(r.get("jobs") or 0) for r in drains if "skipped" not in r})
    systems = list(dict.fromkeys(r["system"] for r in drains))
    rate = {(r["system"], int(r.get("jobs") or 0)): r.get("jobs_per_second") for r in drains if "skipped" not in r}
    if drains:
        print("Drain: a backlog of N due no-op jobs, drained by W workers claiming B at a time (fsync on); median jobs/s per system")
        header = ["system"] + [f"{n:,}" for n in backlogs] + ["runs (jobs/s)"]
        table = []
        for system in systems:
            skipped = [r for r in drains if r["system"] == system and "skipped" in r]
            cells = [fmt(rate.get((system, n))) for n in backlogs]
            runs_text = " | ".join(" ".join(f"{x:.0f}" for x in r["_runs"] if x) for r in drains if r["system"] == system and "_runs" in r)
            if skipped and all(c == "-" for c in cells):
                runs_text = "skipped: " + skipped[0]["skipped"][:80]
            table.append([LABELS.get(system, system)] + cells + [runs_text])
        print_table(header, table)
        print()
        for other in ("bare_pgbench_each", "bare_pgbench_batch", "floor", "pgqueuer"):
            if other not in systems:
                continue
            ratios = [f"{n:,}: {rate[('ours', n)] / rate[(other, n)]:.2f}x" for n in backlogs
                      if rate.get(("ours", n)) and rate.get((other, n))]
            print(f"ours / {LABELS.get(other, other)}: {', '.join(ratios) or 'n/a'}")
        if len(backlogs) > 1 and rate.get(("ours", backlogs[0])) and rate.get(("ours", backlogs[-1])):
            print(f"ours at {backlogs[-1]:,} / ours at {backlogs[0]:,}: {rate[('ours', backlogs[-1])] / rate[('ours', backlogs[0])]:.2f}x")
        print()
        print("What the latency of each drain measures (in the JSON lines):")
        seen = set()
        for r in drains:
            if r["system"] in seen or "skipped" in r:
                continue
            seen.add(r["system"])
            print(f"  {LABELS.get(r['system'], r['system'])}: {r.get('latency_measures', 'as the command defines it')}")

    sustained = [r for r in rows if r["system"] in SUSTAINED]
    if sustained:
        print()
        print("Sustained: jobs arrive at a fixed rate; the highest rate with enqueue->start p99 < 1 s (step search),")
        print("then that rate held: jobs started per second and p99 in the first and the last 10% of the hold")
        header = ["system", "highest held/s", "first 10%/s", "last 10%/s", "last/first", "p99 first ms", "p99 last ms", "held", "hold s / note"]
        table = []
        for r in sustained:
            if "skipped" in r:
                table.append([LABELS[r["system"]]] + ["-"] * 7 + ["skipped: " + r["skipped"][:70]])
                continue
            table.append([LABELS[r["system"]], fmt(r.get("highest_rate_held")), fmt(r.get("first_10pct_jobs_per_second")),
                          fmt(r.get("last_10pct_jobs_per_second")), fmt(r.get("last_over_first"), 2),
                          fmt(r.get("first_10pct_p99_ms")), fmt(r.get("last_10pct_p99_ms")),
                          "yes" if r.get("held_throughout") else "no", fmt(r.get("hold_seconds"))])
        print_table(header, table)
        by = {r["system"]: r for r in sustained if "skipped" not in r}
        ours = by.get("ours_sustained", {}).get("highest_rate_held")
        for other in ("bare_sustained", "floor_sustained", "pgqueuer_sustained"):
            theirs = by.get(other, {}).get("highest_rate_held")
            if ours and theirs:
                print(f"ours / {LABELS[other]} (highest rate held): {ours / theirs:.2f}x")

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
