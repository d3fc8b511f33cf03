#!/usr/bin/env python3
"""The sustained shape of `followup bench queue --mode sustained`, for the anchors and PgQueuer.

Jobs arrive at a fixed rate while W workers claim B at a time, finished jobs kept (none of the
three prunes during a run). Two phases, as ours:

1. search (skipped with --rate): steps of --step-seconds from --start-rate up by --rate-step,
   until a step misses. A step holds when at most 1% of the jobs enqueued in it (up to 1 s
   before its end) started 1 s or more after they were enqueued (enqueue->start p99 < 1 s; a job
   not started yet counts as late). The highest step that held is the rate.
2. hold: that rate for --minutes; start rate and p99 in the first and the last 10%.

Systems:
  bare      the same-schema bare worker: Sources/Jobs/SQL/0001_jobs.sql in schema bare_bench,
            workers = pgbench running bare_pgbench.sh's script (claim, then one completion per job),
            start = attempted_at.
  floor     the pattern's floor (benchmarks/floor/): one statement claims and completes a batch,
            start = finished_at.
  pgqueuer  PgQueuer (pip install pgqueuer asyncpg): W QueueManagers over P processes, continuous
            mode; start = when the entrypoint runs, minus the enqueue time the job carries as payload.
For bare and floor the arrivals are a pgbench client throttled with -R (k rows per insert, about
100 inserts a second), and the figures are read from the table (created_at and the start
column); PgQueuer's arrivals are Queries.enqueue every 10 ms. Idle workers sleep 5 ms when a claim
finds nothing (ours and PgQueuer wait on LISTEN), so they do not spin on shared CPUs.

Prints progress on stderr and ONE JSON line on stdout, with the fields ours prints.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def log(msg: str) -> None:
    print(f"[sustained] {msg}", file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--system", choices=["bare", "floor", "pgqueuer"], required=True)
    p.add_argument("--dsn", "--database-url", dest="dsn", default=os.environ.get("DATABASE_URL"), required=False)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--rate", type=int, default=None, help="hold this rate and skip the search")
    p.add_argument("--start-rate", type=int, default=1000)
    p.add_argument("--rate-step", type=int, default=1000)
    p.add_argument("--max-rate", type=int, default=50000)
    p.add_argument("--step-seconds", type=int, default=20)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--processes", type=int, default=None, help="pgqueuer: consumer processes (default min(W, CPUs))")
    p.add_argument("--pg-bin", default=os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
    a = p.parse_args()
    if not a.dsn:
        p.error("--dsn (or DATABASE_URL) is required")
    if min(a.workers, a.batch, a.start_rate, a.rate_step, a.step_seconds) < 1 or a.minutes <= 0 or (a.rate is not None and a.rate < 1):
        p.error("every count, rate and duration must be positive")
    return a


def window(offered: int, seconds: float, enqueued: int, start_rate: float, p99_ms: float) -> dict:
    """A window holds when its p99 is under 1 s and at least 90% of the offered jobs arrived (an
    enqueuer the machine cannot keep up with does not count as a rate held)."""
    arrived = enqueued / max(seconds, 1e-9)
    return {"offered": offered, "seconds": round(seconds), "enqueued": enqueued, "arrival_rate": arrived,
            "start_rate": start_rate, "p99_ms": p99_ms, "held": enqueued > 0 and p99_ms < 1000 and arrived >= 0.9 * offered}


def window_line(phase: str, w: dict) -> str:
    p99 = f"{w['p99_ms']:.1f} ms" if w["p99_ms"] < 1000 else ">= 1 s"
    return (f"{phase}: offered {w['offered']}/s for {w['seconds']} s: {w['enqueued']} enqueued, "
            f"arrived {w['arrival_rate']:.0f}/s, started {w['start_rate']:.0f}/s, enqueue->start p99 {p99} -> {'held' if w['held'] else 'missed'}")


def run_phases(a, step, evaluate, settle) -> dict:
    """step(rate, seconds) -> (t0, t1); evaluate(t0, t1, rate) -> window dict; settle() waits for the backlog."""
    held = a.rate
    steps = []
    if a.rate is None:
        rate = a.start_rate
        while rate <= a.max_rate:
            t0, t1 = step(rate, a.step_seconds)
            w = evaluate(t0, t1 - 1, rate)
            steps.append(w)
            log(window_line("search", w))
            if not w["held"]:
                break
            held = rate
            rate += a.rate_step
        settle()
    out = {"mode": "sustained", "workers": a.workers, "claim_batch": a.batch, "highest_rate_held": held or 0, "p99_limit_ms": 1000}
    if steps and not steps[-1]["held"]:
        out["first_missed_rate"] = steps[-1]["offered"]
    if held:
        seconds = max(10, int(a.minutes * 60))
        t0, t1 = step(held, seconds)
        settle()
        tenth = max(1.0, (t1 - t0) / 10)
        first, last, whole = evaluate(t0, t0 + tenth, held), evaluate(t1 - tenth, t1, held), evaluate(t0, t1, held)
        log(window_line("hold", whole))
        out.update({"hold_seconds": whole["seconds"],
                    "first_10pct_jobs_per_second": round(first["start_rate"], 1), "last_10pct_jobs_per_second": round(last["start_rate"], 1),
                    "first_10pct_p99_ms": round(first["p99_ms"], 2), "last_10pct_p99_ms": round(last["p99_ms"], 2),
                    "hold_p99_ms": round(whole["p99_ms"], 2), "held_throughout": whole["held"],
                    "last_over_first": round(last["start_rate"] / first["start_rate"], 3) if first["start_rate"] > 0 else None})
    return out


# --- bare and floor: pgbench workers, pgbench arrivals, figures from the table ---------------------

class SQLSystem:
    def __init__(self, a):
        self.a = a
        self.work = tempfile.mkdtemp(prefix="sustained-")
        self.psql = [os.path.join(a.pg_bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", a.dsn]
        if a.system == "bare":
            self.table, self.start_col = "bare_bench.jobs", "attempted_at"
            self.sql("DROP SCHEMA IF EXISTS bare_bench CASCADE; CREATE SCHEMA bare_bench")
            env = dict(os.environ, PGOPTIONS="-c search_path=bare_bench")
            subprocess.run(self.psql + ["-f", os.path.join(ROOT, "Sources/Jobs/SQL/0001_jobs.sql")], env=env, check=True, stdout=subprocess.DEVNULL)
            self.worker_script = os.path.join(self.work, "worker.pgb")
            subprocess.run([os.path.join(HERE, "bare_pgbench.sh"), "--emit-script", self.worker_script, "--batch", str(a.batch)], check=True)
            insert = "INSERT INTO bare_bench.jobs (kind, payload) SELECT 'bench.noop', '{}' FROM generate_series(1, :k);"
        else:
            self.table, self.start_col = "jobs", "finished_at"
            subprocess.run(self.psql + ["-f", os.path.join(HERE, "floor/schema.sql")], check=True, stdout=subprocess.DEVNULL)
            self.worker_script = os.path.join(HERE, "floor/claim_batch_idle.pgb")
            insert = "INSERT INTO jobs (queue, payload) SELECT 'q', '{}' FROM generate_series(1, :k);"
        self.sql(f"VACUUM ANALYZE {self.table}")
        self.enqueue_script = os.path.join(self.work, "enqueue.pgb")
        with open(self.enqueue_script, "w") as f:
            f.write(insert + "\n")
        pgbench = os.path.join(a.pg_bin, "pgbench")
        self.pgbench = pgbench
        self.workers = subprocess.Popen([pgbench, "-n", "-M", "prepared", "-c", str(a.workers), "-j", "2", "-T", "86400",
                                         "-D", f"batch={a.batch}", "-f", self.worker_script, a.dsn],
                                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.work, "workers.err"), "w"))
        time.sleep(1)

    def sql(self, text: str) -> str:
        return subprocess.run(self.psql + ["-c", text], check=True, capture_output=True, text=True).stdout.strip()

    def step(self, rate: int, seconds: int):
        k = max(1, round(rate / 100))
        t0 = time.time()
        subprocess.run([self.pgbench, "-n", "-M", "prepared", "-c", "2", "-j", "1", "-R", f"{rate / k:.3f}", "-T", str(seconds),
                        "-D", f"k={k}", "-f", self.enqueue_script, self.a.dsn], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return t0, time.time()

    def evaluate(self, t0: float, t1: float, rate: int) -> dict:
        s, t = self.start_col, self.table
        row = self.sql(f"""
            SELECT count(*),
                   coalesce(extract(epoch FROM percentile_disc(0.99) WITHIN GROUP (ORDER BY coalesce({s} - created_at, interval '1 day'))) * 1000, 0),
                   (SELECT count(*) FROM {t} WHERE {s} >= to_timestamp({t0}) AND {s} < to_timestamp({t1}))
            FROM {t} WHERE created_at >= to_timestamp({t0}) AND created_at < to_timestamp({t1})""")
        n, p99, started = row.split("|")
        n, p99, started = int(n), float(p99), int(started)
        return window(rate, t1 - t0, n, started / max(t1 - t0, 1e-9), p99)

    def settle(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        pending = f"SELECT count(*) FROM {self.table} WHERE {self.start_col} IS NULL"
        while time.time() < deadline and int(self.sql(pending)) > 0:
            time.sleep(0.5)

    def close(self) -> None:
        self.workers.send_signal(signal.SIGINT)
        try:
            self.workers.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.workers.kill()


def run_sql_system(a) -> dict:
    system = SQLSystem(a)
    try:
        out = run_phases(a, system.step, system.evaluate, system.settle)
        out["rows_at_end"] = int(system.sql(f"SELECT count(*) FROM {system.table}"))
        return out
    finally:
        system.close()


# --- PgQueuer: QueueManagers in processes, samples sent back to this one ---------------------------

ENTRYPOINT = "bench_sustained"


def pgq_consumer(dsn: str, workers: int, batch: int, stop, samples, ready) -> None:
    import asyncio

    async def main() -> None:
        import asyncpg
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.qm import QueueManager
        from pgqueuer.queries import Queries
        from pgqueuer.types import QueueExecutionMode

        pending: list[tuple[float, float]] = []
        managers, connections = [], []
        for _ in range(workers):
            conn = await asyncpg.connect(dsn)
            connections.append(conn)
            qm = QueueManager(Queries(AsyncpgDriver(conn)))

            @qm.entrypoint(ENTRYPOINT)
            async def noop(job) -> None:
                # The payload is the enqueuer's clock at the insert: the same clock, and the same
                # second buckets, as its count of enqueued jobs.
                pending.append((float(job.payload), time.time()))

            managers.append(qm)
        await asyncio.get_running_loop().run_in_executor(None, ready.wait)

        async def report() -> None:
            while True:
                await asyncio.sleep(0.25)
                if pending:
                    samples.put(pending[:])
                    pending.clear()
                if stop.is_set():
                    for qm in managers:
                        qm.shutdown.set()
                    return

        await asyncio.gather(report(), *(qm.run(batch_size=batch, mode=QueueExecutionMode.continuous) for qm in managers))
        if pending:
            samples.put(pending[:])
        for conn in connections:
            await conn.close()

    asyncio.run(main())


def run_pgqueuer(a) -> dict:
    import asyncio
    import multiprocessing as mp
    import threading

    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    enqueued: dict[int, int] = {}
    latencies: dict[int, list[float]] = {}
    started: dict[int, int] = {}
    lock = threading.Lock()

    async def install() -> None:
        conn = await asyncpg.connect(a.dsn)
        q = Queries(AsyncpgDriver(conn))
        if not await q.schema_is_installed():
            await q.install()
        await q.clear_queue(ENTRYPOINT)
        await conn.close()

    asyncio.run(install())
    ctx = mp.get_context("spawn")
    stop, samples = ctx.Event(), ctx.Queue()
    processes = a.processes or min(a.workers, os.cpu_count() or 1)
    shares = [a.workers // processes + (1 if i < a.workers % processes else 0) for i in range(processes)]
    shares = [n for n in shares if n]
    ready = ctx.Barrier(len(shares) + 1)
    procs = [ctx.Process(target=pgq_consumer, args=(a.dsn, n, a.batch, stop, samples, ready), daemon=True) for n in shares]
    for p in procs:
        p.start()

    def collect() -> None:
        while True:
            try:
                batch = samples.get()
            except Exception:  # the queue closed as the interpreter exits
                return
            if batch is None:
                return
            with lock:
                for created, start in batch:
                    latencies.setdefault(int(created), []).append((start - created) * 1000)
                    started[int(start)] = started.get(int(start), 0) + 1

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()

    conn_holder: dict = {}

    async def enqueue(rate: int, seconds: int):
        if "q" not in conn_holder:
            conn = await asyncpg.connect(a.dsn)
            conn_holder["q"] = Queries(AsyncpgDriver(conn))
        q = conn_holder["q"]
        await asyncio.sleep(1 - (time.time() % 1))  # start on a whole second: the buckets are whole seconds
        t0 = time.time()
        sent = 0
        while time.time() - t0 < seconds:
            due = int(rate * (time.time() - t0)) - sent
            if due > 0:
                now = time.time()
                with lock:
                    enqueued[int(now)] = enqueued.get(int(now), 0) + due
                await q.enqueue([ENTRYPOINT] * due, [f"{now:.6f}".encode()] * due, [0] * due)
                sent += due
            await asyncio.sleep(0.01)
        return t0, time.time()

    loop = asyncio.new_event_loop()
    ready.wait(timeout=120)  # every consumer connected and its QueueManagers made

    def step(rate: int, seconds: int):
        return loop.run_until_complete(enqueue(rate, seconds))

    def evaluate(t0: float, t1: float, rate: int) -> dict:
        with lock:
            secs = range(int(t0), int(t1))
            n = sum(enqueued.get(s, 0) for s in secs)
            lat = sorted(x for s in secs for x in latencies.get(s, []))
            lat += [float("inf")] * max(0, n - len(lat))
            p99 = lat[min(len(lat) - 1, max(0, -(-99 * len(lat) // 100) - 1))] if lat else 0.0
            rate_started = sum(started.get(s, 0) for s in secs) / max(1, len(secs))
        return window(rate, len(secs), n, rate_started, p99)

    def settle(timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with lock:
                if sum(enqueued.values()) <= sum(started.values()):
                    return
            time.sleep(0.25)

    try:
        out = run_phases(a, step, evaluate, settle)
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=15)
        samples.put(None)
    import pgqueuer
    out["pgqueuer_version"] = pgqueuer.__version__
    out["processes"] = len(procs)
    return out


def main() -> int:
    a = parse_args()
    out = run_pgqueuer(a) if a.system == "pgqueuer" else run_sql_system(a)
    print(json.dumps({"system": f"{a.system}_sustained", **out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
