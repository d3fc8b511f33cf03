import Foundation
import Outbound

/// Where the providers are and how to authenticate, read from environment variables (or the
/// `--config` file `followup run` merges into them; docs/configuration.md has every setting).
///
/// | variable | required | meaning |
/// |---|---|---|
/// | `FOLLOWUP_PROVIDER_TIMEOUT` | no (15) | seconds one provider call may take |
/// | `FOLLOWUP_TWILIO_BASE_URL` | no (`https://api.twilio.com`) | Twilio REST base URL |
/// | `FOLLOWUP_TWILIO_ACCOUNT_SID` | yes | `AC…` |
/// | `FOLLOWUP_TWILIO_AUTH_TOKEN` | yes | secret |
/// | `FOLLOWUP_PUBLIC_URL` | no | where `followup serve` is reached from the internet, e.g. `https://hooks.example.com`; every SMS then asks Twilio for status callbacks at `{FOLLOWUP_PUBLIC_URL}/webhooks/twilio/status?delivery=KEY` |
/// | `FOLLOWUP_SMTP_URL` | yes | `smtp://host:587` (STARTTLS) or `smtps://host:465` |
/// | `FOLLOWUP_SMTP_USER`, `FOLLOWUP_SMTP_PASSWORD` | no (both or neither) | AUTH credentials; the password is secret |
/// | `FOLLOWUP_SMTP_STARTTLS` | no (`required`) | `required`, `if-available` or `never` |
/// | `FOLLOWUP_KAKAO_BASE_URL` | with the secret | bizmessage gateway base URL |
/// | `FOLLOWUP_KAKAO_SECRET_KEY` | no | enables the messenger; secret (`X-Secret-Key`) |
/// | `FOLLOWUP_STRIPE_BASE_URL` | no (`https://api.stripe.com`) | Stripe base URL |
/// | `FOLLOWUP_STRIPE_SECRET_KEY` | no | enables auto-charge payments; `sk_…`, secret |
/// | `FOLLOWUP_FCM_BASE_URL` | no (`https://fcm.googleapis.com`) | FCM base URL |
/// | `FOLLOWUP_FCM_PROJECT_ID` | with FCM | Firebase project id |
/// | `FOLLOWUP_FCM_SERVICE_ACCOUNT_FILE` | no | enables Android push: path to the service account's JSON key (production) |
/// | `FOLLOWUP_FCM_ACCESS_TOKEN` | no | enables Android push with a fixed OAuth2 access token instead (demo, short runs); secret |
/// | `FOLLOWUP_APNS_BASE_URL` | no (`https://api.push.apple.com`) | APNs base URL (`https://api.sandbox.push.apple.com` for development builds) |
/// | `FOLLOWUP_APNS_TOPIC` | no | enables iOS push; the app's bundle id |
/// | `FOLLOWUP_APNS_KEY_ID`, `FOLLOWUP_APNS_TEAM_ID` | with the topic | the `.p8` key's id and the team id (JWT `kid`, `iss`) |
/// | `FOLLOWUP_APNS_KEY_FILE` | with the topic, except against a loopback fake | path to the `.p8` key (needs an ES256 signer, see ``ProviderSet``) |
///
/// Base URLs must be `https://`, except for loopback hosts (127.0.0.1, localhost, ::1), where
/// `http://` is allowed for fakes. Errors name the variable and never echo a value.
///
/// FCM access tokens expire after an hour: production sets the service-account file, and
/// ``ServiceAccountAccessToken`` mints them (an RS256 signer over the account's key is needed,
/// as an ES256 one is for APNs: see ``ProviderSet``); a static token suits the demo and short runs.
public struct ProviderSettings: Sendable {
    public struct Twilio: Sendable {
        public var baseURL: String
        public var accountSID: String
        public var authToken: String
        public var statusCallback: String?
    }

    public struct SMTP: Sendable {
        public var url: String
        public var user: String?
        public var password: String?
        public var startTLS: SMTPServer.StartTLS
    }

    public struct Kakao: Sendable {
        public var baseURL: String
        public var secretKey: String
    }

    public struct Stripe: Sendable {
        public var baseURL: String
        public var secretKey: String
    }

