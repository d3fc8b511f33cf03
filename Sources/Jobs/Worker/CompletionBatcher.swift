import Postgres

/// Completes jobs whose handlers returned `.done` without writing an outcome, many per statement,
/// off the handler's path.
///
/// A handler's slot is free the moment it returns; its completion joins the next batch. While one
/// `UPDATE … FROM unnest(ids, attempts)` is in flight, completions queue behind it and go out
/// together in the next (group commit): no timer, no added latency when idle, one round trip and
/// one commit for a whole batch under load. Each completion is still fenced on (id, attempt).
/// If the process dies before a batch commits, those jobs' leases run out and they run again —
/// the queue's at-least-once promise for handlers that write no outcome of their own.
final class CompletionBatcher: Sendable {
    private struct Item: Sendable {
        var id: Int64
        var attempt: Int
    }

    private struct State: Sendable {
        var pending: [Item] = []
        var flushing = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let pool: ConnectionPool
    private let state = LockedValue(State())
    private let maxBatch = 1000
    /// Called after each batch: how many were completed, and the ids that were no longer ours.
    private let onFlushed: @Sendable (_ completed: Int, _ lost: [Int64]) -> Void
    private let onError: @Sendable (Error) -> Void

    init(pool: ConnectionPool, onFlushed: @escaping @Sendable (Int, [Int64]) -> Void, onError: @escaping @Sendable (Error) -> Void) {
        self.pool = pool
        self.onFlushed = onFlushed
        self.onError = onError
    }

    /// Completions accepted but not yet committed.
    var backlog: Int { state.withLock { $0.pending.count } }

    /// Queues the job's completion; returns at once.
    func submit(id: Int64, attempt: Int) {
        let startFlush = state.withLock { state -> Bool in
            state.pending.append(Item(id: id, attempt: attempt))
            guard !state.flushing else { return false }
            state.flushing = true
            return true
        }
        if startFlush {
            Task { await self.flushUntilEmpty() }
        }
    }

    /// Returns once every submitted completion has been written (or given up on).
    func waitUntilFlushed() async {
        await withCheckedContinuation { continuation in
            let idle = state.withLock { state -> Bool in
                if !state.flushing && state.pending.isEmpty { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    private func flushUntilEmpty() async {
        var failures = 0
        while true {
            let batch = state.withLock { state -> [Item] in
                let batch = Array(state.pending.prefix(maxBatch))
                if batch.isEmpty { state.flushing = false }
                return batch
            }
            guard !batch.isEmpty else {
                let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                    defer { state.idleWaiters.removeAll() }
                    return state.flushing ? [] : state.idleWaiters
                }
                for waiter in waiters { waiter.resume() }
                return
            }
            do {
                let done = Set(try await pool.query(QueueSQL.completeMany(ids: batch.map(\.id), attempts: batch.map(\.attempt)))
                    .map { try $0.decode(Int64.self, at: 0) })
                state.withLock { $0.pending.removeFirst(batch.count) }
                failures = 0
                onFlushed(done.count, batch.map(\.id).filter { !done.contains($0) })
            } catch {
                onError(error)
                failures += 1
                if failures >= 20 {
                    // The database stays away: leave these to the rescuer (they run again after their lease).
                    state.withLock { $0.pending.removeFirst(batch.count) }
                    failures = 0
                } else {
                    try? await Task.sleep(for: .milliseconds(min(50 << min(failures, 6), 2000)))
                }
            }
        }
    }
}
