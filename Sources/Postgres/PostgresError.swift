/// An error from Postgres or from this client.
///
/// Carries the SQLSTATE and the server's primary message, never the values that were bound:
/// for data exceptions (SQLSTATE class 22), whose messages quote the offending input, the quoted
/// input is redacted. The server's DETAIL (which can quote whole rows) is kept apart, in `detail`,
/// and left out of `description`, so logging an error never leaks a phone number or a message body.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. A struct with static members, so new kinds can be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case connectionFailed, connectionLost, server, decoding, invalidConfiguration
            case poolClosed, cancelled, protocolViolation, sessionPooler
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// Could not connect (bad URL, refused, authentication failed).
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection broke while in use (server restart, network); safe to retry on a new one.
        public static let connectionLost = Code(.connectionLost)
        /// The server reported an error; see `sqlState`.
        public static let server = Code(.server)
        /// A value could not be decoded into the requested Swift type.
        public static let decoding = Code(.decoding)
        /// The connection string or an option is malformed.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The pool was shut down.
        public static let poolClosed = Code(.poolClosed)
        /// The calling task was cancelled and the query was cancelled on the server.
        public static let cancelled = Code(.cancelled)
        /// libpq returned something this client did not expect.
        public static let protocolViolation = Code(.protocolViolation)
        /// Server sessions are shared between clients (a transaction-mode pooler such as
        /// PgBouncer) while this client relies on session state (prepared statements, LISTEN).
        /// Not transient: the message names the setting to change.
        public static let sessionPooler = Code(.sessionPooler)
        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The five-character SQLSTATE for server errors (e.g. "23505"), else nil.
    public var sqlState: String?
    /// The message: the server's primary message (redacted for class 22) or the client's own.
    public var message: String
    /// The server's DETAIL line. May quote row values: never log it at `info`.
    public var detail: String?
    public var hint: String?
    public var constraint: String?
    public var table: String?
    public var column: String?
    /// The SQL text (never the bound values), for debugging.
    public var query: String?

    public init(code: Code, message: String, sqlState: String? = nil, query: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.query = query
    }

    public var description: String {
        var text = "Postgres \(code)"
        if let sqlState { text += " \(sqlState)" }
        text += ": \(message)"
        if let constraint { text += " (constraint \(constraint))" }
        if let hint { text += " — \(hint)" }
        return text
    }

    /// True when the statement never took effect because the connection broke or could not be made,
    /// so a retry on a fresh connection is the right move. False for configuration and
    /// authentication failures (`isConfigurationError`): retrying those cannot help.
    public var isConnectionError: Bool {
        guard !isConfigurationError else { return false }
        return code == .connectionLost || code == .connectionFailed
            || (sqlState.map { $0.hasPrefix("08") || $0 == "57P01" || $0 == "57P02" || $0 == "57P03" } ?? false)
    }

    /// True when connecting failed for a reason only the operator can fix: a malformed URL or
    /// option (an invalid `sslmode`, …), authentication (SQLSTATE 28P01 bad password, 28000 no
    /// `pg_hba.conf` entry or unknown role), a database that does not exist (3D000), or a server
    /// that refuses the TLS the URL demands. A process should stop with one clear line, not retry.
    public var isConfigurationError: Bool {
        if code == .invalidConfiguration || code == .sessionPooler { return true }
        if let sqlState, ["28P01", "28000", "3D000", "42501"].contains(sqlState) { return true }
        return code == .connectionFailed && Self.configurationState(forConnectMessage: message) != nil
    }

    /// The SQLSTATE a failed connection's message means, for the failures that are configuration
    /// (libpq does not expose the SQLSTATE of a failed connection; its messages are stable).
    static func configurationState(forConnectMessage message: String) -> String? {
        let patterns: [(String, String)] = [
            ("password authentication failed", "28P01"),
            ("no password supplied", "28P01"),
            ("authentication failed", "28000"),
            ("no pg_hba.conf entry", "28000"),
            ("role \"", "28000"),  // role "x" does not exist
            ("database \"", "3D000"),  // database "x" does not exist
            ("permission denied for database", "42501"),
            ("invalid sslmode value", "22023"),
            ("invalid gssencmode value", "22023"),
            ("invalid channel_binding value", "22023"),
            ("invalid target_session_attrs value", "22023"),
            ("invalid integer value", "22023"),
            ("invalid port number", "22023"),
            ("invalid connection option", "22023"),
            ("sslmode value", "22023"),
            ("server does not support SSL, but SSL was required", "08P01"),
        ]
        return patterns.first { message.contains($0.0) && (!$0.0.hasSuffix("\"") || message.contains("does not exist")) }?.1
    }

    /// SQLSTATE 23505: a unique constraint rejected the row.
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// SQLSTATE 40001 / 40P01: retry the whole transaction.
    public var isSerializationFailure: Bool { sqlState == "40001" || sqlState == "40P01" }

    /// Removes the quoted input that data-exception messages carry (`invalid input syntax for type uuid: "…"`).
    static func redact(_ message: String, sqlState: String?) -> String {
        guard let sqlState, sqlState.hasPrefix("22"), let range = message.range(of: ": \"") else { return message }
        return String(message[..<range.lowerBound]) + ": \"…\""
    }
}
