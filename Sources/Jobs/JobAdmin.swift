import Foundation
import Postgres

/// What an operator does to jobs: list them, retry a dead one, cancel one that has not run.
public enum JobAdmin {
    public struct Summary: Sendable {
        public var id: Int64
        public var queue: String
        public var kind: String
        public var state: String
        public var attempt: Int
        public var maxAttempts: Int
        public var runAt: Date
        public var lastError: String?
    }

    public static func list(state: String?, kind: String? = nil, limit: Int = 50, on db: some Queryable) async throws -> [Summary] {
        try await db.query("""
            SELECT id, queue, kind, state::text, attempt, max_attempts, run_at, errors->-1->>'error'
            FROM public.jobs
            WHERE (\(state)::text IS NULL OR state::text = \(state)) AND (\(kind)::text IS NULL OR kind = \(kind))
            ORDER BY id DESC LIMIT \(limit)
            """).map { row in
            Summary(id: try row.decode(Int64.self, at: 0), queue: try row.decode(String.self, at: 1),
                    kind: try row.decode(String.self, at: 2), state: try row.decode(String.self, at: 3),
                    attempt: try row.decode(Int.self, at: 4), maxAttempts: try row.decode(Int.self, at: 5),
                    runAt: try row.decode(Date.self, at: 6), lastError: try row.decode(String?.self, at: 7))
        }
    }

    /// Makes a dead (or cancelled) job due again now, with its attempts topped up by one more try.
    /// Its error history is kept. Returns false when the job is not dead or cancelled.
    public static func retry(id: Int64, on db: some Queryable) async throws -> Bool {
        try await db.execute("""
            UPDATE public.jobs SET state = 'available', run_at = now(), finished_at = NULL,
                max_attempts = greatest(max_attempts, attempt + 1)
            WHERE id = \(id) AND state IN ('dead', 'cancelled')
            """) == 1
    }

    /// Cancels a job that is waiting, or one that is running (its worker's completion then finds
    /// it no longer running and writes nothing). Returns false when it already finished.
    public static func cancel(id: Int64, on db: some Queryable) async throws -> Bool {
        try await db.execute("""
            UPDATE public.jobs SET state = 'cancelled', finished_at = now(), lease_expires_at = NULL
            WHERE id = \(id) AND state IN ('available', 'running')
            """) == 1
    }
}
