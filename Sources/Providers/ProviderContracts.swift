import Foundation

// The contracts every provider adapter implements. The domain (FollowUp, Wallet) talks only to
// these protocols; the adapters (FCM, APNs, Kakao-style bizmessage, Twilio, SMTP, Stripe-style
// payments) implement them over `Outbound`, each with a configurable base URL so tests and the
// demo point them at loopback fakes.

/// A provider said no, or could not be reached. Messages never carry phone numbers, tokens,
/// message bodies or credentials.
public struct ProviderError: Error, Sendable, CustomStringConvertible {
    public enum Disposition: Sendable, Equatable {
        /// Try again later (timeouts, 5xx, 429). `after`: the provider's Retry-After, if any.
        case retryable(after: Duration?)
        /// Retrying cannot help (invalid number, blocked, rejected token, bad credentials).
        case final
    }

    /// Why, in words a support agent can act on; stable codes for the delivery log.
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        public static let timeout = Reason("provider timeout")
        public static let unavailable = Reason("provider unavailable")
        public static let rateLimited = Reason("rate limited")
        public static let invalidRecipient = Reason("invalid recipient")
        public static let blocked = Reason("blocked by recipient")
        public static let notAUser = Reason("recipient is not a messenger user")
        public static let unregisteredDevice = Reason("device token no longer valid")
        public static let rejected = Reason("rejected by provider")
        public static let declined = Reason("payment declined")
        public static let badResponse = Reason("unreadable provider response")
        /// A 2xx answer we could not read: the provider probably took it, but we cannot tell.
        public static let unreadableSuccess = Reason("provider accepted the request but its answer was unreadable")
        public static let misconfigured = Reason("provider credentials or settings rejected")
    }

    public var disposition: Disposition
    public var reason: Reason
    /// The provider's own error code, if it gave one (e.g. Twilio 21211, Kakao 3018).
    public var providerCode: String?
    /// HTTP status, when there was a response.
    public var status: Int?
    /// The provider may have acted on the request although we cannot tell: no answer was heard
    /// (a timeout, a connection lost after the request went out) or a 2xx answer was unreadable.
    /// Such an outcome is reconciled like a crash (looked up, or resent with the same
    /// Message-ID / collapse id), never recorded as a final failure.
    public var outcomeUnknown: Bool

    /// `outcomeUnknown` defaults to "retryable and no response heard".
    public init(_ disposition: Disposition, _ reason: Reason, providerCode: String? = nil, status: Int? = nil,
                outcomeUnknown: Bool? = nil) {
        self.disposition = disposition
        self.reason = reason
        self.providerCode = providerCode
        self.status = status
        if let outcomeUnknown {
            self.outcomeUnknown = outcomeUnknown
        } else if case .retryable = disposition {
            self.outcomeUnknown = status == nil
        } else {
            self.outcomeUnknown = false
        }
    }

    /// The provider's `Retry-After`, if it sent one.
    public var retryAfter: Duration? { if case .retryable(let after) = disposition { after } else { nil } }

    public var isRetryable: Bool { if case .retryable = disposition { true } else { false } }

    public var description: String {
        var text = reason.rawValue
        if let providerCode { text += " (code \(providerCode))" }
        if let status { text += " [HTTP \(status)]" }
        return text
    }
}

// MARK: Push (FCM HTTP v1, APNs)

public enum PushPlatform: String, Sendable, Codable { case android, ios }

public struct PushNotification: Sendable {
    public var platform: PushPlatform
    public var deviceToken: String
    public var title: String
    public var body: String
    /// Delivered to the app with the push; carries `follow_up_id` so the SDK can acknowledge it.
    public var data: [String: String]
    /// Stable per follow-up: a repeated send collapses on the device instead of showing twice.
    public var collapseKey: String
    public init(platform: PushPlatform, deviceToken: String, title: String, body: String, data: [String: String], collapseKey: String) {
        self.platform = platform
        self.deviceToken = deviceToken
        self.title = title
        self.body = body
        self.data = data
        self.collapseKey = collapseKey
    }
}

public protocol PushProvider: Sendable {
    /// Sends one push; returns the provider's message id. Throws `ProviderError`.
    func send(_ notification: PushNotification) async throws -> String
}

// MARK: Messenger (Kakao AlimTalk-style bizmessage)

