import Logging
import Postgres
import ServiceLifecycle

/// Extends the leases of the jobs this worker is running, every `heartbeatInterval` (one
/// statement for all of them), so that no rescuer takes a job that is merely slow. It stops after
/// the executor (services shut down in reverse order), so leases hold during the shutdown grace.
final class LeaseHeartbeat: Service, Sendable {
    private let pool: ConnectionPool
    private let executor: Executor
    private let lease: Duration
    private let loop: MaintenanceLoop

    init(pool: ConnectionPool, executor: Executor, configuration: WorkerConfiguration, logger: Logger) {
        self.pool = pool
        self.executor = executor
        self.lease = configuration.lease
        self.loop = MaintenanceLoop(name: "heartbeat", interval: configuration.heartbeatInterval, logger: logger)
    }

    func run() async throws {
        await loop.run { try await self.beat() }
    }

    private func beat() async throws {
        let mine = executor.running
        guard !mine.isEmpty else { return }
        let ids = Array(mine.keys)
        try await pool.execute(QueueSQL.heartbeat(ids: ids, attempts: ids.map { mine[$0]!.attempt }, lease: lease))
    }
}
