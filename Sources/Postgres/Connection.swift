import CLibPQ
import Foundation
import Logging

/// One libpq connection.
///
/// Nothing here blocks a thread: libpq is in nonblocking mode, statements are sent from the
/// calling task, and every wait for the server — connecting (`PQconnectPoll`), a query's answer,
/// a script's, ROLLBACK's — is a suspension that `PostgresIOLoop` ends when the socket is ready.
/// What the connection is doing lives in a `ConnectionStateMachine` behind `lock`; this class
/// carries out the actions it returns. Cancelling the calling task sends a cancel request to the
/// server (`PQcancel`), and the query throws `.cancelled`.
///
/// The rest of the class is split by concern: `Connection+Pipeline.swift` (sending statements and
/// reading their results), `Connection+Results.swift` (rows and errors), `PreparedStatementCache`,
/// `CStrings.swift`, and `Listener.swift` (notifications).
public final class Connection: Queryable, @unchecked Sendable {
    // @unchecked: `machine` and `cancelHandle` are guarded by `lock`. `conn` is set once and freed
    // once, when the machine says `.closeConnection` (never while a round trip runs). `prepared`
    // is touched only by the caller the machine let start a round trip (`.running`, one at a time).
    let conn: OpaquePointer
    var prepared: PreparedStatementCache
    let lock = NSLock()
    var machine = ConnectionStateMachine()
    private var cancelHandle: OpaquePointer?
    private var freed = false
    /// Pooler mode: the search path each transaction sets (see `Connection+Pipeline.swift`).
    let searchPathPerTransaction: String?
    public let logger: Logger

