import Fakes
import Foundation
import Outbound
import Providers
import Testing

@Suite("ProviderSettings and ProviderSet")
struct ProviderSetTests {
    static let minimal: [String: String] = [
        "FOLLOWUP_TWILIO_ACCOUNT_SID": "AC1",
        "FOLLOWUP_TWILIO_AUTH_TOKEN": "twilio-secret-value",
        "FOLLOWUP_SMTP_URL": "smtp://mail.example.com:587",
    ]

    @Test("the minimal environment gives text and email with production defaults, nothing optional")
    func minimal() throws {
        let settings = try ProviderSettings(environment: Self.minimal)
        #expect(settings.twilio.baseURL == "https://api.twilio.com")
        #expect(settings.smtp.startTLS == .required)
        #expect(settings.timeout == .seconds(15))
        #expect(settings.kakao == nil && settings.stripe == nil && settings.fcm == nil && settings.apns == nil)
        let set = try ProviderSet(settings: settings, client: OutboundClient())
        #expect(set.push == nil && set.messenger == nil && set.payments == nil)
    }

    @Test("errors name the missing or bad variable and never echo a value")
    func errors() {
        func error(_ changes: [String: String?]) -> ProviderSettingsError? {
            var environment = Self.minimal
            for (name, value) in changes { environment[name] = value }
            do {
                _ = try ProviderSettings(environment: environment)
                return nil
            } catch let error as ProviderSettingsError {
                return error
            } catch {
                return nil
            }
        }
        #expect(error(["FOLLOWUP_TWILIO_AUTH_TOKEN": nil])?.variable == "FOLLOWUP_TWILIO_AUTH_TOKEN")
        #expect(error(["FOLLOWUP_SMTP_URL": "http://mail"])?.variable == "FOLLOWUP_SMTP_URL")
        #expect(error(["FOLLOWUP_SMTP_USER": "u"])?.variable == "FOLLOWUP_SMTP_PASSWORD")
        #expect(error(["FOLLOWUP_SMTP_STARTTLS": "maybe"])?.variable == "FOLLOWUP_SMTP_STARTTLS")
        #expect(error(["FOLLOWUP_PROVIDER_TIMEOUT": "soon"])?.variable == "FOLLOWUP_PROVIDER_TIMEOUT")
        #expect(error(["FOLLOWUP_KAKAO_SECRET_KEY": "k"])?.variable == "FOLLOWUP_KAKAO_BASE_URL")
        #expect(error(["FOLLOWUP_FCM_ACCESS_TOKEN": "t"])?.variable == "FOLLOWUP_FCM_PROJECT_ID")
        #expect(error(["FOLLOWUP_APNS_TOPIC": "com.acme", "FOLLOWUP_APNS_KEY_ID": "K", "FOLLOWUP_APNS_TEAM_ID": "T"])?.variable
            == "FOLLOWUP_APNS_KEY_FILE")
        // Plain http only for loopback fakes: secrets never cross the network in clear.
        let plain = error(["FOLLOWUP_STRIPE_SECRET_KEY": "sk_live_abc", "FOLLOWUP_STRIPE_BASE_URL": "http://api.stripe.com"])
        #expect(plain?.variable == "FOLLOWUP_STRIPE_BASE_URL")
        let withSecret = error(["FOLLOWUP_TWILIO_BASE_URL": "https://AC1:twilio-secret-value@api.twilio.com"])
        #expect(withSecret?.variable == "FOLLOWUP_TWILIO_BASE_URL")
        #expect(withSecret.map { "\($0)" }?.contains("twilio-secret-value") == false)
    }

    @Test("problems(in:) lists every bad variable at once, in the table's order; none for a good environment")
    func everyProblem() {
        #expect(ProviderSettings.problems(in: Self.minimal).isEmpty)
        let problems = ProviderSettings.problems(in: [
            "FOLLOWUP_PROVIDER_TIMEOUT": "soon", "FOLLOWUP_TWILIO_AUTH_TOKEN": "twilio-secret-value",
            "FOLLOWUP_SMTP_URL": "http://mail", "FOLLOWUP_SMTP_STARTTLS": "maybe", "FOLLOWUP_KAKAO_SECRET_KEY": "k",
        ])
        #expect(problems.map(\.variable) == [
            "FOLLOWUP_PROVIDER_TIMEOUT", "FOLLOWUP_TWILIO_ACCOUNT_SID", "FOLLOWUP_SMTP_URL", "FOLLOWUP_SMTP_STARTTLS",
            "FOLLOWUP_KAKAO_BASE_URL",
        ])
        #expect(!problems.map(\.description).joined().contains("twilio-secret-value"))
    }

    @Test("an APNs key file without a signer is refused, naming the variable")
    func apnsNeedsSigner() throws {
        var environment = Self.minimal
        environment["FOLLOWUP_APNS_TOPIC"] = "com.acme"
        environment["FOLLOWUP_APNS_KEY_ID"] = "K"
        environment["FOLLOWUP_APNS_TEAM_ID"] = "T"
        environment["FOLLOWUP_APNS_KEY_FILE"] = "/nonexistent/AuthKey.p8"
        let settings = try ProviderSettings(environment: environment)
        #expect(throws: ProviderSettingsError.self) { try ProviderSet(settings: settings, client: OutboundClient()) }
    }

    @Test("FCM with a service-account file mints its access token at the file's token_uri")
    func serviceAccountFile() async throws {
        let fcm = try FakeFCM()
        defer { fcm.stop() }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sa-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        let key = #"{"type":"service_account","project_id":"acme","private_key_id":"kid-1","#
            + #""private_key":"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n","#
            + #""client_email":"push@acme.iam.gserviceaccount.com","token_uri":"\#(fcm.tokenURI)"}"#
        try Data(key.utf8).write(to: file)
        var environment = Self.minimal
        environment["FOLLOWUP_FCM_BASE_URL"] = fcm.baseURL
        environment["FOLLOWUP_FCM_PROJECT_ID"] = "acme"
        environment["FOLLOWUP_FCM_SERVICE_ACCOUNT_FILE"] = file.path
        let settings = try ProviderSettings(environment: environment)

        // Without an RS256 signer the file cannot be used, and the error says which variable.
        #expect(throws: ProviderSettingsError(
            variable: "FOLLOWUP_FCM_SERVICE_ACCOUNT_FILE",
            problem: "is set, but this build has no RS256 signer for service-account tokens")) {
            try ProviderSet(settings: settings, client: OutboundClient(), googleSigner: nil)
        }

        let set = try ProviderSet(settings: settings, client: OutboundClient(), googleSigner: { pem in
            #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
            return UnsignedTestSigner(algorithm: "RS256")
        })
        let push = try #require(set.push)
        _ = try await push.send(PushNotification(platform: .android, deviceToken: "droid", title: "t", body: "b",
                                                 data: [:], collapseKey: "c"))
        #expect(fcm.tokenGrants == 1)
        #expect(fcm.pushes.count == 1)
    }

    @Test("FakeProviders' environment drives every real adapter, all calls in flight at once")
    func endToEnd() async throws {
        let fakes = try FakeProviders()
        defer { fakes.stop() }
        let settings = try ProviderSettings(environment: fakes.environment)
        let set = try ProviderSet(settings: settings, client: OutboundClient())
        let push = try #require(set.push)
        let messenger = try #require(set.messenger)
        let payments = try #require(set.payments)
        let text = set.text
        let email = set.email
        fakes.latency = .seconds(1)

        let started = ContinuousClock.now
        async let android = push.send(PushNotification(platform: .android, deviceToken: "droid", title: "t", body: "b",
                                                       data: [:], collapseKey: "c"))
        async let iphone = push.send(PushNotification(platform: .ios, deviceToken: "phone", title: "t", body: "b",
                                                      data: [:], collapseKey: "c"))
        async let kakao = messenger.send(MessengerMessage(phone: "+821012345678", senderKey: "s", templateCode: "T",
                                                          text: "hi", idempotencyKey: "m-1"))
        async let sms = text.send(TextMessage(to: "+821012345678", from: "+15005550006", body: "hi", route: .sms,
                                              subject: nil, idempotencyKey: "t-1"))
        async let mail = email.send(EmailMessage(fromName: nil, fromAddress: "a@example.com", to: "b@example.com", toName: nil,
                                                 replyTo: nil, subject: "s", text: "t", html: "", messageID: "<m1@example.com>"))
        async let charge = payments.charge(PaymentRequest(amountMinor: 1000, currency: "usd", customer: "cus_1",
                                                          idempotencyKey: "p-1", description: "top-up"))
        _ = try await (android, iphone, kakao, sms, mail, charge)
        let elapsed = ContinuousClock.now - started
        // Six calls, five of them 1 s each: one after another they take over 5 s; in parallel about
        // one round trip (the bound leaves room for a loaded machine).
        #expect(elapsed < .milliseconds(3_500))

        #expect(fakes.fcm.pushes.count == 1)
        #expect(fakes.apns.pushes.count == 1)
        #expect(fakes.kakao.messages.count == 1)
        #expect(fakes.twilio.messages.count == 1)
        #expect(fakes.smtp.messages.count == 1)
        #expect(fakes.stripe.chargesCreated == 1)
    }
}

