import Foundation
import Logging
import Postgres
import ServiceLifecycle

/// The poller: claims due jobs and runs them, as a swift-service-lifecycle `Service`.
///
/// Run as many as you like, on any hosts; they coordinate only through row locks. Each queue has
/// its own claim loop and concurrency limit. A loop claims a batch (`FOR UPDATE SKIP LOCKED`),
/// runs each job in a task of its own, and when nothing more is due it sleeps until the next
/// known due time, a NOTIFY from an insert, a freed slot, or the safety poll — whichever is first.
///
/// On graceful shutdown (SIGTERM/SIGINT through ServiceGroup, or `shutdown()`), it stops claiming,
/// lets in-flight jobs finish within `shutdownGrace`, then cancels the rest and hands them back.
public final class JobWorker: Service, Sendable {
    public let configuration: WorkerConfiguration
    public let metrics = QueueMetrics()
    private let pool: ConnectionPool
    private let registry: JobRegistry
    private let periodic: [PeriodicJob]
    private let logger: Logger
    /// One per claim loop: each loop waits on its own (an AsyncStream has one consumer).
    private let signals: [String: [WakeSignal]]
    /// Slots taken per queue: jobs running plus slots reserved by claims in flight.
    private let busySlots: LockedValue<[String: Int]>
    private let maintenanceSignal = WakeSignal()
    private let drainSignal = WakeSignal()
    private let startupSignal = WakeSignal()
    private let stopping = LockedValue(false)
    private let completions: CompletionBatcher
    private let inFlight = LockedValue<[Int64: InFlight]>([:])

    private struct InFlight: Sendable {
        var attempt: Int
        var queue: String
        var task: Task<Void, Never>?
    }

