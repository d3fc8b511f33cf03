import Logging
import Postgres
import ServiceLifecycle

/// Deletes dead jobs after `deadRetention` and cancelled ones after `retention`, a bounded batch
/// per pass, every `pruneInterval`. (Completed jobs are not in `jobs`: their history is dropped by
/// partition, see `HistoryPartitions`.)
final class Pruner: Service, Sendable {
    private let pool: ConnectionPool
    private let configuration: WorkerConfiguration
    private let loop: MaintenanceLoop

    init(pool: ConnectionPool, configuration: WorkerConfiguration, logger: Logger) {
        self.pool = pool
        self.configuration = configuration
        self.loop = MaintenanceLoop(name: "prune", interval: configuration.pruneInterval, logger: logger)
    }

    func run() async throws {
        await loop.run { try await self.prune() }
    }

    /// One pass. Returns how many rows were deleted.
    @discardableResult
    func prune() async throws -> Int {
        try await pool.execute(QueueSQL.prune(completedBefore: configuration.retention, deadBefore: configuration.deadRetention, limit: 10_000))
    }
}
