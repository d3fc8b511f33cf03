import Postgres

/// Per queue, the slots this worker has taken (jobs running plus slots reserved by claims in
/// flight) and the wake-up signals of its claim loops. Shared by the producer (which reserves
/// before it claims), the executor (which frees a slot when a job ends) and whoever learns of new
/// work (a NOTIFY, a rescue, a retry).
final class QueueSlots: Sendable {
    private let limits: [String: Int]
    private let claimBatch: Int
    private let busy: LockedValue<[String: Int]>
    /// One per claim loop: each loop waits on its own (an AsyncStream has one consumer).
    let signals: [String: [WakeSignal]]

    init(_ configuration: WorkerConfiguration) {
        limits = Dictionary(uniqueKeysWithValues: configuration.queues.map { ($0.name, $0.concurrency) })
        claimBatch = configuration.claimBatch
        busy = LockedValue(Dictionary(uniqueKeysWithValues: configuration.queues.map { ($0.name, 0) }))
        signals = Dictionary(uniqueKeysWithValues: configuration.queues.map { queue in
            (queue.name, (0..<configuration.claimLoops(for: queue)).map { _ in WakeSignal() })
        })
    }

    /// How many slots a claim may take now: up to a batch of the free ones, but none until half a
    /// batch is free — one claim per freed slot would multiply the claims (each a statement and a
    /// commit) for the same jobs.
    static func grant(batch: Int, concurrency: Int, busy: Int) -> Int {
        let minimum = max(1, min(batch, concurrency) / 2)
        let count = min(batch, concurrency - busy)
        return count >= minimum ? count : 0
    }

    /// Reserves slots for a claim (0: wait).
    func reserve(_ queue: String) -> Int {
        busy.withLock { busy in
            let count = Self.grant(batch: claimBatch, concurrency: limits[queue] ?? 0, busy: busy[queue, default: 0])
            busy[queue, default: 0] += count
            return count
        }
    }

    func release(_ queue: String, _ count: Int) {
        guard count > 0 else { return }
        busy.withLock { $0[queue, default: 0] -= count }
    }

    func wake(_ queue: String) {
        for signal in signals[queue] ?? [] { signal.signal() }
    }

    func wakeAll() {
        for queue in signals.keys { wake(queue) }
    }
}
