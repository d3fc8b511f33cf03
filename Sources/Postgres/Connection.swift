import CLibPQ
import Dispatch
import Foundation
import Logging

/// One libpq connection.
///
/// Queries (`query`, `pipeline`, a transaction's statements and COMMIT) never block a thread:
/// libpq is in nonblocking mode, the statements are sent from the calling task, and the wait
/// for the server's answer is a suspension that `PostgresIOLoop` ends when the socket is
/// readable. What is left blocking (connecting, scripts, ROLLBACK, `Listener`) runs on the
/// connection's own serial dispatch queue, never on Swift's cooperative thread pool. Cancelling
/// the calling task sends a cancel request to the server (`PQcancel`), and the query throws
/// `.cancelled`.
public final class Connection: Queryable, @unchecked Sendable {
    // @unchecked: `conn`, `prepared` and `preparedCount` are used by one operation at a time
    // (a connection has one borrower, who awaits each call; the blocking paths run on `queue`,
    // a serial queue, and are awaited too). `cancelHandle` and `state` are guarded by `lock`.
    // Nothing else is mutable.
    private let queue: DispatchQueue
    private var conn: OpaquePointer?
    /// Statements prepared on this session, by SQL text.
    private var prepared: [String: String] = [:]
    private var preparedCount = 0
    private let preparesStatements: Bool
    private static let maxPrepared = 256
    private let lock = NSLock()
    private var cancelHandle: OpaquePointer?
    private var state = State()
    public let logger: Logger

    private struct State {
        var usable = true
        var idleInTransaction = false
        var cancelRequested = false
        /// A query is using the connection outside `queue` (`pipelineAsync`).
        var running = false
        /// `close()` came while one was: the query that is running closes it when it ends.
        var closeWhenDone = false
        /// The BEGIN of a transaction whose body has not run a statement yet: it goes with the first one.
        var pendingBegin: String?
        /// Statements of the transaction whose results nobody waits for (`Transaction.queue`):
        /// they go with the next statement that needs its answer, or with COMMIT.
        var queued: [Query] = []
    }

    /// Takes what has to go before the next statement: a pending BEGIN, then the queued statements.
    private func takePending() -> [Query] {
        lock.withLock {
            defer {
                state.pendingBegin = nil
                state.queued = []
            }
            return (state.pendingBegin.map { [Query(sql: $0)] } ?? []) + state.queued
        }
    }

    /// Queues a statement of the current transaction (see `Transaction.queue`).
    func enqueueInTransaction(_ query: Query) {
        lock.withLock { state.queued.append(query) }
    }

