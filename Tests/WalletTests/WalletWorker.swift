import Foundation
import Jobs
import Logging
import Postgres
import Providers
import TestSupport
@testable import Wallet

/// A poller running the wallet's jobs with every wait shortened, until `stop()`.
final class WalletWorker: Sendable {
    let worker: JobWorker
    let task: Task<Void, Error>

    init(pool: ConnectionPool, payments: PaymentProvider?, settings: WalletSettings = WalletSettings()) {
        var registry = JobRegistry()
        var periodic: [PeriodicJob] = []
        WalletRuntime.register(in: &registry, periodic: &periodic, payments: payments, settings: settings,
                               logger: Logger(label: "test.wallet"))
        var configuration = WorkerConfiguration()
        configuration.queues = [.init("default", concurrency: 4)]
        configuration.heartbeatInterval = .milliseconds(100)
        configuration.rescueInterval = .milliseconds(100)
        configuration.safetyPoll = .milliseconds(100)
        configuration.backoff = Backoff(base: .milliseconds(30), maximum: .milliseconds(200))
        configuration.shutdownGrace = .seconds(5)
        // Periodic ticks are fired by the tests at the times they choose, not by the real clock.
        worker = JobWorker(pool: pool, registry: registry, periodic: [], configuration: configuration)
        let worker = worker
        task = Task { try await worker.run() }
    }

    func stop() async throws {
        worker.shutdown()
        try await task.value
    }
}

/// Jobs of `kind` not finished yet.
func unfinishedJobs(_ db: some Queryable, kind: String) async throws -> Int {
    try await db.scalar("SELECT count(*)::int FROM jobs WHERE kind = \(kind) AND state IN ('available', 'running')", as: Int.self)
}
