import Foundation
import Jobs

/// How follow-ups behave, beyond what each channel sets in its own row. Every wait is here or in
/// the channel row, so the demo and tests run the same code in seconds.
public struct FollowUpSettings: Sendable {
    /// The job queue follow-up jobs go to. The SQL triggers enqueue offline checks to 'default'.
    public var queue: String = "default"
    /// Overrides every channel's `offline_timeout` (nil: the channel's own, default 270 s).
    public var offlineTimeout: Duration?
    /// Overrides every channel's `push_ack_timeout` (nil: the channel's own, default 30 s).
    public var pushAckTimeout: Duration?
    /// After the customer is found offline, wait this long before planning the notification, so
    /// answers typed in a row go out as one.
    public var gatherDelay: Duration = .seconds(5)
    /// Extra time added when an online customer's next offline check is scheduled, so it runs just after the timeout passed.
    public var snoozeSlack: Duration = .milliseconds(20)
    /// Push goes to at most this many of a customer's devices (newest first).
    public var maxPushDevices = 5
    /// Retryable provider failures (5xx, 429, unreachable) are retried until this long after the
    /// delivery's first attempt; then it is recorded as failed (a messenger text then goes by
    /// SMS/LMS instead). Default 30 minutes: an outage shorter than that loses nothing.
    public var retryWindow: Duration = .seconds(30 * 60)
    /// The wait between attempts, exponential with jitter: 5 s, 10 s, 20 s, … up to 5 minutes.
    public var retryBackoff = Backoff(base: .seconds(5), maximum: .seconds(5 * 60))
    /// A provider's `Retry-After` is honoured up to this long (default 10 minutes); a longer ask
    /// is cut to it, so a bogus header cannot park a delivery, and its held money, for days.
    public var retryAfterCap: Duration = .seconds(10 * 60)
    /// A text whose answer was never heard (timeout, crash, unreadable 2xx) is looked up at the
    /// provider; "not found" counts as "never received" only once this long has passed since that
    /// attempt, because a provider's listing may lag behind its accepting a message.
    public var lookupGrace: Duration = .seconds(60)
    /// How long after the interrupted attempt lookups keep being retried (with `retryBackoff`)
    /// while the provider cannot be asked; after that the delivery is recorded `unknown`.
    public var lookupWindow: Duration = .seconds(30 * 60)
    /// A hard cap on send attempts per delivery, whatever the window (rate-limited answers do not count).
    public var deliveryAttempts = 30
    /// Messenger attempts before a retryable messenger failure falls back to SMS/LMS
    /// (rate-limited answers do not count: they are waited out within `retryWindow`).
    public var messengerAttempts = 2
    /// A messenger text the gateway accepted is asked for its result (`followup.messenger_result`)
    /// this long after it was sent, then every `messengerResultInterval`, until the result is
    /// final or `messengerResultTimeout` passed since it was sent (then it stays `sent`).
    public var messengerResultDelay: Duration = .seconds(3)
    public var messengerResultInterval: Duration = .seconds(15)
    public var messengerResultTimeout: Duration = .seconds(600)
    // The product-wide senders and links below are required settings of `followup run`
    // (docs/configuration.md); these defaults are example values for the demo and the tests.

