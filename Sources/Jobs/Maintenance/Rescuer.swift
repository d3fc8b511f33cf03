import Logging
import Postgres
import ServiceLifecycle

/// Makes running jobs whose lease ran out (their worker died or hung) due again — or dead when
/// out of attempts — every `rescueInterval`. Every worker runs one; `SKIP LOCKED` keeps them off
/// each other's rows. A worker that was merely slow then finds its completion fenced off.
final class Rescuer: Service, Sendable {
    private let pool: ConnectionPool
    private let slots: QueueSlots
    private let metrics: QueueMetrics
    private let logger: Logger
    private let loop: MaintenanceLoop

    init(pool: ConnectionPool, slots: QueueSlots, metrics: QueueMetrics, configuration: WorkerConfiguration, logger: Logger) {
        self.pool = pool
        self.slots = slots
        self.metrics = metrics
        self.logger = logger
        self.loop = MaintenanceLoop(name: "rescue", interval: configuration.rescueInterval, logger: logger)
    }

    func run() async throws {
        await loop.run { try await self.rescue() }
    }

    /// One pass, at most 1,000 jobs. Returns how many were rescued.
    @discardableResult
    func rescue() async throws -> Int {
        let rescued = try await pool.query(QueueSQL.rescue(limit: 1000))
        guard !rescued.isEmpty else { return 0 }
        metrics.record { $0.rescued += rescued.count }
        JobMetrics.rescued(rescued.count)
        logger.warning("rescued jobs whose lease expired", metadata: ["count": "\(rescued.count)"])
        slots.wakeAll()
        return rescued.count
    }
}
