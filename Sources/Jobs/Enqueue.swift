import Foundation
import Postgres

/// Options for a new job.
public struct EnqueueOptions: Sendable {
    public var queue: String = "default"
    /// When it becomes due; nil: now (database clock).
    public var runAt: Date?
    /// Or: due this long after now (database clock). Ignored when `runAt` is set.
    public var delay: Duration?
    public var priority: Int = 2
    public var maxAttempts: Int = 20
    /// At most one live (available or running) job per key; a second enqueue is a no-op.
    public var uniqueKey: String?

    public init(queue: String = "default", runAt: Date? = nil, delay: Duration? = nil, priority: Int = 2,
                maxAttempts: Int = 20, uniqueKey: String? = nil) {
        self.queue = queue
        self.runAt = runAt
        self.delay = delay
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.uniqueKey = uniqueKey
    }
}

/// Enqueueing, from Swift. Pass the transaction you are in: the job exists iff it commits.
public enum JobQueue {
    /// Enqueues `payload` as a job of its `kind`. Returns the id, or nil when a live job with the
    /// same unique key already exists.
    @discardableResult
    public static func enqueue<P: JobPayload>(_ payload: P, options: EnqueueOptions = .init(), on db: some Queryable) async throws -> Int64? {
        let json = String(decoding: try JSONEncoder.jobs.encode(payload), as: UTF8.self)
        return try await enqueue(kind: P.kind, json: json, options: options, on: db)
    }

    /// Enqueues a job from its kind and JSON payload text.
    @discardableResult
    public static func enqueue(kind: String, json: String = "{}", options: EnqueueOptions = .init(), on db: some Queryable) async throws -> Int64? {
        let row = try await db.first("""
            SELECT public.jobs_enqueue(\(kind), \(json)::jsonb, \(options.queue),
                coalesce(\(options.runAt)::timestamptz, now() + coalesce(\(options.delay)::interval, '0')),
                \(options.priority)::smallint, \(options.maxAttempts), \(options.uniqueKey))
            """)
        return try row?.decode(Int64?.self, at: 0)
    }

    /// Enqueues many jobs of one kind in one statement (benchmarks, backfills).
    public static func enqueueMany(kind: String, payloads: [String], queue: String = "default", delay: Duration? = nil, on db: some Queryable) async throws {
        try await db.execute("""
            INSERT INTO public.jobs (kind, queue, payload, run_at)
            SELECT \(kind), \(queue), p::jsonb, now() + coalesce(\(delay)::interval, '0') FROM unnest(\(payloads)::text[]) AS p
            """)
    }
}
