/// The statements one session has prepared, by SQL text, and how each statement of a pipeline
/// is sent: under its prepared name, prepared first in the same pipeline, or unnamed.
///
/// Statements with parameters are the repeated ones (the queue's claim, the ledger's calls):
/// each is prepared once per session, in the pipeline that first runs it, so the server plans it
/// once rather than on every call. Off (`PostgresConfiguration.preparedStatements = false`, for
/// transaction-mode poolers) every statement goes unnamed. A value: unit-tested without a database.
struct PreparedStatementCache: Sendable {
    static let capacity = 256

    let enabled: Bool
    /// Statement names by SQL text, for the statements the server confirmed.
    private(set) var names: [String: String] = [:]
    private var serial = 0

    init(enabled: Bool) { self.enabled = enabled }

    /// One statement of a pipeline as it is sent.
    struct Step: Sendable {
        var query: Query
        /// Its prepared name; nil: sent unnamed.
        var name: String?
        /// Prepared in this pipeline, just before it runs.
        var prepare: Bool
        /// Sent by the client for itself (the pooler mode's search path): its result is not returned.
        var hidden = false
    }

    /// How to send `queries`. `sessionFailed`: the server's transaction is aborted (nothing can be
    /// prepared until it ends).
    mutating func plan(_ queries: [Query], sessionFailed: Bool) -> [Step] {
        var preparing: [String: String] = [:]
        return queries.map { query in
            guard enabled, !query.binds.isEmpty else { return Step(query: query, name: nil, prepare: false) }
            if let name = names[query.sql] ?? preparing[query.sql] {
                return Step(query: query, name: name, prepare: false)
            }
            guard names.count + preparing.count < Self.capacity, !sessionFailed else {
                return Step(query: query, name: nil, prepare: false)
            }
            serial += 1
            let name = Self.statementName(query.sql, serial: serial)
            preparing[query.sql] = name
            return Step(query: query, name: name, prepare: true)
        }
    }

    /// The server prepared `name`.
    mutating func prepared(_ sql: String, as name: String) { names[sql] = name }

    /// The server no longer has a plan for `sql` it can use: prepare it again, under a new name.
    mutating func forget(_ sql: String) { names.removeValue(forKey: sql) }

    /// A prepared statement's name carries a hash of its SQL, so one name never means two
    /// statements: behind a transaction-mode pooler that hands this session another client's
    /// server connection, a name prepared there by someone else is the same SQL or fails
    /// ("already exists" / "does not exist"), and such failures are reported as a pooler in front
    /// (`PostgresError.sessionPoolerState`). The serial keeps re-preparations distinct.
    static func statementName(_ sql: String, serial: Int) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a, 64-bit
        for byte in sql.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return "followup_\(String(hash, radix: 16))_\(serial)"
    }
}
