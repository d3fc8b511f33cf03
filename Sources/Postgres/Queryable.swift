/// Anything that runs a query: a connection, a transaction, or the pool (which borrows a connection).
public protocol Queryable: Sendable {
    func query(_ query: Query) async throws -> Rows
}

extension Queryable {
    /// Runs a statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ query: Query) async throws -> Int {
        try await self.query(query).affected
    }

    /// The first row, or nil when there is none.
    public func first(_ query: Query) async throws -> Row? {
        try await self.query(query).first
    }

    /// The first column of the first row, decoded; throws when there is no row.
    public func scalar<T: PostgresDecodable>(_ query: Query, as type: T.Type = T.self) async throws -> T {
        guard let row = try await self.query(query).first else {
            throw PostgresError(code: .decoding, message: "expected one row, got none", query: query.sql)
        }
        return try row.decode(T.self, at: 0)
    }
}

/// Isolation for `withTransaction`.
public enum IsolationLevel: String, Sendable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

/// A transaction in progress, handed to the body of `withTransaction`. It commits when the body
/// returns and rolls back when it throws; the body cannot commit or roll back by itself.
public struct Transaction: Queryable {
    public let connection: Connection
    public func query(_ query: Query) async throws -> Rows {
        try await connection.query(query)
    }

    /// Runs `queries` in order in one round trip and returns their results (see
    /// `Connection.pipeline`): for statements that do not need each other's answers.
    public func pipeline(_ queries: [Query]) async throws -> [Rows] {
        try await connection.pipeline(queries)
    }

    /// Runs `query` in this transaction without waiting for it: it is sent with the next
    /// statement that needs an answer, or with COMMIT, in one round trip. For writes whose only
    /// possible answer is "it failed": that error is thrown by that later statement (or by the
    /// commit), and the transaction rolls back as usual. Statements run in the order written.
    public func queue(_ query: Query) {
        connection.enqueueInTransaction(query)
    }
}
