import Foundation
import Postgres
import Testing
import TestSupport
@testable import Wallet

@Suite("Wallet concurrency")
struct WalletConcurrencyTests {
    @Test("many workers charging one wallet: no overdraft, no lost update, no deadlock, entries sum to the balance")
    func hotWallet() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 16)
        let channel = try await Fixtures.channel(db.pool)
        let price: Int64 = 7_900
        let affordable = 150
        // Half promotional, half paid: every text takes from one or both.
        try await Wallet.credit(channelID: channel, amountMicros: price * 75 + 3_000, to: .promotional, reason: "promo", by: "test", on: db.pool)
        try await Wallet.credit(channelID: channel, amountMicros: price * Int64(affordable - 75) - 3_000, reason: "paid", by: "test", on: db.pool)
        let workers = 24, perWorker = 10  // 240 attempts for 150 affordable texts
        let other = db.anotherPool(maxConnections: 8)  // a second "process"
        let successes = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var charged = 0
                    for _ in 0..<perWorker where try await Fixtures.chargeText(worker % 2 == 0 ? db.pool : other, channel: channel, price: price) {
                        charged += 1
                    }
                    return charged
                }
            }
            return try await group.reduce(0, +)
        }
        await other.close()
        #expect(successes == affordable)
        #expect(try await Wallet.balance(channelID: channel, on: db.pool) == WalletBalance(paidMicros: 0, promotionalMicros: 0, heldMicros: 0))
        #expect(try await Fixtures.transfers(db.pool, kind: .capture) == affordable)
        let failed = try await db.pool.scalar("SELECT count(*)::int FROM deliveries WHERE status = 'failed' AND reason = 'insufficient SMS balance'", as: Int.self)
        #expect(failed == workers * perWorker - affordable)
        // Every entry on the paid account has a distinct version and the last balance_after is the balance.
        let versions = try await db.pool.first("""
            SELECT count(*)::int, count(DISTINCT account_version)::int, max(account_version)::int
            FROM wallet.entries e JOIN wallet.accounts a ON a.id = e.account_id
            WHERE a.channel_id = \(channel) AND a.kind = 'held'
            """)!
        #expect(try versions.decode(Int.self, at: 0) == affordable * 2)
        #expect(try versions.decode(Int.self, at: 1) == affordable * 2)
        try await Fixtures.expectSound(db.pool)
        await db.pool.close()
    }

    @Test("charges on different wallets in parallel, with top-ups and credits interleaved, stay sound")
    func manyWallets() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 12)
        var channels: [Int64] = []
        for index in 0..<6 {
            let channel = try await Fixtures.channel(db.pool, name: "c\(index)")
            try await Wallet.credit(channelID: channel, amountMicros: 1_000_000, reason: "start", by: "test", on: db.pool)
            channels.append(channel)
        }
        let snapshot = channels
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<12 {
                group.addTask {
                    for step in 0..<15 {
                        let channel = snapshot[(worker + step) % snapshot.count]
                        if step % 5 == 4 {
                            try await Wallet.credit(channelID: channel, amountMicros: 10_000, to: .promotional, reason: "promo", by: "test", on: db.pool)
                        } else {
                            _ = try await Fixtures.chargeText(db.pool, channel: channel, price: 7_900)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        // 12 × 15 steps: 36 credits of 10k and 144 texts (all affordable).
        let total = try await db.pool.scalar("SELECT sum(balance)::bigint FROM wallet.accounts WHERE channel_id IS NOT NULL", as: Int64.self)
        #expect(total == 6 * 1_000_000 + 36 * 10_000 - 144 * 7_900)
        try await Fixtures.expectSound(db.pool)
        await db.pool.close()
    }
}
