import Foundation
import Logging
import Postgres
import ServiceLifecycle

/// Keeps `job_history`'s partitions: creates the next `historyPartitionsAhead` ones, and drops each
/// one once all of it is older than `retention` — every `pruneInterval`, by every worker (creating
/// an existing partition or dropping a dropped one is a no-op).
///
/// The partition holding *now* is made only by the pass a worker runs at start-up, before it
/// claims anything (`JobWorker.run`): ATTACHing the range completions are writing into races
/// them — a completion routed to the default partition just before the ATTACH fails with 23514
/// (its row would now belong to the new partition). Ranges ahead are attached an hour or more
/// before any row can belong to them. If every worker was down for longer than the partitions
/// ahead, the hour they come back in fills the default partition instead, which is correct, only
/// not dropped by partition (`job_history_drop_partitions` deletes those rows).
/// No extension needed: native range partitioning and two SECURITY DEFINER functions
/// (`job_history_create_partition`, `job_history_drop_partitions` in R__jobs.sql).
final class HistoryPartitions: Service, Sendable {
    /// What one pass does at a given time: pure, so it is tested without a database.
    struct Plan: Equatable, Sendable {
        /// [from, to) ranges to make sure exist, oldest first.
        var create: [Range<Date>]
        /// Partitions ending at or before this are dropped.
        var dropBefore: Date

        /// Partitions are `width` long, aligned to the Unix epoch (UTC): the one holding `now`
        /// when `includingCurrent` (start-up only), then `ahead` more (at least one). Partitions
        /// ending at or before `now − retention` are dropped.
        init(now: Date, width: Duration, ahead: Int, retention: Duration, includingCurrent: Bool) {
            let seconds = max(1, width.seconds.rounded())
            let start = (now.timeIntervalSince1970 / seconds).rounded(.down) * seconds
            create = ((includingCurrent ? 0 : 1)...max(1, ahead)).map { i in
                let from = Date(timeIntervalSince1970: start + Double(i) * seconds)
                return from..<from.addingTimeInterval(seconds)
            }
            dropBefore = now.addingTimeInterval(-retention.seconds)
        }
    }

    struct Outcome: Sendable {
        var created: Int
        var dropped: [String]
    }

    private let pool: ConnectionPool
    private let configuration: WorkerConfiguration
    private let logger: Logger
    private let loop: MaintenanceLoop

    init(pool: ConnectionPool, configuration: WorkerConfiguration, logger: Logger) {
        self.pool = pool
        self.configuration = configuration
        self.logger = logger
        // The worker's start-up pass (the current partition too) is this loop's first.
        self.loop = MaintenanceLoop(name: "job history partitions", interval: configuration.pruneInterval, logger: logger,
                                    firstPassDone: true)
    }

    func run() async throws {
        await loop.run {
            let outcome = try await Self.maintain(includingCurrent: false, configuration: self.configuration, on: self.pool)
            if outcome.created > 0 || !outcome.dropped.isEmpty {
                self.logger.info("job history partitions", metadata: ["created": "\(outcome.created)", "dropped": "\(outcome.dropped.count)"])
            }
        }
    }

    /// One pass. `now` overrides the database clock (tests move time with it).
    @discardableResult
    static func maintain(now: Date? = nil, includingCurrent: Bool, configuration: WorkerConfiguration,
                         on db: some Queryable) async throws -> Outcome {
        let clock: Date
        if let now { clock = now } else { clock = try await db.scalar("SELECT now()", as: Date.self) }
        let plan = Plan(now: clock, width: configuration.historyPartition, ahead: configuration.historyPartitionsAhead,
                        retention: configuration.retention, includingCurrent: includingCurrent)
        var created = 0
        for range in plan.create {
            if try await db.scalar(QueueSQL.createHistoryPartition(range), as: Bool.self) { created += 1 }
        }
        let dropped = try await db.query(QueueSQL.dropHistoryPartitions(before: plan.dropBefore)).map { try $0.decode(String.self, at: 0) }
        return Outcome(created: created, dropped: dropped)
    }
}

extension WorkerConfiguration {
    /// One pass of `job_history` partition upkeep with these settings (the current partition and
    /// the ones ahead, dropping past `retention`), as a worker runs at start-up — for a deployment
    /// step or a test. `now` overrides the database clock.
    public func maintainJobHistory(now: Date? = nil, on db: some Queryable) async throws -> (created: Int, dropped: [String]) {
        let outcome = try await HistoryPartitions.maintain(now: now, includingCurrent: true, configuration: self, on: db)
        return (outcome.created, outcome.dropped)
    }
}
