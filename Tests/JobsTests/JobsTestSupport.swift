import Foundation
import Jobs
import Postgres
import TestSupport

/// A worker configuration with every wait shortened, for tests.
func fastConfiguration(queue: String = "default", concurrency: Int = 8, lease: Duration = .seconds(30)) -> WorkerConfiguration {
    var configuration = WorkerConfiguration()
    configuration.queues = [.init(queue, concurrency: concurrency)]
    configuration.lease = lease
    configuration.heartbeatInterval = .milliseconds(100)
    configuration.rescueInterval = .milliseconds(100)
    configuration.safetyPoll = .milliseconds(500)
    configuration.periodicCheck = .milliseconds(50)
    configuration.backoff = Backoff(base: .milliseconds(20), maximum: .milliseconds(200))
    configuration.shutdownGrace = .seconds(5)
    return configuration
}

/// Runs a worker in the background until `stop()`.
final class RunningWorker: Sendable {
    let worker: JobWorker
    let task: Task<Void, Error>

    init(_ worker: JobWorker) {
        self.worker = worker
        task = Task { try await worker.run() }
    }

    func stop() async throws {
        worker.shutdown()
        try await task.value
    }
}

/// A table handlers write their outcomes to, inside the job's own transaction.
func createRunsTable(_ db: TestDatabase) async throws {
    try await db.pool.execute("CREATE TABLE runs (job_id bigint NOT NULL, attempt int NOT NULL, worker text NOT NULL)")
}

func count(_ db: TestDatabase, _ sql: Query) async throws -> Int {
    try await db.pool.scalar(sql, as: Int.self)
}

struct Noop: JobPayload {
    static let kind = "test.noop"
    var n: Int
}
