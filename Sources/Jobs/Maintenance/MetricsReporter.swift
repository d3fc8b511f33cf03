import Logging
import Postgres
import ServiceLifecycle

/// Samples the worker's gauges (jobs in flight per queue, open connections) every second and logs
/// its counters at info every `metricsInterval` (once something was claimed).
final class MetricsReporter: Service, Sendable {
    private let pool: ConnectionPool
    private let executor: Executor
    private let metrics: QueueMetrics
    private let configuration: WorkerConfiguration
    private let logger: Logger
    private let loop: MaintenanceLoop

    init(pool: ConnectionPool, executor: Executor, metrics: QueueMetrics, configuration: WorkerConfiguration, logger: Logger) {
        self.pool = pool
        self.executor = executor
        self.metrics = metrics
        self.configuration = configuration
        self.logger = logger
        self.loop = MaintenanceLoop(name: "metrics", interval: min(.seconds(1), configuration.metricsInterval), logger: logger)
    }

    func run() async throws {
        let lastLog = LockedValue(ContinuousClock.now)
        await loop.run {
            let running = self.executor.running.values.reduce(into: [String: Int]()) { $0[$1.queue, default: 0] += 1 }
            JobMetrics.worker(inFlight: running, connections: await self.pool.openConnections,
                              queues: self.configuration.queues.map(\.name))
            let now = ContinuousClock.now
            let due = lastLog.withLock { last -> Bool in
                guard now - last >= self.configuration.metricsInterval else { return false }
                last = now
                return true
            }
            if due { self.log(running: running.values.reduce(0, +)) }
        }
    }

    private func log(running: Int) {
        let snapshot = metrics.snapshot
        guard snapshot.claimed > 0 else { return }
        logger.info("queue metrics", metadata: [
            "claimed": "\(snapshot.claimed)", "completed": "\(snapshot.completed)", "retried": "\(snapshot.retried)",
            "dead": "\(snapshot.dead)", "rescued": "\(snapshot.rescued)", "lease_lost": "\(snapshot.leaseLost)",
            "lateness_p50_ms": "\(Int(percentile(snapshot.latenessMilliseconds, 50)))",
            "lateness_p99_ms": "\(Int(percentile(snapshot.latenessMilliseconds, 99)))",
            "running": "\(running)",
        ])
    }
}
