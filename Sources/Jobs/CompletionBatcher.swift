import Postgres

/// Completes jobs whose handlers returned `.done` without writing an outcome, many per statement.
///
/// While one `UPDATE … FROM unnest(ids, attempts)` is in flight, completions queue up behind it
/// and go out together in the next one (group commit): no timer, no added latency when idle,
/// and one round trip and one commit for a whole batch under load. Each completion is still
/// fenced on (id, attempt), and each caller learns whether its own job was completed.
final class CompletionBatcher: Sendable {
    private struct Pending: Sendable {
        var id: Int64
        var attempt: Int
        var continuation: CheckedContinuation<Bool, Error>
    }

    private struct State: Sendable {
        var pending: [Pending] = []
        var flushing = false
    }

    private let pool: ConnectionPool
    private let state = LockedValue(State())
    private let maxBatch = 1000

    init(pool: ConnectionPool) { self.pool = pool }

    /// Marks the job completed; false when it was no longer ours (lease lost or cancelled).
    func complete(id: Int64, attempt: Int) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            let startFlush = state.withLock { state -> Bool in
                state.pending.append(Pending(id: id, attempt: attempt, continuation: continuation))
                guard !state.flushing else { return false }
                state.flushing = true
                return true
            }
            if startFlush {
                Task { await self.flushUntilEmpty() }
            }
        }
    }

    private func flushUntilEmpty() async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                let batch = Array(state.pending.prefix(maxBatch))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.flushing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                let done = Set(try await pool.query(QueueSQL.completeMany(ids: batch.map(\.id), attempts: batch.map(\.attempt)))
                    .map { try $0.decode(Int64.self, at: 0) })
                for item in batch { item.continuation.resume(returning: done.contains(item.id)) }
            } catch {
                for item in batch { item.continuation.resume(throwing: error) }
            }
        }
    }
}
