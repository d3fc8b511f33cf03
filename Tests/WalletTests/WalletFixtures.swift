import Foundation
import Postgres
import Testing
import TestSupport
@testable import Wallet

/// Rows the wallet tests need, written as the app and the FollowUp module would write them.
enum Fixtures {
    static func channel(_ db: some Queryable, plan: String = "paid", name: String = "Acme") async throws -> Int64 {
        try await db.scalar("INSERT INTO channels (name, plan) VALUES (\(name), \(plan)) RETURNING id", as: Int64.self)
    }

    /// A delivery row priced at `price` (what the FollowUp module writes before holding).
    static func delivery(_ db: some Queryable, channel: Int64, route: String = "sms", price: Int64,
                         country: String = "US", segments: Int = 1) async throws -> Int64 {
        try await db.scalar("""
            INSERT INTO deliveries (channel_id, route, status, price_micros, country, segments)
            VALUES (\(channel), \(route), 'sending', \(price), \(country), \(segments)) RETURNING id
            """, as: Int64.self)
    }

    static func markDelivery(_ db: some Queryable, _ id: Int64, status: String) async throws {
        try await db.execute("UPDATE deliveries SET status = \(status) WHERE id = \(id)")
    }

    /// One text as FollowUp charges it: delivery + hold in one transaction, then (the provider
    /// accepted) capture + status in the next. Returns false when the wallet could not cover it.
    static func chargeText(_ pool: ConnectionPool, channel: Int64, price: Int64, route: String = "sms") async throws -> Bool {
        let held: Int64? = try await pool.withTransaction { tx in
            let delivery = try await delivery(tx, channel: channel, route: route, price: price)
            do {
                try await Wallet.hold(channelID: channel, deliveryID: delivery, amountMicros: price, route: route, on: tx)
                return delivery
            } catch WalletError.insufficientFunds {
                try await tx.execute("UPDATE deliveries SET status = 'failed', reason = 'insufficient SMS balance' WHERE id = \(delivery)")
                return nil
            }
        }
        guard let held else { return false }
        try await pool.withTransaction { tx in
            try await Wallet.capture(deliveryID: held, on: tx)
            try await markDelivery(tx, held, status: "sent")
        }
        return true
    }

    static func expectSound(_ db: some Queryable, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let problems = try await Wallet.integrityProblems(on: db)
        #expect(problems.isEmpty, "integrity checks: \(problems)", sourceLocation: sourceLocation)
        let total = try await db.scalar("SELECT coalesce(sum(balance_micros), 0)::bigint FROM finance.trial_balance", as: Int64.self)
        #expect(total == 0, "the trial balance sums to \(total)", sourceLocation: sourceLocation)
    }

    static func transfers(_ db: some Queryable, kind: TransferKind) async throws -> Int {
        try await db.scalar("SELECT count(*)::int FROM wallet.transfers WHERE kind = \(kind)", as: Int.self)
    }
}
