import Foundation
import Postgres

/// What an operator does to jobs: list them, retry a dead one, cancel one that has not run.
public enum JobAdmin {
    public struct Summary: Sendable {
        public var id: Int64
        public var queue: String
        public var kind: String
        public var state: JobState
        public var attempt: Int
        public var maxAttempts: Int
        public var runAt: Date
        public var lastError: String?
    }

    /// Jobs in `jobs` (live, dead, cancelled), newest first; `state: .completed` lists the last
    /// hour of `job_history` instead (completed jobs leave `jobs`; the history has no index, so
    /// it is read a recent partition or two at a time).
    public static func list(state: JobState?, kind: String? = nil, limit: Int = 50, on db: some Queryable) async throws -> [Summary] {
        let rows: Rows
        if state == .completed {
            rows = try await db.query("""
                SELECT id, queue, kind, state, attempt, max_attempts, run_at, errors->-1->>'error' AS last_error
                FROM public.job_history
                WHERE finished_at > now() - interval '1 hour' AND (\(kind)::text IS NULL OR kind = \(kind))
                ORDER BY finished_at DESC, id DESC LIMIT \(limit)
                """)
        } else {
            rows = try await db.query("""
                SELECT id, queue, kind, state, attempt, max_attempts, run_at, errors->-1->>'error' AS last_error
                FROM public.jobs
                WHERE (\(state)::public.job_state IS NULL OR state = \(state)::public.job_state) AND (\(kind)::text IS NULL OR kind = \(kind))
                ORDER BY id DESC LIMIT \(limit)
                """)
        }
        return try rows.map { row in
            Summary(id: try row.decode("id"), queue: try row.decode("queue"), kind: try row.decode("kind"),
                    state: try row.decode("state"), attempt: try row.decode("attempt"), maxAttempts: try row.decode("max_attempts"),
                    runAt: try row.decode("run_at"), lastError: try row.decode("last_error", as: String?.self))
        }
    }

    /// Makes a dead (or cancelled) job due again now, with its attempts topped up by one more try.
    /// Its error history is kept. Returns false when the job is not dead or cancelled.
    public static func retry(id: Int64, on db: some Queryable) async throws -> Bool {
        try await db.execute("""
            UPDATE public.jobs SET state = \(raw: JobState.available.literal), run_at = now(), finished_at = NULL,
                max_attempts = greatest(max_attempts, attempt + 1)
            WHERE id = \(id) AND state IN (\(raw: JobState.dead.literal), \(raw: JobState.cancelled.literal))
            """) == 1
    }

    /// Cancels a job that is waiting, or one that is running (its worker's completion then finds
    /// it no longer running and writes nothing). Returns false when it already finished. A
    /// cancelled job stays in `jobs` (retry brings it back) until `retention` has passed.
    public static func cancel(id: Int64, on db: some Queryable) async throws -> Bool {
        try await db.execute("""
            UPDATE public.jobs SET state = \(raw: JobState.cancelled.literal), finished_at = now(), lease_expires_at = NULL
            WHERE id = \(id) AND state IN (\(raw: JobState.available.literal), \(raw: JobState.running.literal))
            """) == 1
    }
}
