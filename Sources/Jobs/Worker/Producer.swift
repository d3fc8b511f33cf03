import Logging
import Postgres
import ServiceLifecycle

/// Claims due jobs and hands them to the executor. Each queue has its own claim loops (several,
/// so the next claim is in flight while the last one's jobs start); a loop reserves slots, claims
/// a batch (`FOR UPDATE SKIP LOCKED`), and when nothing more is due sleeps until the next known
/// due time, a NOTIFY, a freed slot, or the safety poll — whichever is first.
///
/// Graceful shutdown stops claiming; the executor then finishes what is in hand.
final class Producer: Service, Sendable {
    private let pool: ConnectionPool
    private let configuration: WorkerConfiguration
    private let slots: QueueSlots
    private let executor: Executor
    private let metrics: QueueMetrics
    private let logger: Logger
    private let stopping = LockedValue(false)

    init(pool: ConnectionPool, configuration: WorkerConfiguration, slots: QueueSlots, executor: Executor,
         metrics: QueueMetrics, logger: Logger) {
        self.pool = pool
        self.configuration = configuration
        self.slots = slots
        self.executor = executor
        self.metrics = metrics
        self.logger = logger
    }

    private var isStopping: Bool { stopping.current || Task.isCancelled }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { loops in
                for queue in configuration.queues {
                    for signal in slots.signals[queue.name] ?? [] {
                        loops.addTask { await self.claimLoop(queue, signal: signal) }
                    }
                }
            }
        } onGracefulShutdown: {
            self.stopClaiming()
        }
        // `stopClaiming()` from `JobWorker.shutdown()` ends the loops before the group's shutdown
        // reaches this service, and a service that returns before then fails the group.
        try? await gracefulShutdown()
    }

    /// No claim starts after this returns (one in flight still hands its jobs to the executor).
    /// `JobWorker.shutdown()` calls it at once, before the service group's shutdown reaches this
    /// service, so no slot freed meanwhile is filled again.
    func stopClaiming() {
        stopping.withLock { $0 = true }
        slots.wakeAll()
    }

    private func claimLoop(_ queue: WorkerConfiguration.QueueLimit, signal: WakeSignal) async {
        var failures = 0
        while !isStopping {
            if executor.completionBacklog > 10 * configuration.claimBatch * queue.concurrency {
                // Completions lag behind (a slow database): let them catch up before claiming more.
                await signal.wait(upTo: .milliseconds(10))
                continue
            }
            let batch = slots.reserve(queue.name)
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
                    slots.release(queue.name, batch)
                    throw error
                }
                slots.release(queue.name, batch - jobs.count)
                failures = 0
                if !jobs.isEmpty {
                    metrics.recordClaims(jobs)
                    jobs.forEach(JobMetrics.claimed)
                    for job in jobs { executor.start(job, signal: signal) }
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
}
