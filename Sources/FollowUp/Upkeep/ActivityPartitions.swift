import Foundation
import Jobs
import Logging
import Postgres

/// `activity` partitioned by day (docs/scale.md): the periodic job `followup.activity_partitions`
/// makes the days ahead and drops the days older than the retention, keeping each customer's
/// newest row. The SQL is in `SQL/R__activity_partitions.sql`; each step is its own transaction.
public enum ActivityPartitions {
    public static let jobKind = "followup.activity_partitions"

    public struct Report: Sendable, Equatable {
        /// Partitions made (activity_pYYYYMMDD).
        public var created: [String] = []
        /// Partitions dropped, with the rows kept from each (customers' newest rows with nothing newer).
        public var dropped: [String] = []
        public var carried = 0
    }

    /// One run. `now`: the time to run for (nil: the database's clock); tests pass any.
    public static func maintain(now: Date? = nil, settings: RetentionSettings, on pool: ConnectionPool) async throws -> Report {
        var report = Report()
        let retention = settings.activity.wholeSeconds
        report.created = try await pool.query("""
            SELECT public.activity_partitions_create(coalesce(\(now)::timestamptz, now()), \(settings.activityDaysAhead)::int,
                                                     \(retention) * interval '1 second')
            """).map { try $0.decode(String.self, at: 0) }
        _ = try await pool.query("""
            SELECT public.activity_partitions_detach(coalesce(\(now)::timestamptz, now()), \(retention) * interval '1 second')
            """)
        // Also finishes a day detached by an earlier run that stopped before dropping it.
        for row in try await pool.query("SELECT dropped_partition, carried FROM public.activity_partitions_drop_detached()") {
            report.dropped.append(try row.decode(String.self, at: 0))
            report.carried += Int(try row.decode(Int64.self, at: 1))
        }
        return report
    }

    /// The periodic job's handler.
    static func run(context: JobContext, settings: RetentionSettings, logger: Logger) async throws -> JobResult {
        let report = try await maintain(settings: settings, on: context.database)
        if !report.created.isEmpty || !report.dropped.isEmpty {
            logger.info("activity partitions kept in step", metadata: [
                "created": "\(report.created.joined(separator: ","))", "dropped": "\(report.dropped.joined(separator: ","))",
                "newest_rows_kept": "\(report.carried)"])
        }
        return .done
    }
}
