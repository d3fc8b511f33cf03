import Foundation
import Jobs
import Postgres
import Testing
import TestSupport

@Suite("The worker behind PgBouncer")
struct PgBouncerWorkerTests {
    @Test("in the pooler mode the worker processes real jobs, waking by polling instead of LISTEN")
    func processesJobs() async throws {
        let db = try await TestDatabase.fresh()
        try await createRunsTable(db)
        var configuration = try await db.configurationThroughPgBouncer()
        configuration.preparedStatements = false
        #expect(!configuration.supportsListen)
        var workerConfiguration = fastConfiguration(concurrency: 4)
        workerConfiguration.safetyPoll = .milliseconds(100)
        let pool = ConnectionPool(configuration, maxConnections: 6)
        let worker = RunningWorker(JobWorker(pool: pool, registry: WorkerTests().recordingRegistry(worker: "bounced"), configuration: workerConfiguration))
        // Enqueued through the pooler too, before and while the worker runs.
        try await JobQueue.enqueueMany(kind: Noop.kind, payloads: (0..<50).map { "{\"n\": \($0)}" }, on: pool)
        #expect(try await eventually(timeout: .seconds(30)) { try await count(db, "SELECT count(*)::int FROM runs") >= 50 })
        try await JobQueue.enqueueMany(kind: Noop.kind, payloads: (50..<100).map { "{\"n\": \($0)}" }, on: pool)
        #expect(try await eventually(timeout: .seconds(30)) { try await count(db, "SELECT count(*)::int FROM runs") >= 100 })
        try await worker.stop()
        await pool.close()
        #expect(try await count(db, "SELECT count(DISTINCT job_id)::int FROM runs") == 100)
        #expect(try await count(db, "SELECT count(*)::int FROM runs") == 100, "no job ran twice")
    }

    @Test("without the pooler mode the worker stops at start, naming the flag")
    func refusedWithoutTheFlag() async throws {
        let db = try await TestDatabase.fresh()
        let pool = ConnectionPool(try await db.configurationThroughPgBouncer(), maxConnections: 4)
        let worker = JobWorker(pool: pool, registry: WorkerTests().recordingRegistry(worker: "w"), configuration: fastConfiguration())
        let error = await #expect(throws: PostgresError.self) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await worker.run() }
                group.addTask {
                    try await Task.sleep(for: .seconds(20))
                    worker.shutdown()
                }
                try await group.next()
                group.cancelAll()
            }
        }
        #expect(error?.message.contains("--no-prepared-statements") == true, "\(String(describing: error))")
        await pool.close()
    }
}
