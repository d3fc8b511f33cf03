import Foundation
import Postgres
import Testing
import TestSupport
@testable import Wallet

@Suite("Wallet console and benchmark")
struct WalletConsoleTests {
    @Test("money parses and prints in dollars with micro precision")
    func money() {
        #expect(Money.parse("10") == 10_000_000)
        #expect(Money.parse("$0.0079") == 7_900)
        #expect(Money.parse("-2.50") == -2_500_000)
        #expect(Money.parse(".5") == 500_000)
        #expect(Money.parse("0.0000001") == nil)
        #expect(Money.parse("ten") == nil)
        #expect(Money.parse("1.2.3") == nil)
        #expect(Money.parse("") == nil)
        #expect(Money.format(7_900) == "$0.0079")
        #expect(Money.format(10_000_000) == "$10.00")
        #expect(Money.format(-2_500_000) == "-$2.50")
    }

    @Test("what `followup wallet` prints: balance, statement, credit, adjust, reverse, auto-charge")
    func console() async throws {
        let db = try await TestDatabase.fresh()
        let channel = try await Fixtures.channel(db.pool)
        let credited = try await WalletConsole.credit(channelID: channel, amount: "10", bucket: .promotional, reason: "launch promo",
                                                      by: "alice", idempotencyKey: "promo-1", on: db.pool)
        #expect(credited.contains("credited $10.00 to the promotional balance"))
        let again = try await WalletConsole.credit(channelID: channel, amount: "10", bucket: .promotional, reason: "launch promo",
                                                   by: "alice", idempotencyKey: "promo-1", on: db.pool)
        #expect(again.contains("already posted"))
        _ = try await WalletConsole.credit(channelID: channel, amount: "5", bucket: .paid, reason: "ticket 1234", by: "alice",
                                           idempotencyKey: nil, on: db.pool)
        #expect(try await Fixtures.chargeText(db.pool, channel: channel, price: 7_900))
        let adjusted = try await WalletConsole.adjust(channelID: channel, amount: "-1.25", reason: "double credit", by: "bob",
                                                      idempotencyKey: nil, on: db.pool)
        #expect(adjusted.contains("by -$1.25"))
        await #expect(throws: WalletError.self) {
            try await WalletConsole.adjust(channelID: channel, amount: "ten", reason: "x", by: "bob", idempotencyKey: nil, on: db.pool)
        }
        let balance = try await WalletConsole.balance(channelID: channel, on: db.pool)
        #expect(balance.contains("available    $13.7421"))
        #expect(balance.contains("promotional $9.9921"))
        let statement = try await WalletConsole.statement(channelID: channel, limit: 10, on: db.pool)
        #expect(statement.split(separator: "\n").count == 6)  // header + credit, credit, hold, capture, adjustment
        #expect(statement.contains("launch promo (by alice)"))
        let adjustment = try #require(try await Wallet.statement(channelID: channel, on: db.pool).last)
        let reversed = try await WalletConsole.reverse(transferID: adjustment.transferID, reason: "wrong", by: "bob", on: db.pool)
        #expect(reversed.contains("reversed transfer \(adjustment.transferID) ($1.25)"))
        let rule = try await WalletConsole.setAutoCharge(channelID: channel, enabled: nil, threshold: "5", amount: "20", monthlyCap: "100",
                                                         paymentCustomer: "cus_123", on: db.pool)
        #expect(rule.contains("auto-charge: off") && rule.contains("monthly cap                  $100.00"))
        _ = try await WalletConsole.setAutoCharge(channelID: channel, enabled: true, threshold: nil, amount: nil, monthlyCap: nil,
                                                  paymentCustomer: nil, on: db.pool)
        #expect(try await AutoCharge.rule(channelID: channel, on: db.pool).enabled)
        await #expect(throws: WalletError.self) {
            try await WalletConsole.setAutoCharge(channelID: channel, enabled: nil, threshold: nil, amount: "0.001", monthlyCap: nil,
                                                  paymentCustomer: nil, on: db.pool)
        }
        await #expect(throws: WalletError.unknownChannel(999)) {
            try await WalletConsole.balance(channelID: 999, on: db.pool)
        }
    }
}
