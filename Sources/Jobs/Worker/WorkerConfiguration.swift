import Foundation

/// How a worker (one `followup run` process) polls and runs jobs. Every wait is a setting,
/// so tests run the same code with milliseconds where production uses minutes.
public struct WorkerConfiguration: Sendable {
    public struct QueueLimit: Sendable {
        public var name: String
        /// Jobs of this queue running at once in this process.
        public var concurrency: Int
        public init(_ name: String, concurrency: Int) {
            self.name = name
            self.concurrency = concurrency
        }
    }

    public var queues: [QueueLimit] = [QueueLimit("default", concurrency: 16)]
    /// Jobs claimed per round trip (at most the free slots).
    public var claimBatch = 10
    /// Claim loops per queue, so the next claim is in flight while the last one's jobs start.
    /// nil: one per `claimBatch` of concurrency, between 1 and 4.
    public var claimLoopsPerQueue: Int?
    /// A running job not heartbeated for this long is rescued by any worker.
    public var lease: Duration = .seconds(60)
    /// How often this worker extends the leases of its running jobs.
    public var heartbeatInterval: Duration = .seconds(15)
    /// How often this worker looks for expired leases (every worker does; they skip each other's rows).
    public var rescueInterval: Duration = .seconds(10)
    /// The safety net: claim at least this often even if no NOTIFY arrived.
    public var safetyPoll: Duration = .seconds(5)
    /// How often periodic schedules are checked.
    public var periodicCheck: Duration = .seconds(1)
    public var backoff = Backoff()
    /// A failure's `RetryAfterHint` (a provider's `Retry-After`) is honoured up to this long.
    public var retryAfterCap: Duration = .seconds(600)
    /// Completed jobs' history (`job_history`) and cancelled jobs are kept this long; dead jobs
    /// stay in `jobs` for `deadRetention`. A history partition is dropped once all of it is older.
    public var retention: Duration = .seconds(86_400)
    public var deadRetention: Duration = .seconds(7 * 86_400)
    /// How often dead and cancelled jobs are pruned and history partitions made and dropped.
    public var pruneInterval: Duration = .seconds(60)
    /// The time range of one `job_history` partition (aligned to the epoch, UTC).
    public var historyPartition: Duration = .seconds(3600)
    /// Partitions kept ready beyond the current one (at least one).
    public var historyPartitionsAhead = 3
    /// How often the worker logs its counters (claimed, completed, retried, dead, lateness) at info.
    public var metricsInterval: Duration = .seconds(60)
    /// After SIGTERM/SIGINT: how long in-flight jobs get to finish before they are handed back.
    public var shutdownGrace: Duration = .seconds(30)
    /// LISTEN for new work (off: rely on timers and the safety poll, e.g. behind a transaction pooler).
    public var listen = true
    /// Names this worker in `jobs.attempted_by`.
    public var workerID: String = WorkerConfiguration.defaultWorkerID()

    public init() {}

    func claimLoops(for queue: QueueLimit) -> Int {
        claimLoopsPerQueue.map { max(1, $0) } ?? min(4, max(1, (queue.concurrency + claimBatch - 1) / claimBatch))
    }

    public static func defaultWorkerID() -> String {
        "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(UUID().uuidString.prefix(6))"
    }
}
