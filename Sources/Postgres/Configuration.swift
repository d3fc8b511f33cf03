import Foundation
import CLibPQ

/// Where and how to connect: a libpq connection URL or `key=value` string.
///
/// Anything libpq accepts works: `postgresql://user:pw@host:5432/db?sslmode=require`,
/// a Unix socket via `?host=/path/to/dir`, several hosts with `target_session_attrs=read-write`
/// (so a failover to a promoted standby passes with a reconnect).
public struct PostgresConfiguration: Sendable {
    public var connectionString: String
    /// Shown in `pg_stat_activity` unless the URL sets `application_name`.
    public var applicationName: String
    /// Seconds to wait for a connection, unless the URL sets `connect_timeout`.
    public var connectTimeout: Int
    /// Prepare parameterized statements once per session (the server plans them once). Works
    /// directly, behind a session-mode pooler, and behind PgBouncer 1.21+ in transaction mode
    /// with `max_prepared_statements` set.
    ///
    /// Off is the mode for a transaction-mode pooler that lends each transaction whichever server
    /// session is free (PgBouncer before 1.21, or with `max_prepared_statements = 0`), where no
    /// session state survives a transaction: statements go unnamed; the search path is set by
    /// each transaction instead of the startup packet (which such a pooler rejects or drops);
    /// and `supportsListen` is false (a LISTEN would be lost with its transaction's session).
    /// On, a pool that finds such a pooler in front refuses to work (`.sessionPooler`, naming
    /// this setting) rather than run statements on another client's session. docs/postgres-client.md.
    public var preparedStatements = true

    /// Whether LISTEN can work: the session that ran it keeps receiving notifications. False in
    /// the pooler mode (`preparedStatements` off): consumers wake by polling instead.
    public var supportsListen: Bool { preparedStatements }

    /// The search path goes in the startup packet (libpq's `options`), unless in the pooler mode.
    var sendsSearchPathAtStartup: Bool { preparedStatements }
    /// The session's `search_path`, unless the URL sets `options`. The product's processes use
    /// `pg_catalog, pg_temp` and name their own objects with their schema, so no function or
    /// operator someone planted in `public` can ever resolve in their statements.
    public var searchPath: String?

    /// Validates the string with libpq's own parser; a malformed URL is an error here, not at first use.
    public init(_ connectionString: String, applicationName: String = "followup", connectTimeout: Int = 10) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &errorMessage) else {
            var reason = "not a valid connection URL or conninfo string"
            if let errorMessage {
                reason = Self.redactingQuotedInput(String(cString: errorMessage).trimmingTrailingNewlines)
                PQfreemem(errorMessage)
            }
            throw PostgresError(code: .invalidConfiguration, message: "bad database URL: \(reason)")
        }
        PQconninfoFree(options)
        self.connectionString = connectionString
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
    }

    /// The same server, another database (used to create and reach per-test databases).
    public func database(_ name: String) throws -> PostgresConfiguration {
        try replacing(["dbname": name])
    }

    /// The same server and database as another login (`user`, and `password` when given).
    public func login(_ user: String, password: String? = nil) throws -> PostgresConfiguration {
        var overrides = ["user": user]
        overrides["password"] = password
        return try replacing(overrides)
    }

    /// One connection keyword's value as the string says it (`host`, `port`, `user`, …), else nil.
    public func parameter(_ keyword: String) -> String? {
        guard let options = PQconninfoParse(connectionString, nil) else { return nil }
        defer { PQconninfoFree(options) }
        var option = options
        while let key = option.pointee.keyword {
            if String(cString: key) == keyword { return option.pointee.val.map { String(cString: $0) } }
            option += 1
        }
        return nil
    }

    /// libpq quotes the part of the string it could not parse (`invalid percent-encoded token:
    /// "Pa%ZZSECRET"`), which may be a password or the whole URL: keep its words, drop the quote.
    static func redactingQuotedInput(_ message: String) -> String {
        var result = ""
        var inQuote = false
        for character in message {
            if character == "\"" {
                if !inQuote { result += "\"…\"" }
                inQuote.toggle()
            } else if !inQuote {
                result.append(character)
            }
        }
        return result
    }

    private func replacing(_ overrides: [String: String]) throws -> PostgresConfiguration {
        var copy = self
        copy.connectionString = try Self.replacing(overrides, in: connectionString)
        return copy
    }

    static func replacing(_ overrides: [String: String], in connectionString: String) throws -> String {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &errorMessage) else {
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError(code: .invalidConfiguration, message: "bad database URL")
        }
        defer { PQconninfoFree(options) }
        var parts: [String] = []
        var option = options
        var pending = overrides
        while let keyword = option.pointee.keyword {
            let key = String(cString: keyword)
            if let value = pending.removeValue(forKey: key) {
                parts.append("\(key)=\(quote(value))")
            } else if let value = option.pointee.val {
                parts.append("\(key)=\(quote(String(cString: value)))")
            }
            option += 1
        }
        return parts.joined(separator: " ")
    }

    private static func quote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = self
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }
}
