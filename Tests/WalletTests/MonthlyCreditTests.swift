import Foundation
import Jobs
import Postgres
import Testing
import TestSupport
@testable import Wallet

@Suite("Monthly credit")
struct MonthlyCreditTests {
    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    /// Three pollers fire the schedule at `time` at once (one of them wins the tick); three workers run what was enqueued.
    func fire(_ db: TestDatabase, at time: String) async throws {
        let at = Self.date(time)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask { _ = try await PeriodicSchedules.fireDue(at: at, on: db.pool) }
            }
            try await group.waitForAll()
        }
        let done = try await eventually(timeout: .seconds(20)) {
            try await unfinishedJobs(db.pool, kind: MonthlyCreditJob.kind) == 0
        }
        #expect(done, "monthly credit jobs did not finish after \(time)")
    }

    func credits(_ db: TestDatabase) async throws -> [String] {
        try await db.pool.query("SELECT channel_id || ' ' || to_char(month, 'YYYY-MM') FROM wallet.monthly_credits ORDER BY 1")
            .map { try $0.decode(String.self, at: 0) }
    }

    /// This month (UTC, database clock) as YYYY-MM.
    func currentMonth(_ db: TestDatabase) async throws -> String {
        try await db.pool.scalar("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM')", as: String.self)
    }

    func credits(_ db: TestDatabase, channel: Int64) async throws -> Int {
        try await db.pool.scalar("SELECT count(*)::int FROM wallet.monthly_credits WHERE channel_id = \(channel)", as: Int.self)
    }

    @Test("a channel becoming paid has its month's credit at once, without a periodic tick")
    func creditOnBecomingPaid() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 8)
        let upgrader = try await Fixtures.channel(db.pool, plan: "free", name: "U")
        let worker = WalletWorker(pool: db.anotherPool(maxConnections: 4), payments: nil)  // no periodic schedules at all
        try await db.pool.execute("UPDATE channels SET plan = 'paid' WHERE id = \(upgrader)")
        let signedUp = try await Fixtures.channel(db.pool, plan: "paid", name: "S")  // created paid
        let granted = try await eventually(timeout: .seconds(10)) {
            let upgraded = try await credits(db, channel: upgrader)
            let created = try await credits(db, channel: signedUp)
            return upgraded == 1 && created == 1
        }
        #expect(granted, "no monthly credit without a tick")
        let month = try await currentMonth(db)
        #expect(try await credits(db) == ["\(signedUp) \(month)", "\(upgrader) \(month)"].sorted())
        #expect(try await Wallet.balance(channelID: upgrader, on: db.pool).promotionalMicros == 10_000_000)
        try await worker.stop()
        try await Fixtures.expectSound(db.pool)
        await db.pool.close()
    }

    @Test("free → paid → free → paid in one month grants once; paid then free before the job ran grants nothing")
    func flippingPlans() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 8)
        let flipper = try await Fixtures.channel(db.pool, plan: "free", name: "F")
        let regretter = try await Fixtures.channel(db.pool, plan: "free", name: "R")
        func plan(_ channel: Int64, _ plan: String) async throws {
            try await db.pool.execute("UPDATE channels SET plan = \(plan) WHERE id = \(channel)")
        }
        // No poller yet: the flips leave one pending job per channel.
        for next in ["paid", "free", "paid"] { try await plan(flipper, next) }
        try await plan(regretter, "paid")
        try await plan(regretter, "free")
        #expect(try await unfinishedJobs(db.pool, kind: MonthlyCreditJob.kind) == 2)

        let worker = WalletWorker(pool: db.anotherPool(maxConnections: 4), payments: nil)
        #expect(try await eventually(timeout: .seconds(10)) { try await unfinishedJobs(db.pool, kind: MonthlyCreditJob.kind) == 0 })
        #expect(try await credits(db, channel: flipper) == 1)
        #expect(try await credits(db, channel: regretter) == 0)
        // Granted this month: flipping again changes nothing, with the poller running.
        for next in ["free", "paid", "free", "paid"] { try await plan(flipper, next) }
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await eventually(timeout: .seconds(10)) { try await unfinishedJobs(db.pool, kind: MonthlyCreditJob.kind) == 0 })
        try await worker.stop()
        #expect(try await credits(db, channel: flipper) == 1)
        #expect(try await Wallet.balance(channelID: flipper, on: db.pool).promotionalMicros == 10_000_000)
        #expect(try await Fixtures.transfers(db.pool, kind: .monthlyCredit) == 1)
        try await Fixtures.expectSound(db.pool)
        await db.pool.close()
    }

    @Test("three pollers, a month boundary, downtime over the next boundary, a mid-month upgrade: one credit per paid channel per month")
    func exactlyOnce() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 12)
        let paidA = try await Fixtures.channel(db.pool, plan: "paid", name: "A")
        let paidB = try await Fixtures.channel(db.pool, plan: "paid", name: "B")
        let free = try await Fixtures.channel(db.pool, plan: "free", name: "F")
        let upgrader = try await Fixtures.channel(db.pool, plan: "free", name: "U")
        var registry = JobRegistry()
        var periodic: [PeriodicJob] = []
        WalletRuntime.register(in: &registry, periodic: &periodic, payments: nil, settings: WalletSettings(), logger: .init(label: "test"))
        try await PeriodicSchedules.register(periodic, on: db.pool)
        try await db.pool.execute("UPDATE job_schedules SET next_tick = '2026-01-31T22:00:00Z' WHERE name = 'wallet.monthly_credit'")
        let pollerPools = (0..<3).map { _ in db.anotherPool(maxConnections: 4) }
        let workers = pollerPools.map { WalletWorker(pool: $0, payments: nil) }
        // The months the ticks below simulate (becoming paid also grants the real month at once).
        let now = try await currentMonth(db)
        func simulated() async throws -> [String] { try await credits(db).filter { !$0.hasSuffix(now) } }

        // January's last hours, then the boundary passes while every poller is down (22:00 → 03:10).
        try await fire(db, at: "2026-01-31T22:00:05Z")
        try await fire(db, at: "2026-01-31T23:00:05Z")
        #expect(try await simulated() == ["\(paidA) 2026-01", "\(paidB) 2026-01"])
        try await fire(db, at: "2026-02-01T03:10:00Z")
        #expect(try await simulated().count == 4)
        // U upgrades mid-February: the next hourly run grants February in full.
        try await db.pool.execute("UPDATE channels SET plan = 'paid' WHERE id = \(upgrader)")
        try await fire(db, at: "2026-02-15T10:00:01Z")
        try await fire(db, at: "2026-02-15T11:00:01Z")
        // Down from February 28 to March 2: caught up at the first run after.
        try await fire(db, at: "2026-02-28T20:00:00Z")
        try await fire(db, at: "2026-03-02T08:30:00Z")
        // A worker's retry or a late duplicate changes nothing.
        try await MonthlyCreditJob.grant(month: Self.date("2026-03-20T00:00:00Z"), amountMicros: 10_000_000, on: db.pool)
        for worker in workers { try await worker.stop() }
        for pool in pollerPools { await pool.close() }

        // Becoming paid (A and B created paid, U upgraded) also granted the real month at once.
        #expect(try await credits(db) == [
            "\(paidA) 2026-01", "\(paidA) 2026-02", "\(paidA) 2026-03", "\(paidA) \(now)",
            "\(paidB) 2026-01", "\(paidB) 2026-02", "\(paidB) 2026-03", "\(paidB) \(now)",
            "\(upgrader) 2026-02", "\(upgrader) 2026-03", "\(upgrader) \(now)",
        ].sorted())
        #expect(try await Fixtures.transfers(db.pool, kind: .monthlyCredit) == 11)
        #expect(try await Wallet.balance(channelID: paidA, on: db.pool).promotionalMicros == 40_000_000)
        #expect(try await Wallet.balance(channelID: free, on: db.pool).availableMicros == 0)
        try await Fixtures.expectSound(db.pool)
        await db.pool.close()
    }

    @Test("pollers granting the same month at the same moment grant it once")
    func concurrentGrants() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 12)
        var channels: [Int64] = []
        for index in 0..<25 { channels.append(try await Fixtures.channel(db.pool, plan: index % 5 == 0 ? "free" : "paid", name: "c\(index)")) }
        let april = Self.date("2026-04-10T12:00:00Z")
        let granted = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let pool = db.anotherPool(maxConnections: 2)
                    let granted = try await MonthlyCreditJob.grant(month: april, amountMicros: 10_000_000, batch: 7, on: pool)
                    await pool.close()
                    return granted
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(granted == 20)
        #expect(try await db.pool.scalar("SELECT count(*)::int FROM wallet.monthly_credits WHERE month = '2026-04-01'", as: Int.self) == 20)
        // The credit is promotional and spent before paid money.
        let channel = channels[1]
        try await Wallet.credit(channelID: channel, amountMicros: 1_000_000, reason: "paid in", by: "test", on: db.pool)
        #expect(try await Fixtures.chargeText(db.pool, channel: channel, price: 37_000, route: "lms"))
        #expect(try await Wallet.balance(channelID: channel, on: db.pool)
                == WalletBalance(paidMicros: 1_000_000, promotionalMicros: 10_000_000 - 37_000, heldMicros: 0))
        try await Fixtures.expectSound(db.pool)
        await db.pool.close()
    }
}
