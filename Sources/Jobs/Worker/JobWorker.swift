import Foundation
import Logging
import Postgres
import ServiceLifecycle

/// The poller: claims due jobs and runs them, as a swift-service-lifecycle `Service`.
///
/// Run as many as you like, on any hosts; they coordinate only through row locks. Inside, it is a
/// `ServiceGroup` of small services (River's shape), started in this order and shut down in the
/// reverse one:
///
/// | service | file | does |
/// |---|---|---|
/// | `MetricsReporter` | Maintenance/ | gauges every second, counters in the log |
/// | `PeriodicEnqueuer` | Maintenance/ | periodic schedules' ticks (when there are any) |
/// | `Rescuer` | Maintenance/ | expired leases back to `available` (or `dead`) |
/// | `Pruner` | Maintenance/ | dead and cancelled jobs past their retention |
/// | `HistoryPartitions` | Maintenance/ | `job_history` partitions ahead, old ones dropped |
/// | `LeaseHeartbeat` | Worker/ | extends the leases of the jobs in hand |
/// | `NotificationListener` | Worker/ | LISTEN `jobs` → wakes claim loops (unless `listen` is off) |
/// | `Executor` | Worker/ | runs jobs, records each attempt's end; drains at shutdown |
/// | `Producer` | Worker/ | claim loops, one set per queue |
///
/// So on graceful shutdown (SIGTERM/SIGINT through an enclosing ServiceGroup, or `shutdown()`)
/// the producer stops claiming at once (`shutdown()` tells it before the group's shutdown walks
/// the services), then the executor lets in-flight jobs finish within `shutdownGrace` and hands
/// the rest back, while the heartbeat keeps their leases; the listener and maintenance stop last.
public final class JobWorker: Service, Sendable {
    public let configuration: WorkerConfiguration
    public let metrics: QueueMetrics
    private let pool: ConnectionPool
    private let registry: JobRegistry
    private let periodic: [PeriodicJob]
    private let logger: Logger
    private let executor: Executor
    private let producer: Producer
    private let group: ServiceGroup
    private let stopping = LockedValue(false)
    private let startupSignal = WakeSignal()

