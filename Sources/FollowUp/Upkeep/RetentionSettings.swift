import Foundation

/// How long what only grows is kept, and how the periodic jobs that keep tables small run
/// (docs/scale.md; the `FOLLOWUP_*_RETENTION_DAYS` settings of docs/configuration.md).
/// The ledger is never pruned, and neither is a delivery a ledger transfer names.
public struct RetentionSettings: Sendable, Equatable {
    /// `activity` rows are kept at least this long; a day's partition is dropped once all of it
    /// is older (each customer's newest row is kept regardless). Default 7 days.
    public var activity: Duration = .seconds(7 * 86_400)
    /// Days of `activity` partitions made ahead of today. Default 3: the poller may be down that
    /// long before rows fall into the default partition (they are moved out when it comes back).
    public var activityDaysAhead = 3
    /// Finished deliveries no ledger transfer names (emails, pushes, texts never charged). Default 90 days.
    public var deliveries: Duration = .seconds(90 * 86_400)
    /// Finished follow-ups without deliveries left (but each chat's newest one), and their push
    /// receipts. Default 90 days.
    public var followUps: Duration = .seconds(90 * 86_400)
    /// Inbound events remembered to recognise a provider's retry. Default 30 days.
    public var inboundEvents: Duration = .seconds(30 * 86_400)
    /// Rows of each kind deleted per transaction.
    public var batch = 5_000
    /// Transactions per run of the prune job at most (the next run goes on).
    public var maxBatchesPerRun = 200
    /// How often each of the two jobs runs.
    public var every: Duration = .seconds(3600)

    public init() {}
}

extension Duration {
    /// Whole seconds, for an `interval` parameter (`\(d.wholeSeconds) * interval '1 second'`).
    var wholeSeconds: Int64 { components.seconds }
}
