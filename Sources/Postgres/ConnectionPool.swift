import Logging

/// A bounded pool of connections.
///
/// At most `maxConnections` are open; callers beyond that wait in line. A connection that broke
/// (server restart, failover) is dropped on return, and with it every idle connection, which
/// broke the same way; the next caller opens a fresh one. Nothing session-scoped is kept across
/// borrowings, so the pool works behind a transaction-mode PgBouncer.
public actor ConnectionPool: Queryable {
    public nonisolated let configuration: PostgresConfiguration
    public nonisolated let maxConnections: Int
    private let logger: Logger
    private var idle: [Connection] = []
    private var open = 0
    private var waiters: [(id: Int, continuation: CheckedContinuation<Connection?, Error>)] = []
    private var nextWaiterID = 0
    private var closed = false
    /// The first connection's look for a transaction-mode pooler (prepared statements on only):
    /// every borrower waits for it, and once it failed every borrowing fails the same way.
    private var poolerCheck: Task<Void, Error>?
    private var poolerCheckPassed = false

    public init(_ configuration: PostgresConfiguration, maxConnections: Int = 10, logger: Logger = Logger(label: "followup.postgres")) {
        precondition(maxConnections > 0, "a pool needs at least one connection")
        self.configuration = configuration
        self.maxConnections = maxConnections
        self.logger = logger
    }

    /// Borrows a connection for the duration of `body`.
    public nonisolated func withConnection<T>(_ body: (Connection) async throws -> T) async throws -> T {
        let connection = try await acquire()
        do {
            let result = try await body(connection)
            await release(connection, error: nil)
            return result
        } catch {
            await release(connection, error: error)
            throw error
        }
    }

    /// Runs `body` in a transaction on a borrowed connection (see `Connection.withTransaction`).
    @discardableResult
    public nonisolated func withTransaction<T>(
        isolation: IsolationLevel = .readCommitted,
        _ body: (Transaction) async throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try await connection.withTransaction(isolation: isolation, body)
        }
    }

    public nonisolated func query(_ query: Query) async throws -> Rows {
        try await withConnection { try await $0.query(query) }
    }

    /// Closes idle connections and refuses new borrowings; borrowed ones close when returned.
    public func close() {
        closed = true
        for connection in idle { connection.close() }
        open -= idle.count
        idle.removeAll()
        for waiter in waiters {
            waiter.continuation.resume(throwing: PostgresError(code: .poolClosed, message: "the connection pool is closed"))
        }
        waiters.removeAll()
    }

    /// Open connections (borrowed and idle), for metrics and tests.
    public var openConnections: Int { open }

    private func acquire() async throws -> Connection {
        while true {
            if closed { throw PostgresError(code: .poolClosed, message: "the connection pool is closed") }
            if !poolerCheckPassed, let poolerCheck {
                try await poolerCheck.value
                poolerCheckPassed = true
            }
            if let connection = idle.popLast() {
                if connection.isUsable { return connection }
                open -= 1
                continue
            }
            if open < maxConnections {
                open += 1
                do {
                    let connection = try await Connection.connect(configuration, logger: logger)
                    do {
                        try await checkForPooler(connection)
                    } catch {
                        connection.close()
                        throw error
                    }
                    return connection
                } catch {
                    open -= 1
                    wakeOneWaiter(with: nil)
                    throw error
                }
            }
            if let connection = try await waitForConnection() { return connection }
            // nil: a slot was freed; loop and open one.
        }
    }

    private func checkForPooler(_ connection: Connection) async throws {
        if poolerCheck == nil, configuration.preparedStatements {
            let (configuration, logger) = (configuration, logger)
            let check = Task { try await Self.refuseTransactionPooler(connection, configuration: configuration, logger: logger) }
            poolerCheck = check
            do {
                try await check.value
            } catch let error as PostgresError where error.code != .sessionPooler {
                poolerCheck = nil  // could not tell (the server went away): the next connection looks again
                throw error
            }
        }
        try await poolerCheck?.value
    }

    /// Fails with `.sessionPooler` when server sessions are shared between client connections (a
    /// transaction-mode pooler), where prepared statements would land on other clients' sessions.
    ///
    /// Straight to Postgres, the process id the server announced at startup is the session's own
    /// (`pg_backend_pid()`): nothing more to check, one round trip. A pooler announces its own
    /// number; then a second client connection asks too, while the first is still open: a
    /// session-mode pooler gives it another server session, a transaction-mode one lends it the
    /// session the first just used (PgBouncer hands out the most recently used server first).
    /// A busy pooler may lend another one: then the statement names (`PreparedStatementCache`)
    /// still make any clash an error naming the setting, never another statement run.
    static func refuseTransactionPooler(_ first: Connection, configuration: PostgresConfiguration, logger: Logger) async throws {
        let pid = try await first.scalar("SELECT pg_catalog.pg_backend_pid()", as: Int.self)
        guard pid != Int(first.backendPID) else { return }
        let second = try await Connection.connect(configuration, logger: logger)
        defer { second.close() }
        let secondPID = try await second.scalar("SELECT pg_catalog.pg_backend_pid()", as: Int.self)
        guard secondPID != pid else {
            throw PostgresError(code: .sessionPooler, message: "two client connections share one server session: " + PostgresError.sessionPoolerAdvice)
        }
        logger.debug("a session-mode pooler is in front of Postgres")
    }

    private func waitForConnection() async throws -> Connection? {
        let id = nextWaiterID
        nextWaiterID += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiters.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    private func wakeOneWaiter(with connection: Connection?) {
        guard !waiters.isEmpty else {
            if let connection { idle.append(connection) }
            return
        }
        waiters.removeFirst().continuation.resume(returning: connection)
    }

    private func release(_ connection: Connection, error: Error?) {
        let lostServer = (error as? PostgresError)?.isConnectionError ?? false
        if closed || !connection.isReusable || lostServer {
            connection.close()
            open -= 1
            if lostServer || !connection.isUsable {
                // The server went away: the idle ones are as dead as this one.
                for stale in idle { stale.close() }
                open -= idle.count
                idle.removeAll()
            }
            if !closed { wakeOneWaiter(with: nil) }
            return
        }
        wakeOneWaiter(with: connection)
    }
}
