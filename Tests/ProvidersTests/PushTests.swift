import Fakes
import Foundation
import Outbound
import Providers
import Testing

private func notification(_ platform: PushPlatform, token: String) -> PushNotification {
    PushNotification(platform: platform, deviceToken: token, title: "Acme", body: "You have a new reply",
                     data: ["follow_up_id": "fu-42"], collapseKey: "follow-up-fu-42")
}

/// A clock tests can move.
final class TestClock: Sendable {
    private let lock = NSLock()
    nonisolated(unsafe) private var current = Date(timeIntervalSince1970: 1_800_000_000)
    // `nonisolated(unsafe)` is sound: `current` is only touched under `lock`.
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current += seconds } }
}

@Suite("FCM HTTP v1 against FakeFCM")
struct FCMPushTests {
    let fake: FakeFCM
    let client = OutboundClient()

    init() throws { fake = try FakeFCM(accessToken: "ya29.fake") }

    func adapter(tokens: any AccessTokenSource = StaticAccessToken("ya29.fake"), timeout: Duration = .seconds(5)) -> FCMPush {
        FCMPush(endpoint: ProviderEndpoint(client: client, baseURL: fake.baseURL, timeout: timeout),
                projectID: "acme-app", tokens: tokens)
    }

    @Test("a push is one JSON POST to messages:send with the bearer token; the name comes back")
    func sendShape() async throws {
        let name = try await adapter().send(notification(.android, token: "device-1"))
        #expect(name.hasPrefix("projects/acme-app/messages/"))
        let sent = try #require(fake.server.requests.first)
        #expect(sent.method == "POST")
        #expect(sent.path == "/v1/projects/acme-app/messages:send")
        #expect(sent.header("Authorization") == "Bearer ya29.fake")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(sent.body)) as? [String: Any])
        let message = try #require(json["message"] as? [String: Any])
        #expect(message["token"] as? String == "device-1")
        #expect((message["notification"] as? [String: String]) == ["title": "Acme", "body": "You have a new reply"])
        #expect((message["data"] as? [String: String]) == ["follow_up_id": "fu-42"])
        #expect((message["android"] as? [String: Any])?["collapse_key"] as? String == "follow-up-fu-42")
        #expect(fake.pushes.map(\.token) == ["device-1"])
    }

    @Test("UNREGISTERED and INVALID_ARGUMENT are final .unregisteredDevice; 429 and 503 are retryable")
    func errors() async throws {
        fake.reject("gone", with: .unregistered)
        fake.reject("garbage", with: .invalidArgument)
        fake.reject("busy", with: .quotaExceeded(retryAfterSeconds: 30))
        fake.reject("down", with: .unavailable)
        for token in ["gone", "garbage"] {
            let error = await #expect(throws: ProviderError.self) { try await adapter().send(notification(.android, token: token)) }
            #expect(error?.reason == .unregisteredDevice)
            #expect(error?.isRetryable == false)
        }
        let busy = await #expect(throws: ProviderError.self) { try await adapter().send(notification(.android, token: "busy")) }
        #expect(busy?.disposition == .retryable(after: .seconds(30)))
        let down = await #expect(throws: ProviderError.self) { try await adapter().send(notification(.android, token: "down")) }
        #expect(down?.isRetryable == true)
        #expect(down?.status == 503)
        #expect(fake.pushes.isEmpty)
    }

    @Test("a refused access token is final .misconfigured")
    func badToken() async throws {
        let error = await #expect(throws: ProviderError.self) {
            try await adapter(tokens: StaticAccessToken("wrong")).send(notification(.android, token: "device-1"))
        }
        #expect(error?.reason == .misconfigured)
        #expect(error?.isRetryable == false)
        #expect(fake.server.requestCount == 2)  // one retry with a freshly fetched token, then final
    }

    @Test("the service-account JWT-bearer exchange mints a token once and reuses it until near expiry")
    func serviceAccount() async throws {
        let clock = TestClock()
        let tokens = ServiceAccountAccessToken(
            client: client, tokenURI: fake.tokenURI, clientEmail: "fcm@acme-app.iam.gserviceaccount.com", keyID: "k1",
            signer: UnsignedTestSigner(algorithm: "RS256"), now: { clock.now })
        _ = try await adapter(tokens: tokens).send(notification(.android, token: "device-1"))
        _ = try await adapter(tokens: tokens).send(notification(.android, token: "device-2"))
        #expect(fake.tokenGrants == 1)
        let grant = try #require(fake.server.requests.first)
        #expect(grant.path == "/token")
        let form = grant.formFields()
        #expect(form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer")
        let decoded = try #require(JWT.decode(form["assertion"] ?? ""))
        #expect(decoded.header["alg"] as? String == "RS256")
        #expect(decoded.header["kid"] as? String == "k1")
        #expect(decoded.claims["iss"] as? String == "fcm@acme-app.iam.gserviceaccount.com")
        #expect(decoded.claims["aud"] as? String == fake.tokenURI)
        #expect(decoded.claims["scope"] as? String == ServiceAccountAccessToken.messagingScope)
        #expect((decoded.claims["exp"] as? NSNumber)?.int64Value == Int64(1_800_003_600))

        clock.advance(3_600)
        _ = try await adapter(tokens: tokens).send(notification(.android, token: "device-3"))
        #expect(fake.tokenGrants == 2)
        #expect(fake.pushes.count == 3)
    }

    @Test("a slow FCM times out as a retryable .timeout")
    func timeout() async throws {
        fake.latency = .milliseconds(800)
        let error = await #expect(throws: ProviderError.self) {
            try await adapter(timeout: .milliseconds(200)).send(notification(.android, token: "device-1"))
        }
        #expect(error?.reason == .timeout)
        #expect(error?.isRetryable == true)
    }
}

