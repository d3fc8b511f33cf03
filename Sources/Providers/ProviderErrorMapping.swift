import Foundation
import Outbound

// The one place that turns transport failures and HTTP statuses into `ProviderError`s. Every
// adapter first recognises its provider's own error codes (Twilio 21211, Kakao 3018, ...), then
// falls back to these rules, so "5xx is retryable, 401 is misconfigured" is decided once.

extension ProviderError {
    /// A failure below HTTP: the provider was not reached or did not answer in time.
    ///
    /// - `.timeout` → retryable `.timeout`
    /// - could not connect, send/receive failures, TLS, anything else → retryable `.unavailable`
    /// - a malformed request (bad base URL) → final `.misconfigured`
    /// - SMTP rejections: 4xx → retryable; 530/534/535/538 (auth) → final `.misconfigured`;
    ///   550/551/553 (mailbox) → final `.invalidRecipient`; other 5xx → final `.rejected`
    ///
    /// Cancellation is not a provider failure: it is rethrown by ``ProviderHTTP`` as
    /// `CancellationError` before this is consulted.
    public static func transport(_ error: OutboundError) -> ProviderError {
        switch error.code {
        case .timeout:
            return ProviderError(.retryable(after: nil), .timeout)
        case .invalidRequest:
            return ProviderError(.final, .misconfigured)
        case .smtpRejected:
            return smtp(replyCode: error.responseCode)
        case .couldNotConnect, .tls:
            // Nothing was sent: the provider cannot have acted on it.
            return ProviderError(.retryable(after: nil), .unavailable, outcomeUnknown: false)
        default:
            return ProviderError(.retryable(after: nil), .unavailable)
        }
    }

    /// An SMTP reply code that refused the submission (nil: unknown, treated as transient).
    public static func smtp(replyCode: Int?) -> ProviderError {
        let code = replyCode.map(String.init)
        guard let replyCode, (500...599).contains(replyCode) else {
            // A reply refused it (4xx: try later); with no reply code, we cannot tell what happened.
            return ProviderError(.retryable(after: nil), .unavailable, providerCode: code, outcomeUnknown: replyCode == nil)
        }
        switch replyCode {
        case 530, 534, 535, 538:
            return ProviderError(.final, .misconfigured, providerCode: code)
        case 550, 551, 553:
            return ProviderError(.final, .invalidRecipient, providerCode: code)
        default:
            return ProviderError(.final, .rejected, providerCode: code)
        }
    }

    /// The generic meaning of an HTTP error status, for statuses the adapter did not recognise
    /// more precisely. `nil` for 1xx–3xx (not an error by itself).
    ///
    /// - 408 → retryable `.timeout`; 429 → retryable `.rateLimited` (with Retry-After)
    /// - 504 → retryable `.timeout`; other 5xx → retryable `.unavailable` (with Retry-After)
    /// - 401, 403 → final `.misconfigured`; other 4xx → final `.rejected`
    public static func http(status: Int, retryAfter: Duration? = nil, providerCode: String? = nil) -> ProviderError? {
        switch status {
        case 408:
            return ProviderError(.retryable(after: retryAfter), .timeout, providerCode: providerCode, status: status)
        case 429:
            return ProviderError(.retryable(after: retryAfter), .rateLimited, providerCode: providerCode, status: status)
        case 504:
            return ProviderError(.retryable(after: retryAfter), .timeout, providerCode: providerCode, status: status)
        case 500...599:
            return ProviderError(.retryable(after: retryAfter), .unavailable, providerCode: providerCode, status: status)
        case 401, 403:
            return ProviderError(.final, .misconfigured, providerCode: providerCode, status: status)
        case 400...499:
            return ProviderError(.final, .rejected, providerCode: providerCode, status: status)
        default:
            return nil
        }
    }

    /// `http(status:retryAfter:providerCode:)` for a response, reading its `Retry-After`.
    public static func http(_ response: HTTPResponse, providerCode: String? = nil) -> ProviderError? {
        http(status: response.status, retryAfter: RetryAfter.parse(response.header("Retry-After")), providerCode: providerCode)
    }

    /// A response whose body could not be understood. For a 2xx the provider most likely took the
    /// request, but we cannot tell: the outcome is unknown (retryable, reconciled like an
    /// interruption — looked up, or resent with the same Message-ID / collapse id), never a
    /// final failure that would release the money or fall back to another route. Any other
    /// status: final `.badResponse`.
    static func unreadable(_ response: HTTPResponse) -> ProviderError {
        if (200...299).contains(response.status) {
            return ProviderError(.retryable(after: nil), .unreadableSuccess, status: response.status, outcomeUnknown: true)
        }
        return ProviderError(.final, .badResponse, status: response.status)
    }

    /// Same error with a specific disposition, reason or code, keeping the status.
    func with(_ disposition: Disposition? = nil, _ reason: Reason? = nil, providerCode: String? = nil) -> ProviderError {
        var copy = self
        if let disposition { copy.disposition = disposition }
        if let reason { copy.reason = reason }
        if let providerCode { copy.providerCode = providerCode }
        return copy
    }
}

/// `Retry-After` values: delay-seconds or an HTTP-date (RFC 9110 §10.2.3) in any of its three
/// forms (IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must still accept).
/// The caller caps what it honours (`FollowUpSettings.retryAfterCap`, `WorkerConfiguration.retryAfterCap`).
public enum RetryAfter {
    private static let dateFormats = ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"]

    /// The delay the header asks for; nil when absent or unreadable. Dates in the past give zero.
    public static func parse(_ value: String?, now: Date = Date()) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int64(value) { return .seconds(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        let collapsed = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        for format in dateFormats {
            formatter.dateFormat = format
            if let date = formatter.date(from: collapsed) {
                return .milliseconds(max(0, Int64((date.timeIntervalSince(now) * 1000).rounded())))
            }
        }
        return nil
    }
}
