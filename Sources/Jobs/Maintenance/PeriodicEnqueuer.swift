import Logging
import Postgres
import ServiceLifecycle

/// Enqueues the job of every periodic schedule whose tick has come, every `periodicCheck`
/// (`PeriodicSchedules.fireDue`: exactly once per tick across all workers). The schedules are
/// registered at the worker's start-up.
final class PeriodicEnqueuer: Service, Sendable {
    private let pool: ConnectionPool
    private let loop: MaintenanceLoop

    init(pool: ConnectionPool, configuration: WorkerConfiguration, logger: Logger) {
        self.pool = pool
        self.loop = MaintenanceLoop(name: "periodic jobs", interval: configuration.periodicCheck, logger: logger)
    }

    func run() async throws {
        await loop.run { try await PeriodicSchedules.fireDue(on: self.pool) }
    }
}
