import Foundation
import Jobs
import Postgres
import Testing
import TestSupport

@Suite("Job history")
struct HistoryTests {
    @Test("a completed job leaves jobs and is written to job_history — completed in the handler's transaction or batched")
    func completionMovesTheRow() async throws {
        let db = try await TestDatabase.fresh()
        try await createRunsTable(db)
        var registry = JobRegistry()
        registry.register(Noop.self) { noop, context in
            if noop.n.isMultiple(of: 2) {  // the handler's own transaction completes it
                try await context.complete { tx in try await tx.execute("INSERT INTO runs VALUES (\(context.job.id), \(context.job.attempt), 'w')") }
            }
            return .done  // odd ones: the worker's CompletionBatcher completes them
        }
        try await JobQueue.enqueueMany(kind: Noop.kind, payloads: (0..<20).map { "{\"n\": \($0)}" }, on: db.pool)
        try await db.pool.execute("INSERT INTO jobs (kind, payload, unique_key, priority) VALUES ('test.noop', '{\"n\": 100}', 'only:1', 1)")
        let worker = RunningWorker(JobWorker(pool: db.anotherPool(), registry: registry, configuration: fastConfiguration()))
        #expect(try await eventually { try await count(db, "SELECT count(*)::int FROM job_history") == 21 })
        try await worker.stop()
        #expect(try await count(db, "SELECT count(*)::int FROM jobs") == 0, "no completed row stays in the claim table")
        #expect(try await count(db, "SELECT count(*)::int FROM job_history WHERE state = 'completed' AND attempt = 1 AND max_attempts = 20 AND errors IS NULL") == 21)
        #expect(try await count(db, "SELECT count(*)::int FROM job_history WHERE attempted_at IS NOT NULL AND finished_at >= attempted_at AND attempted_by <> ''") == 21)
        let unique = try #require(try await db.pool.first("SELECT kind, queue, priority, unique_key FROM job_history WHERE unique_key IS NOT NULL"))
        #expect(try unique.decode(String.self, at: 0) == "test.noop")
        #expect(try unique.decode(Int.self, at: 2) == 1)
        #expect(try unique.decode(String.self, at: 3) == "only:1")
        #expect(worker.worker.metrics.snapshot.completed == 21)
        // The unique key is free again: at most one *live* job per key, as before.
        #expect(try await JobQueue.enqueue(Noop(n: 1), options: EnqueueOptions(uniqueKey: "only:1"), on: db.pool) != nil)
    }

    @Test("the history record commits with the handler's writes, or neither does")
    func historyInTheHandlersTransaction() async throws {
        let db = try await TestDatabase.fresh()
        try await createRunsTable(db)
        struct Boom: Error {}
        var registry = JobRegistry()
        registry.register(Noop.self) { _, context in
            try await context.complete { tx in
                try await tx.execute("INSERT INTO runs VALUES (\(context.job.id), \(context.job.attempt), 'w')")
                if context.job.attempt == 1 { throw Boom() }
            }
            return .done
        }
        let id = try #require(try await JobQueue.enqueue(Noop(n: 1), on: db.pool))
        let worker = RunningWorker(JobWorker(pool: db.anotherPool(), registry: registry, configuration: fastConfiguration()))
        #expect(try await eventually { try await count(db, "SELECT count(*)::int FROM job_history") == 1 })
        try await worker.stop()
        // Attempt 1 rolled back its run and its completion; attempt 2 committed both.
        #expect(try await db.pool.scalar("SELECT string_agg(attempt::text, ',') FROM runs", as: String.self) == "2")
        let row = try #require(try await db.pool.first("SELECT id, attempt, jsonb_array_length(errors) FROM job_history"))
        #expect(try row.decode(Int64.self, at: 0) == id)
        #expect(try row.decode(Int.self, at: 1) == 2)
        #expect(try row.decode(Int.self, at: 2) == 1, "the failed attempt's error travels into the history")
        #expect(try await count(db, "SELECT count(*)::int FROM jobs") == 0)
    }

