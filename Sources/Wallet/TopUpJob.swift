import Foundation
import Jobs
import Logging
import Postgres
import Providers

/// The auto-charge top-up: charges the company's card and credits the wallet.
///
/// Enqueued by the database (`wallet.request_top_up`, from a hold or capture that left the wallet
/// under its threshold), at most one in flight per wallet. One run:
///
/// 1. `wallet.top_up_begin` in a fenced transaction: opens an attempt (its id is the payment's
///    `Idempotency-Key`) or reuses the open one, and counts the call.
/// 2. Outside any transaction: if the open attempt may already have reached the provider (an
///    earlier run died or timed out after calling), `lookup` first; then `charge` (the same key
///    again when the lookup found nothing — the provider dedupes it, so this never charges twice).
/// 3. Success: `wallet.top_up_succeeded` credits the wallet in the transaction that completes the
///    job. Decline: recorded with the provider's reason, and new top-ups back off.
///    Timeout / 5xx: the handler throws, the queue retries with backoff, and step 2 reconciles.
public enum TopUpJob {
    public struct Payload: JobPayload {
        public static let kind = "wallet.top_up"
        public var topUpID: Int64
        public var channelID: Int64?
        enum CodingKeys: String, CodingKey {
            case topUpID = "top_up_id"
            case channelID = "channel_id"
        }
        public init(topUpID: Int64, channelID: Int64? = nil) {
            self.topUpID = topUpID
            self.channelID = channelID
        }
    }

    /// Runs one top-up job.
    public static func run(_ payload: Payload, context: JobContext, payments: PaymentProvider?,
                           settings: WalletSettings, logger: Logger) async throws -> JobResult {
        var logger = logger
        logger[metadataKey: "top_up_id"] = "\(payload.topUpID)"
        let begin = try await context.fenced { tx in
            try await walletErrors { try await tx.first("SELECT * FROM wallet.top_up_begin(\(payload.topUpID))") }
        }
        guard let begin, try begin.decode("state", as: TopUpState.self) == .charging else {
            logger.debug("top-up has nothing left to do")
            return .done
        }
        let attempt = try begin.decode(UUID.self, "attempt_id")
        let reconcile = try begin.decode(Bool.self, "reconcile")
        let amount = try begin.decode(Int64.self, "amount_micros")
        let channel = try begin.decode(Int64.self, "channel_id")
        logger[metadataKey: "channel_id"] = "\(channel)"
        logger[metadataKey: "attempt"] = "\(attempt)"

        guard let payments else {
            return try await finish(attempt, paymentID: nil, reason: "no payment provider is configured", state: .failed, context, settings)
        }
        guard let customer = try begin.decode(String?.self, "payment_customer") else {
            return try await finish(attempt, paymentID: nil, reason: "no payment method on file", state: .failed, context, settings)
        }
        let request = PaymentRequest(amountMinor: amount / Money.microsPerCent, currency: settings.currency, customer: customer,
                                     idempotencyKey: attempt.uuidString.lowercased(),
                                     description: "SMS wallet top-up, channel \(channel)")
        var outcome: PaymentOutcome?
        do {
            if reconcile {
                outcome = try await payments.lookup(idempotencyKey: request.idempotencyKey)
                logger.info("reconciled an unanswered top-up attempt", metadata: ["found": "\(outcome != nil)"])
            }
            if outcome == nil {
                outcome = try await payments.charge(request)
            }
        } catch let error as ProviderError where !error.isRetryable {
            logger.warning("top-up refused by the payment provider", metadata: ["error": "\(error)"])
            return try await finish(attempt, paymentID: nil, reason: error.description, state: .failed, context, settings)
        }
        switch outcome {
        case .succeeded(let paymentID)?:
            try await context.complete { tx in
                try await walletErrors { _ = try await tx.query("SELECT wallet.top_up_succeeded(\(attempt), \(paymentID))") }
            }
            logger.info("wallet topped up", metadata: ["amount_micros": "\(amount)"])
        case .declined(let paymentID, let reason)?:
            logger.info("top-up declined", metadata: ["reason": "\(reason)"])
            return try await finish(attempt, paymentID: paymentID, reason: reason, state: .declined, context, settings)
        case nil:
            throw ProviderError(.retryable(after: nil), .badResponse)
        }
        return .done
    }

    private static func finish(_ attempt: UUID, paymentID: String?, reason: String, state: TopUpFailure,
                               _ context: JobContext, _ settings: WalletSettings) async throws -> JobResult {
        try await context.complete { tx in
            try await walletErrors {
                _ = try await tx.query("""
                    SELECT wallet.top_up_declined(\(attempt), \(paymentID), \(reason), \(state),
                        \(settings.declineBackoff)::interval, \(settings.maxDeclineBackoff)::interval)
                    """)
            }
        }
        return .done
    }
}
