import Foundation
import Postgres
import Testing
import TestSupport
@testable import Wallet

/// A seedable generator, so a failing sequence can be replayed (the seed is in the failure).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The wallet as a few lines of Swift: what the ledger must agree with after every step.
struct WalletModel {
    struct Bucket: Equatable { var paid: Int64 = 0, promotional: Int64 = 0, held: Int64 = 0 }
    struct Hold { var channel: Int64; var amount: Int64; var fromPromotional: Int64; var state: String }
    struct Reversible { var channel: Int64; var paid: Int64; var promotional: Int64; var reversed = false }

    var wallets: [Int64: Bucket] = [:]
    var holds: [Int64: Hold] = [:]
    var reversible: [Int64: Reversible] = [:]
    var grantedMonths: Set<String> = []

    /// nil: insufficient.
    mutating func hold(_ channel: Int64, delivery: Int64, amount: Int64) -> Bool {
        var w = wallets[channel, default: Bucket()]
        guard w.paid + w.promotional >= amount else { return false }
        let fromPromotional = min(w.promotional, amount)
        w.promotional -= fromPromotional
        w.paid -= amount - fromPromotional
        w.held += amount
        wallets[channel] = w
        holds[delivery] = Hold(channel: channel, amount: amount, fromPromotional: fromPromotional, state: "held")
        return true
    }

    mutating func capture(_ delivery: Int64) {
        guard var h = holds[delivery], h.state == "held" else { return }
        wallets[h.channel]!.held -= h.amount
        h.state = "captured"
        holds[delivery] = h
    }

    mutating func release(_ delivery: Int64) {
        guard var h = holds[delivery], h.state == "held" else { return }
        wallets[h.channel]!.held -= h.amount
        wallets[h.channel]!.promotional += h.fromPromotional
        wallets[h.channel]!.paid += h.amount - h.fromPromotional
        h.state = "released"
        holds[delivery] = h
    }

    mutating func add(_ channel: Int64, transfer: Int64, paid: Int64 = 0, promotional: Int64 = 0) {
        wallets[channel, default: Bucket()].paid += paid
        wallets[channel, default: Bucket()].promotional += promotional
        reversible[transfer] = Reversible(channel: channel, paid: paid, promotional: promotional)
    }

    /// nil when the reversal must be refused (already reversed, or the money was spent).
    func canReverse(_ transfer: Int64) -> Bool {
        guard let r = reversible[transfer], !r.reversed, let w = wallets[r.channel] else { return false }
        return w.paid - r.paid >= 0 && w.promotional - r.promotional >= 0
    }

    mutating func reverse(_ transfer: Int64) {
        let r = reversible[transfer]!
        wallets[r.channel]!.paid -= r.paid
        wallets[r.channel]!.promotional -= r.promotional
        reversible[transfer]!.reversed = true
    }
}

