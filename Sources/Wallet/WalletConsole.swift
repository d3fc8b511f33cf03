import Foundation
import Postgres

/// What `followup wallet …` prints, kept here (not in the executable) so it is tested.
public enum WalletConsole {
    /// `followup wallet balance`.
    public static func balance(channelID: Int64, on db: some Queryable) async throws -> String {
        let balance = try await Wallet.balance(channelID: channelID, on: db)
        let rule = try await AutoCharge.rule(channelID: channelID, on: db)
        return """
            channel \(channelID) SMS wallet
              available    \(Money.format(balance.availableMicros))
                promotional \(Money.format(balance.promotionalMicros))  (spent first)
                paid        \(Money.format(balance.paidMicros))
              held         \(Money.format(balance.heldMicros))  (texts in flight)
              auto-charge  \(rule.enabled ? "on: below \(Money.format(rule.thresholdMicros)) add \(Money.format(rule.amountMicros))" : "off")
            """
    }

    /// `followup wallet statement`: a table, oldest first.
    public static func statement(channelID: Int64, limit: Int, on db: some Queryable) async throws -> String {
        let lines = try await Wallet.statement(channelID: channelID, limit: limit, on: db)
        guard !lines.isEmpty else { return "channel \(channelID): no wallet activity yet" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        var rows: [[String]] = [["transfer", "at (UTC)", "kind", "promotional", "paid", "held", "available after", "reason"]]
        for line in lines {
            rows.append([String(line.transferID), formatter.string(from: line.at), line.kind.rawValue,
                         signed(line.promotionalChangeMicros), signed(line.paidChangeMicros), signed(line.heldChangeMicros),
                         Money.format(line.availableAfterMicros), line.reason + (line.createdBy == "system" ? "" : " (by \(line.createdBy))")])
        }
        return table(rows)
    }

    /// `followup wallet credit`.
    public static func credit(channelID: Int64, amount: String, bucket: WalletBucket, reason: String, by operatorName: String,
                              idempotencyKey: String?, on db: some Queryable) async throws -> String {
        guard let micros = Money.parse(amount), micros > 0 else {
            throw WalletError.invalid("amount \(amount) is not a positive dollar amount (e.g. 10 or 0.50)")
        }
        let transfer = try await Wallet.credit(channelID: channelID, amountMicros: micros, to: bucket, reason: reason,
                                               by: operatorName, idempotencyKey: idempotencyKey, on: db)
        return describe(transfer, "credited \(Money.format(micros)) to the \(bucket.rawValue) balance of channel \(channelID)")
            + "\n" + (try await balance(channelID: channelID, on: db))
    }

    /// `followup wallet adjust`.
    public static func adjust(channelID: Int64, amount: String, reason: String, by operatorName: String,
                              idempotencyKey: String?, on db: some Queryable) async throws -> String {
        guard let micros = Money.parse(amount), micros != 0 else {
            throw WalletError.invalid("amount \(amount) is not a non-zero dollar amount (e.g. -1.25 or 3)")
        }
        let transfer = try await Wallet.adjust(channelID: channelID, amountMicros: micros, reason: reason, by: operatorName,
                                               idempotencyKey: idempotencyKey, on: db)
        return describe(transfer, "adjusted the paid balance of channel \(channelID) by \(signed(micros))")
            + "\n" + (try await balance(channelID: channelID, on: db))
    }

    /// `followup wallet reverse`.
    public static func reverse(transferID: Int64, reason: String, by operatorName: String, on db: some Queryable) async throws -> String {
        let transfer = try await Wallet.reverse(transferID: transferID, reason: reason, by: operatorName, on: db)
        return describe(transfer, "reversed transfer \(transferID) (\(Money.format(transfer.amountMicros)))")
    }

    /// `followup wallet auto-charge show`.
    public static func autoCharge(channelID: Int64, on db: some Queryable) async throws -> String {
        let rule = try await AutoCharge.rule(channelID: channelID, on: db)
        var text = """
            channel \(channelID) auto-charge: \(rule.enabled ? "on" : "off")
              when available falls below  \(Money.format(rule.thresholdMicros))
              top up                       \(Money.format(rule.amountMicros))
              monthly cap                  \(rule.monthlyCapMicros.map(Money.format) ?? "none")
              payment customer             \(rule.paymentCustomer ?? "none")
            """
        if rule.consecutiveDeclines > 0 {
            text += "\n  declines in a row             \(rule.consecutiveDeclines)"
        }
        if let after = rule.retryAfter, after > Date() {
            text += "\n  paused after a decline until \(ISO8601DateFormatter().string(from: after))"
        }
        let recent = try await AutoCharge.topUps(channelID: channelID, limit: 5, on: db)
        if !recent.isEmpty {
            text += "\nrecent top-ups:\n" + table([["top-up", "requested (UTC)", "amount", "state", "why"]] + recent.map {
                [String($0.id), ISO8601DateFormatter().string(from: $0.requestedAt), Money.format($0.amountMicros), $0.state.rawValue,
                 $0.failure ?? $0.reason]
            })
        }
        return text
    }

    /// `followup wallet auto-charge set`: changes only what is given.
    public static func setAutoCharge(channelID: Int64, enabled: Bool?, threshold: String?, amount: String?, monthlyCap: String?,
                                     paymentCustomer: String?, on db: some Queryable) async throws -> String {
        var rule = try await AutoCharge.rule(channelID: channelID, on: db)
        if let enabled { rule.enabled = enabled }
        if let threshold { rule.thresholdMicros = try dollars(threshold, "threshold") }
        if let amount { rule.amountMicros = try dollars(amount, "amount") }
        if let monthlyCap { rule.monthlyCapMicros = monthlyCap.lowercased() == "none" ? nil : try dollars(monthlyCap, "monthly cap") }
        if let paymentCustomer { rule.paymentCustomer = paymentCustomer.isEmpty ? nil : paymentCustomer }
        try await AutoCharge.set(channelID: channelID, rule, on: db)
        return try await autoCharge(channelID: channelID, on: db)
    }

    private static func dollars(_ text: String, _ what: String) throws -> Int64 {
        guard let micros = Money.parse(text), micros >= 0 else {
            throw WalletError.invalid("\(what) \(text) is not a dollar amount (e.g. 5 or 19.99)")
        }
        return micros
    }

    private static func describe(_ transfer: WalletTransfer, _ what: String) -> String {
        transfer.created ? "transfer \(transfer.id): \(what)"
                         : "transfer \(transfer.id) already posted with this idempotency key: nothing new was done"
    }

    static func signed(_ micros: Int64) -> String {
        micros == 0 ? "" : (micros > 0 ? "+" : "") + Money.format(micros)
    }

    /// Left-aligned columns separated by two spaces.
    static func table(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.map(\.count).max() ?? 0)).map { column in
            rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