    public init(pool: ConnectionPool, registry: JobRegistry, periodic: [PeriodicJob] = [],
                configuration: WorkerConfiguration = WorkerConfiguration(),
                logger: Logger = Logger(label: "followup.jobs")) {
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.workerID)"
        let metrics = QueueMetrics()
        self.metrics = metrics
        self.pool = pool
        self.registry = registry
        self.periodic = periodic
        self.configuration = configuration
        self.logger = logger
        let slots = QueueSlots(configuration)
        let executor = Executor(pool: pool, registry: registry, configuration: configuration, slots: slots, metrics: metrics, logger: logger)
        self.executor = executor
        let producer = Producer(pool: pool, configuration: configuration, slots: slots, executor: executor, metrics: metrics, logger: logger)
        self.producer = producer
        var services: [any Service] = [
            MetricsReporter(pool: pool, executor: executor, metrics: metrics, configuration: configuration, logger: logger),
        ]
        if !periodic.isEmpty { services.append(PeriodicEnqueuer(pool: pool, configuration: configuration, logger: logger)) }
        services += [
            Rescuer(pool: pool, slots: slots, metrics: metrics, configuration: configuration, logger: logger),
            Pruner(pool: pool, configuration: configuration, logger: logger),
            HistoryPartitions(pool: pool, configuration: configuration, logger: logger),
            LeaseHeartbeat(pool: pool, executor: executor, configuration: configuration, logger: logger),
        ]
        // Behind a transaction-mode pooler LISTEN cannot work: the claim loops wake by their
        // timers and the safety poll instead (docs/postgres-client.md).
        if configuration.listen && pool.configuration.supportsListen { services.append(NotificationListener(configuration: pool.configuration, slots: slots, logger: logger)) }
        // The producer last, so the first to stop (a group shuts down in reverse order, each
        // service after the one behind it has finished).
        services += [executor, producer]
        // No signals of its own: an enclosing ServiceGroup's graceful shutdown reaches this one.
        var groupLogger = logger
        groupLogger.logLevel = max(logger.logLevel, .notice)  // its own start/stop chatter is debug detail
        self.group = ServiceGroup(services: services, logger: groupLogger)
    }

    /// Begins a graceful shutdown; `run()` returns once in-flight jobs finished or were handed back.
    public func shutdown() {
        stopping.withLock { $0 = true }
        producer.stopClaiming()  // now, not once the group's shutdown reaches the producer
        startupSignal.signal()
        Task { [group] in await group.triggerGracefulShutdown() }
    }

    private var isStopping: Bool { stopping.current || Task.isCancelled }

    /// Jobs this worker is running now.
    public var runningJobs: Int { executor.running.count }

    public func run() async throws {
        logger.info("worker starting", metadata: [
            "queues": "\(configuration.queues.map { "\($0.name)×\($0.concurrency)" }.joined(separator: ","))",
            "kinds": "\(registry.kinds.joined(separator: ","))",
        ])
        // The shutdown handler is in place before anything waits on the database, so SIGTERM and
        // SIGINT are honoured from the first instant, also while it is unreachable at start-up.
        try await withGracefulShutdownHandler {
            guard try await waitForDatabase() else { return }
            await makeCurrentHistoryPartition()
            await warnAboutAutovacuum()
            try await group.run()
        } onGracefulShutdown: {
            self.shutdown()
        }
        logger.info("worker stopped")
    }

    /// Start-up, before the first claim: the first pass of `job_history` upkeep, with the
    /// partition holding now (the periodic passes, from one `pruneInterval` later, only make the
    /// ones ahead; see `HistoryPartitions`). A failure is logged, not fatal: completions then
    /// land in the default partition.
    private func makeCurrentHistoryPartition() async {
        do {
            try await HistoryPartitions.maintain(includingCurrent: true, configuration: configuration, on: pool)
        } catch {
            logger.warning("job history partitions failed at start-up; completions use the default partition until the next pass",
                           metadata: ["error": "\(error)"])
        }
    }

    /// Every claim walks the claim index past the entries of jobs claimed since the last vacuum;
    /// with the server's default `autovacuum_naptime` (60 s) a busy queue piles up hundreds of
    /// thousands of them and its rate falls by half (docs/queue.md, "The server's autovacuum").
    /// Said once at start-up, not enforced: it is the operator's server.
    private func warnAboutAutovacuum() async {
        guard let row = try? await pool.first(QueueSQL.autovacuumSettings),
              let enabled = try? row.decode(Bool.self, at: 0), let naptime = try? row.decode(Int.self, at: 1) else { return }
        if !enabled || naptime > 15 {
            logger.warning("autovacuum is \(enabled ? "slow to look" : "off") on this server: a busy queue slows down as dead claim entries pile up; set autovacuum_naptime = 5s (docs/queue.md)",
                           metadata: ["autovacuum": "\(enabled)", "autovacuum_naptime_s": "\(naptime)"])
        }
    }

    /// Start-up: the first round trip (registering the periodic schedules, or a bare `SELECT 1`).
    /// An unreachable database is waited for, backing off; a shutdown ends the wait at once (even
    /// in the middle of a connection attempt): false. A configuration or authentication error
    /// (`PostgresError.isConfigurationError`), which retrying cannot fix, is thrown.
    private func waitForDatabase() async throws -> Bool {
        let outcome = LockedValue<Result<Void, Error>?>(nil)
        let probe = Task {
            var delay: Duration = .milliseconds(100)
            while !Task.isCancelled {
                do {
                    if periodic.isEmpty {
                        _ = try await pool.execute("SELECT 1")
                    } else {
                        try await PeriodicSchedules.register(periodic, on: pool)
                    }
                    outcome.withLock { $0 = .success(()) }
                    break
                } catch let error as PostgresError where error.isConnectionError {
                    logger.warning("database unavailable, retrying", metadata: ["error": "\(error)", "retry_in_ms": "\(Int(delay.seconds * 1000))"])
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(5))
                } catch {
                    outcome.withLock { $0 = .failure(error) }
                    break
                }
            }
            startupSignal.signal()
        }
        while outcome.current == nil && !isStopping {
            await startupSignal.wait(upTo: .seconds(1))
        }
        if let result = outcome.current {
            try result.get()
            return !isStopping
        }
        probe.cancel()  // not awaited: a connection attempt may take its connect_timeout to give up
        return false
    }
}
