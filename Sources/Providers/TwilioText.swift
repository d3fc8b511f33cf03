import Foundation
import Outbound

/// SMS and LMS through Twilio's Messages API:
/// `POST {baseURL}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form `To`, `From`, `Body`,
/// HTTP basic auth `AccountSid:AuthToken`.
///
/// LMS (a Korean long message, up to 2,000 bytes) goes through the same call: Twilio splits a
/// long body into segments and the handset reassembles them (carriers in Korea deliver it as
/// one LMS/MMS). Twilio has no subject field, so an LMS `subject` is put in front of the body
/// as a first line `[subject]`.
///
/// **Idempotency strategy.** Twilio's create call takes no idempotency key. So:
/// 1. every create carries `StatusCallback={statusCallbackBase}?delivery=KEY`: the key travels
///    with the message and comes back on every status callback, tying Twilio's `SM…` sid to our
///    delivery even if our process died before recording the answer;
/// 2. `lookup` lists `GET …/Messages.json?To=…&From=…&DateSent>=…` (the look-back window, a
///    setting) and takes the newest message whose body equals the body we would send. (A message
///    still `queued` at Twilio has no `date_sent` yet and may not be listed: a nil answer right after
///    the attempt is therefore "not seen yet", and callers should wait out the queueing time.) The
///    composed body of a follow-up is unique enough in practice (it names the company and the
///    unseen messages); a false match can only make us *not* resend, never send twice.
///
/// Error mapping (Twilio's `code` first, then the HTTP status):
/// - 21211 (invalid `To`), 21614 (not a mobile number), 21612/21408 (unreachable / region not
///   enabled for this number) → final `.invalidRecipient`
/// - 21610 (recipient replied STOP: unsubscribed/blocked) → final `.blocked`
/// - 20003 / 401 (authentication) → final `.misconfigured`
/// - 429 (20429, too many requests) → retryable `.rateLimited` with `Retry-After`
/// - 5xx, timeouts, connection failures → retryable
public struct TwilioText: TextProvider {
    public var endpoint: ProviderEndpoint
    private let accountSID: String
    private let authToken: String
    /// Our delivery-status webhook, e.g. `https://hooks.example.com/twilio/status`; nil to not
    /// send one (then lookup relies on the body match alone).
    public var statusCallbackBase: String?
    /// How far back `lookup` searches (by `DateSent`, whole UTC days as Twilio filters).
    public var lookupWindow: Duration

    public init(endpoint: ProviderEndpoint, accountSID: String, authToken: String,
                statusCallbackBase: String? = nil, lookupWindow: Duration = .seconds(2 * 86_400)) {
        self.endpoint = endpoint
        self.accountSID = accountSID
        self.authToken = authToken
        self.statusCallbackBase = statusCallbackBase
        self.lookupWindow = lookupWindow
    }

    /// The body Twilio receives: the LMS subject (if any, and unless the text already starts with it)
    /// as a first line, then the text.
    public static func composedBody(_ message: TextMessage) -> String {
        guard message.route == .lms, let subject = message.subject?.trimmingCharacters(in: .whitespacesAndNewlines),
              !subject.isEmpty, !message.body.hasPrefix(subject) else { return message.body }
        return "\(subject)\n\(message.body)"
    }

    /// A Twilio Messaging Service SID (`MG` + 32 hex digits) rather than a number or sender id.
    public static func isMessagingService(_ from: String) -> Bool {
        from.count == 34 && from.hasPrefix("MG") && from.dropFirst(2).allSatisfy(\.isHexDigit)
    }

    /// `From=<number or sender id>`, or `MessagingServiceSid=MG…` (Twilio then chooses the number).
    static func sender(_ from: String) -> (String, String) {
        isMessagingService(from) ? ("MessagingServiceSid", from) : ("From", from)
    }

