import Foundation
import Postgres

/// `JobContext.complete` when the connection breaks under it (a server restart, a failover to a
/// promoted standby): the handler has done its work — maybe called a provider — and only the
/// transaction recording it is in doubt. Running the whole job again would repeat the work (an
/// email sent twice), so the transaction is retried here instead, on a new connection, once the
/// database answers again (the pool's multi-host URL finds the new primary):
///
/// - the job still `running` under this attempt: the completion travels in the same transaction
///   as everything the body wrote, so none of it committed — run the transaction again;
/// - `completed` under this attempt: it did commit (the answer was lost on the way back) — done;
/// - anything else (rescued after its lease, cancelled): `LeaseLostError`, as for any fenced write.
///
/// Bounded by `connectionLossWindow` (the worker's lease): past it a rescuer may own the job,
/// and the error is thrown as before (the job runs again elsewhere, and reconciles).
///
/// The attempt number identifies this run once its claim is durable. The claim itself commits
/// asynchronously (`QueueSQL.claim`): a crash can lose it, and the job is claimed again under
/// the same number. So a handler that acts outside the database must first commit a durable
/// fenced step (`fenced`, as a delivery's `sending` mark does) — which flushes the claim — and
/// then "completed under this attempt" can only be its own commit. A handler that never acts
/// outside the database may be run twice after a crash anyway; whichever run commits first wins.
extension JobContext {
    enum AttemptState: Sendable { case running, completed, elsewhere }

    /// `complete`'s transaction, retried as above.
    func completeSurvivingConnectionLoss<T>(_ body: (Transaction) async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + connectionLossWindow
        while true {
            // What the body returned, kept in case the COMMIT went through but its answer was lost.
            var produced: T?
            do {
                return try await leaseChecked {
                    try await database.withTransaction { tx in
                        markedInTransaction.withLock { $0 = false }
                        let result = try await body(tx)
                        // The completion is queued last, so it travels with COMMIT (unless the body marked it earlier).
                        if !markedInTransaction.current { markCompleted(on: tx) }
                        produced = result
                        return result
                    }
                }
            } catch let error as PostgresError where error.isConnectionError && ContinuousClock.now < deadline {
                switch try await attemptState(until: deadline, after: error) {
                case .running:
                    continue  // nothing of it committed
                case .completed:
                    guard let produced else { throw error }
                    return produced
                case .elsewhere:
                    throw LeaseLostError(jobID: job.id, attempt: job.attempt)
                }
            }
        }
    }

    /// The job's state under this attempt, asked until the database answers (backing off) or
    /// `deadline` passes (then `error`, the original loss, is thrown).
    private func attemptState(until deadline: ContinuousClock.Instant, after error: PostgresError) async throws -> AttemptState {
        var delay = Duration.milliseconds(50)
        while true {
            do {
                // A completion deletes the row from `jobs` and writes it to `job_history`, which has
                // no index on id: the window bounds the scan to the partitions of the last lease or so
                // (this runs only after a lost connection).
                let row = try await database.first("""
                    SELECT j.state, j.attempt FROM public.jobs j WHERE j.id = \(job.id)
                    UNION ALL
                    SELECT h.state, h.attempt FROM public.job_history h
                     WHERE h.id = \(job.id) AND h.finished_at >= now() - \(connectionLossWindow + .seconds(60))::interval
                     AND NOT EXISTS (SELECT 1 FROM public.jobs j WHERE j.id = \(job.id))
                    LIMIT 1
                    """)
                guard let row, try row.decode(Int.self, at: 1) == job.attempt else { return .elsewhere }
                switch try row.decode(JobState.self, at: 0) {
                case .running: return .running
                case .completed: return .completed
                default: return .elsewhere
                }
            } catch let retry as PostgresError where retry.isConnectionError {
                guard ContinuousClock.now + delay < deadline else { throw error }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            }
        }
    }
}