@Suite("Error classification")
struct ErrorClassificationTests {
    @Test("HTTP statuses: 5xx and 429 retryable (with Retry-After), 401/403 misconfigured, other 4xx rejected")
    func statuses() {
        #expect(ProviderError.http(status: 200) == nil)
        #expect(ProviderError.http(status: 500)?.disposition == .retryable(after: nil))
        #expect(ProviderError.http(status: 503, retryAfter: .seconds(3))?.disposition == .retryable(after: .seconds(3)))
        #expect(ProviderError.http(status: 504)?.reason == .timeout)
        #expect(ProviderError.http(status: 408)?.reason == .timeout)
        #expect(ProviderError.http(status: 429)?.reason == .rateLimited)
        #expect(ProviderError.http(status: 401)?.reason == .misconfigured)
        #expect(ProviderError.http(status: 403)?.isRetryable == false)
        #expect(ProviderError.http(status: 404)?.reason == .rejected)
        #expect(ProviderError.http(status: 404)?.isRetryable == false)
    }

    @Test("transport failures: timeouts and connection problems retryable, a bad URL final")
    func transport() {
        #expect(ProviderError.transport(OutboundError(code: .timeout, message: "")).reason == .timeout)
        #expect(ProviderError.transport(OutboundError(code: .couldNotConnect, message: "")).isRetryable)
        #expect(ProviderError.transport(OutboundError(code: .receiveFailed, message: "")).isRetryable)
        #expect(!ProviderError.transport(OutboundError(code: .invalidRequest, message: "")).isRetryable)
    }