    /// The product's sender address for channels without a verified domain (`FOLLOWUP_EMAIL_FROM`).
    public var defaultEmailFrom = "notifications@followup.example"
    /// The From name for channels without an `email_from_name` of their own; nil: the channel's name.
    public var defaultEmailFromName: String?
    /// Replies to follow-up emails go to `r-<chat id>-<mac>@<replyDomain>` (`ReplyTokens`), which
    /// routes them back into the chat; the domain's mail goes to `followup mail-in` or to
    /// `POST /webhooks/email/inbound` (docs/webhooks.md). `FOLLOWUP_REPLY_DOMAIN`.
    public var replyDomain = "reply.followup.example"
    /// Signs reply addresses and unsubscribe links (`FOLLOWUP_REPLY_SECRET`). Nil: follow-up
    /// emails carry no Reply-To (replies cannot come back) and only a mailto-less unsubscribe.
    public var replySecret: String?
    /// Where `followup serve` is reached from the internet (`FOLLOWUP_PUBLIC_URL`), for the
    /// one-click unsubscribe link. Nil: List-Unsubscribe carries the mailto: only.
    public var publicURL: String?
    /// The SMS sender for channels that did not set `sms_from` (`FOLLOWUP_SMS_FROM`): a number,
    /// an alphanumeric sender id, or a Twilio Messaging Service SID (`MG…`).
    public var defaultSMSFrom = "+15005550006"
    /// Custom sender domains: the secrets key, DNS, SPF (docs/email-domains.md).
    public var emailDomains = EmailDomainSettings()
    /// "Back to the chat" links are <base>/chats/<chat id> for channels without their own
    /// `link_base_url` (`FOLLOWUP_CHAT_URL_BASE`).
    public var chatURLBase = "https://chat.example.com"
    /// How long what only grows is kept; `activity` partitions (docs/scale.md).
    public var retention = RetentionSettings()

    public init() {}

    /// The signer of reply addresses and unsubscribe tokens, when a secret is set.
    public var replyTokens: ReplyTokens? {
        replySecret.map { ReplyTokens(secret: $0, domain: replyDomain) }
    }

    /// Reads `FOLLOWUP_REPLY_SECRET`, `FOLLOWUP_REPLY_DOMAIN` and `FOLLOWUP_PUBLIC_URL`.
    /// - Throws: ``FollowUpSettingsError`` naming the variable (never its value).
    public mutating func readTwoWay(from environment: [String: String]) throws {
        func value(_ name: String) -> String? {
            guard let raw = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else { return nil }
            return raw
        }
        if let secret = value("FOLLOWUP_REPLY_SECRET") {
            guard secret.utf8.count >= 16 else {
                throw FollowUpSettingsError(variable: "FOLLOWUP_REPLY_SECRET", problem: "must be at least 16 characters")
            }
            replySecret = secret
        }
        if let domain = value("FOLLOWUP_REPLY_DOMAIN") {
            guard domain.range(of: #"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"#, options: [.regularExpression, .caseInsensitive]) != nil else {
                throw FollowUpSettingsError(variable: "FOLLOWUP_REPLY_DOMAIN", problem: "must be a domain name")
            }
            replyDomain = domain.lowercased()
        }
        if let url = value("FOLLOWUP_PUBLIC_URL") {
            guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
                  scheme == "https" || scheme == "http", components.host?.isEmpty == false else {
                throw FollowUpSettingsError(variable: "FOLLOWUP_PUBLIC_URL", problem: "must be an https:// URL")
            }
            publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        }
    }

    /// Settings for the demo and tests: no gathering, short waits.
    public static func fast() -> FollowUpSettings {
        var settings = FollowUpSettings()
        settings.gatherDelay = .zero
        settings.snoozeSlack = .milliseconds(5)
        settings.retryWindow = .seconds(20)
        settings.retryBackoff = Backoff(base: .milliseconds(50), maximum: .milliseconds(300))
        settings.retryAfterCap = .seconds(2)
        settings.lookupGrace = .milliseconds(300)
        settings.lookupWindow = .seconds(20)
        settings.messengerResultDelay = .milliseconds(200)
        settings.messengerResultInterval = .milliseconds(200)
        settings.messengerResultTimeout = .seconds(30)
        return settings
    }
}

/// A follow-up setting from the environment is missing or malformed. Names the variable only.
public struct FollowUpSettingsError: Error, Sendable, CustomStringConvertible, Equatable {
    public var variable: String
    public var problem: String
    public init(variable: String, problem: String) {
        self.variable = variable
        self.problem = problem
    }
    public var description: String { "\(variable) \(problem)" }
}
