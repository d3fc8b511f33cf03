import Foundation
import Providers
import Wallet

/// The delivery runner's decisions as pure functions of what it read: no database, no provider,
/// no clock (unit-tested in `Tests/FollowUpTests/Rules/DeliveryDecisionTests.swift`).
/// `DeliveryRunner` and `DeliveryRetries.swift` read the rows, ask these, and write what they say.
enum DeliveryDecisions {
    /// The text's price by route, country and segments (held now, charged when sent), from the
    /// price list as read with the delivery. Push is free; email is free unless the price list
    /// has an email price. A retry keeps its first price (and its hold), also after a
    /// rate-limited attempt that gave its attempt back.
    static func price(route: Route, attempts: Int, heldMicros: Int64, listPriceMicros: Int64?, country: String?) throws -> Int64 {
        if attempts > 0 || heldMicros > 0 { return heldMicros }
        switch route {
        case .push:
            return 0
        case .email:
            return listPriceMicros ?? 0
        case .messenger, .sms, .lms:
            guard let listPriceMicros else { throw WalletError.noPrice(route: route.rawValue, country: country ?? "*") }
            return listPriceMicros
        }
    }

    /// The wait before the next attempt after `error`, or nil when retrying is over: the attempts
    /// are used up (`limit`; rate-limited answers do not count), or the next attempt would start
    /// after the retry `window` (counted from the first attempt).
    static func retryDelay(after error: ProviderError, attempts: Int, limit: Int, sinceFirstAttempt: Duration,
                           window: Duration, backoff: Duration, retryAfterCap: Duration) -> Duration? {
        if error.reason != .rateLimited && attempts >= limit { return nil }
        let delay = nextDelay(after: error, backoff: backoff, retryAfterCap: retryAfterCap)
        guard sinceFirstAttempt + delay <= window else { return nil }
        return delay
    }

    /// The backoff, or the provider's `Retry-After` when it asks for longer — capped at
    /// `retryAfterCap`, and never shorter than the backoff.
    static func nextDelay(after error: ProviderError?, backoff: Duration, retryAfterCap: Duration) -> Duration {
        guard let asked = error?.retryAfter else { return backoff }
        return max(min(asked, retryAfterCap), backoff)
    }

    /// What step 3 does when the provider answered and did not take the message.
    enum AfterRefusal: Equatable, Sendable {
        /// Back to `queued`, tried again after the delay; a rate-limited answer gives its attempt back.
        case retry(after: Duration, givesAttemptBack: Bool)
        /// Final: the delivery fails with this reason (and what follows a failure happens).
        case fail(reason: String)
    }

    /// A refusal is retried while `retryDelay` (from ``retryDelay(after:attempts:limit:sinceFirstAttempt:window:backoff:retryAfterCap:)``)
    /// allows it and the error is retryable; otherwise the delivery fails, saying why.
    static func afterRefusal(_ error: ProviderError, retryDelay: Duration?, attempts: Int, sinceFirstAttempt: Duration) -> AfterRefusal {
        if error.isRetryable, let retryDelay {
            return .retry(after: retryDelay, givesAttemptBack: error.reason == .rateLimited)
        }
        return .fail(reason: error.isRetryable
            ? "gave up after \(attempts) attempts in \(DeliveryRunner.words(sinceFirstAttempt)): \(DeliveryRunner.describe(error))"
            : DeliveryRunner.describe(error))
    }
}