@Suite("APNs against FakeAPNs")
struct APNsPushTests {
    let fake: FakeAPNs
    let client = OutboundClient()
    let clock = TestClock()

    init() throws { fake = try FakeAPNs(keyID: "KEY1234567", teamID: "TEAM123456") }

    func auth() -> APNsAuthToken {
        let clock = clock
        return APNsAuthToken(keyID: "KEY1234567", teamID: "TEAM123456", signer: UnsignedTestSigner(algorithm: "ES256"),
                             now: { clock.now })
    }

    func adapter(_ auth: APNsAuthToken) -> APNsPush {
        APNsPush(endpoint: ProviderEndpoint(client: client, baseURL: fake.baseURL, timeout: .seconds(5)),
                 topic: "com.acme.app", auth: auth)
    }

    @Test("a push carries topic, push type, collapse id and a bearer JWT (kid, iss, iat); apns-id comes back")
    func sendShape() async throws {
        let id = try await adapter(auth()).send(notification(.ios, token: "abc123"))
        let push = try #require(fake.pushes.first)
        #expect(push.apnsID == id)
        #expect(push.deviceToken == "abc123")
        #expect(push.topic == "com.acme.app")
        #expect(push.pushType == "alert")
        #expect(push.collapseID == "follow-up-fu-42")
        #expect(push.title == "Acme")
        #expect(push.body == "You have a new reply")
        #expect(push.data == ["follow_up_id": "fu-42"])
        let sent = try #require(fake.server.requests.first)
        #expect(sent.path == "/3/device/abc123")
        let jwt = try #require(sent.header("authorization")?.dropFirst("bearer ".count)).description
        let decoded = try #require(JWT.decode(jwt))
        #expect(decoded.header["alg"] as? String == "ES256")
        #expect(decoded.header["kid"] as? String == "KEY1234567")
        #expect(decoded.claims["iss"] as? String == "TEAM123456")
        #expect((decoded.claims["iat"] as? NSNumber)?.int64Value == 1_800_000_000)
    }

    @Test("the JWT is reused for 50 minutes, then minted again")
    func tokenCaching() async throws {
        let auth = auth()
        _ = try await adapter(auth).send(notification(.ios, token: "a"))
        clock.advance(49 * 60)
        _ = try await adapter(auth).send(notification(.ios, token: "b"))
        #expect(fake.providerTokens.count == 1)
        clock.advance(2 * 60)
        _ = try await adapter(auth).send(notification(.ios, token: "c"))
        #expect(fake.providerTokens.count == 2)
    }

    @Test("ExpiredProviderToken mints a fresh JWT and the push goes through once")
    func expiredToken() async throws {
        let auth = auth()
        _ = try await adapter(auth).send(notification(.ios, token: "a"))
        clock.advance(60)
        fake.expireProviderToken()
        _ = try await adapter(auth).send(notification(.ios, token: "b"))
        #expect(fake.pushes.map(\.deviceToken) == ["a", "b"])
        #expect(fake.providerTokens.count == 2)
    }

    @Test("410 Unregistered and 400 BadDeviceToken are final; 429 and 503 retryable")
    func errors() async throws {
        fake.reject("gone", with: .unregistered)
        fake.reject("bad", with: .badDeviceToken)
        fake.reject("busy", with: .tooManyRequests)
        fake.reject("down", with: .unavailable)
        let auth = auth()
        for token in ["gone", "bad"] {
            let error = await #expect(throws: ProviderError.self) { try await adapter(auth).send(notification(.ios, token: token)) }
            #expect(error?.reason == .unregisteredDevice)
            #expect(error?.isRetryable == false)
        }
        for token in ["busy", "down"] {
            let error = await #expect(throws: ProviderError.self) { try await adapter(auth).send(notification(.ios, token: token)) }
            #expect(error?.isRetryable == true)
        }
        #expect(fake.pushes.isEmpty)
    }

    @Test("collapse keys longer than 64 bytes are shortened, stably")
    func longCollapseKey() async throws {
        var push = notification(.ios, token: "a")
        push.collapseKey = String(repeating: "k", count: 100)
        _ = try await adapter(auth()).send(push)
        _ = try await adapter(auth()).send(push)
        let ids = fake.pushes.compactMap(\.collapseID)
        #expect(ids.count == 2)
        #expect(ids[0] == ids[1])
        #expect(ids[0].utf8.count <= 64)
    }
}

@Suite("PushRouter")
struct PushRouterTests {
    @Test("routes by platform; a platform without a provider is a final misconfiguration")
    func routes() async throws {
        let fcm = try FakeFCM()
        let apns = try FakeAPNs()
        let client = OutboundClient()
        let router = PushRouter(
            android: FCMPush(endpoint: ProviderEndpoint(client: client, baseURL: fcm.baseURL), projectID: "p",
                             tokens: StaticAccessToken(fcm.accessToken)),
            ios: APNsPush(endpoint: ProviderEndpoint(client: client, baseURL: apns.baseURL), topic: "com.acme.app",
                          auth: APNsAuthToken(keyID: apns.keyID, teamID: apns.teamID, signer: UnsignedTestSigner(algorithm: "ES256"))))
        _ = try await router.send(notification(.android, token: "droid"))
        _ = try await router.send(notification(.ios, token: "phone"))
        #expect(fcm.pushes.map(\.token) == ["droid"])
        #expect(apns.pushes.map(\.deviceToken) == ["phone"])

        let iosOnly = PushRouter(android: nil, ios: router.ios)
        let error = await #expect(throws: ProviderError.self) { try await iosOnly.send(notification(.android, token: "droid")) }
        #expect(error?.reason == .misconfigured)
        #expect(error?.isRetryable == false)
    }
}