    public func send(_ message: TextMessage) async throws -> String {
        var fields: [(String, String)] = [("To", message.to), Self.sender(message.from), ("Body", Self.composedBody(message))]
        if let callback = statusCallback(for: message.idempotencyKey) { fields.append(("StatusCallback", callback)) }
        let response = try await endpoint.send(
            "POST", messagesPath,
            headers: headers + [HTTPHeader("Content-Type", "application/x-www-form-urlencoded")],
            body: FormEncoding.body(fields))
        guard (200...299).contains(response.status) else { throw Self.error(for: response) }
        guard let created = JSONBody.decode(TwilioMessage.self, from: response), !created.sid.isEmpty else {
            throw ProviderError.unreadable(response)
        }
        if let status = created.status, ["failed", "undelivered"].contains(status) {
            throw ProviderError(.final, .rejected, providerCode: created.error_code.map(String.init), status: response.status)
        }
        return created.sid
    }

    public func lookup(_ message: TextMessage) async throws -> ProviderLookup? {
        let since = Date(timeIntervalSinceNow: -Double(lookupWindow.components.seconds))
        let day = Self.dayFormatter.string(from: since)
        // Twilio spells the filter `DateSent>=DAY`: the name is `DateSent>`.
        // A Messaging Service picks the number itself: then the listing is not filtered by `From`.
        var path: String? = messagesPath + "?" + FormEncoding.encode(
            [("To", message.to)] + (Self.isMessagingService(message.from) ? [] : [("From", message.from)])
                + [("DateSent>", day), ("PageSize", "100")])
        let body = Self.composedBody(message)
        var pages = 0
        while let next = path, pages < 5 {
            pages += 1
            let response = try await endpoint.send("GET", next, headers: headers)
            guard (200...299).contains(response.status) else { throw Self.error(for: response) }
            guard let page = JSONBody.decode(TwilioMessagePage.self, from: response) else {
                throw ProviderError.unreadable(response)
            }
            // Newest first, as Twilio lists them.
            if let match = page.messages.first(where: { $0.body == body }) {
                return ProviderLookup(providerMessageID: match.sid, status: Self.lookupStatus(match.status))
            }
            path = page.next_page_uri
        }
        return nil
    }

    // MARK: Details

    private var messagesPath: String { "/2010-04-01/Accounts/\(FormEncoding.escape(accountSID))/Messages.json" }

    private var headers: [HTTPHeader] {
        let credentials = Data("\(accountSID):\(authToken)".utf8).base64EncodedString()
        return [HTTPHeader("Authorization", "Basic \(credentials)"), HTTPHeader("Accept", "application/json")]
    }

    private func statusCallback(for key: String) -> String? {
        guard let base = statusCallbackBase else { return nil }
        return base + (base.contains("?") ? "&" : "?") + "delivery=" + FormEncoding.escape(key)
    }

    private static let dayFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter
    }()

    static func lookupStatus(_ status: String?) -> ProviderLookup.Status {
        switch status {
        case "delivered", "read": .delivered
        case "failed", "undelivered", "canceled": .failed
        default: .accepted  // queued, accepted, scheduled, sending, sent
        }
    }

    static func error(for response: HTTPResponse) -> ProviderError {
        let body = JSONBody.decode(TwilioError.self, from: response)
        let code = body?.code.map(String.init)
        switch body?.code {
        case 21211, 21614, 21612, 21408:
            return ProviderError(.final, .invalidRecipient, providerCode: code, status: response.status)
        case 21610:
            return ProviderError(.final, .blocked, providerCode: code, status: response.status)
        case 20003:
            return ProviderError(.final, .misconfigured, providerCode: code, status: response.status)
        default:
            return ProviderError.http(response, providerCode: code)
                ?? ProviderError(.final, .badResponse, providerCode: code, status: response.status)
        }
    }
}

// MARK: Twilio's JSON

struct TwilioMessage: Decodable {
    var sid: String
    var status: String?
    var body: String?
    var error_code: Int?
}

struct TwilioMessagePage: Decodable {
    var messages: [TwilioMessage]
    var next_page_uri: String?
}

struct TwilioError: Decodable {
    var code: Int?
    var message: String?
    var status: Int?
}
