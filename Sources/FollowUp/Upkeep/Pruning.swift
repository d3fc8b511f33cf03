import Foundation
import Jobs
import Logging
import Postgres

/// Retention of deliveries, follow-ups, their push receipts and inbound events (docs/scale.md):
/// the periodic job `followup.prune` deletes in batches, each its own short transaction, what
/// `SQL/R__retention.sql` says may go. The ledger, and every delivery it names, stays.
public enum Pruning {
    public static let jobKind = "followup.prune"

    public struct Report: Sendable, Equatable {
        public var deliveries = 0
        public var followUps = 0
        public var pushReceipts = 0
        public var inboundEvents = 0
        /// Batches run; equal to the settings' maximum when more may be left for the next run.
        public var batches = 0

        public var total: Int { deliveries + followUps + pushReceipts + inboundEvents }
    }

    /// Deletes batch after batch until one deletes less than a batch of each kind, or
    /// `maxBatchesPerRun` ran. `now`: the time to run for (nil: the database's clock).
    public static func run(now: Date? = nil, settings: RetentionSettings, on pool: ConnectionPool) async throws -> Report {
        var report = Report()
        while report.batches < settings.maxBatchesPerRun {
            guard let row = try await pool.first("""
                SELECT deleted_deliveries, deleted_follow_ups, deleted_push_receipts, deleted_inbound_events
                FROM public.followup_prune(coalesce(\(now)::timestamptz, now()),
                                           \(settings.deliveries.wholeSeconds) * interval '1 second',
                                           \(settings.followUps.wholeSeconds) * interval '1 second',
                                           \(settings.inboundEvents.wholeSeconds) * interval '1 second',
                                           \(settings.batch)::int)
                """) else { break }
            let deliveries = try row.decode(Int.self, at: 0)
            let followUps = try row.decode(Int.self, at: 1)
            let inbound = try row.decode(Int.self, at: 3)
            report.deliveries += deliveries
            report.followUps += followUps
            report.pushReceipts += try row.decode(Int.self, at: 2)
            report.inboundEvents += inbound
            report.batches += 1
            if max(deliveries, followUps, inbound) < settings.batch { break }
        }
        return report
    }

    /// The periodic job's handler.
    static func run(context: JobContext, settings: RetentionSettings, logger: Logger) async throws -> JobResult {
        let report = try await run(settings: settings, on: context.database)
        if report.total > 0 {
            logger.info("pruned what is past its retention", metadata: [
                "deliveries": "\(report.deliveries)", "follow_ups": "\(report.followUps)",
                "push_receipts": "\(report.pushReceipts)", "inbound_events": "\(report.inboundEvents)"])
        }
        return .done
    }
}
