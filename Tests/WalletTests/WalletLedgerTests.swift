import Foundation
import Postgres
import Testing
import TestSupport
@testable import Wallet

@Suite("Wallet ledger")
struct WalletLedgerTests {
    @Test("a text is held from promotional credit first, then paid, and captured into revenue")
    func holdCapture() async throws {
        let db = try await TestDatabase.fresh()
        let channel = try await Fixtures.channel(db.pool)
        try await Wallet.credit(channelID: channel, amountMicros: 5_000, to: .promotional, reason: "promo", by: "test", on: db.pool)
        try await Wallet.credit(channelID: channel, amountMicros: 100_000, reason: "paid in", by: "test", on: db.pool)

        #expect(try await Fixtures.chargeText(db.pool, channel: channel, price: 7_900))
        let balance = try await Wallet.balance(channelID: channel, on: db.pool)
        #expect(balance == WalletBalance(paidMicros: 97_100, promotionalMicros: 0, heldMicros: 0))
        let revenue = try await db.pool.scalar("SELECT balance_micros FROM finance.trial_balance WHERE kind = 'revenue' AND route = 'sms'", as: Int64.self)
        #expect(revenue == 7_900)
        try await Fixtures.expectSound(db.pool)
    }

    @Test("release gives a hold back to the buckets it came from; settling twice is a no-op, the other way an error")
    func release() async throws {
        let db = try await TestDatabase.fresh()
        let channel = try await Fixtures.channel(db.pool)
        try await Wallet.credit(channelID: channel, amountMicros: 3_000, to: .promotional, reason: "promo", by: "test", on: db.pool)
        try await Wallet.credit(channelID: channel, amountMicros: 10_000, reason: "paid in", by: "test", on: db.pool)
        let delivery = try await Fixtures.delivery(db.pool, channel: channel, price: 7_900)
        try await db.pool.withTransaction { tx in
            try await Wallet.hold(channelID: channel, deliveryID: delivery, amountMicros: 7_900, route: "sms", on: tx)
        }
        #expect(try await Wallet.balance(channelID: channel, on: db.pool) == WalletBalance(paidMicros: 5_100, promotionalMicros: 0, heldMicros: 7_900))
        try await db.pool.withTransaction { tx in
            try await Wallet.release(deliveryID: delivery, on: tx)
            try await Wallet.release(deliveryID: delivery, on: tx)
            try await Fixtures.markDelivery(tx, delivery, status: "failed")
        }
        #expect(try await Wallet.balance(channelID: channel, on: db.pool) == WalletBalance(paidMicros: 10_000, promotionalMicros: 3_000, heldMicros: 0))
        await #expect(throws: WalletError.holdAlreadySettled(deliveryID: delivery, as: "released")) {
            try await db.pool.withTransaction { tx in try await Wallet.capture(deliveryID: delivery, on: tx) }
        }
        // A hold that was released is not taken again, and the caller's transaction stays usable.
        try await db.pool.withTransaction { tx in
            await #expect(throws: WalletError.holdAlreadySettled(deliveryID: delivery, as: "released")) {
                try await Wallet.hold(channelID: channel, deliveryID: delivery, amountMicros: 7_900, on: tx)
            }
            await #expect(throws: WalletError.idempotencyConflict(key: "hold:\(delivery)")) {
                try await Wallet.hold(channelID: channel, deliveryID: delivery, amountMicros: 8_000, on: tx)
            }
            try await tx.execute("UPDATE deliveries SET reason = 'not sent again' WHERE id = \(delivery)")
        }
        #expect(try await db.pool.scalar("SELECT reason FROM deliveries WHERE id = \(delivery)", as: String.self) == "not sent again")
        // Without a hold, capture and release do nothing (a free text).
        try await db.pool.withTransaction { tx in
            try await Wallet.capture(deliveryID: 999_999, on: tx)
            try await Wallet.release(deliveryID: 999_999, on: tx)
        }
        try await Fixtures.expectSound(db.pool)
    }

    @Test("a wallet that cannot cover a text holds nothing, says 'insufficient SMS balance', and asks for a top-up in the same transaction")
    func insufficient() async throws {
        let db = try await TestDatabase.fresh()
        let channel = try await Fixtures.channel(db.pool)
        try await AutoCharge.set(channelID: channel, AutoChargeRule(enabled: true, thresholdMicros: 1_000_000, amountMicros: 20_000_000,
                                                                    paymentCustomer: "cus_test"), on: db.pool)
        try await Wallet.credit(channelID: channel, amountMicros: 5_000, reason: "a little", by: "test", on: db.pool)
        let delivery = try await Fixtures.delivery(db.pool, channel: channel, price: 7_900)
        let error = await #expect(throws: WalletError.self) {
            try await db.pool.withTransaction { tx in
                try await Wallet.hold(channelID: channel, deliveryID: delivery, amountMicros: 7_900, on: tx)
            }
        }
        #expect(error == .insufficientFunds(channelID: channel, neededMicros: 7_900, availableMicros: 5_000))
        #expect(error?.description == "insufficient SMS balance")
        // The throw above rolled back; a caller that commits keeps the top-up request.
        #expect(try await db.pool.scalar("SELECT count(*)::int FROM wallet.top_ups", as: Int.self) == 0)
        try await db.pool.withTransaction { tx in
            do {
                try await Wallet.hold(channelID: channel, deliveryID: delivery, amountMicros: 7_900, on: tx)
            } catch WalletError.insufficientFunds {
                try await Fixtures.markDelivery(tx, delivery, status: "failed")
            }
        }
        #expect(try await db.pool.scalar("SELECT count(*)::int FROM wallet.top_ups WHERE state = 'pending'", as: Int.self) == 1)
        #expect(try await db.pool.scalar("SELECT count(*)::int FROM jobs WHERE kind = 'wallet.top_up'", as: Int.self) == 1)
        #expect(try await Wallet.balance(channelID: channel, on: db.pool) == WalletBalance(paidMicros: 5_000, promotionalMicros: 0, heldMicros: 0))
        try await Fixtures.expectSound(db.pool)
    }

    @Test("a charge that leaves the wallet under the threshold requests one top-up, never two in flight")
    func threshold() async throws {
        let db = try await TestDatabase.fresh()
        let channel = try await Fixtures.channel(db.pool)
        try await AutoCharge.set(channelID: channel, AutoChargeRule(enabled: true, thresholdMicros: 100_000, amountMicros: 10_000_000,
                                                                    paymentCustomer: "cus_test"), on: db.pool)
        try await Wallet.credit(channelID: channel, amountMicros: 120_000, reason: "start", by: "test", on: db.pool)
        #expect(try await Fixtures.chargeText(db.pool, channel: channel, price: 10_000))  // 110k left: above
        #expect(try await db.pool.scalar("SELECT count(*)::int FROM wallet.top_ups", as: Int.self) == 0)
        #expect(try await Fixtures.chargeText(db.pool, channel: channel, price: 20_000))  // 90k: under
        #expect(try await Fixtures.chargeText(db.pool, channel: channel, price: 20_000))  // 70k: one in flight already
        #expect(try await db.pool.scalar("SELECT count(*)::int FROM wallet.top_ups", as: Int.self) == 1)
        #expect(try await db.pool.scalar("SELECT count(*)::int FROM jobs WHERE kind = 'wallet.top_up'", as: Int.self) == 1)
    }

    @Test("prices by country and route, '*' as the default, versioned by effective date")
    func prices() async throws {
        let db = try await TestDatabase.fresh()
        #expect(try await Wallet.price(route: "sms", country: "US", units: 3, on: db.pool) == 23_700)
        #expect(try await Wallet.price(route: "sms", country: "KR", units: 2, on: db.pool) == 15_000)
        #expect(try await Wallet.price(route: "lms", country: "KR", units: 1, on: db.pool) == 37_000)
        #expect(try await Wallet.price(route: "messenger", country: "KR", units: 1, on: db.pool) == 6_000)
        #expect(try await Wallet.price(route: "sms", country: "FR", units: 1, on: db.pool) == 50_000)
        #expect(try await Wallet.price(route: "email", country: "us", units: 1, on: db.pool) == 0)
        await #expect(throws: WalletError.noPrice(route: "fax", country: "US")) {
            try await Wallet.price(route: "fax", country: "US", units: 1, on: db.pool)
        }
        try await db.pool.execute("""
            INSERT INTO wallet.prices (country, route, unit, price_micros, effective_from)
            VALUES ('US', 'sms', 'segment', 8300, now() + interval '1 day')
            """)
        #expect(try await Wallet.price(route: "sms", country: "US", units: 1, on: db.pool) == 7_900)
        let tomorrow = Date().addingTimeInterval(2 * 86_400)
        #expect(try await Wallet.price(route: "sms", country: "US", units: 1, at: tomorrow, on: db.pool) == 8_300)
        await #expect(throws: PostgresError.self) {
            try await db.pool.execute("UPDATE wallet.prices SET price_micros = 1")
        }
    }

    @Test("credits, adjustments and reversals are transfers with a reason; a spent credit cannot be reversed")
    func operatorTransfers() async throws {
        let db = try await TestDatabase.fresh()
        let channel = try await Fixtures.channel(db.pool)
        let credit = try await Wallet.credit(channelID: channel, amountMicros: 2_000_000, reason: "goodwill", by: "ops@example.com", on: db.pool)
        let down = try await Wallet.adjust(channelID: channel, amountMicros: -500_000, reason: "double credit", by: "ops", on: db.pool)
        #expect(try await Wallet.balance(channelID: channel, on: db.pool).paidMicros == 1_500_000)
        await #expect(throws: WalletError.wouldOverdraw("a wallet balance")) {
            try await Wallet.adjust(channelID: channel, amountMicros: -1_600_000, reason: "too much", by: "ops", on: db.pool)
        }
        await #expect(throws: WalletError.wouldOverdraw("a wallet balance")) {
            try await Wallet.reverse(transferID: credit.id, reason: "undo", by: "ops", on: db.pool)
        }
        let undo = try await Wallet.reverse(transferID: down.id, reason: "the adjustment was wrong", by: "ops", on: db.pool)
        #expect(undo.kind == .reversal && undo.amountMicros == 500_000)
        #expect(try await Wallet.balance(channelID: channel, on: db.pool).paidMicros == 2_000_000)
        await #expect(throws: WalletError.alreadyReversed(transferID: down.id, by: undo.id)) {
            try await Wallet.reverse(transferID: down.id, reason: "again", by: "ops", on: db.pool)
        }
        await #expect(throws: WalletError.self) {
            try await Wallet.reverse(transferID: undo.id, reason: "reverse the reversal", by: "ops", on: db.pool)
        }
        await #expect(throws: WalletError.unknownTransfer(424_242)) {
            try await Wallet.reverse(transferID: 424_242, reason: "nothing", by: "ops", on: db.pool)
        }
        await #expect(throws: WalletError.self) {
            try await Wallet.credit(channelID: channel, amountMicros: 1, reason: "  ", by: "ops", on: db.pool)
        }
        await #expect(throws: WalletError.unknownChannel(777)) {
            try await Wallet.credit(channelID: 777, amountMicros: 1, reason: "who?", by: "ops", on: db.pool)
        }
        let statement = try await Wallet.statement(channelID: channel, on: db.pool)
        #expect(statement.map(\.kind) == [TransferKind.credit, .adjustment, .reversal])
        #expect(statement.map(\.availableAfterMicros) == [2_000_000, 1_500_000, 2_000_000])
        #expect(statement.last?.reverses == down.id)
        try await Fixtures.expectSound(db.pool)
    }

    @Test("the same idempotency key posts one transfer; the same key for another amount is a clear error")
    func idempotency() async throws {
        let db = try await TestDatabase.fresh()
        let channel = try await Fixtures.channel(db.pool)
        let first = try await Wallet.credit(channelID: channel, amountMicros: 1_000_000, reason: "refund", by: "ops", idempotencyKey: "ticket-1", on: db.pool)
        let again = try await Wallet.credit(channelID: channel, amountMicros: 1_000_000, reason: "refund", by: "ops", idempotencyKey: "ticket-1", on: db.pool)
        #expect(first.created && !again.created && first.id == again.id)
        let conflict = await #expect(throws: WalletError.self) {
            try await Wallet.credit(channelID: channel, amountMicros: 2_000_000, reason: "refund", by: "ops", idempotencyKey: "ticket-1", on: db.pool)
        }
        #expect(conflict == .idempotencyConflict(key: "ticket-1"))

        // Ten at once with one key: one transfer.
        let results = try await withThrowingTaskGroup(of: WalletTransfer.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    try await Wallet.credit(channelID: channel, amountMicros: 300, reason: "race", by: "ops", idempotencyKey: "ticket-2", on: db.pool)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(results.map(\.id)).count == 1 && results.filter(\.created).count == 1)

        // A retried text holds once; the same delivery with another amount is a conflict.
        let delivery = try await Fixtures.delivery(db.pool, channel: channel, price: 7_900)
        for _ in 0..<3 {
            try await db.pool.withTransaction { tx in
                try await Wallet.hold(channelID: channel, deliveryID: delivery, amountMicros: 7_900, on: tx)
            }
        }
        #expect(try await Fixtures.transfers(db.pool, kind: .hold) == 1)
        await #expect(throws: WalletError.idempotencyConflict(key: "hold:\(delivery)")) {
            try await db.pool.withTransaction { tx in
                try await Wallet.hold(channelID: channel, deliveryID: delivery, amountMicros: 8_000, on: tx)
            }
        }
        for _ in 0..<2 {
            try await db.pool.withTransaction { tx in try await Wallet.capture(deliveryID: delivery, on: tx) }
        }
        try await Fixtures.markDelivery(db.pool, delivery, status: "sent")
        #expect(try await Fixtures.transfers(db.pool, kind: .capture) == 1)
        #expect(try await Wallet.balance(channelID: channel, on: db.pool).paidMicros == 1_000_300 - 7_900)
        try await Fixtures.expectSound(db.pool)
    }
}
