/// Where and how to submit mail.
public struct SMTPServer: Sendable {
    /// Whether to upgrade a plain `smtp://` connection with STARTTLS.
    public enum StartTLS: Sendable, Hashable {
        /// Never upgrade (use `smtps://` for implicit TLS instead).
        case never
        /// Upgrade or fail (`CURLUSESSL_ALL`).
        case required
        /// Upgrade when the server offers it, else continue in clear (`CURLUSESSL_TRY`).
        case ifAvailable
    }

    /// `smtp://host:port` or `smtps://host:port` (implicit TLS). An optional path is the EHLO name.
    public var url: String
    /// The AUTH user name; AUTH is attempted only when both user name and password are set.
    public var username: String?
    /// The AUTH password. Never appears in errors.
    public var password: String?
    /// STARTTLS policy for `smtp://` URLs.
    public var startTLS: StartTLS
    /// The limit for the whole submission; also the limit for connecting.
    public var timeout: Duration
    /// Verify the server's TLS certificate and host name. On by default.
    public var verifyTLS: Bool = true

    public init(
        url: String,
        username: String? = nil,
        password: String? = nil,
        startTLS: StartTLS = .ifAvailable,
        timeout: Duration = .seconds(30),
        verifyTLS: Bool = true
    ) {
        self.url = url
        self.username = username
        self.password = password
        self.startTLS = startTLS
        self.timeout = timeout
        self.verifyTLS = verifyTLS
    }
}

/// One message to submit: the SMTP envelope plus the full message bytes.
public struct MailSubmission: Sendable {
    /// The envelope sender (`MAIL FROM`), a bare address such as `noreply@example.com`.
    public var envelopeFrom: String
    /// The envelope recipients (`RCPT TO`), bare addresses. Any rejection fails the submission.
    public var recipients: [String]
    /// The complete RFC 5322 message (headers and body) with CRLF line endings, e.g.
    /// ``MIMEMessage/render()``. Not dot-stuffed: libcurl does that.
    public var message: [UInt8]

    public init(envelopeFrom: String, recipients: [String], message: [UInt8]) {
        self.envelopeFrom = envelopeFrom
        self.recipients = recipients
        self.message = message
    }
}