    public init(pool: ConnectionPool, registry: JobRegistry, periodic: [PeriodicJob] = [],
                configuration: WorkerConfiguration = WorkerConfiguration(),
                logger: Logger = Logger(label: "followup.jobs")) {
        self.pool = pool
        self.registry = registry
        self.periodic = periodic
        self.configuration = configuration
        let metrics = self.metrics
        let batchLogger = logger
        self.signals = Dictionary(uniqueKeysWithValues: configuration.queues.map { queue in
            (queue.name, (0..<configuration.claimLoops(for: queue)).map { _ in WakeSignal() })
        })
        self.busySlots = LockedValue(Dictionary(uniqueKeysWithValues: configuration.queues.map { ($0.name, 0) }))
        self.completions = CompletionBatcher(pool: pool, onFlushed: { completed, lost in
            metrics.record {
                $0.completed += completed
                $0.leaseLost += lost.count
            }
            if !lost.isEmpty {
                batchLogger.warning("jobs finished after losing their lease; not completed here", metadata: ["jobs": "\(lost)"])
            }
        }, onError: { error in
            batchLogger.warning("completing jobs failed; retrying", metadata: ["error": "\(error)"])
        })
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.workerID)"
        self.logger = logger
    }

    /// Begins a graceful shutdown; `run()` returns once in-flight jobs finished or were handed back.
    public func shutdown() {
        stopping.withLock { $0 = true }
        wakeAll()
        drainSignal.signal()
        startupSignal.signal()
    }

    private var isStopping: Bool { stopping.current || Task.isCancelled }

    private func wake(_ queue: String) {
        for signal in signals[queue] ?? [] { signal.signal() }
    }

    private func wakeAll() {
        for queue in signals.keys { wake(queue) }
    }

    /// Jobs this worker is running now.
    public var runningJobs: Int { inFlight.current.count }

    public func run() async throws {
        logger.info("worker starting", metadata: [
            "queues": "\(configuration.queues.map { "\($0.name)×\($0.concurrency)" }.joined(separator: ","))",
            "kinds": "\(registry.kinds.joined(separator: ","))",
        ])
        // The shutdown handler is in place before anything waits on the database, so SIGTERM and
        // SIGINT are honoured from the first instant, also while it is unreachable at start-up.
        let startupError = LockedValue<Error?>(nil)
        await withGracefulShutdownHandler {
            do {
                guard try await waitForDatabase() else { return }
            } catch {
                startupError.withLock { $0 = error }
                return
            }
            // Behind a transaction-mode pooler LISTEN cannot work: the claim loops wake by their
            // timers and the safety poll instead (docs/postgres-client.md).
            let listens = configuration.listen && pool.configuration.supportsListen
            let listener = listens ? Listener(pool.configuration, channels: ["jobs"], logger: logger) : nil
            await withTaskGroup(of: Void.self) { group in
                if let listener {
                    group.addTask { await self.pumpNotifications(listener) }
                }
                group.addTask { await self.maintenanceLoop() }
                await withTaskGroup(of: Void.self) { claimers in
                    for queue in configuration.queues {
                        for signal in signals[queue.name]! {
                            claimers.addTask { await self.claimLoop(queue, signal: signal) }
                        }
                    }
                }
                await drainInFlight()
                await completions.waitUntilFlushed()
                stopping.withLock { $0 = true }
                maintenanceSignal.signal()
                listener?.stop()
            }
        } onGracefulShutdown: {
            self.shutdown()
        }
        if let error = startupError.current { throw error }
        logger.info("worker stopped")
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

    // MARK: Claiming

    /// Reserves up to a batch of the queue's free slots (several claim loops share them). Waits
    /// for half a batch to be free before claiming: one claim per freed slot would multiply the
    /// claims (each a statement and a commit) for the same jobs.
    private func reserveSlots(_ queue: WorkerConfiguration.QueueLimit) -> Int {
        let minimum = max(1, min(configuration.claimBatch, queue.concurrency) / 2)
        return busySlots.withLock { busy in
            let count = min(configuration.claimBatch, queue.concurrency - busy[queue.name, default: 0])
            guard count >= minimum else { return 0 }
            busy[queue.name, default: 0] += count
            return count
        }
    }

    private func releaseSlots(_ queue: String, _ count: Int) {
        guard count > 0 else { return }
        busySlots.withLock { $0[queue, default: 0] -= count }
    }

    /// Several loops per queue keep claims in flight back to back (`claimLoops(for:)`); each
    /// reserves slots before it claims, so together they never exceed the queue's concurrency.
    private func claimLoop(_ queue: WorkerConfiguration.QueueLimit, signal: WakeSignal) async {
        var failures = 0
        while !isStopping {
            if completions.backlog > 10 * configuration.claimBatch * queue.concurrency {
                // Completions lag behind (a slow database): let them catch up before claiming more.
                await signal.wait(upTo: .milliseconds(10))
                continue
            }
            let batch = reserveSlots(queue)
            if batch == 0 {
                await signal.wait(upTo: configuration.safetyPoll)
                continue
            }
            do {
                let jobs: [Job]
                do {
                    jobs = try await pool.query(QueueSQL.claim(queue: queue.name, limit: batch, worker: configuration.workerID, lease: configuration.lease))
                        .map(QueueSQL.decodeJob)
                } catch {
                    releaseSlots(queue.name, batch)
                    throw error
                }
                releaseSlots(queue.name, batch - jobs.count)
                failures = 0
                if !jobs.isEmpty {
                    metrics.recordClaims(jobs)
                    jobs.forEach(JobMetrics.claimed)
                    for job in jobs { start(job, signal: signal) }
                }
                if jobs.count == batch { continue }
                let untilDue = try await pool.first(QueueSQL.secondsUntilNextDue(queue: queue.name))?.decode(Double?.self, at: 0)
                var wait = configuration.safetyPoll
                if let untilDue { wait = min(wait, .microseconds(Int64(max(0, untilDue) * 1_000_000))) }
                await signal.wait(upTo: wait)
            } catch {
                if isStopping { break }
                failures += 1
                let delay = Duration.milliseconds(min(50 << min(failures, 7), 5000))
                logger.warning("claim failed; retrying", metadata: ["queue": "\(queue.name)", "error": "\(error)", "retry_in_ms": "\(delay.seconds * 1000)"])
                await signal.wait(upTo: delay)
            }
        }
    }

    private func start(_ job: Job, signal: WakeSignal) {
        inFlight.withLock { running in
            running[job.id] = InFlight(attempt: job.attempt, queue: job.queue, task: Task {
                await self.execute(job)
                self.inFlight.withLock { _ = $0.removeValue(forKey: job.id) }
                self.releaseSlots(job.queue, 1)
                signal.signal()
                self.drainSignal.signal()
            })
        }
    }

    // MARK: Running one job

    /// A logger naming the job, built only when something is logged (the hot path logs nothing).
    private func logger(for job: Job) -> Logger {
        var logger = self.logger
        logger[metadataKey: "job_id"] = "\(job.id)"
        logger[metadataKey: "kind"] = "\(job.kind)"
        logger[metadataKey: "attempt"] = "\(job.attempt)"
        return logger
    }

    private func execute(_ job: Job) async {
        guard let handler = registry.handler(for: job.kind) else {
            await recordFailure(job, error: PermanentJobError("unknown job kind \(job.kind): no handler is registered in this worker"), logger: logger(for: job))
            return
        }
        let context = JobContext(job: job, database: pool, connectionLossWindow: configuration.lease)
        let started = ContinuousClock.now
        defer { JobMetrics.duration(job, ContinuousClock.now - started) }
        do {
            switch try await handler(context) {
            case .done:
                JobMetrics.finished(job, outcome: "done")
                if context.completed {
                    metrics.record { $0.completed += 1 }
                } else {
                    completions.submit(id: job.id, attempt: job.attempt)  // counted when it commits
                }
            case .snooze(let delay):
                if try await pool.execute(QueueSQL.snooze(id: job.id, attempt: job.attempt, delay: delay)) != 1 {
                    throw LeaseLostError(jobID: job.id, attempt: job.attempt)
                }
                metrics.record { $0.snoozed += 1 }
                JobMetrics.finished(job, outcome: "snoozed")
            }
        } catch let error as LeaseLostError {
            metrics.record { $0.leaseLost += 1 }
            JobMetrics.finished(job, outcome: "lease_lost")
            logger(for: job).warning("job finished after losing its lease; its writes were discarded", metadata: ["error": "\(error)"])
        } catch {
            if Task.isCancelled && stopping.current { return }  // handed back by drainInFlight
            await recordFailure(job, error: error, logger: logger(for: job))
        }
    }

    /// Records a failed attempt: retry after backoff, or dead. Retries the write itself while the
    /// database is unreachable (a restart, a failover), for up to a lease; if it never gets
    /// through, the lease runs out and a rescuer retries.
    private func recordFailure(_ job: Job, error: Error, logger: Logger) async {
        let permanent = error is PermanentJobError
        var backoff = configuration.backoff.delay(afterAttempt: job.attempt)
        if let asked = (error as? any RetryAfterHint)?.retryAfter {
            backoff = max(backoff, min(asked, configuration.retryAfterCap))
        }
        let text = String(String(describing: error).prefix(2000))
        let deadline = ContinuousClock.now + configuration.lease
        var delay = Duration.milliseconds(100)
        var tries = 0
        while true {
            tries += 1
            do {
                let state = try await pool.first(QueueSQL.fail(id: job.id, attempt: job.attempt, error: text, backoff: backoff, permanent: permanent))?
                    .decode(String.self, at: 0)
                switch state {
                case "dead":
                    metrics.record { $0.dead += 1 }
                    JobMetrics.finished(job, outcome: "dead")
                    logger.error("job is dead", metadata: ["error": "\(text)"])
                case "available":
                    metrics.record { $0.retried += 1 }
                    JobMetrics.finished(job, outcome: "retry")
                    logger.info("job failed; will retry", metadata: ["error": "\(text)", "backoff_s": "\(backoff.seconds)"])
                    wake(job.queue)
                default:
                    metrics.record { $0.leaseLost += 1 }
                    JobMetrics.finished(job, outcome: "lease_lost")
                }
                return
            } catch {
                // A lost connection is waited out; anything else is tried five times, as before.
                let lost = (error as? PostgresError)?.isConnectionError ?? false
                guard lost || tries < 5, ContinuousClock.now + delay < deadline, !Task.isCancelled else { return }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            }
        }
    }

    // MARK: Shutdown

    private func drainInFlight() async {
        let deadline = ContinuousClock.now + configuration.shutdownGrace
        while !inFlight.current.isEmpty, ContinuousClock.now < deadline, !Task.isCancelled {
            await drainSignal.wait(upTo: .milliseconds(100))
        }
        let left = inFlight.current
        guard !left.isEmpty else { return }
        logger.warning("shutdown grace ran out; handing jobs back", metadata: ["jobs": "\(left.count)"])
        for entry in left.values { entry.task?.cancel() }
        let ids = Array(left.keys)
        let attempts = ids.map { left[$0]!.attempt }
        // Not cancellable: the hand-back must reach the database even when we are being cancelled.
        await Task.detached { [pool] in
            _ = try? await pool.execute(QueueSQL.release(ids: ids, attempts: attempts))
        }.value
        for entry in left.values { await entry.task?.value }
    }

    // MARK: Wake-ups and maintenance

    private func pumpNotifications(_ listener: Listener) async {
        for await event in listener.events {
            switch event {
            case .notification(let notification):
                wake(notification.payload)
            case .listening:
                wakeAll()
            }
        }
    }

    private func maintenanceLoop() async {
        let clock = ContinuousClock()
        var last: [String: ContinuousClock.Instant] = [:]
        func due(_ name: String, every interval: Duration) -> Bool {
            let now = clock.now
            if let previous = last[name], now - previous < interval { return false }
            last[name] = now
            return true
        }
        while !stopping.current || !inFlight.current.isEmpty {
            if Task.isCancelled { return }
            do {
                if due("heartbeat", every: configuration.heartbeatInterval) { try await heartbeat() }
                if stopping.current { 
                    await maintenanceSignal.wait(upTo: configuration.heartbeatInterval)
                    continue
                }
                if due("rescue", every: configuration.rescueInterval) {
                    let rescued = try await pool.query(QueueSQL.rescue(limit: 1000))
                    if !rescued.isEmpty {
                        metrics.record { $0.rescued += rescued.count }
                        JobMetrics.rescued(rescued.count)
                        logger.warning("rescued jobs whose lease expired", metadata: ["count": "\(rescued.count)"])
                        wakeAll()
                    }
                }
                if !periodic.isEmpty, due("periodic", every: configuration.periodicCheck) {
                    try await PeriodicSchedules.fireDue(on: pool)
                }
                if due("metrics", every: configuration.metricsInterval) { logMetrics() }
                let running = inFlight.current.values.reduce(into: [String: Int]()) { $0[$1.queue, default: 0] += 1 }
                JobMetrics.worker(inFlight: running, connections: await pool.openConnections,
                                  queues: configuration.queues.map(\.name))
                if due("prune", every: configuration.pruneInterval) {
                    try await pool.execute(QueueSQL.prune(completedBefore: configuration.retention, deadBefore: configuration.deadRetention, limit: 10_000))
                }
            } catch {
                logger.warning("maintenance failed; will retry", metadata: ["error": "\(error)"])
            }
            let tick = [configuration.heartbeatInterval, configuration.rescueInterval, configuration.periodicCheck].min()!
            await maintenanceSignal.wait(upTo: tick)
        }
    }

    private func logMetrics() {
        let snapshot = metrics.snapshot
        guard snapshot.claimed > 0 else { return }
        logger.info("queue metrics", metadata: [
            "claimed": "\(snapshot.claimed)", "completed": "\(snapshot.completed)", "retried": "\(snapshot.retried)",
            "dead": "\(snapshot.dead)", "rescued": "\(snapshot.rescued)", "lease_lost": "\(snapshot.leaseLost)",
            "lateness_p50_ms": "\(Int(percentile(snapshot.latenessMilliseconds, 50)))",
            "lateness_p99_ms": "\(Int(percentile(snapshot.latenessMilliseconds, 99)))",
            "running": "\(inFlight.current.count)",
        ])
    }

    private func heartbeat() async throws {
        let mine = inFlight.current
        guard !mine.isEmpty else { return }
        let ids = Array(mine.keys)
        try await pool.execute(QueueSQL.heartbeat(ids: ids, attempts: ids.map { mine[$0]!.attempt }, lease: configuration.lease))
    }
}