@Suite("Wallet stateful property")
struct WalletPropertyTests {
    @Test("random holds, captures, releases, credits, adjustments, top-ups, monthly credits and reversals agree with the model", arguments: [UInt64(0x5EED_0001), 0x5EED_0002, 0x5EED_0003])
    func randomSequences(seed: UInt64) async throws {
        var rng = SplitMix64(state: seed)
        let db = try await TestDatabase.fresh()
        let pool = db.pool
        var model = WalletModel()
        var channels: [Int64] = []
        for index in 0..<3 {
            let channel = try await Fixtures.channel(pool, name: "wallet \(index)")
            try await pool.execute("""
                INSERT INTO wallet.auto_charge (channel_id, enabled, threshold_micros, amount_micros, payment_customer)
                VALUES (\(channel), true, 0, 10000, 'cus_model')
                """)
            channels.append(channel)
            model.wallets[channel] = .init()
        }
        let months = ["2026-01-01", "2026-02-01", "2026-03-01"]

        for step in 0..<120 {
            let channel = channels.randomElement(using: &rng)!
            let action = Int.random(in: 0..<100, using: &rng)
            let context = "seed \(String(seed, radix: 16)) step \(step) action \(action)"
            switch action {
            case 0..<35:  // a text: hold (maybe insufficient)
                let amount = Int64.random(in: 1...40_000, using: &rng)
                let delivery = try await Fixtures.delivery(pool, channel: channel, price: amount)
                let expected = model.hold(channel, delivery: delivery, amount: amount)
                let held = try await pool.withTransaction { tx -> Bool in
                    do {
                        try await Wallet.hold(channelID: channel, deliveryID: delivery, amountMicros: amount, route: "sms", on: tx)
                        return true
                    } catch WalletError.insufficientFunds {
                        try await Fixtures.markDelivery(tx, delivery, status: "failed")
                        return false
                    }
                }
                #expect(held == expected, "\(context)")
            case 35..<55:  // settle an open hold
                guard let (delivery, _) = model.holds.filter({ $0.value.state == "held" }).sorted(by: { $0.key < $1.key }).randomElement(using: &rng) else { continue }
                let capture = Bool.random(using: &rng)
                try await pool.withTransaction { tx in
                    if capture {
                        try await Wallet.capture(deliveryID: delivery, on: tx)
                        try await Fixtures.markDelivery(tx, delivery, status: "sent")
                    } else {
                        try await Wallet.release(deliveryID: delivery, on: tx)
                        try await Fixtures.markDelivery(tx, delivery, status: "failed")
                    }
                }
                capture ? model.capture(delivery) : model.release(delivery)
                // A retry of either settles nothing new; the other way is refused.
                try await pool.withTransaction { tx in
                    if capture { try await Wallet.capture(deliveryID: delivery, on: tx) } else { try await Wallet.release(deliveryID: delivery, on: tx) }
                }
                await #expect(throws: WalletError.self, "\(context)") {
                    try await pool.withTransaction { tx in
                        if capture { try await Wallet.release(deliveryID: delivery, on: tx) } else { try await Wallet.capture(deliveryID: delivery, on: tx) }
                    }
                }
            case 55..<67:  // operator credit
                let amount = Int64.random(in: 1...60_000, using: &rng)
                let promotional = Bool.random(using: &rng)
                let transfer = try await Wallet.credit(channelID: channel, amountMicros: amount, to: promotional ? .promotional : .paid,
                                                       reason: "model credit", by: "model", on: pool)
                model.add(channel, transfer: transfer.id, paid: promotional ? 0 : amount, promotional: promotional ? amount : 0)
            case 67..<74:  // adjustment, up or down (down may be refused)
                let amount = Int64.random(in: -30_000...30_000, using: &rng)
                guard amount != 0 else { continue }
                if model.wallets[channel]!.paid + amount >= 0 {
                    let transfer = try await Wallet.adjust(channelID: channel, amountMicros: amount, reason: "model adjustment", by: "model", on: pool)
                    model.add(channel, transfer: transfer.id, paid: amount)
                } else {
                    await #expect(throws: WalletError.wouldOverdraw("a wallet balance"), "\(context)") {
                        try await Wallet.adjust(channelID: channel, amountMicros: amount, reason: "model adjustment", by: "model", on: pool)
                    }
                }
            case 74..<84:  // a top-up through the job's SQL steps (provider said yes or no)
                let succeed = Int.random(in: 0..<4, using: &rng) > 0
                let topUp = try await pool.first("SELECT wallet.request_top_up(\(channel), NULL, 'model')")?.decode(Int64?.self, at: 0)
                guard let topUp else { continue }  // backing off after a decline
                let attempt = try await pool.scalar("SELECT attempt_id FROM wallet.top_up_begin(\(topUp))", as: UUID.self)
                if succeed {
                    let transfer = try await pool.scalar("SELECT wallet.top_up_succeeded(\(attempt), 'pi_model')", as: Int64.self)
                    _ = try await pool.scalar("SELECT wallet.top_up_succeeded(\(attempt), 'pi_model')", as: Int64.self)  // replayed
                    model.add(channel, transfer: transfer, paid: 10_000)
                } else {
                    try await pool.execute("SELECT wallet.top_up_declined(\(attempt), NULL, 'card_declined', 'declined', '0 seconds', '0 seconds')")
                }
            case 84..<90:  // the monthly credit, maybe again for a month already granted
                let month = months.randomElement(using: &rng)!
                let granted = try await pool.first("SELECT wallet.grant_monthly_credit(\(channel), \(month)::date, 10000000)")?.decode(Int64?.self, at: 0)
                let key = "\(channel)/\(month)"
                #expect((granted != nil) == !model.grantedMonths.contains(key), "\(context)")
                if let granted {
                    model.grantedMonths.insert(key)
                    model.add(channel, transfer: granted, promotional: 10_000_000)
                }
            default:  // reverse something (maybe refused)
                guard let (transfer, _) = model.reversible.sorted(by: { $0.key < $1.key }).randomElement(using: &rng) else { continue }
                if model.canReverse(transfer) {
                    try await Wallet.reverse(transferID: transfer, reason: "model reversal", by: "model", on: pool)
                    model.reverse(transfer)
                } else {
                    await #expect(throws: WalletError.self, "\(context)") {
                        try await Wallet.reverse(transferID: transfer, reason: "model reversal", by: "model", on: pool)
                    }
                }
            }

            for channel in channels {
                let actual = try await Wallet.balance(channelID: channel, on: pool)
                let expected = model.wallets[channel]!
                #expect(actual == WalletBalance(paidMicros: expected.paid, promotionalMicros: expected.promotional, heldMicros: expected.held),
                        "\(context): channel \(channel)")
            }
            try await Fixtures.expectSound(pool)
        }
    }
}