    private init(conn: OpaquePointer, logger: Logger, preparesStatements: Bool) {
        self.conn = conn
        self.preparesStatements = preparesStatements
        self.logger = logger
        self.queue = DispatchQueue(label: "followup.postgres.connection")
        self.cancelHandle = PQgetCancel(conn)
        // NOTICEs and WARNINGs go through the logger, not libpq's default (a line on stderr).
        // Unretained: libpq calls the receiver only inside calls on `conn`, which `self` owns.
        PQsetNoticeReceiver(conn, { context, result in
            guard let context, let result else { return }
            Unmanaged<Connection>.fromOpaque(context).takeUnretainedValue().logNotice(result)
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// One server notice as one log record: its severity mapped to a level, its SQLSTATE, and the
    /// primary message on one line (details and hints, which may quote data, stay out).
    private func logNotice(_ result: OpaquePointer) {
        func field(_ code: UInt8) -> String? {
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
        }
        let severity = field(UInt8(ascii: "V")) ?? field(UInt8(ascii: "S")) ?? "NOTICE"
        let level: Logger.Level = switch severity {
        case "WARNING": .warning
        case "NOTICE", "INFO": .notice
        default: .debug  // DEBUG, LOG
        }
        let message = (field(UInt8(ascii: "M")) ?? "").split(whereSeparator: \.isNewline).joined(separator: " ")
        logger.log(level: level, "database notice", metadata: [
            "severity": "\(severity)", "sqlstate": "\(field(UInt8(ascii: "C")) ?? "")", "message": "\(message)",
        ])
    }

    deinit {
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        if let conn { PQfinish(conn) }
    }

    /// Opens a connection. Errors name the reason (refused, authentication, unknown database),
    /// never the password.
    public static func connect(_ configuration: PostgresConfiguration, logger: Logger = Logger(label: "followup.postgres")) async throws -> Connection {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Connection, Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try connectBlocking(configuration, logger: logger) })
            }
        }
    }

    static func connectBlocking(_ configuration: PostgresConfiguration, logger: Logger) throws -> Connection {
        // Keys before `dbname` are overridden by what the URL says; `fallback_application_name`
        // applies only when the URL sets no application_name.
        var keys = ["connect_timeout", "dbname", "fallback_application_name", "client_encoding"]
        var values = [String(configuration.connectTimeout), configuration.connectionString, configuration.applicationName, "UTF8"]
        if let searchPath = configuration.searchPath {
            // Before dbname, so a URL's own `options` wins. Spaces are escaped as libpq's options require.
            keys.insert("options", at: 0)
            values.insert("-c search_path=" + searchPath.replacingOccurrences(of: " ", with: "\\ "), at: 0)
        }
        let conn = withCStringArray(keys) { keyPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keyPointers, valuePointers, 1)
            }
        }
        guard let conn else {
            throw PostgresError(code: .connectionFailed, message: "out of memory creating a connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(conn)).trimmingTrailingNewlines
            PQfinish(conn)  // always, even after a failed connect
            // libpq messages name the user and database, never the password.
            throw PostgresError(code: .connectionFailed, message: message.isEmpty ? "could not connect" : message,
                                sqlState: PostgresError.configurationState(forConnectMessage: message))
        }
        // Queries wait on PostgresIOLoop, so sending must never block the calling thread. (PQexec,
        // used for scripts and by the blocking paths, behaves the same in either mode.)
        guard PQsetnonblocking(conn, 1) == 0 else {
            let message = String(cString: PQerrorMessage(conn)).trimmingTrailingNewlines
            PQfinish(conn)
            throw PostgresError(code: .connectionFailed, message: message)
        }
        return Connection(conn: conn, logger: logger, preparesStatements: configuration.preparedStatements)
    }

    /// False once the connection broke or was closed; the pool then drops it.
    public var isUsable: Bool { lock.withLock { state.usable } }

    /// Usable and not left inside a transaction: safe to hand to the next borrower.
    public var isReusable: Bool { lock.withLock { state.usable && !state.idleInTransaction } }

    /// The server's process id for this session (what `pg_terminate_backend` takes).
    public var backendPID: Int32 {
        queue.sync { conn.map { PQbackendPID($0) } ?? 0 }
    }

    /// Closes the connection. Safe to call twice.
    public func close() {
        let running = lock.withLock {
            state.usable = false
            state.closeWhenDone = state.running
            return state.running
        }
        if running {
            // A query is using the connection: cancel it; it closes the connection when it ends.
            requestCancel()
            return
        }
        closeOnQueue()
    }

    private func closeOnQueue() {
        queue.async { [self] in
            if let conn { PQfinish(conn) }
            conn = nil
        }
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
        try await onQueue { connection in try connection.scriptBlocking(sql) }
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
        let begin = "BEGIN ISOLATION LEVEL \(isolation.rawValue)"
        lock.withLock { state.pendingBegin = begin }
        let result: T
        do {
            result = try await body(Transaction(connection: self))
        } catch {
            if isUsable {
                // Roll back even when our task was cancelled: the connection must go back clean.
                _ = try? await Task.detached { [self] in try await self.onQueue { try $0.rollbackBlocking() } }.value
            }
            throw error
        }
        do {
            try await commit()
        } catch {
            if isUsable {
                _ = try? await Task.detached { [self] in try await self.onQueue { try $0.rollbackBlocking() } }.value
            }
            throw error
        }
        return result
    }

    /// Runs a blocking libpq operation on this connection's queue, cancelling it on the server
    /// if the calling task is cancelled.
    private func onQueue<T: Sendable>(_ operation: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try Task.checkCancellation()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                queue.async { [self] in
                    continuation.resume(with: Result { try operation(self) })
                }
            }
        } onCancel: {
            self.requestCancel()
        }
    }

    private func requestCancel() {
        lock.withLock {
            state.cancelRequested = true
            guard let cancelHandle else { return }
            var buffer = [CChar](repeating: 0, count: 256)
            _ = PQcancel(cancelHandle, &buffer, Int32(buffer.count))
        }
    }

    private func execBlocking(_ query: Query) throws -> Rows {
        let conn = try liveConnection()
        let pending = takePending()
        return try pipelineBlocking(pending + [query], conn: conn)[pending.count]
    }

    /// Runs what is pending (BEGIN, queued statements) and then `queries`, in one pipeline,
    /// cancelling on the server if the calling task is cancelled; returns the results of `queries`.
    private func runWithPending(_ queries: [Query]) async throws -> [Rows] {
        try Task.checkCancellation()
        return try await withTaskCancellationHandler {
            let pending = takePending()
            do {
                return Array(try await pipelineAsync(pending + queries).dropFirst(pending.count))
            } catch let error as PostgresError where pending.isEmpty && error.sqlState.map(Self.planChanged.contains) == true
                && isUsable && conn.map({ PQtransactionStatus($0) == PQTRANS_IDLE }) == true {
                // The schema changed under a prepared statement, outside a transaction: it was
                // forgotten, so running it again prepares it anew.
                return try await pipelineAsync(queries)
            }
        } onCancel: {
            self.requestCancel()
        }
    }

    /// "cached plan must not change result type", "prepared statement does not exist".
    private static let planChanged: Set<String> = ["0A000", "26000"]

    /// COMMIT, sent together with what is pending (BEGIN, queued statements) in one round trip.
    private func commit() async throws {
        if lock.withLock({ state.pendingBegin != nil && state.queued.isEmpty }) {  // nothing ran: nothing to commit
            _ = takePending()
            return
        }
        _ = try await runWithPending(["COMMIT"])
    }

    private func rollbackBlocking() throws {
        _ = takePending()  // a BEGIN never sent, and queued statements, are dropped with the transaction
        // Nothing to roll back when the server is not in a transaction (BEGIN never went out, or
        // a failed COMMIT already ended it).
        guard let conn, PQtransactionStatus(conn) != PQTRANS_IDLE else { return }
        _ = try execBlocking("ROLLBACK")
    }

    /// Sends `steps` at once (libpq pipeline mode) and reads their results in order, blocking
    /// this thread. The first error is thrown; the server skips every step after it (so a COMMIT
    /// after a failed step never runs, and the transaction is left aborted for the caller to roll
    /// back).
    private func pipelineBlocking(_ steps: [Query], conn: OpaquePointer) throws -> [Rows] {
        let sent = try sendPipeline(steps, conn: conn)
        defer { leavePipeline(conn) }
        var results = PipelineResults()
        for step in sent {
            for phase in step.phases {
                results.collect(PQgetResult(conn), step, phase, connection: self, conn: conn)
                while let extra = PQgetResult(conn) { PQclear(extra) }  // each step's results end with a NULL
            }
        }
        if let sync = PQgetResult(conn) { PQclear(sync) }
        return try results.finish()
    }

    /// The same as `pipelineBlocking`, but waiting for the server on `PostgresIOLoop` instead of
    /// blocking a thread: libpq is in nonblocking mode, and each call below returns at once.
    private func pipelineAsync(_ steps: [Query]) async throws -> [Rows] {
        try lock.withLock {
            guard state.usable else { throw PostgresError(code: .connectionLost, message: "connection is closed") }
            state.running = true
        }
        defer {
            let close = lock.withLock {
                state.running = false
                return state.closeWhenDone
            }
            if close { closeOnQueue() }
        }
        let conn = try liveConnection()
        let socket = PQsocket(conn)
        let sent = try sendPipeline(steps, conn: conn)
        defer { leavePipeline(conn) }
        while true {
            let flushed = PQflush(conn)
            if flushed == 0 { break }
            guard flushed > 0 else { throw connectionLost(conn) }
            await PostgresIOLoop.shared.wait(for: socket, writable: true)
        }
        /// The next result, once libpq has it whole (nil: this step's results are over, or the connection broke).
        func next() async -> OpaquePointer? {
            while PQisBusy(conn) == 1 {
                await PostgresIOLoop.shared.wait(for: socket)
                if PQconsumeInput(conn) == 0 { break }
            }
            return PQgetResult(conn)
        }
        var results = PipelineResults()
        for step in sent {
            for phase in step.phases {
                results.collect(await next(), step, phase, connection: self, conn: conn)
                while let extra = await next() { PQclear(extra) }  // each step's results end with a NULL
            }
        }
        if let sync = await next() { PQclear(sync) }
        return try results.finish()
    }

    /// A statement as sent in a pipeline: under its prepared name (nil: unnamed), prepared first
    /// in the same pipeline when this session had not prepared it yet.
    private struct SentStep {
        enum Phase { case prepare, execute }
        var query: Query
        var name: String?
        var phases: [Phase]
    }

    /// Enters pipeline mode and sends `steps` and a sync. Statements with parameters are the
    /// repeated ones (the queue's claim, the ledger's calls): each is prepared once per session,
    /// in the pipeline that first runs it, so the server plans it once rather than on every call.
    /// A prepared statement's name carries a hash of its SQL, so one name never means two
    /// statements: behind a transaction-mode pooler (PgBouncer before 1.21) that hands this
    /// session another client's server connection, a name prepared there by someone else fails
    /// ("already exists" / "does not exist") instead of running that someone's statement.
    /// The serial keeps re-preparations (after a cached plan was invalidated) distinct.
    static func statementName(_ sql: String, serial: Int) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a, 64-bit
        for byte in sql.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return "followup_\(String(hash, radix: 16))_\(serial)"
    }

    private func sendPipeline(_ steps: [Query], conn: OpaquePointer) throws -> [SentStep] {
        var sent: [SentStep] = []
        var preparing: [String: String] = [:]
        for query in steps {
            var step = SentStep(query: query, name: nil, phases: [.execute])
            if preparesStatements, !query.binds.isEmpty {
                if let name = prepared[query.sql] ?? preparing[query.sql] {
                    step.name = name
                } else if prepared.count + preparing.count < Self.maxPrepared, PQtransactionStatus(conn) != PQTRANS_INERROR {
                    preparedCount += 1
                    step.name = Self.statementName(query.sql, serial: preparedCount)
                    step.phases = [.prepare, .execute]
                    preparing[query.sql] = step.name
                }
            }
            sent.append(step)
        }
        guard PQenterPipelineMode(conn) == 1 else { throw connectionLost(conn) }
        for step in sent {
            for phase in step.phases {
                let ok = withOptionalCStringArray(step.query.binds) { values in
                    switch (phase, step.name) {
                    case (.prepare, let name?):
                        return PQsendPrepare(conn, name, step.query.sql, Int32(step.query.binds.count), nil)
                    case (_, let name?):
                        return PQsendQueryPrepared(conn, name, Int32(step.query.binds.count), values, nil, nil, 0)
                    case (_, nil):
                        return PQsendQueryParams(conn, step.query.sql, Int32(step.query.binds.count), nil, values, nil, nil, 0)
                    }
                }
                guard ok == 1 else {
                    leavePipeline(conn)
                    throw connectionLost(conn, query: step.query.sql)
                }
            }
        }
        guard PQpipelineSync(conn) == 1 else {
            leavePipeline(conn)
            throw connectionLost(conn)
        }
        return sent
    }

    /// Leaves pipeline mode with nothing pending, whatever happened, and notes whether the
    /// session is left inside a transaction.
    private func leavePipeline(_ conn: OpaquePointer) {
        if PQexitPipelineMode(conn) != 1 {
            while PQpipelineStatus(conn) != PQ_PIPELINE_OFF, PQstatus(conn) == CONNECTION_OK {
                if let result = PQgetResult(conn) { PQclear(result) } else if PQexitPipelineMode(conn) == 1 { break }
            }
        }
        let inTransaction = PQtransactionStatus(conn) != PQTRANS_IDLE
        lock.withLock { state.idleInTransaction = inTransaction }
    }

    /// The results of a pipeline's steps, in order; the first error is kept to be thrown.
    private struct PipelineResults {
        var rows: [Rows] = []
        var firstError: Error?

        mutating func collect(_ result: OpaquePointer?, _ step: SentStep, _ phase: SentStep.Phase,
                              connection: Connection, conn: OpaquePointer) {
            guard let result else {
                let lost = connection.connectionLost(conn, query: step.query.sql)
                if firstError == nil { firstError = lost }
                if phase == .execute { rows.append(Rows(columns: [], values: [], affected: 0)) }
                return
            }
            defer { PQclear(result) }
            switch (PQresultStatus(result), phase) {
            case (PGRES_COMMAND_OK, .prepare):
                if let name = step.name { connection.prepared[step.query.sql] = name }
            case (PGRES_TUPLES_OK, .execute), (PGRES_COMMAND_OK, .execute), (PGRES_EMPTY_QUERY, .execute):
                rows.append(Connection.rows(of: result))
            case (PGRES_PIPELINE_ABORTED, _):
                if phase == .execute { rows.append(Rows(columns: [], values: [], affected: 0)) }
            default:
                let error = connection.serverError(result, conn: conn, query: step.query.sql)
                if phase == .execute, step.name != nil, error.sqlState.map(Connection.planChanged.contains) == true {
                    connection.prepared.removeValue(forKey: step.query.sql)  // prepared again next time, under a new name
                }
                if firstError == nil { firstError = error }
                if phase == .execute { rows.append(Rows(columns: [], values: [], affected: 0)) }
            }
        }

        func finish() throws -> [Rows] {
            if let firstError { throw firstError }
            return rows
        }
    }

    private func scriptBlocking(_ sql: String) throws {
        let conn = try liveConnection()
        let pending = takePending()
        if !pending.isEmpty { _ = try pipelineBlocking(pending, conn: conn) }
        _ = try consume(PQexec(conn, sql), conn: conn, query: nil)
        // PQexec returns only the last result of a multi-statement string; an error stops it.
    }

    private func liveConnection() throws -> OpaquePointer {
        guard let conn else { throw PostgresError(code: .connectionLost, message: "connection is closed") }
        if PQstatus(conn) != CONNECTION_OK {
            lock.withLock { state.usable = false }
            throw PostgresError(code: .connectionLost, message: "connection is broken")
        }
        lock.withLock { state.cancelRequested = false }
        return conn
    }

    private func consume(_ result: OpaquePointer?, conn: OpaquePointer, query: String?) throws -> Rows {
        defer {
            if let result { PQclear(result) }
            let inTransaction = PQtransactionStatus(conn) != PQTRANS_IDLE
            lock.withLock { state.idleInTransaction = inTransaction }
        }
        guard let result else { throw connectionLost(conn, query: query) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return Self.rows(of: result)
        default:
            throw serverError(result, conn: conn, query: query)
        }
    }

    private func markBrokenIfBad(_ conn: OpaquePointer) {
        if PQstatus(conn) != CONNECTION_OK { lock.withLock { state.usable = false } }
    }

    /// libpq's last error on `conn`, as `.connectionLost` (the connection is marked unusable if
    /// it broke).
    private func connectionLost(_ conn: OpaquePointer, query: String? = nil) -> PostgresError {
        markBrokenIfBad(conn)
        return PostgresError(code: .connectionLost, message: String(cString: PQerrorMessage(conn)).trimmingTrailingNewlines, query: query)
    }

    private func serverError(_ result: OpaquePointer, conn: OpaquePointer, query: String?) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let value = PQresultErrorField(result, code) else { return nil }
            return String(cString: value)
        }
        let sqlState = field(followup_pg_diag_sqlstate())
        let primary = field(followup_pg_diag_message_primary())
            ?? String(cString: PQresultErrorMessage(result)).trimmingTrailingNewlines
        markBrokenIfBad(conn)
        let broken = PQstatus(conn) != CONNECTION_OK
        let cancelled = lock.withLock { state.cancelRequested } && sqlState == "57014"
        let code: PostgresError.Code = cancelled ? .cancelled : (broken ? .connectionLost : .server)
        var error = PostgresError(code: code, message: PostgresError.redact(primary, sqlState: sqlState), sqlState: sqlState, query: query)
        error.detail = field(followup_pg_diag_message_detail())
        error.hint = field(followup_pg_diag_message_hint())
        error.constraint = field(followup_pg_diag_constraint_name())
        error.table = field(followup_pg_diag_table_name())
        error.column = field(followup_pg_diag_column_name())
        return error
    }

    private static func rows(of result: OpaquePointer) -> Rows {
        let fieldCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns: [String] = []
        columns.reserveCapacity(fieldCount)
        for column in 0..<fieldCount {
            columns.append(String(cString: PQfname(result, Int32(column))))
        }
        var values: [[String?]] = []
        values.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var rowValues: [String?] = []
            rowValues.reserveCapacity(fieldCount)
            for column in 0..<fieldCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    rowValues.append(nil)
                } else {
                    rowValues.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            values.append(rowValues)
        }
        let tag = String(cString: PQcmdTuples(result))
        return Rows(columns: columns, values: values, affected: Int(tag) ?? rowCount)
    }

    // MARK: Blocking entry points for `Listener`, which owns its connection and its thread

    func queryBlocking(_ query: Query) throws -> Rows {
        try queue.sync { try execBlocking(query) }
    }

    /// Quotes an identifier (a channel name for LISTEN, which cannot be a bound parameter).
    func escapeIdentifierBlocking(_ identifier: String) throws -> String {
        try queue.sync {
            let conn = try liveConnection()
            guard let escaped = PQescapeIdentifier(conn, identifier, identifier.utf8.count) else {
                throw PostgresError(code: .invalidConfiguration, message: String(cString: PQerrorMessage(conn)).trimmingTrailingNewlines)
            }
            defer { PQfreemem(escaped) }
            return String(cString: escaped)
        }
    }

    /// Waits up to `timeoutMilliseconds` for notifications and returns those that arrived.
    /// Blocking: call only from a thread you own.
    func waitForNotificationsBlocking(timeoutMilliseconds: Int32) throws -> [PostgresNotification] {
        try queue.sync {
            let conn = try liveConnection()
            var received: [PostgresNotification] = []
            func drain() {
                while let notify = PQnotifies(conn) {
                    received.append(PostgresNotification(
                        channel: String(cString: notify.pointee.relname),
                        payload: String(cString: notify.pointee.extra)))
                    PQfreemem(notify)
                }
            }
            guard PQconsumeInput(conn) == 1 else { throw connectionLost(conn) }
            drain()
            if !received.isEmpty { return received }
            let ready = followup_pg_wait_readable(conn, timeoutMilliseconds)
            if ready > 0 {
                guard PQconsumeInput(conn) == 1 else { throw connectionLost(conn) }
                drain()
            }
            return received
        }
    }
}

/// A NOTIFY received on a LISTEN connection.
public struct PostgresNotification: Sendable, Equatable {
    public var channel: String
    public var payload: String
    public init(channel: String, payload: String) {
        self.channel = channel
        self.payload = payload
    }
}

// MARK: C string helpers

func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    withOptionalCStringArray(strings.map(Optional.some), body)
}

/// Null-terminated array of C strings (nil entries stay NULL: SQL NULL for parameters).
func withOptionalCStringArray<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return pointers.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress!) }
}
