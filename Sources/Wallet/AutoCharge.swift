import Foundation
import Postgres

/// A channel's auto-charge rule ("Recharge SMS"): when a charge leaves the available balance
/// under `thresholdMicros`, top up `amountMicros` from the card, at most `monthlyCapMicros` per
/// calendar month.
public struct AutoChargeRule: Sendable, Equatable {
    public var enabled: Bool
    public var thresholdMicros: Int64
    /// Whole cents (cards are charged in cents).
    public var amountMicros: Int64
    /// nil: no monthly cap.
    public var monthlyCapMicros: Int64?
    /// The payment provider's customer (`cus_…`, or `cus_…/pm_…`). Needed to turn it on.
    public var paymentCustomer: String?
    /// Declines in a row since the last successful top-up.
    public var consecutiveDeclines: Int
    /// No new top-up before this (backing off after a decline).
    public var retryAfter: Date?

    public init(enabled: Bool = false, thresholdMicros: Int64 = 5 * Money.microsPerDollar, amountMicros: Int64 = 20 * Money.microsPerDollar,
                monthlyCapMicros: Int64? = nil, paymentCustomer: String? = nil, consecutiveDeclines: Int = 0, retryAfter: Date? = nil) {
        self.enabled = enabled
        self.thresholdMicros = thresholdMicros
        self.amountMicros = amountMicros
        self.monthlyCapMicros = monthlyCapMicros
        self.paymentCustomer = paymentCustomer
        self.consecutiveDeclines = consecutiveDeclines
        self.retryAfter = retryAfter
    }
}

/// One top-up request and where it stands.
public struct TopUp: Sendable, Equatable {
    public var id: Int64
    public var channelID: Int64
    public var amountMicros: Int64
    public var state: TopUpState
    public var reason: String
    public var failure: String?
    public var transferID: Int64?
    public var requestedAt: Date
}

/// Reading and changing auto-charge rules, and the top-ups they caused.
public enum AutoCharge {
    /// The channel's rule (the defaults, off, when it never set one).
    public static func rule(channelID: Int64, on db: some Queryable) async throws -> AutoChargeRule {
        guard try await db.first("SELECT 1 FROM public.channels WHERE id = \(channelID)") != nil else {
            throw WalletError.unknownChannel(channelID)
        }
        guard let row = try await db.first("""
            SELECT enabled, threshold_micros, amount_micros, monthly_cap_micros, payment_customer, consecutive_declines, retry_after
            FROM wallet.auto_charge WHERE channel_id = \(channelID)
            """) else { return AutoChargeRule() }
        return AutoChargeRule(enabled: try row.decode("enabled"), thresholdMicros: try row.decode("threshold_micros"),
                              amountMicros: try row.decode("amount_micros"), monthlyCapMicros: try row.decode("monthly_cap_micros"),
                              paymentCustomer: try row.decode("payment_customer"), consecutiveDeclines: try row.decode("consecutive_declines"),
                              retryAfter: try row.decode("retry_after"))
    }

    /// Saves the rule (the decline counters are the system's and are left as they are).
    /// Throws `WalletError.invalid` with the reason when the rule does not make sense.
    public static func set(channelID: Int64, _ rule: AutoChargeRule, on db: some Queryable) async throws {
        guard rule.thresholdMicros >= 0 else { throw WalletError.invalid("the threshold cannot be negative") }
        guard rule.amountMicros > 0, rule.amountMicros % Money.microsPerCent == 0 else {
            throw WalletError.invalid("the top-up amount must be a positive number of whole cents")
        }
        if let cap = rule.monthlyCapMicros, cap < rule.amountMicros {
            throw WalletError.invalid("the monthly cap (\(Money.format(cap))) is less than one top-up (\(Money.format(rule.amountMicros)))")
        }
        if rule.enabled && (rule.paymentCustomer ?? "").isEmpty {
            throw WalletError.invalid("auto-charge needs a payment customer (the card to charge) before it can be turned on")
        }
        guard try await db.first("SELECT 1 FROM public.channels WHERE id = \(channelID)") != nil else {
            throw WalletError.unknownChannel(channelID)
        }
        try await db.execute("""
            INSERT INTO wallet.auto_charge (channel_id, enabled, threshold_micros, amount_micros, monthly_cap_micros, payment_customer)
            VALUES (\(channelID), \(rule.enabled), \(rule.thresholdMicros), \(rule.amountMicros), \(rule.monthlyCapMicros), \(rule.paymentCustomer))
            ON CONFLICT (channel_id) DO UPDATE SET enabled = EXCLUDED.enabled, threshold_micros = EXCLUDED.threshold_micros,
                amount_micros = EXCLUDED.amount_micros, monthly_cap_micros = EXCLUDED.monthly_cap_micros,
                payment_customer = EXCLUDED.payment_customer, updated_at = now()
            """)
    }

    /// The channel's most recent top-ups, newest first.
    public static func topUps(channelID: Int64, limit: Int = 20, on db: some Queryable) async throws -> [TopUp] {
        try await db.query("""
            SELECT id, channel_id, amount_micros, state, reason, failure, transfer_id, requested_at
            FROM wallet.top_ups WHERE channel_id = \(channelID) ORDER BY id DESC LIMIT \(limit)
            """).map { row in
            TopUp(id: try row.decode("id"), channelID: try row.decode("channel_id"),
                  amountMicros: try row.decode("amount_micros"), state: try row.decode("state"),
                  reason: try row.decode("reason"), failure: try row.decode("failure"),
                  transferID: try row.decode("transfer_id"), requestedAt: try row.decode("requested_at"))
        }
    }
}
