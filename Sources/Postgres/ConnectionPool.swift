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
            if let connection = idle.popLast() {
                if connection.isUsable { return connection }
                open -= 1
                continue
            }
            if open < maxConnections {
                open += 1
                do {
                    return try await Connection.connect(configuration, logger: logger)
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