    @Test("history partitions: created ahead at the injected time, completions land in them, dropped after the retention")
    func partitions() async throws {
        let db = try await TestDatabase.fresh()
        var configuration = fastConfiguration()
        configuration.historyPartition = .seconds(3600)
        configuration.historyPartitionsAhead = 2
        configuration.retention = .seconds(86_400)
        let partitions: @Sendable () async throws -> [String] = {
            try await db.pool.query("""
                SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'public.job_history'::regclass AND c.relname <> 'job_history_default' ORDER BY 1
                """).map { try $0.decode(String.self, at: 0) }
        }
        let now = try await db.pool.scalar("SELECT now()", as: Date.self)
        let hour = (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600

        // Two days ago (a clock the test moves): that hour and two ahead.
        let past = Date(timeIntervalSince1970: hour - 48 * 3600 + 60)
        #expect(try await configuration.maintainJobHistory(now: past, on: db.pool).created == 3)
        // Now: this hour and two ahead; the ones from two days ago are past the retention.
        let first = try await configuration.maintainJobHistory(now: now, on: db.pool)
        #expect(first.created == 3)
        #expect(first.dropped.count == 3)
        #expect(try await partitions().count == 3)
        // Again: nothing to do (every worker runs this; it is idempotent).
        let again = try await configuration.maintainJobHistory(now: now, on: db.pool)
        #expect(again.created == 0 && again.dropped.isEmpty)

        // A completion lands in the partition of its finished_at, not in the default one.
        var registry = JobRegistry()
        registry.register(Noop.self) { _, _ in .done }
        try await JobQueue.enqueue(Noop(n: 1), on: db.pool)
        let worker = RunningWorker(JobWorker(pool: db.anotherPool(), registry: registry, configuration: configuration))
        #expect(try await eventually { try await count(db, "SELECT count(*)::int FROM job_history") == 1 })
        try await worker.stop()
        let home = try await db.pool.scalar("SELECT tableoid::regclass::text FROM job_history", as: String.self)
        #expect(home != "job_history_default" && home.hasPrefix("job_history_"), "in \(home)")
        // A straggler in the default partition (maintenance had not run) is pruned by DELETE.
        try await db.pool.execute("""
            INSERT INTO job_history (id, queue, kind, state, priority, attempt, max_attempts, created_at, run_at, finished_at)
            VALUES (0, 'default', 'test.noop', 'completed', 2, 1, 1, now() - interval '3 days', now() - interval '3 days', now() - interval '3 days')
            """)
        #expect(try await count(db, "SELECT count(*)::int FROM job_history_default") == 1)

        // A day and a bit later: every partition that ended more than `retention` ago is gone, with its rows.
        let later = now.addingTimeInterval(86_400 + 3 * 3600 + 60)
        let pass = try await configuration.maintainJobHistory(now: later, on: db.pool)
        #expect(pass.created == 3)
        #expect(pass.dropped.count == 3, "\(pass.dropped)")
        #expect(!(try await partitions()).contains(home))
        #expect(try await count(db, "SELECT count(*)::int FROM job_history") == 0)
        #expect(try await partitions().count == 3)
    }

    @Test("the poller's role completes into job_history and keeps its partitions, through the granted functions only")
    func pollerRole() async throws {
        let db = try await TestDatabase.fresh()
        let poller = try await db.pool(as: .poller)
        let configuration = fastConfiguration()
        let outcome = try await configuration.maintainJobHistory(on: poller)
        #expect(outcome.created == configuration.historyPartitionsAhead + 1)
        var registry = JobRegistry()
        registry.register(Noop.self) { _, _ in .done }
        try await JobQueue.enqueue(Noop(n: 1), on: db.pool)
        let worker = RunningWorker(JobWorker(pool: poller, registry: registry, configuration: configuration))
        #expect(try await eventually { try await count(db, "SELECT count(*)::int FROM job_history") == 1 })
        try await worker.stop()
        await #expect(throws: PostgresError.self) { try await poller.execute("DROP TABLE public.job_history_default") }
    }
}
