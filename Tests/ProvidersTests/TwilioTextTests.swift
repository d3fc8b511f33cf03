import Fakes
import Foundation
import Outbound
import Providers
import Testing

@Suite("Twilio SMS/LMS against FakeTwilio")
struct TwilioTextTests {
    let fake: FakeTwilio
    let client = OutboundClient()

    init() throws {
        fake = try FakeTwilio(accountSID: "AC123", authToken: "tok-secret")
    }

    func adapter(token: String = "tok-secret", timeout: Duration = .seconds(5)) -> TwilioText {
        TwilioText(endpoint: ProviderEndpoint(client: client, baseURL: fake.baseURL, timeout: timeout),
                   accountSID: "AC123", authToken: token, statusCallbackBase: "https://hooks.example.com/twilio")
    }

    func sms(to: String = "+821012345678", key: String = "delivery-1", body: String = "New reply from Acme") -> TextMessage {
        TextMessage(to: to, from: "+15005550006", body: body, route: .sms, subject: nil, idempotencyKey: key)
    }

    @Test("SMS: form POST to the account's Messages.json with basic auth and the key in StatusCallback")
    func smsShape() async throws {
        let sid = try await adapter().send(sms())
        #expect(sid.hasPrefix("SM"))
        let sent = try #require(fake.server.requests.first)
        #expect(sent.method == "POST")
        #expect(sent.path == "/2010-04-01/Accounts/AC123/Messages.json")
        #expect(sent.header("Authorization") == "Basic " + Data("AC123:tok-secret".utf8).base64EncodedString())
        let form = sent.formFields()
        #expect(form["To"] == "+821012345678")
        #expect(form["From"] == "+15005550006")
        #expect(form["Body"] == "New reply from Acme")
        #expect(form["StatusCallback"] == "https://hooks.example.com/twilio?delivery=delivery-1")
        #expect(fake.messages.map(\.sid) == [sid])
        // RFC 3986 unreserved characters stay; everything else, spaces included, is %XX.
        #expect(sent.bodyText.contains("Body=New%20reply%20from%20Acme"))
        #expect(sent.bodyText.contains("StatusCallback=https%3A%2F%2Fhooks.example.com%2Ftwilio%3Fdelivery%3Ddelivery-1"))
        #expect(sent.bodyText.contains("To=%2B821012345678"))
    }

    @Test("a Messaging Service SID as sender goes as MessagingServiceSid, and lookups do not filter by From")
    func messagingService() async throws {
        let service = "MG0123456789abcdef0123456789abcdef"
        var message = sms()
        message.from = service
        let sid = try await adapter().send(message)
        let form = try #require(fake.server.requests.first).formFields()
        #expect(form["MessagingServiceSid"] == service)
        #expect(form["From"] == nil)
        let found = try await adapter().lookup(message)
        #expect(found?.providerMessageID == sid)
        #expect(try #require(fake.server.requests.last).query["From"] == nil)
        #expect(TwilioText.isMessagingService(service))
        #expect(!TwilioText.isMessagingService("+15005550006"))
        #expect(!TwilioText.isMessagingService("MG0123"))
    }

    @Test("LMS goes through the same API with the subject in front of the body")
    func lms() async throws {
        let long = String(repeating: "안녕하세요 ", count: 40)
        let message = TextMessage(to: "+821012345678", from: "+15005550006", body: long, route: .lms,
                                  subject: "[Acme 답장]", idempotencyKey: "d-lms")
        _ = try await adapter().send(message)
        #expect(fake.messages.first?.body == "[Acme 답장]\n" + long)
    }

    @Test("invalid and non-mobile numbers are final .invalidRecipient; unsubscribed is final .blocked")
    func finalErrors() async throws {
        fake.setFailure(.notMobile, for: "+821000000001")
        fake.setFailure(.unsubscribed, for: "+821000000002")
        let cases: [(String, ProviderError.Reason, String)] = [
            ("+12", .invalidRecipient, "21211"),
            ("+821000000001", .invalidRecipient, "21614"),
            ("+821000000002", .blocked, "21610"),
        ]
        for (number, reason, code) in cases {
            let error = await #expect(throws: ProviderError.self) { try await adapter().send(sms(to: number)) }
            #expect(error?.isRetryable == false)
            #expect(error?.reason == reason)
            #expect(error?.providerCode == code)
            #expect(error.map { "\($0)" }?.contains(number) == false)
        }
        #expect(fake.messages.isEmpty)
    }

    @Test("429 is retryable with the Retry-After; 5xx is retryable")
    func retryable() async throws {
        fake.setFailure(.rateLimited(retryAfterSeconds: 7), for: "+821000000003")
        let limited = await #expect(throws: ProviderError.self) { try await adapter().send(sms(to: "+821000000003")) }
        #expect(limited?.disposition == .retryable(after: .seconds(7)))
        #expect(limited?.reason == .rateLimited)

        fake.setFailure(.serverError(status: 503, times: 1), for: "+821000000004")
        let unavailable = await #expect(throws: ProviderError.self) { try await adapter().send(sms(to: "+821000000004")) }
        #expect(unavailable?.isRetryable == true)
        #expect(unavailable?.status == 503)
        _ = try await adapter().send(sms(to: "+821000000004"))
        #expect(fake.messages(to: "+821000000004").count == 1)
    }

    @Test("bad credentials are a final misconfiguration that does not echo the token")
    func badCredentials() async throws {
        let error = await #expect(throws: ProviderError.self) { try await adapter(token: "wrong-token").send(sms()) }
        #expect(error?.reason == .misconfigured)
        #expect(error?.isRetryable == false)
        #expect(error.map { "\($0)" }?.contains("wrong-token") == false)
    }

    @Test("lookup finds the sent message by recipient and body; nil when never sent")
    func lookup() async throws {
        let message = sms(body: "Your answer from Acme: see link")
        #expect(try await adapter().lookup(message) == nil)
        let sid = try await adapter().send(message)
        _ = try await adapter().send(sms(body: "another message"))
        let found = try await adapter().lookup(message)
        #expect(found == ProviderLookup(providerMessageID: sid, status: .delivered))
        let listing = try #require(fake.server.requests.last)
        #expect(listing.method == "GET")
        #expect(listing.path == "/2010-04-01/Accounts/AC123/Messages.json")
        #expect(listing.query["To"] == "+821012345678")
        #expect(listing.query["DateSent>"] != nil)
        // A lookup before resending is what keeps one message per key at the provider.
        #expect(fake.messages(to: "+821012345678").filter { $0.body == message.body }.count == 1)
    }

    @Test("a slow provider times out as a retryable .timeout")
    func timeout() async throws {
        fake.latency = .milliseconds(800)
        let error = await #expect(throws: ProviderError.self) { try await adapter(timeout: .milliseconds(200)).send(sms()) }
        #expect(error?.reason == .timeout)
        #expect(error?.isRetryable == true)
    }
}