    public struct FCM: Sendable {
        public enum Credential: Sendable {
            /// A fixed OAuth2 access token.
            case accessToken(String)
            /// Path to a Google service-account JSON key (`client_email`, `private_key`, `token_uri`).
            case serviceAccountFile(String)
        }
        public var baseURL: String
        public var projectID: String
        public var credential: Credential
    }

    public struct APNs: Sendable {
        public var baseURL: String
        public var topic: String
        public var keyID: String
        public var teamID: String
        /// Path to the `.p8` key; nil only against a loopback fake.
        public var keyFile: String?
    }

    public var timeout: Duration
    public var twilio: Twilio
    public var smtp: SMTP
    public var kakao: Kakao?
    public var stripe: Stripe?
    public var fcm: FCM?
    public var apns: APNs?

    public init(timeout: Duration = .seconds(15), twilio: Twilio, smtp: SMTP, kakao: Kakao? = nil,
                stripe: Stripe? = nil, fcm: FCM? = nil, apns: APNs? = nil) {
        self.timeout = timeout
        self.twilio = twilio
        self.smtp = smtp
        self.kakao = kakao
        self.stripe = stripe
        self.fcm = fcm
        self.apns = apns
    }

    /// Reads the variables above from `environment` (the process environment by default).
    /// - Throws: ``ProviderSettingsError`` naming the first missing or malformed variable
    ///   (``problems(in:)`` lists them all).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let env = Reader(environment: environment)
        let settings = ProviderSettings(reading: env)
        if let first = env.problems.first { throw first }
        self = settings
    }

    /// Every missing or malformed variable at once, in the order of the table above; empty when
    /// ``init(environment:)`` would succeed.
    public static func problems(in environment: [String: String]) -> [ProviderSettingsError] {
        let env = Reader(environment: environment)
        _ = ProviderSettings(reading: env)
        return env.problems
    }

    /// Reads every variable, recording each problem in `env` (a placeholder stands in for a bad value).
    private init(reading env: Reader) {
        if let seconds = env.value("FOLLOWUP_PROVIDER_TIMEOUT"), !(Double(seconds).map { $0 > 0 && $0 <= 600 } ?? false) {
            env.fail("FOLLOWUP_PROVIDER_TIMEOUT", "must be a number of seconds between 0 and 600")
        }
        timeout = env.value("FOLLOWUP_PROVIDER_TIMEOUT").flatMap(Double.init).map { .milliseconds(Int64($0 * 1000)) } ?? .seconds(15)

        twilio = Twilio(
            baseURL: env.httpURL("FOLLOWUP_TWILIO_BASE_URL", default: "https://api.twilio.com"),
            accountSID: env.required("FOLLOWUP_TWILIO_ACCOUNT_SID"),
            authToken: env.required("FOLLOWUP_TWILIO_AUTH_TOKEN"),
            statusCallback: env.optionalHTTPURL("FOLLOWUP_PUBLIC_URL").map { Self.statusCallbackURL(publicURL: $0) })

        let smtpURL = env.required("FOLLOWUP_SMTP_URL")
        if !smtpURL.isEmpty, !(smtpURL.hasPrefix("smtp://") || smtpURL.hasPrefix("smtps://")) {
            env.fail("FOLLOWUP_SMTP_URL", "must start with smtp:// or smtps://")
        }
        let user = env.value("FOLLOWUP_SMTP_USER")
        let password = env.value("FOLLOWUP_SMTP_PASSWORD")
        if (user == nil) != (password == nil) {
            env.fail(user == nil ? "FOLLOWUP_SMTP_USER" : "FOLLOWUP_SMTP_PASSWORD",
                     "is missing (set both FOLLOWUP_SMTP_USER and FOLLOWUP_SMTP_PASSWORD, or neither)")
        }
        let startTLS: SMTPServer.StartTLS
        switch env.value("FOLLOWUP_SMTP_STARTTLS")?.lowercased() {
        case nil, "required": startTLS = .required
        case "if-available": startTLS = .ifAvailable
        case "never": startTLS = .never
        default:
            env.fail("FOLLOWUP_SMTP_STARTTLS", "must be required, if-available or never")
            startTLS = .required
        }
        smtp = SMTP(url: smtpURL, user: user, password: password, startTLS: startTLS)

        if let secret = env.value("FOLLOWUP_KAKAO_SECRET_KEY") {
            kakao = Kakao(baseURL: env.httpURL("FOLLOWUP_KAKAO_BASE_URL", default: nil), secretKey: secret)
        }
        if let secret = env.value("FOLLOWUP_STRIPE_SECRET_KEY") {
            stripe = Stripe(baseURL: env.httpURL("FOLLOWUP_STRIPE_BASE_URL", default: "https://api.stripe.com"), secretKey: secret)
        }
        let fcmCredential = env.value("FOLLOWUP_FCM_SERVICE_ACCOUNT_FILE").map(FCM.Credential.serviceAccountFile)
            ?? env.value("FOLLOWUP_FCM_ACCESS_TOKEN").map(FCM.Credential.accessToken)
        if let fcmCredential {
            fcm = FCM(
                baseURL: env.httpURL("FOLLOWUP_FCM_BASE_URL", default: "https://fcm.googleapis.com"),
                projectID: env.required("FOLLOWUP_FCM_PROJECT_ID"), credential: fcmCredential)
        }
        if let topic = env.value("FOLLOWUP_APNS_TOPIC") {
            let baseURL = env.httpURL("FOLLOWUP_APNS_BASE_URL", default: "https://api.push.apple.com")
            let keyFile = env.value("FOLLOWUP_APNS_KEY_FILE")
            if keyFile == nil, !Reader.isLoopback(baseURL) {
                env.fail("FOLLOWUP_APNS_KEY_FILE", "is missing (the .p8 key signs APNs tokens)")
            }
            apns = APNs(baseURL: baseURL, topic: topic, keyID: env.required("FOLLOWUP_APNS_KEY_ID"),
                        teamID: env.required("FOLLOWUP_APNS_TEAM_ID"), keyFile: keyFile)
        }
    }

    /// Where Twilio sends status callbacks: the public URL of `followup serve` plus
    /// ``twilioStatusPath`` (the delivery key is appended as `?delivery=`).
    public static func statusCallbackURL(publicURL: String) -> String {
        publicURL.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + twilioStatusPath
    }

    /// The path of the Twilio status callback endpoint of `followup serve`.
    public static let twilioStatusPath = "/webhooks/twilio/status"

    /// Environment lookups that record problems naming the variable, never its value.
    private final class Reader {
        let environment: [String: String]
        private(set) var problems: [ProviderSettingsError] = []

        init(environment: [String: String]) { self.environment = environment }

        func fail(_ name: String, _ problem: String) {
            problems.append(ProviderSettingsError(variable: name, problem: problem))
        }

        func value(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
            return value
        }

        /// The value, or "" after recording that it is missing.
        func required(_ name: String) -> String {
            guard let value = value(name) else {
                fail(name, "is missing")
                return ""
            }
            return value
        }

        func httpURL(_ name: String, default fallback: String?) -> String {
            guard let url = value(name) ?? fallback else {
                fail(name, "is missing")
                return ""
            }
            check(url, name)
            return url
        }

        func optionalHTTPURL(_ name: String) -> String? {
            guard let url = value(name) else { return nil }
            check(url, name)
            return url
        }

        private func check(_ url: String, _ name: String) {
            guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
                  let host = components.host, !host.isEmpty else {
                return fail(name, "is not a URL")
            }
            guard components.user == nil, components.password == nil else {
                return fail(name, "must not contain credentials")
            }
            guard scheme == "https" || (scheme == "http" && Self.isLoopback(url)) else {
                return fail(name, "must be an https:// URL (http:// only for 127.0.0.1 or localhost)")
            }
        }

        static func isLoopback(_ url: String) -> Bool {
            let host = URLComponents(string: url)?.host?.lowercased() ?? ""
            return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]"
        }
    }
}

/// A provider setting is missing or malformed. Names the variable; never contains its value.
public struct ProviderSettingsError: Error, Sendable, CustomStringConvertible, Equatable {
    /// e.g. `FOLLOWUP_TWILIO_AUTH_TOKEN`.
    public var variable: String
    /// e.g. `is missing`.
    public var problem: String

    public init(variable: String, problem: String) {
        self.variable = variable
        self.problem = problem
    }

    public var description: String { "\(variable) \(problem)" }
}