    @Test("Retry-After: seconds or an HTTP date")
    func retryAfter() {
        #expect(RetryAfter.parse("120") == .seconds(120))
        #expect(RetryAfter.parse(nil) == nil)
        #expect(RetryAfter.parse("soon") == nil)
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:28:30 GMT", now: now) == .seconds(30))
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:27:00 GMT", now: now) == .zero)
        #expect(RetryAfter.parse("Wednesday, 21-Oct-15 07:29:00 GMT", now: now) == .seconds(60), "RFC 850")
        #expect(RetryAfter.parse("Wed Oct 21 07:28:10 2015", now: now) == .seconds(10), "asctime")
        #expect(RetryAfter.parse("99999999999") == .seconds(99_999_999_999), "huge: the caller caps it")
    }

    @Test("a connection refused by a dead provider is retryable .unavailable")
    func refused() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, "{}") }
        let url = server.baseURL
        server.stop()
        let stripe = StripePayments(endpoint: ProviderEndpoint(client: OutboundClient(), baseURL: url), secretKey: "sk")
        let error = await #expect(throws: ProviderError.self) {
            try await stripe.charge(PaymentRequest(amountMinor: 1, currency: "usd", customer: "c", idempotencyKey: "k", description: ""))
        }
        #expect(error?.reason == .unavailable)
        #expect(error?.isRetryable == true)
    }
}