public struct MessengerMessage: Sendable {
    /// E.164.
    public var phone: String
    public var senderKey: String
    public var templateCode: String
    public var text: String
    /// Our delivery id: the provider dedupes on it (its `client_msg_id`), and lookups use it.
    public var idempotencyKey: String
    public init(phone: String, senderKey: String, templateCode: String, text: String, idempotencyKey: String) {
        self.phone = phone
        self.senderKey = senderKey
        self.templateCode = templateCode
        self.text = text
        self.idempotencyKey = idempotencyKey
    }
}

public protocol MessengerProvider: Sendable {
    /// Sends one template message; returns the provider's message id. Blocked recipients and
    /// non-users throw a final `ProviderError` (reason `.blocked` / `.notAUser`).
    func send(_ message: MessengerMessage) async throws -> String
    /// After a crash between call and record: what became of the message with this key
    /// (nil: the provider never got it).
    func lookup(idempotencyKey: String) async throws -> ProviderLookup?
}

// MARK: SMS / LMS (Twilio Messages API)

public enum TextRoute: String, Sendable, Codable { case sms, lms }

public struct TextMessage: Sendable {
    public var to: String
    public var from: String
    public var body: String
    public var route: TextRoute
    /// LMS subject (Korea); nil for SMS.
    public var subject: String?
    public var idempotencyKey: String
    public init(to: String, from: String, body: String, route: TextRoute, subject: String?, idempotencyKey: String) {
        self.to = to
        self.from = from
        self.body = body
        self.route = route
        self.subject = subject
        self.idempotencyKey = idempotencyKey
    }
}

public protocol TextProvider: Sendable {
    /// Sends one SMS/LMS; returns the provider's message id.
    func send(_ message: TextMessage) async throws -> String
    /// After a crash between call and record: was a message with this key accepted?
    func lookup(_ message: TextMessage) async throws -> ProviderLookup?
}

/// What a provider knows of an earlier attempt.
public struct ProviderLookup: Sendable, Equatable {
    public enum Status: String, Sendable { case accepted, delivered, failed }
    public var providerMessageID: String
    public var status: Status
    public init(providerMessageID: String, status: Status) {
        self.providerMessageID = providerMessageID
        self.status = status
    }
}

// MARK: Email (SMTP)

public struct EmailMessage: Sendable {
    public var fromName: String?
    public var fromAddress: String
    public var to: String
    public var toName: String?
    public var replyTo: String?
    public var subject: String
    public var text: String
    public var html: String
    /// Becomes the Message-ID, so a resend after a crash is recognisably the same mail.
    public var messageID: String
    /// When set, the message is DKIM-signed with this key (its domain must be the From domain's).
    public var dkim: DKIMPrivateKey?
    public init(fromName: String?, fromAddress: String, to: String, toName: String?, replyTo: String?,
                subject: String, text: String, html: String, messageID: String, dkim: DKIMPrivateKey? = nil) {
        self.fromName = fromName
        self.fromAddress = fromAddress
        self.to = to
        self.toName = toName
        self.replyTo = replyTo
        self.subject = subject
        self.text = text
        self.html = html
        self.messageID = messageID
        self.dkim = dkim
    }
}

public protocol EmailProvider: Sendable {
    /// Submits one message; returns its Message-ID.
    func send(_ email: EmailMessage) async throws -> String
}

// MARK: Payments (Stripe-style PaymentIntents)

public struct PaymentRequest: Sendable {
    /// Minor units of `currency` (cents for USD).
    public var amountMinor: Int64
    public var currency: String
    /// The company's payment customer / method reference at the provider.
    public var customer: String
    /// One per top-up attempt: a retry of the same attempt never charges twice.
    public var idempotencyKey: String
    public var description: String
    public init(amountMinor: Int64, currency: String, customer: String, idempotencyKey: String, description: String) {
        self.amountMinor = amountMinor
        self.currency = currency
        self.customer = customer
        self.idempotencyKey = idempotencyKey
        self.description = description
    }
}

public enum PaymentOutcome: Sendable, Equatable {
    case succeeded(paymentID: String)
    case declined(paymentID: String?, reason: String)
}

public protocol PaymentProvider: Sendable {
    /// Charges once per idempotency key. Declines are an outcome, not an error; timeouts and 5xx
    /// throw a retryable `ProviderError`.
    func charge(_ request: PaymentRequest) async throws -> PaymentOutcome
    /// Reconciliation: the outcome of an attempt whose answer was never heard (nil: never created).
    func lookup(idempotencyKey: String) async throws -> PaymentOutcome?
}
