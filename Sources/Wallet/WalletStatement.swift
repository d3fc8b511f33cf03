import Foundation
import Postgres

/// One line of a wallet's statement: a transfer that touched the wallet, and the balances after it.
public struct StatementLine: Sendable, Equatable {
    public var transferID: Int64
    public var at: Date
    public var kind: TransferKind
    public var reason: String
    public var deliveryID: Int64?
    public var reverses: Int64?
    public var createdBy: String
    public var promotionalChangeMicros: Int64
    public var paidChangeMicros: Int64
    public var heldChangeMicros: Int64
    public var promotionalAfterMicros: Int64
    public var paidAfterMicros: Int64
    public var heldAfterMicros: Int64
    /// Promotional + paid after this line.
    public var availableAfterMicros: Int64
}

extension Wallet {
    /// The channel's statement (finance.statement), oldest first; `limit` keeps the most recent lines.
    public static func statement(channelID: Int64, since: Date? = nil, limit: Int = 100, on db: some Queryable) async throws -> [StatementLine] {
        let rows = try await db.query("""
            SELECT * FROM (
                SELECT sequence, transfer_id, at, kind, reason, delivery_id, reverses, created_by,
                       promotional_change_micros, paid_change_micros, held_change_micros,
                       promotional_after_micros, paid_after_micros, held_after_micros, available_after_micros
                FROM finance.statement
                WHERE channel_id = \(channelID) AND at >= coalesce(\(since)::timestamptz, '-infinity')
                ORDER BY sequence DESC LIMIT \(limit)) recent
            ORDER BY sequence
            """)
        return try rows.map { row in
            StatementLine(transferID: try row.decode(Int64.self, "transfer_id"), at: try row.decode(Date.self, "at"),
                          kind: try row.decode(TransferKind.self, "kind"), reason: try row.decode(String.self, "reason"),
                          deliveryID: try row.decode(Int64?.self, "delivery_id"), reverses: try row.decode(Int64?.self, "reverses"),
                          createdBy: try row.decode(String.self, "created_by"),
                          promotionalChangeMicros: try row.decode(Int64.self, "promotional_change_micros"),
                          paidChangeMicros: try row.decode(Int64.self, "paid_change_micros"),
                          heldChangeMicros: try row.decode(Int64.self, "held_change_micros"),
                          promotionalAfterMicros: try row.decode(Int64.self, "promotional_after_micros"),
                          paidAfterMicros: try row.decode(Int64.self, "paid_after_micros"),
                          heldAfterMicros: try row.decode(Int64.self, "held_after_micros"),
                          availableAfterMicros: try row.decode(Int64.self, "available_after_micros"))
        }
    }

    /// Problems finance.integrity_checks reports (empty: every check passes).
    public static func integrityProblems(on db: some Queryable) async throws -> [String] {
        try await db.query("SELECT check_name, subject, detail FROM finance.integrity_checks").map { row in
            "\(try row.decode(String.self, at: 0)): \(try row.decode(String.self, at: 1)) — \(try row.decode(String?.self, at: 2) ?? "")"
        }
    }
}
