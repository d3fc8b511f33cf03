import Foundation
import Postgres

/// A job enqueued once per tick of `every`, across any number of pollers, without cron or leader.
///
/// Ticks are aligned to the epoch (`every` = 1 hour ticks on the hour). Each poller checks the
/// schedules regularly; a compare-and-set on `job_schedules.next_tick` lets exactly one of them
/// enqueue a tick's job, in the same transaction. Catch-up policy: ticks missed while no poller
/// ran are coalesced into one run at the next check (the job's payload carries the tick it ran
/// for, under "tick"), so handlers that must cover every period (e.g. a monthly credit) are
/// written to be idempotent per period and to look back.
public struct PeriodicJob: Sendable {
    public var name: String
    public var kind: String
    public var queue: String
    public var payloadJSON: String
    public var every: Duration

    public init(name: String, kind: String, every: Duration, queue: String = "default", payloadJSON: String = "{}") {
        self.name = name
        self.kind = kind
        self.every = every
        self.queue = queue
        self.payloadJSON = payloadJSON
    }

    var intervalMilliseconds: Int64 {
        let (seconds, attos) = every.components
        return max(1, seconds * 1000 + attos / 1_000_000_000_000_000)
    }
}

public enum PeriodicSchedules {
    /// Creates or updates the schedules (keeping each one's next tick).
    public static func register(_ jobs: [PeriodicJob], on db: some Queryable) async throws {
        for job in jobs {
            try await db.execute("""
                INSERT INTO public.job_schedules (name, kind, queue, payload, interval_ms, next_tick)
                VALUES (\(job.name), \(job.kind), \(job.queue), \(job.payloadJSON)::jsonb, \(job.intervalMilliseconds),
                        to_timestamp(floor(extract(epoch FROM now()) * 1000 / \(job.intervalMilliseconds)) * \(job.intervalMilliseconds) / 1000.0))
                ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, queue = EXCLUDED.queue,
                    payload = EXCLUDED.payload, interval_ms = EXCLUDED.interval_ms
                """)
        }
    }

    /// Enqueues the job of every schedule whose tick has come, at most once per tick whoever calls.
    /// `at` overrides the database clock (tests drive ticks with it). Returns the ids enqueued.
    @discardableResult
    public static func fireDue(at: Date? = nil, on db: some Queryable) async throws -> [Int64] {
        try await db.query("""
            WITH clock AS (SELECT coalesce(\(at)::timestamptz, now()) AS now),
            due AS (
                UPDATE public.job_schedules s SET
                    last_tick = to_timestamp(floor(extract(epoch FROM clock.now) * 1000 / s.interval_ms) * s.interval_ms / 1000.0),
                    next_tick = to_timestamp((floor(extract(epoch FROM clock.now) * 1000 / s.interval_ms) + 1) * s.interval_ms / 1000.0)
                FROM clock
                WHERE s.next_tick <= clock.now
                RETURNING s.name, s.kind, s.queue, s.payload, s.last_tick
            )
            INSERT INTO public.jobs (kind, queue, payload, unique_key)
            SELECT kind, queue, payload || jsonb_build_object('tick', last_tick, 'schedule', name),
                   'periodic:' || name || ':' || (extract(epoch FROM last_tick) * 1000)::bigint
            FROM due
            RETURNING id
            """).map { try $0.decode(Int64.self, at: 0) }
    }
}
