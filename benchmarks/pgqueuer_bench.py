#!/usr/bin/env python3
"""PgQueuer drain benchmark: N no-op jobs, W consumers claiming B at a time. Prints ONE JSON line.

Written against the PgQueuer API as installed (checked in site-packages for pgqueuer 1.6.0):

* schema: ``Queries.install()`` (its default, "durable": every table logged), into the database
  ``--dsn`` names; if PgQueuer is already installed there, only this benchmark's entrypoint is
  cleared from its queue.
* enqueue: ``Queries.enqueue([entrypoint]*k, [None]*k, [0]*k)``, one multi-row INSERT per chunk.
* consume: ``QueueManager(Queries(AsyncpgDriver(connection)))`` with a no-op ``@entrypoint``, run
  with ``QueueManager.run(batch_size=B, mode=QueueExecutionMode.drain)``, which returns once the
  queue is empty and its buffered completions are written. Each QueueManager is one PgQueuer
  worker with its own connection (PgQueuer serialises the statements of one driver behind a
  lock), so ``--workers W`` means W QueueManagers, i.e. W connections claiming with
  ``FOR UPDATE SKIP LOCKED``. They are spread over ``--processes P`` Python processes (default:
  min(W, CPUs)), because one asyncio process cannot keep 16 of them busy.
  Completion in PgQueuer is one statement per flushed buffer (DELETE from the queue + INSERT into
  ``pgqueuer_log``), flushed when ``batch_size`` completions have gathered, or every 0.1 s.

jobs/s = N / (last consumer finished - first consumer started), all consumers released together
by a barrier once connected (so connection setup and imports are not counted; PgQueuer's own
start-up checks are). Latency p50/p99 = round trip of PgQueuer's dequeue statement (the claim of
up to B jobs), non-empty claims only. Afterwards the queue must be empty and the log must hold N
'successful' rows for this run, or the script fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import time
from datetime import timedelta

ENTRYPOINT = "bench_noop"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", "--database-url", dest="dsn", default=os.environ.get("DATABASE_URL"))
    p.add_argument("--jobs", type=int, default=int(os.environ.get("BENCH_JOBS", 50000)))
    p.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 16)),
                   help="QueueManagers (each with its own connection)")
    p.add_argument("--batch", type=int, default=int(os.environ.get("BENCH_BATCH", 10)),
                   help="PgQueuer batch_size (jobs per dequeue)")
    p.add_argument("--processes", type=int, default=None,
                   help="Python processes to spread the workers over (default min(workers, CPUs))")
    p.add_argument("--dequeue-timeout", type=float, default=0.1,
                   help="seconds a worker waits for a NOTIFY when it finds nothing (drain tail only)")
    p.add_argument("--timeout", type=float, default=float(os.environ.get("STEP_TIMEOUT", 600)))
    a = p.parse_args()
    if not a.dsn:
        p.error("--dsn (or DATABASE_URL) is required")
    for name in ("jobs", "workers", "batch"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be >= 1")
    if a.processes is None:
        a.processes = min(a.workers, os.cpu_count() or 1)
    a.processes = max(1, min(a.processes, a.workers))
    return a


def log(msg: str) -> None:
    print(f"[pgqueuer] {msg}", file=sys.stderr, flush=True)


async def prepare(dsn: str, jobs: int) -> dict:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(dsn)
    try:
        queries = Queries(AsyncpgDriver(conn))
        if await queries.schema_is_installed():
            log("schema already installed; clearing this benchmark's jobs")
            await queries.clear_queue(ENTRYPOINT)
        else:
            await queries.install()
        t = time.perf_counter()
        chunk = 10_000
        for start in range(0, jobs, chunk):
            k = min(chunk, jobs - start)
            await queries.enqueue([ENTRYPOINT] * k, [None] * k, [0] * k)
        enqueue_s = time.perf_counter() - t
        table = queries.qbe.settings.queue_table
        await conn.execute(f"ANALYZE {table}")
        try:
            await conn.execute("CHECKPOINT")  # superuser only; keeps a checkpoint out of the run
        except Exception:
            pass
        log_max_id = await conn.fetchval(f"SELECT coalesce(max(id), 0) FROM {queries.qbe.settings.queue_table_log}")
        queued = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE entrypoint = $1 AND status = 'queued'", ENTRYPOINT)
        return {"enqueue_s": enqueue_s, "log_max_id": log_max_id, "queued": queued}
    finally:
        await conn.close()


def consumer_process(index: int, dsn: str, workers: int, batch: int, dequeue_timeout: float, barrier, results) -> None:
    try:
        results.put(asyncio.run(consume(index, dsn, workers, batch, dequeue_timeout, barrier)))
    except BaseException as e:  # report instead of hanging the parent
        results.put({"process": index, "error": f"{type(e).__name__}: {e}"})
        raise


async def consume(index: int, dsn: str, workers: int, batch: int, dequeue_timeout: float, barrier) -> dict:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.qm import QueueManager
    from pgqueuer.queries import Queries
    from pgqueuer.types import QueueExecutionMode

    latencies: list[float] = []
    claims = [0, 0]  # non-empty, empty

    class TimedQueries(Queries):
        async def dequeue(self, *args, **kwargs):
            t = time.perf_counter()
            jobs = await super().dequeue(*args, **kwargs)
            if jobs:
                latencies.append((time.perf_counter() - t) * 1000)
                claims[0] += 1
            else:
                claims[1] += 1
            return jobs

    done = 0
    connections = [await asyncpg.connect(dsn) for _ in range(workers)]
    managers = []
    for conn in connections:
        qm = QueueManager(TimedQueries(AsyncpgDriver(conn)))

        @qm.entrypoint(ENTRYPOINT)
        async def noop(job) -> None:
            nonlocal done
            done += 1

        managers.append(qm)

    await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
    t0 = time.time()
    await asyncio.gather(*(
        qm.run(batch_size=batch, mode=QueueExecutionMode.drain, dequeue_timeout=timedelta(seconds=dequeue_timeout))
        for qm in managers
    ))
    t1 = time.time()
    for conn in connections:
        await conn.close()
    import resource
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"process": index, "t0": t0, "t1": t1, "done": done, "latencies": latencies, "rss_kib": rss_kib,
            "claims": claims[0], "empty_claims": claims[1]}


async def verify(dsn: str, log_max_id: int) -> dict:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(dsn)
    try:
        s = Queries(AsyncpgDriver(conn)).qbe.settings
        left = await conn.fetchval(f"SELECT count(*) FROM {s.queue_table} WHERE entrypoint = $1", ENTRYPOINT)
        rows = await conn.fetch(
            f"SELECT status::text AS status, count(*) AS n FROM {s.queue_table_log} "
            f"WHERE id > $1 AND entrypoint = $2 GROUP BY 1", log_max_id, ENTRYPOINT)
        persistence = await conn.fetch(
            "SELECT relname, relpersistence FROM pg_class WHERE relname = ANY($1::text[]) AND relkind = 'r'",
            [s.queue_table, s.queue_table_log])
        return {"left": left, "log": {r["status"]: r["n"] for r in rows},
                "unlogged": sorted(r["relname"] for r in persistence if r["relpersistence"] == "u")}
    finally:
        await conn.close()


def percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    return round(sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))], 3)


def main() -> int:
    a = parse_args()
    import asyncpg
    import pgqueuer

    deadline = time.monotonic() + a.timeout
    log(f"pgqueuer {pgqueuer.__version__}, asyncpg {asyncpg.__version__}: install + enqueue {a.jobs} jobs")
    prep = asyncio.run(prepare(a.dsn, a.jobs))
    if prep["queued"] != a.jobs:
        log(f"expected {a.jobs} queued jobs, found {prep['queued']}")
        return 1

    shares = [a.workers // a.processes + (1 if i < a.workers % a.processes else 0) for i in range(a.processes)]
    log(f"draining with {a.workers} workers (QueueManagers) in {a.processes} processes {shares}, batch {a.batch}")
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(a.processes)
    results = ctx.Queue()
    procs = [ctx.Process(target=consumer_process, args=(i, a.dsn, n, a.batch, a.dequeue_timeout, barrier, results), daemon=True)
             for i, n in enumerate(shares)]
    for p in procs:
        p.start()
    outs = []
    try:
        while len(outs) < len(procs):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                outs.append(results.get(timeout=min(remaining, 1.0)))
            except Exception:  # queue.Empty
                if all(not p.is_alive() for p in procs) and results.empty():
                    log("consumer processes exited without reporting")
                    return 1
    except (TimeoutError, KeyboardInterrupt) as e:
        log("timed out" if isinstance(e, TimeoutError) else "interrupted")
        for p in procs:
            p.terminate()
        return 1
    for p in procs:
        p.join(timeout=10)
    errors = [o for o in outs if "error" in o]
    if errors:
        log(f"consumer failed: {errors}")
        return 1

    check = asyncio.run(verify(a.dsn, prep["log_max_id"]))
    done = sum(o["done"] for o in outs)
    successful = check["log"].get("successful", 0)
    if check["left"] != 0 or successful != a.jobs or done != a.jobs:
        log(f"not drained: left={check['left']} log={check['log']} ran={done}")
        return 1

    elapsed = max(o["t1"] for o in outs) - min(o["t0"] for o in outs)
    lat = sorted(x for o in outs for x in o["latencies"])
    print(json.dumps({
        "system": "pgqueuer",
        "mode": "drain",
        "jobs": a.jobs, "workers": a.workers, "claim_batch": a.batch,
        "completed": successful,
        "jobs_per_second": round(a.jobs / elapsed, 1),
        "latency_p50_ms": percentile(lat, 50), "latency_p99_ms": percentile(lat, 99),
        "latency_measures": f"PgQueuer dequeue round trip (claim of <= {a.batch}), non-empty claims",
        "elapsed_s": round(elapsed, 3),
        "processes": a.processes,
        "rss_mib": round(sum(o["rss_kib"] for o in outs) / 1024, 1),  # peak RSS, summed over consumer processes
        "claims": sum(o["claims"] for o in outs), "empty_claims": sum(o["empty_claims"] for o in outs),
        "enqueue_jobs_per_second": round(a.jobs / prep["enqueue_s"], 1),
        "pgqueuer_version": pgqueuer.__version__, "asyncpg_version": asyncpg.__version__,
        "unlogged_tables": check["unlogged"],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
