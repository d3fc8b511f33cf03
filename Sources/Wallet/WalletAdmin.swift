import Foundation
import Postgres

/// Which side of a wallet an operator credit lands on.
public enum WalletBucket: String, Sendable, CaseIterable {
    /// Money the company paid (spent after promotional credit).
    case paid
    /// Promotional credit (spent first).
    case promotional
}

/// A posted transfer, as the admin operations return it.
public struct WalletTransfer: Sendable, Equatable {
    public var id: Int64
    public var kind: TransferKind
    public var amountMicros: Int64
    /// False when the idempotency key had already been used for the same transfer (nothing new was posted).
    public var created: Bool
}

extension Wallet {
    /// An operator's credit to a channel's wallet, from the "adjustments" system account, with the
    /// reason finance will read. Reversible with `reverse`. `idempotencyKey`: the same key again
    /// returns the first transfer; the same key for a different credit throws `idempotencyConflict`.
    @discardableResult
    public static func credit(channelID: Int64, amountMicros: Int64, to bucket: WalletBucket = .paid, reason: String,
                              by operatorName: String, idempotencyKey: String? = nil, on db: some Queryable) async throws -> WalletTransfer {
        guard amountMicros > 0 else { throw WalletError.invalid("a credit must be positive; use adjust to take money out") }
        try validate(reason: reason)
        return try await post("""
            SELECT id, kind, amount, created FROM wallet.credit(\(channelID), \(amountMicros), \(bucket.rawValue),
                \(reason), \(operatorName), \(idempotencyKey))
            """, on: db)
    }

    /// An operator's correction of the paid balance, up (positive) or down (negative), against the
    /// "adjustments" system account. A downward adjustment cannot take the balance below zero.
    @discardableResult
    public static func adjust(channelID: Int64, amountMicros: Int64, reason: String, by operatorName: String,
                              idempotencyKey: String? = nil, on db: some Queryable) async throws -> WalletTransfer {
        guard amountMicros != 0 else { throw WalletError.invalid("an adjustment of zero does nothing") }
        try validate(reason: reason)
        return try await post("""
            SELECT id, kind, amount, created FROM wallet.adjust(\(channelID), \(amountMicros), \(reason), \(operatorName), \(idempotencyKey))
            """, on: db)
    }

    /// Posts the exact opposite of transfer `transferID` (credits, adjustments, top-ups, monthly
    /// credits). History is never edited: the original stays, linked to its reversal. A transfer
    /// is reversed at most once; reversing money already spent throws `wouldOverdraw`.
    @discardableResult
    public static func reverse(transferID: Int64, reason: String, by operatorName: String, on db: some Queryable) async throws -> WalletTransfer {
        try validate(reason: reason)
        return try await post("""
            SELECT id, kind, amount, created FROM wallet.reverse(\(transferID), \(reason), \(operatorName))
            """, on: db)
    }

    static func validate(reason: String) throws {
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw WalletError.invalid("give a reason: finance reads it on the statement") }
        guard trimmed.count <= 500 else { throw WalletError.invalid("keep the reason under 500 characters") }
    }

    static func post(_ query: Query, on db: some Queryable) async throws -> WalletTransfer {
        let row = try await walletErrors { try await db.first(query) }
        guard let row else { throw WalletError.invalid("the wallet function returned nothing") }
        return WalletTransfer(id: try row.decode(Int64.self, at: 0), kind: try row.decode(TransferKind.self, at: 1),
                              amountMicros: try row.decode(Int64.self, at: 2), created: try row.decode(Bool.self, at: 3))
    }
}
