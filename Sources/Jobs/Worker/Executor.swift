import Logging
import Postgres
import ServiceLifecycle

/// Runs claimed jobs, each in a task of its own, and records how each attempt ended: completed
/// (batched by `CompletionBatcher` unless the handler completed it in its own transaction),
/// snoozed, retried after backoff, or dead.
///
/// As a service it only waits: on graceful shutdown (after the producer stopped claiming) it lets
/// the jobs in hand finish within `shutdownGrace`, cancels the rest and hands them back (due now,
/// attempt not counted), then waits until every completion is written.
final class Executor: Service, Sendable {
    struct InFlight: Sendable {
        var attempt: Int
        var queue: String
        var task: Task<Void, Never>?
    }

    private let pool: ConnectionPool
    private let registry: JobRegistry
    private let configuration: WorkerConfiguration
    private let slots: QueueSlots
    private let metrics: QueueMetrics
    private let logger: Logger
    private let completions: CompletionBatcher
    private let inFlight = LockedValue<[Int64: InFlight]>([:])
    private let finished = WakeSignal()
    /// Set when the grace ran out: the cancelled jobs' errors are not failures.
    private let handingBack = LockedValue(false)

    init(pool: ConnectionPool, registry: JobRegistry, configuration: WorkerConfiguration, slots: QueueSlots,
         metrics: QueueMetrics, logger: Logger) {
        self.pool = pool
        self.registry = registry
        self.configuration = configuration
        self.slots = slots
        self.metrics = metrics
        self.logger = logger
        self.completions = CompletionBatcher(pool: pool, onFlushed: { completed, lost in
            metrics.record {
                $0.completed += completed
                $0.leaseLost += lost.count
            }
            if !lost.isEmpty {
                logger.warning("jobs finished after losing their lease; not completed here", metadata: ["jobs": "\(lost)"])
            }
        }, onError: { error in
            logger.warning("completing jobs failed; retrying", metadata: ["error": "\(error)"])
        })
    }

    /// Jobs running now, by id.
    var running: [Int64: InFlight] { inFlight.current }

    /// Completions accepted but not yet committed (the producer holds back while this grows).
    var completionBacklog: Int { completions.backlog }

    func run() async throws {
        try? await gracefulShutdown()
        await drain()
        await completions.waitUntilFlushed()
    }

    /// Starts `job` in a task of its own; its slot is freed and `signal` woken when it ends.
    func start(_ job: Job, signal: WakeSignal) {
        inFlight.withLock { running in
            running[job.id] = InFlight(attempt: job.attempt, queue: job.queue, task: Task {
                await self.execute(job)
                self.inFlight.withLock { _ = $0.removeValue(forKey: job.id) }
                self.slots.release(job.queue, 1)
                signal.signal()
                self.finished.signal()
            })
        }
    }

    // MARK: One attempt

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
            await recordFailure(job, error: PermanentJobError("unknown job kind \(job.kind): no handler is registered in this worker"))
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
            if Task.isCancelled && handingBack.current { return }  // handed back by drain()
            await recordFailure(job, error: error)
        }
    }

    /// How long a failed attempt waits before the next: the backoff, or longer when the error
    /// asks (`RetryAfterHint`), never beyond `retryAfterCap`. `permanent`: no next attempt.
    static func retryPlan(after error: Error, attempt: Int, configuration: WorkerConfiguration) -> (backoff: Duration, permanent: Bool) {
        var backoff = configuration.backoff.delay(afterAttempt: attempt)
        if let asked = (error as? any RetryAfterHint)?.retryAfter {
            backoff = max(backoff, min(asked, configuration.retryAfterCap))
        }
        return (backoff, error is PermanentJobError)
    }

    /// Records a failed attempt: retry after backoff, or dead. Retries the write itself while the
    /// database is unreachable (a restart, a failover), for up to a lease; if it never gets
    /// through, the lease runs out and a rescuer retries.
    private func recordFailure(_ job: Job, error: Error) async {
        let logger = logger(for: job)
        let (backoff, permanent) = Self.retryPlan(after: error, attempt: job.attempt, configuration: configuration)
        let text = String(String(describing: error).prefix(2000))
        let deadline = ContinuousClock.now + configuration.lease
        var delay = Duration.milliseconds(100)
        var tries = 0
        while true {
            tries += 1
            do {
                let state = try await pool.first(QueueSQL.fail(id: job.id, attempt: job.attempt, error: text, backoff: backoff, permanent: permanent))?
                    .decode(JobState.self, at: 0)
                switch state {
                case .dead:
                    metrics.record { $0.dead += 1 }
                    JobMetrics.finished(job, outcome: "dead")
                    logger.error("job is dead", metadata: ["error": "\(text)"])
                case .available:
                    metrics.record { $0.retried += 1 }
                    JobMetrics.finished(job, outcome: "retry")
                    logger.info("job failed; will retry", metadata: ["error": "\(text)", "backoff_s": "\(backoff.seconds)"])
                    slots.wake(job.queue)
                default:  // no row: no longer ours
                    metrics.record { $0.leaseLost += 1 }
                    JobMetrics.finished(job, outcome: "lease_lost")
                }
                return
            } catch {
                // A lost connection is waited out; anything else is tried five times.
                let lost = (error as? PostgresError)?.isConnectionError ?? false
                guard lost || tries < 5, ContinuousClock.now + delay < deadline, !Task.isCancelled else { return }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            }
        }
    }

    // MARK: Shutdown

    /// Lets the jobs in hand finish within the grace period, then cancels the rest and hands them back.
    private func drain() async {
        let deadline = ContinuousClock.now + configuration.shutdownGrace
        while !inFlight.current.isEmpty, ContinuousClock.now < deadline, !Task.isCancelled {
            await finished.wait(upTo: .milliseconds(100))
        }
        let left = inFlight.current
        guard !left.isEmpty else { return }
        logger.warning("shutdown grace ran out; handing jobs back", metadata: ["jobs": "\(left.count)"])
        handingBack.withLock { $0 = true }
        for entry in left.values { entry.task?.cancel() }
        let ids = Array(left.keys)
        let attempts = ids.map { left[$0]!.attempt }
        // Not cancellable: the hand-back must reach the database even when we are being cancelled.
        await Task.detached { [pool] in
            _ = try? await pool.execute(QueueSQL.release(ids: ids, attempts: attempts))
        }.value
        for entry in left.values { await entry.task?.value }
    }
}
