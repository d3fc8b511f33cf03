import Foundation
import Jobs
import EmbeddedPostgres
import Postgres
import Schema
import Testing
import TestSupport

@Suite("Resilience")
struct ResilienceTests {
    @Test("Postgres restarted mid-run: workers reconnect and finish every job exactly once")
    func restartMidRun() async throws {
        let cluster = try await EmbeddedCluster.start()
        defer { cluster.stop() }
        let admin = ConnectionPool(cluster.configuration, maxConnections: 2)
        try await ProductSchema.migrate(admin)
        try await admin.execute("CREATE TABLE runs (job_id bigint NOT NULL, attempt int NOT NULL, worker text NOT NULL)")
        try await JobQueue.enqueueMany(kind: Noop.kind, payloads: (0..<300).map { "{\"n\": \($0)}" }, on: admin)
        var registry = JobRegistry()
        registry.register(Noop.self) { _, context in
            try await Task.sleep(for: .milliseconds(5))
            try await context.complete { tx in try await tx.execute("INSERT INTO runs VALUES (\(context.job.id), \(context.job.attempt), 'w')") }
            return .done
        }
        var configuration = fastConfiguration(concurrency: 4, lease: .seconds(2))
        configuration.safetyPoll = .milliseconds(200)
        let workers = (0..<2).map { _ in
            RunningWorker(JobWorker(pool: ConnectionPool(cluster.configuration, maxConnections: 6), registry: registry, configuration: configuration))
        }
        #expect(await eventually { (try? await admin.scalar("SELECT count(*)::int FROM runs", as: Int.self)) ?? 0 >= 50 })
        try cluster.restart()
        #expect(await eventually(timeout: .seconds(60)) {
            (try? await admin.scalar("SELECT count(*)::int FROM job_history WHERE state = 'completed'", as: Int.self)) == 300
        })
        for worker in workers { try await worker.stop() }
        #expect(try await admin.scalar("SELECT count(DISTINCT job_id)::int FROM runs", as: Int.self) == 300)
        #expect(try await admin.scalar("SELECT count(*)::int FROM runs", as: Int.self) == 300)
    }

    @Test("graceful shutdown: in-flight jobs finish within the grace period and nothing new is claimed")
    func gracefulShutdown() async throws {
        let db = try await TestDatabase.fresh()
        try await createRunsTable(db)
        try await JobQueue.enqueueMany(kind: Noop.kind, payloads: (0..<20).map { "{\"n\": \($0)}" }, on: db.pool)
        // The handlers hold their jobs until the shutdown has begun (a loaded machine may take
        // longer than any fixed sleep between "four are running" and the stop), then finish.
        let shutdownBegun = LockedValue(false)
        var registry = JobRegistry()
        registry.register(Noop.self) { _, context in
            while !shutdownBegun.current { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(200))
            try await context.complete { tx in try await tx.execute("INSERT INTO runs VALUES (\(context.job.id), \(context.job.attempt), 'w')") }
            return .done
        }
        var configuration = fastConfiguration(concurrency: 4)
        // Generous: a loaded CI machine once stretched the jobs' completion past 5 s; the stop
        // waits for them by condition, so a long grace costs nothing here.
        configuration.shutdownGrace = .seconds(60)
        let worker = RunningWorker(JobWorker(pool: db.anotherPool(), registry: registry, configuration: configuration))
        #expect(try await eventually { try await count(db, "SELECT count(*)::int FROM jobs WHERE state = 'running'") == 4 })
        worker.worker.shutdown()
        shutdownBegun.withLock { $0 = true }
        try await worker.task.value
        // The four in hand finished; no fifth was claimed.
        #expect(try await count(db, "SELECT count(*)::int FROM runs") == 4)
        #expect(try await count(db, "SELECT count(*)::int FROM job_history WHERE state = 'completed'") == 4)
        #expect(try await count(db, "SELECT count(*)::int FROM jobs WHERE state = 'available'") == 16)
        #expect(try await count(db, "SELECT count(*)::int FROM jobs") == 16, "the completed ones left the claim table")
    }

    @Test("a job that outlives the grace period is handed back without using up an attempt")
    func handBack() async throws {
        let db = try await TestDatabase.fresh()
        var registry = JobRegistry()
        registry.register(Noop.self) { _, _ in
            try await Task.sleep(for: .seconds(60))
            return .done
        }
        let id = try #require(try await JobQueue.enqueue(Noop(n: 1), options: EnqueueOptions(maxAttempts: 1), on: db.pool))
        var configuration = fastConfiguration()
        configuration.shutdownGrace = .milliseconds(200)
        let worker = RunningWorker(JobWorker(pool: db.anotherPool(), registry: registry, configuration: configuration))
        #expect(try await eventually { try await count(db, "SELECT count(*)::int FROM jobs WHERE state = 'running'") == 1 })
        let started = ContinuousClock.now
        try await worker.stop()
        #expect(ContinuousClock.now - started < .seconds(5))
        let row = try #require(try await db.pool.first("SELECT state::text, max_attempts - attempt FROM jobs WHERE id = \(id)"))
        #expect(try row.decode(String.self, at: 0) == "available")
        #expect(try row.decode(Int.self, at: 1) == 1)
    }
}
