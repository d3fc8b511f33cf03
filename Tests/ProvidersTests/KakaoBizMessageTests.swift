import Fakes
import Foundation
import Outbound
import Providers
import Testing

@Suite("Kakao bizmessage against FakeKakao")
struct KakaoBizMessageTests {
    let fake: FakeKakao
    let client = OutboundClient()

    init() throws {
        fake = try FakeKakao(secretKey: "kakao-secret")
    }

    func adapter(secret: String = "kakao-secret", timeout: Duration = .seconds(5)) -> KakaoBizMessage {
        KakaoBizMessage(endpoint: ProviderEndpoint(client: client, baseURL: fake.baseURL, timeout: timeout), secretKey: secret)
    }

    func message(phone: String = "+821012345678", key: String = "delivery-1") -> MessengerMessage {
        MessengerMessage(phone: phone, senderKey: "sender-abc", templateCode: "FOLLOWUP_01",
                         text: "Acme replied: 안녕하세요", idempotencyKey: key)
    }

    @Test("429 is retryable with its Retry-After, whatever result code the body carries; an unreadable 200 is an unknown outcome")
    func rateLimitedAndGarbage() async throws {
        fake.setBehaviour(.rateLimited(retryAfter: "7", times: 1), for: "+821012345678")
        let limited = await #expect(throws: ProviderError.self) { try await adapter().send(message()) }
        #expect(limited?.isRetryable == true)
        #expect(limited?.reason == .rateLimited)
        #expect(limited?.retryAfter == .seconds(7))
        #expect(limited?.outcomeUnknown == false)

        fake.server.injectFault(.garbageSuccess, times: 1, method: "POST")
        let garbage = await #expect(throws: ProviderError.self) { try await adapter().send(message(key: "delivery-2")) }
        #expect(garbage?.isRetryable == true, "never final: the gateway may have taken it")
        #expect(garbage?.outcomeUnknown == true)
        #expect(try await adapter().lookup(idempotencyKey: "delivery-2") != nil, "and it did")
    }

    @Test("a send is one JSON POST with the secret key header; the request id comes back")
    func sendShape() async throws {
        let id = try await adapter().send(message())
        #expect(!id.isEmpty)
        let sent = try #require(fake.server.requests.first)
        #expect(sent.method == "POST")
        #expect(sent.path == "/v2/sender/send")
        #expect(sent.header("X-Secret-Key") == "kakao-secret")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(sent.body)) as? [String: Any])
        #expect(json["senderKey"] as? String == "sender-abc")
        #expect(json["templateCode"] as? String == "FOLLOWUP_01")
        let recipients = try #require(json["recipientList"] as? [[String: Any]])
        #expect(recipients.count == 1)
        #expect(recipients.first?["recipientNo"] as? String == "+821012345678")
        #expect(recipients.first?["content"] as? String == "Acme replied: 안녕하세요")
        #expect(recipients.first?["clientMsgId"] as? String == "delivery-1")
        #expect(fake.delivered(to: "+821012345678").map(\.requestId) == [id])
    }

    @Test("blocked (3018) and not-a-user (3019) are final; gateway timeout (-1) and 5xx are retryable")
    func resultCodes() async throws {
        fake.setBehaviour(.blocked, for: "+821000000001")
        fake.setBehaviour(.notAUser, for: "+821000000002")
        fake.setBehaviour(.timeoutCode, for: "+821000000003")
        fake.setBehaviour(.serverError(times: 1), for: "+821000000004")

        let blocked = await #expect(throws: ProviderError.self) { try await adapter().send(message(phone: "+821000000001", key: "k-1")) }
        #expect(blocked?.reason == .blocked)
        #expect(blocked?.isRetryable == false)
        #expect(blocked?.providerCode == "3018")

        let notUser = await #expect(throws: ProviderError.self) { try await adapter().send(message(phone: "+821000000002", key: "k-2")) }
        #expect(notUser?.reason == .notAUser)
        #expect(notUser?.isRetryable == false)

        let timedOut = await #expect(throws: ProviderError.self) { try await adapter().send(message(phone: "+821000000003", key: "k-3")) }
        #expect(timedOut?.reason == .timeout)
        #expect(timedOut?.isRetryable == true)

        let failed = await #expect(throws: ProviderError.self) {
            try await adapter().send(message(phone: "+821000000004", key: "k-5xx"))
        }
        #expect(failed?.isRetryable == true)
        #expect(failed?.status == 500)
        _ = try await adapter().send(message(phone: "+821000000004", key: "k-5xx"))
        #expect(fake.delivered(to: "+821000000004").count == 1)
    }

    @Test("the same clientMsgId twice delivers once and answers the first request id")
    func idempotent() async throws {
        let first = try await adapter().send(message())
        let second = try await adapter().send(message())
        #expect(first == second)
        #expect(fake.delivered(to: "+821012345678").count == 1)
        #expect(fake.server.requestCount == 2)
    }

    @Test("a duplicate of a blocked send is blocked again, without a second attempt")
    func idempotentFailure() async throws {
        fake.setBehaviour(.blocked, for: "+821000000001")
        for _ in 0..<2 {
            let error = await #expect(throws: ProviderError.self) { try await adapter().send(message(phone: "+821000000001", key: "k-1")) }
            #expect(error?.reason == .blocked)
        }
        #expect(fake.messages.count == 1)
    }

    @Test("lookup by clientMsgId: delivered, failed, or nil when never received")
    func lookup() async throws {
        #expect(try await adapter().lookup(idempotencyKey: "nope") == nil)
        let id = try await adapter().send(message(key: "k-1"))
        #expect(try await adapter().lookup(idempotencyKey: "k-1") == ProviderLookup(providerMessageID: id, status: .delivered))
        let query = try #require(fake.server.requests.last)
        #expect(query.method == "GET")
        #expect(query.path == "/v2/sender/messages")
        #expect(query.query["clientMsgId"] == "k-1")
        #expect(query.header("X-Secret-Key") == "kakao-secret")

        fake.setBehaviour(.blocked, for: "+821000000001")
        _ = try? await adapter().send(message(phone: "+821000000001", key: "k-2"))
        #expect(try await adapter().lookup(idempotencyKey: "k-2")?.status == .failed)
    }

    @Test("a wrong secret key is a final misconfiguration")
    func badSecret() async throws {
        let error = await #expect(throws: ProviderError.self) { try await adapter(secret: "wrong").send(message()) }
        #expect(error?.reason == .misconfigured)
        #expect(error?.isRetryable == false)
    }

    @Test("a slow gateway times out as a retryable .timeout")
    func timeout() async throws {
        fake.latency = .milliseconds(800)
        let error = await #expect(throws: ProviderError.self) { try await adapter(timeout: .milliseconds(200)).send(message()) }
        #expect(error?.reason == .timeout)
        #expect(error?.isRetryable == true)
    }
}
