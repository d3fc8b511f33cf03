import Foundation
import Jobs
import Logging
import Postgres

/// The monthly credit: promotional credit to every paid-plan channel, once per channel per
/// calendar month (UTC), as a periodic job of the queue (hourly by default; no cron).
///
/// Each run grants the month its tick falls in to every channel that is on the paid plan at that
/// moment and has not had that month's credit. "Once" is the database's: a (channel, month)
/// primary key and the transfer's idempotency key `monthly_credit:<channel>:<YYYY-MM>`, so any
/// number of pollers, retries and catch-up runs grant it exactly once. Rules (docs/finance.md):
/// a channel that upgrades mid-month gets that month's full credit at once (a trigger on
/// `channels.plan` enqueues this job for that channel alone, `{"channel_id", "tick"}`); downtime
/// over a month boundary is caught up by the first run after it; a month during which no
/// poller ran at all is not granted afterwards.
public enum MonthlyCreditJob {
    public static let kind = "wallet.monthly_credit"

    /// Grants the credit of the month containing `month` (nil: now, database clock) to every paid
    /// channel still without it, `batch` channels per transaction. Returns how many it granted.
    @discardableResult
    public static func grant(month: Date?, amountMicros: Int64, batch: Int = 200, on pool: ConnectionPool) async throws -> Int {
        try await grant(at: month.flatMap { $0.postgresText }, amountMicros: amountMicros, batch: batch, on: pool)
    }

    /// `at`: a timestamptz as text (the tick in a periodic job's payload), nil for now.
    static func grant(at: String?, amountMicros: Int64, batch: Int, on pool: ConnectionPool) async throws -> Int {
        guard amountMicros > 0 else { return 0 }
        var total = 0
        while true {
            let granted = try await pool.withTransaction { tx in
                try await tx.scalar("""
                    SELECT wallet.grant_monthly_credits((coalesce(\(at)::timestamptz, now()) AT TIME ZONE 'UTC')::date,
                                                        \(amountMicros), \(batch))
                    """, as: Int.self)
            }
            total += granted
            if granted == 0 { return total }
        }
    }

    /// Grants the month containing `at` (nil: now) to one channel if it is on the paid plan and
    /// does not have that month's credit yet. Returns 1 when it granted, else 0.
    static func grant(channelID: Int64, at: String?, amountMicros: Int64, on pool: ConnectionPool) async throws -> Int {
        guard amountMicros > 0 else { return 0 }
        let transfer = try await pool.withTransaction { tx in
            try await tx.first("""
                SELECT wallet.grant_monthly_credit(c.id, (coalesce(\(at)::timestamptz, now()) AT TIME ZONE 'UTC')::date, \(amountMicros))
                FROM public.channels c WHERE c.id = \(channelID) AND c.plan = 'paid'
                """)?.decode(Int64?.self, at: 0)
        }
        return transfer == nil ? 0 : 1
    }

    /// The job's handler: the month is the one of the periodic tick that enqueued it, or (with a
    /// `channel_id`, from the trigger on `channels.plan`) the one the channel became paid in.
    static func run(context: JobContext, settings: WalletSettings, logger: Logger) async throws -> JobResult {
        struct Tick: Decodable {
            var tick: String?
            var channel_id: Int64?
        }
        let payload = try? context.payload(as: Tick.self)
        let tick = payload?.tick
        let granted = if let channelID = payload?.channel_id {
            try await grant(channelID: channelID, at: tick, amountMicros: settings.monthlyCreditMicros, on: context.database)
        } else {
            try await grant(at: tick, amountMicros: settings.monthlyCreditMicros,
                            batch: settings.monthlyCreditBatch, on: context.database)
        }
        if granted > 0 {
            logger.info("granted the monthly SMS credit", metadata: ["channels": "\(granted)", "tick": "\(tick ?? "now")"])
        }
        return .done
    }
}
