import Fakes
import Foundation
import Outbound
import Providers
import Testing

@Suite("Stripe payments against FakeStripe")
struct StripePaymentsTests {
    let fake: FakeStripe
    let client = OutboundClient()

    init() throws {
        fake = try FakeStripe(secretKey: "sk_test_123")
    }

    func adapter(key: String = "sk_test_123", timeout: Duration = .seconds(5)) -> StripePayments {
        StripePayments(endpoint: ProviderEndpoint(client: client, baseURL: fake.baseURL, timeout: timeout), secretKey: key)
    }

    func request(key: String = "attempt-1", customer: String = "cus_A") -> PaymentRequest {
        PaymentRequest(amountMinor: 2_000, currency: "USD", customer: customer, idempotencyKey: key,
                       description: "SMS wallet top-up")
    }

    @Test("a charge is one form-encoded POST with bearer auth and the idempotency key")
    func chargeShape() async throws {
        let outcome = try await adapter().charge(request())
        guard case .succeeded(let id) = outcome else { Issue.record("expected success, got \(outcome)"); return }
        #expect(id.hasPrefix("pi_"))

        let sent = try #require(fake.server.requests.first)
        #expect(sent.method == "POST")
        #expect(sent.path == "/v1/payment_intents")
        #expect(sent.header("Authorization") == "Bearer sk_test_123")
        #expect(sent.header("Idempotency-Key") == "attempt-1")
        #expect(sent.header("Content-Type") == "application/x-www-form-urlencoded")
        let form = sent.formFields()
        #expect(form["amount"] == "2000")
        #expect(form["currency"] == "usd")
        #expect(form["customer"] == "cus_A")
        #expect(form["confirm"] == "true")
        #expect(form["off_session"] == "true")
        #expect(form["description"] == "SMS wallet top-up")
        #expect(form["metadata[attempt]"] == "attempt-1")
        #expect(form["payment_method"] == nil)
        #expect(fake.chargesCreated == 1)
        #expect(fake.intents.first?.id == id)
    }

    @Test("customer/payment-method references send payment_method")
    func paymentMethod() async throws {
        _ = try await adapter().charge(request(customer: "cus_B/pm_123"))
        let form = try #require(fake.server.requests.first).formFields()
        #expect(form["customer"] == "cus_B")
        #expect(form["payment_method"] == "pm_123")
    }

    @Test("the same key twice charges once and answers the same id")
    func idempotent() async throws {
        let first = try await adapter().charge(request())
        let second = try await adapter().charge(request())
        #expect(first == second)
        #expect(fake.chargesCreated == 1)
        #expect(fake.createRequests == 2)
    }

    @Test("a 402 card_error is a declined outcome with the decline code, not an error")
    func declined() async throws {
        fake.decline(customer: "cus_poor", code: "insufficient_funds")
        let outcome = try await adapter().charge(request(customer: "cus_poor"))
        guard case .declined(let id, let reason) = outcome else { Issue.record("expected decline, got \(outcome)"); return }
        #expect(reason == "insufficient_funds")
        #expect(id == fake.intents.first?.id)
        #expect(fake.chargesCreated == 0)
        // Declines are replayed too: the same key never charges on a second try.
        #expect(try await adapter().charge(request(customer: "cus_poor")) == outcome)
        #expect(fake.intentsCreated == 1)
    }

    @Test("5xx is retryable and charges nothing; the retry with the same key charges once")
    func serverError() async throws {
        fake.failNext(2)
        for _ in 0..<2 {
            let error = await #expect(throws: ProviderError.self) { try await adapter().charge(request()) }
            #expect(error?.isRetryable == true)
            #expect(error?.status == 500)
        }
        #expect(fake.chargesCreated == 0)
        guard case .succeeded = try await adapter().charge(request()) else { Issue.record("expected success"); return }
        #expect(fake.chargesCreated == 1)
    }

    @Test("a charge whose answer was lost: retryable, lookup finds it, the retry replays it")
    func droppedResponse() async throws {
        fake.chargeButDropResponse()
        let error = await #expect(throws: ProviderError.self) { try await adapter().charge(request(key: "k-lost")) }
        #expect(error?.isRetryable == true)
        #expect(fake.chargesCreated == 1)

        let found = try await adapter().lookup(idempotencyKey: "k-lost")
        let id = try #require(fake.intents.first?.id)
        #expect(found == .succeeded(paymentID: id))
        let search = try #require(fake.server.requests.last)
        #expect(search.method == "GET")
        #expect(search.path == "/v1/payment_intents/search")
        #expect(search.query["query"] == "metadata['attempt']:'k-lost'")
        #expect(search.header("Authorization") == "Bearer sk_test_123")

        #expect(try await adapter().charge(request(key: "k-lost")) == .succeeded(paymentID: id))
        #expect(fake.chargesCreated == 1)
    }

    @Test("a charge answered too late: the caller sees a retryable timeout, the money was taken once")
    func lateAnswer() async throws {
        fake.chargeButAnswerLate(by: .milliseconds(800))
        let error = await #expect(throws: ProviderError.self) {
            try await adapter(timeout: .milliseconds(200)).charge(request(key: "k-late"))
        }
        #expect(error?.reason == .timeout)
        #expect(error?.isRetryable == true)
        #expect(fake.chargesCreated == 1)
        let id = try #require(fake.intents.first?.id)
        #expect(try await adapter().lookup(idempotencyKey: "k-late") == .succeeded(paymentID: id))
        #expect(try await adapter().charge(request(key: "k-late")) == .succeeded(paymentID: id))
        #expect(fake.chargesCreated == 1)
    }

    @Test("lookup of an unknown key is nil; of a declined attempt is the decline")
    func lookupStates() async throws {
        #expect(try await adapter().lookup(idempotencyKey: "never") == nil)
        fake.decline(customer: "cus_poor", code: "expired_card")
        _ = try await adapter().charge(request(key: "k-d", customer: "cus_poor"))
        let found = try await adapter().lookup(idempotencyKey: "k-d")
        #expect(found == .declined(paymentID: fake.intents.first?.id, reason: "expired_card"))
    }

    @Test("a wrong secret key is a final misconfiguration")
    func badKey() async throws {
        let error = await #expect(throws: ProviderError.self) { try await adapter(key: "sk_wrong").charge(request()) }
        #expect(error?.isRetryable == false)
        #expect(error?.reason == .misconfigured)
        #expect(error?.status == 401)
        #expect(error.map { "\($0)" }?.contains("sk_wrong") == false)
    }

    @Test("a slow answer times out as a retryable .timeout")
    func timeout() async throws {
        fake.latency = .milliseconds(800)
        let error = await #expect(throws: ProviderError.self) {
            try await adapter(timeout: .milliseconds(200)).charge(request())
        }
        #expect(error?.isRetryable == true)
        #expect(error?.reason == .timeout)
    }

    @Test("the same key with other parameters is a final rejection")
    func keyReuse() async throws {
        _ = try await adapter().charge(request())
        var changed = request()
        changed.amountMinor = 5_000
        let error = await #expect(throws: ProviderError.self) { try await adapter().charge(changed) }
        #expect(error?.isRetryable == false)
        #expect(error?.status == 400)
        #expect(fake.chargesCreated == 1)
    }
}
