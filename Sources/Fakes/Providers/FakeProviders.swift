import Foundation

/// Every provider fake at once — Twilio, SMTP, Kakao, Stripe, FCM, APNs — on loopback ports,
/// plus the environment that points the real adapters at them
/// (`ProviderSettings(environment: fakes.environment)` in the Providers module). The demo and
/// end-to-end tests use this.
///
/// ```swift
/// let fakes = try FakeProviders()
/// defer { fakes.stop() }
/// let settings = try ProviderSettings(environment: fakes.environment)
/// ```
public final class FakeProviders: Sendable {
    public let twilio: FakeTwilio
    public let smtp: LoopbackSMTPServer
    public let kakao: FakeKakao
    public let stripe: FakeStripe
    public let fcm: FakeFCM
    public let apns: FakeAPNs

    /// Starts all fakes.
    public init() throws {
        twilio = try FakeTwilio()
        smtp = try LoopbackSMTPServer()
        kakao = try FakeKakao()
        stripe = try FakeStripe()
        fcm = try FakeFCM()
        apns = try FakeAPNs()
    }

    deinit { stop() }

    /// The `FOLLOWUP_*` variables (see `ProviderSettings`) naming every fake and its credentials,
    /// plus the product-wide senders and links `followup run` requires (docs/configuration.md).
    public var environment: [String: String] {
        [
            "FOLLOWUP_SMS_FROM": "+15005550006",
            "FOLLOWUP_EMAIL_FROM": "notifications@followup.example",
            "FOLLOWUP_REPLY_DOMAIN": "reply.followup.example",
            "FOLLOWUP_CHAT_URL_BASE": "https://chat.example.com",
            "FOLLOWUP_TWILIO_BASE_URL": twilio.baseURL,
            "FOLLOWUP_TWILIO_ACCOUNT_SID": twilio.accountSID,
            "FOLLOWUP_TWILIO_AUTH_TOKEN": twilio.authToken,
            "FOLLOWUP_SMTP_URL": smtp.url,
            "FOLLOWUP_SMTP_STARTTLS": "never",
            "FOLLOWUP_KAKAO_BASE_URL": kakao.baseURL,
            "FOLLOWUP_KAKAO_SECRET_KEY": kakao.secretKey,
            "FOLLOWUP_STRIPE_BASE_URL": stripe.baseURL,
            "FOLLOWUP_STRIPE_SECRET_KEY": stripe.secretKey,
            "FOLLOWUP_FCM_BASE_URL": fcm.baseURL,
            "FOLLOWUP_FCM_PROJECT_ID": "followup-demo",
            "FOLLOWUP_FCM_ACCESS_TOKEN": fcm.accessToken,
            "FOLLOWUP_APNS_BASE_URL": apns.baseURL,
            "FOLLOWUP_APNS_TOPIC": "com.example.followup-demo",
            "FOLLOWUP_APNS_KEY_ID": apns.keyID,
            "FOLLOWUP_APNS_TEAM_ID": apns.teamID,
        ]
    }

    /// Delay before every HTTP fake answers (SMTP answers at once). Setting it sets all of them;
    /// reading it reads Twilio's.
    public var latency: Duration {
        get { twilio.latency }
        set {
            twilio.latency = newValue
            kakao.latency = newValue
            stripe.latency = newValue
            fcm.latency = newValue
            apns.latency = newValue
        }
    }

    /// Stops every fake. Idempotent.
    public func stop() {
        twilio.stop()
        smtp.stop()
        kakao.stop()
        stripe.stop()
        fcm.stop()
        apns.stop()
    }
}
