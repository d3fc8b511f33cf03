import Foundation
@testable import FollowUp
import Providers
import Testing
import Wallet

/// The delivery runner's decisions (`DeliveryDecisions`), without a database or a provider: the
/// price it holds, when a refused send is tried again, and the reason a final failure records.
/// The flow tests (Flow/, Faults/) show the same decisions end to end.
@Suite("Delivery decisions") struct DeliveryDecisionTests {
    private static let minute = Duration.seconds(60)

    // MARK: Price

    @Test("a first attempt holds the list price of its route; push is free, email free unless priced",
          arguments: [
              (Route.sms, Int64?(15_000), Int64(15_000)),
              (.lms, 45_000, 45_000),
              (.messenger, 8_000, 8_000),
              (.push, 99_999, 0),
              (.email, nil, 0),
              (.email, 1_000, 1_000),
          ] as [(Route, Int64?, Int64)])
    func firstAttemptPrice(route: Route, listPrice: Int64?, held: Int64) throws {
        #expect(try DeliveryDecisions.price(route: route, attempts: 0, heldMicros: 0, listPriceMicros: listPrice, country: "KR") == held)
    }

    @Test("a retry keeps its first price, even when the price list changed or an attempt was given back",
          arguments: [(2, 15_000), (0, 15_000)] as [(Int, Int64)])
    func retryKeepsPrice(attempts: Int, held: Int64) throws {
        #expect(try DeliveryDecisions.price(route: .sms, attempts: attempts, heldMicros: held, listPriceMicros: 99_000, country: "KR") == held)
    }

    @Test("a text without a price for its country is not sent (WalletError.noPrice)", arguments: [Route.sms, .lms, .messenger])
    func textWithoutPrice(route: Route) {
        #expect(throws: WalletError.self) {
            try DeliveryDecisions.price(route: route, attempts: 0, heldMicros: 0, listPriceMicros: nil, country: "ZZ")
        }
    }

    // MARK: Retries

    @Test("the backoff, or the provider's Retry-After when longer, capped at retryAfterCap",
          arguments: [
              (nil, .seconds(5)),
              (.seconds(2), .seconds(5)),     // never shorter than the backoff
              (.seconds(30), .seconds(30)),   // honoured
              (.seconds(3600), .seconds(600)), // capped
          ] as [(Duration?, Duration)])
    func nextDelay(asked: Duration?, expected: Duration) {
        let error = ProviderError(.retryable(after: asked), .rateLimited, status: 429)
        #expect(DeliveryDecisions.nextDelay(after: error, backoff: .seconds(5), retryAfterCap: .seconds(600)) == expected)
    }

    @Test("retrying stops when the attempts are used up — rate-limited answers do not count")
    func attemptsUsedUp() {
        let unavailable = ProviderError(.retryable(after: nil), .unavailable, status: 503)
        let rateLimited = ProviderError(.retryable(after: nil), .rateLimited, status: 429)
        func delay(_ error: ProviderError, attempts: Int) -> Duration? {
            DeliveryDecisions.retryDelay(after: error, attempts: attempts, limit: 2, sinceFirstAttempt: .seconds(10),
                                         window: Self.minute * 30, backoff: .seconds(5), retryAfterCap: .seconds(600))
        }
        #expect(delay(unavailable, attempts: 1) == .seconds(5))
        #expect(delay(unavailable, attempts: 2) == nil)
        #expect(delay(rateLimited, attempts: 2) == .seconds(5))
        #expect(delay(rateLimited, attempts: 50) == .seconds(5))
    }

    @Test("retrying stops when the next attempt would start after the retry window (from the first attempt)",
          arguments: [(.seconds(0), true), (.seconds(55), true), (.seconds(56), false), (.seconds(300), false)] as [(Duration, Bool)])
    func retryWindow(since: Duration, retried: Bool) {
        let error = ProviderError(.retryable(after: nil), .timeout, status: 504)
        let delay = DeliveryDecisions.retryDelay(after: error, attempts: 1, limit: 30, sinceFirstAttempt: since,
                                                 window: Self.minute, backoff: .seconds(5), retryAfterCap: .seconds(600))
        #expect((delay != nil) == retried)
    }

    @Test("a Retry-After that would end past the window ends the retrying")
    func retryAfterPastWindow() {
        let error = ProviderError(.retryable(after: .seconds(120)), .rateLimited, status: 429)
        #expect(DeliveryDecisions.retryDelay(after: error, attempts: 1, limit: 30, sinceFirstAttempt: .zero, window: Self.minute,
                                             backoff: .seconds(1), retryAfterCap: .seconds(600)) == nil)
    }

    // MARK: After a refusal

    @Test("a retryable refusal within the limits is retried; a rate-limited one gives its attempt back")
    func retried() {
        let unavailable = ProviderError(.retryable(after: nil), .unavailable, status: 503)
        let rateLimited = ProviderError(.retryable(after: nil), .rateLimited, status: 429)
        #expect(DeliveryDecisions.afterRefusal(unavailable, retryDelay: .seconds(5), attempts: 1, sinceFirstAttempt: .zero)
                == .retry(after: .seconds(5), givesAttemptBack: false))
        #expect(DeliveryDecisions.afterRefusal(rateLimited, retryDelay: .seconds(7), attempts: 1, sinceFirstAttempt: .zero)
                == .retry(after: .seconds(7), givesAttemptBack: true))
    }

    @Test("a final refusal fails at once with the provider's reason and code, even with a delay on offer")
    func finalRefusal() {
        let error = ProviderError(.final, .invalidRecipient, providerCode: "21211", status: 400)
        #expect(DeliveryDecisions.afterRefusal(error, retryDelay: .seconds(5), attempts: 1, sinceFirstAttempt: .zero)
                == .fail(reason: "invalid recipient (code 21211)"))
    }

    @Test("a retryable refusal past the limits fails, saying how long it tried",
          arguments: [(.seconds(90), "90 s"), (.seconds(31 * 60), "31 min")] as [(Duration, String)])
    func gaveUp(since: Duration, words: String) {
        let error = ProviderError(.retryable(after: nil), .unavailable, status: 503)
        #expect(DeliveryDecisions.afterRefusal(error, retryDelay: nil, attempts: 30, sinceFirstAttempt: since)
                == .fail(reason: "gave up after 30 attempts in \(words): provider unavailable"))
    }
}