    private init(conn: OpaquePointer, logger: Logger, configuration: PostgresConfiguration) {
        self.conn = conn
        self.prepared = PreparedStatementCache(enabled: configuration.preparedStatements)
        self.searchPathPerTransaction = configuration.sendsSearchPathAtStartup ? nil : configuration.searchPath
        self.logger = logger
        // NOTICEs and WARNINGs go through the logger, not libpq's default (a line on stderr).
        // Unretained: libpq calls the receiver only inside calls on `conn`, which `self` owns.
        PQsetNoticeReceiver(conn, { context, result in
            guard let context, let result else { return }
            Unmanaged<Connection>.fromOpaque(context).takeUnretainedValue().logNotice(result)
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        if !freed { PQfinish(conn) }
    }

    // MARK: Connecting

    /// Opens a connection. Errors name the reason (refused, authentication, unknown database),
    /// never the password. Waits on the I/O loop (`PQconnectStart`/`PQconnectPoll`); only a host
    /// name's DNS lookup, inside libpq, may hold the calling thread.
    public static func connect(_ configuration: PostgresConfiguration, logger: Logger = Logger(label: "followup.postgres")) async throws -> Connection {
        let (keys, values) = connectParameters(configuration)
        let started = withCStringArray(keys) { keyPointers in
            withCStringArray(values) { valuePointers in PQconnectStartParams(keyPointers, valuePointers, 1) }
        }
        guard let started else {
            throw PostgresError(code: .connectionFailed, message: "out of memory creating a connection")
        }
        let connection = Connection(conn: started, logger: logger, configuration: configuration)
        do {
            try await connection.poll(until: .now + .seconds(connectTimeout(started, default: configuration.connectTimeout)))
        } catch {
            // Nobody else has the connection yet: free it here, whatever the machine's state.
            _ = connection.lock.withLock { connection.machine.close() }
            connection.free()
            throw error
        }
        return connection
    }

    /// libpq's connection keywords: keys before `dbname` are overridden by what the URL says;
    /// `fallback_application_name` applies only when the URL sets no application_name.
    static func connectParameters(_ configuration: PostgresConfiguration) -> (keys: [String], values: [String]) {
        var keys = ["connect_timeout", "dbname", "fallback_application_name", "client_encoding"]
        var values = [String(configuration.connectTimeout), configuration.connectionString, configuration.applicationName, "UTF8"]
        if let searchPath = configuration.searchPath, configuration.sendsSearchPathAtStartup {
            // Before dbname, so a URL's own `options` wins. Spaces are escaped as libpq's options require.
            keys.insert("options", at: 0)
            values.insert("-c search_path=" + searchPath.replacingOccurrences(of: " ", with: "\\ "), at: 0)
        }
        return (keys, values)
    }

    /// `PQconnectPoll` enforces no timeout (`PQconnectdb` does): the whole attempt gets
    /// `connect_timeout` (the URL's, else the configuration's) for each host it may try.
    private static func connectTimeout(_ conn: OpaquePointer, default fallback: Int) -> Int {
        var timeout = fallback
        var hosts = 1
        if let options = PQconninfo(conn) {
            defer { PQconninfoFree(options) }
            var option = options
            while let keyword = option.pointee.keyword {
                if let value = option.pointee.val.map({ String(cString: $0) }) {
                    switch String(cString: keyword) {
                    case "connect_timeout": timeout = Int(value).map { max($0, 2) } ?? timeout  // libpq's minimum is 2 s
                    case "host", "hostaddr": hosts = max(hosts, value.split(separator: ",").count)
                    default: break
                    }
                }
                option += 1
            }
        }
        return timeout > 0 ? timeout * hosts : 3600
    }

    /// Drives `PQconnectPoll` to the end, waiting for the socket on the I/O loop.
    private func poll(until deadline: ContinuousClock.Instant) async throws {
        var polling = PGRES_POLLING_WRITING  // as libpq's documentation says to start
        while true {
            guard PQstatus(conn) != CONNECTION_BAD else { throw connectFailure() }
            switch polling {
            case PGRES_POLLING_OK:
                // Queries wait on the I/O loop, so sending must never block the calling thread.
                guard PQsetnonblocking(conn, 1) == 0 else { throw connectFailure() }
                let action = lock.withLock {
                    cancelHandle = PQgetCancel(conn)
                    return machine.connected()
                }
                guard action == .ready else {
                    throw PostgresError(code: .connectionFailed, message: "connection closed while connecting")
                }
                return
            case PGRES_POLLING_FAILED:
                throw connectFailure()
            default:
                switch await PostgresIOLoop.shared.wait(for: PQsocket(conn), writable: polling == PGRES_POLLING_WRITING, until: deadline) {
                case .ready: break
                case .timedOut: throw PostgresError(code: .connectionFailed, message: "timeout expired")
                case .interrupted: throw PostgresError(code: .cancelled, message: "connecting was cancelled")
                }
            }
            polling = PQconnectPoll(conn)
        }
    }

    private func connectFailure() -> PostgresError {
        let message = String(cString: PQerrorMessage(conn)).trimmingTrailingNewlines
        if message.contains("unsupported startup parameter") {
            // PgBouncer refuses the startup packet's `options` (the pinned search path).
            return PostgresError(code: .sessionPooler, message: message + ": " + PostgresError.sessionPoolerAdvice)
        }
        // libpq messages name the user and database, never the password.
        return PostgresError(code: .connectionFailed, message: message.isEmpty ? "could not connect" : message,
                             sqlState: PostgresError.configurationState(forConnectMessage: message))
    }

    // MARK: State

    /// False once the connection broke or was closed; the pool then drops it.
    public var isUsable: Bool { lock.withLock { machine.isUsable } }

    /// Usable and not left inside a transaction: safe to hand to the next borrower.
    public var isReusable: Bool { lock.withLock { machine.isReusable } }

    /// The server's process id for this session (what `pg_terminate_backend` takes), as the
    /// server announced it at startup; 0 once closed. (Behind PgBouncer this is PgBouncer's
    /// number, not a server process's.)
    public var backendPID: Int32 {
        lock.withLock { machine.state == .closed ? 0 : PQbackendPID(conn) }
    }

    /// Closes the connection. Safe to call twice. A round trip in flight is cancelled on the
    /// server, and the connection closes when it ends.
    public func close() {
        switch lock.withLock({ machine.close() }) {
        case .none: break
        case .closeConnection: free()
        case .cancelRunning: sendCancel()
        }
    }

    /// Sends the server a cancel request for whatever runs on this session.
    func sendCancel() {
        lock.withLock {
            guard let cancelHandle else { return }
            var buffer = [CChar](repeating: 0, count: 256)
            _ = PQcancel(cancelHandle, &buffer, Int32(buffer.count))
        }
    }

    func requestCancel() {
        if lock.withLock({ machine.cancel() }) == .sendCancel { sendCancel() }
    }

    // MARK: Queries

    /// Runs one statement with its bound parameters (extended protocol, text format).
    public func query(_ query: Query) async throws -> Rows {
        try await runWithPending([query])[0]
    }

    /// Runs `queries` in order in one round trip (libpq pipeline mode) and returns their results
    /// in the same order. Each statement still sees what the ones before it did (and, under READ
    /// COMMITTED, takes its snapshot when it starts, after any lock they waited for). The first
    /// error is thrown and the statements after it are skipped. Outside a transaction they run
    /// as one (Postgres' implicit transaction, up to the pipeline's sync).
    public func pipeline(_ queries: [Query]) async throws -> [Rows] {
        try await runWithPending(queries)
    }

    /// Runs a script of several statements with no parameters (simple protocol), e.g. a migration.
    public func executeScript(_ sql: String) async throws {
        try Task.checkCancellation()
        try await withTaskCancellationHandler {
            try await roundTrip([]) { steps, _ in
                if !steps.isEmpty { _ = try await self.pipelineAsync(steps) }
                try await self.scriptAsync(sql)
            }
        } onCancel: {
            self.requestCancel()
        }
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws.
    ///
    /// BEGIN travels with the body's first statement, and the statements the body queued last
    /// (`Transaction.queue`) travel with COMMIT, in one libpq pipeline each. A queued statement
    /// that must stop the commit has to raise an error (one that merely affects no rows commits).
    @discardableResult
    public func withTransaction<T>(
        isolation: IsolationLevel = .readCommitted,
        _ body: (Transaction) async throws -> T
    ) async throws -> T {
        lock.withLock { machine.begin("BEGIN ISOLATION LEVEL \(isolation.rawValue)") }
        let result: T
        do {
            result = try await body(Transaction(connection: self))
            if case .send(let commit) = lock.withLock({ machine.commit() }) {
                _ = try await runWithPending([commit])
            }
        } catch {
            await rollback()
            throw error
        }
        return result
    }

    /// Queues a statement of the current transaction (see `Transaction.queue`).
    func enqueueInTransaction(_ query: Query) {
        lock.withLock { machine.enqueue(query) }
    }

    /// ROLLBACK, through the same pipeline path as every statement; run even when the calling
    /// task was cancelled (in a task of its own), so the connection goes back clean.
    private func rollback() async {
        guard case .send(let rollback) = lock.withLock({ machine.rollback() }) else { return }
        _ = try? await Task.detached { [self] in try await self.runWithPending([rollback]) }.value
    }

    /// Runs what is pending (BEGIN, queued statements) and then `queries`, in one pipeline,
    /// cancelling on the server if the calling task is cancelled; returns the results of `queries`.
    private func runWithPending(_ queries: [Query]) async throws -> [Rows] {
        try Task.checkCancellation()
        return try await withTaskCancellationHandler {
            var sentPending = false
            do {
                return try await roundTrip(queries) { steps, resultsFrom in
                    sentPending = resultsFrom > 0
                    return Array(try await self.pipelineAsync(steps).dropFirst(resultsFrom))
                }
            } catch let error as PostgresError
                where lock.withLock({ machine.mayRunAgainAfterPlanChange(sqlState: error.sqlState, sentPending: sentPending) }) {
                // The schema changed under a prepared statement, outside a transaction: it was
                // forgotten, so running it again prepares it anew.
                return try await roundTrip(queries) { steps, _ in try await self.pipelineAsync(steps) }
            }
        } onCancel: {
            self.requestCancel()
        }
    }

    /// Holds the connection for one round trip: asks the state machine to start (it adds what is
    /// pending), runs `body` with the statements to send, and tells the machine how it ended.
    func roundTrip<T>(_ queries: [Query], _ body: ([Query], Int) async throws -> T) async throws -> T {
        let steps: [Query], resultsFrom: Int
        switch lock.withLock({ machine.start(queries, cancelled: Task.isCancelled) }) {
        case .send(let all, let from): (steps, resultsFrom) = (all, from)
        case .refuse(.closed): throw PostgresError(code: .connectionLost, message: "connection is closed")
        case .refuse(.busy): throw PostgresError(code: .protocolViolation, message: "connection is in use by another caller (a connection has one borrower at a time)")
        case .refuse(.cancelled): throw PostgresError(code: .cancelled, message: "cancelled before it was sent")
        }
        defer {
            let inTransaction = PQtransactionStatus(conn) != PQTRANS_IDLE
            let broken = PQstatus(conn) != CONNECTION_OK
            if lock.withLock({ machine.finished(inTransaction: inTransaction, broken: broken) }) == .closeConnection {
                free()
            }
        }
        return try await body(steps, resultsFrom)
    }

    /// Frees libpq's connection, once.
    func free() {
        guard lock.withLock({ () -> Bool in
            defer { freed = true }
            return !freed
        }) else { return }
        PQfinish(conn)
    }
}
