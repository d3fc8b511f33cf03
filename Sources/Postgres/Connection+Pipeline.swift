import CLibPQ

/// Sending statements and reading their results: libpq's pipeline mode for statements with
/// parameters, its simple protocol for scripts. Every wait is on `PostgresIOLoop`; libpq is in
/// nonblocking mode, so each call here returns at once. Called only inside `roundTrip`, while
/// the state machine says this caller holds the connection.
extension Connection {
    /// A pooler-mode pipeline's first statement (see `PostgresConfiguration.preparedStatements`):
    /// the search path, set on whichever server session the pooler lent this transaction.
    static let setSearchPath = "SELECT pg_catalog.set_config('search_path', $1, false)"

    /// Sends `queries` at once (libpq pipeline mode) and a sync, then reads their results in
    /// order. The first error is thrown; the server skips every statement after it (so a COMMIT
    /// after a failed statement never runs, and the transaction is left aborted for the caller to
    /// roll back).
    func pipelineAsync(_ queries: [Query]) async throws -> [Rows] {
        let socket = PQsocket(conn)
        let steps = try sendPipeline(queries)
        defer { leavePipeline() }
        try await flush(socket)
        var results = PipelineResults()
        for step in steps {
            if step.prepare {
                collect(await nextResult(socket), step, preparing: true, into: &results)
                while let extra = await nextResult(socket) { PQclear(extra) }  // each step's results end with a NULL
            }
            collect(await nextResult(socket), step, preparing: false, into: &results)
            while let extra = await nextResult(socket) { PQclear(extra) }
        }
        if let sync = await nextResult(socket) { PQclear(sync) }
        return try results.finish()
    }

    /// Runs a script (simple protocol: several statements, no parameters). The first error is
    /// thrown; the server runs nothing after it.
    func scriptAsync(_ sql: String) async throws {
        let socket = PQsocket(conn)
        guard PQsendQuery(conn, sql) == 1 else { throw connectionLost() }
        try await flush(socket)
        var firstError: Error?
        while let result = await nextResult(socket) {
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY: break
            default: if firstError == nil { firstError = serverError(result, query: nil) }
            }
        }
        if PQstatus(conn) != CONNECTION_OK, firstError == nil { firstError = connectionLost() }
        if let firstError { throw firstError }
    }

    /// Waits until libpq has written everything it buffered.
    private func flush(_ socket: Int32) async throws {
        while true {
            let flushed = PQflush(conn)
            if flushed == 0 { return }
            guard flushed > 0 else { throw connectionLost() }
            await PostgresIOLoop.shared.wait(for: socket, writable: true)
        }
    }

    /// The next result, once libpq has it whole (nil: this step's results are over, or the connection broke).
    private func nextResult(_ socket: Int32) async -> OpaquePointer? {
        while PQisBusy(conn) == 1 {
            await PostgresIOLoop.shared.wait(for: socket)
            if PQconsumeInput(conn) == 0 { break }
        }
        return PQgetResult(conn)
    }

    /// Enters pipeline mode and sends `queries` (each under its prepared name, prepared first in
    /// this pipeline, or unnamed: `PreparedStatementCache`) and a sync.
    private func sendPipeline(_ queries: [Query]) throws -> [PreparedStatementCache.Step] {
        let idle = PQtransactionStatus(conn) == PQTRANS_IDLE
        var steps = prepared.plan(queries, sessionFailed: PQtransactionStatus(conn) == PQTRANS_INERROR)
        if let searchPath = searchPathPerTransaction, idle, !steps.isEmpty {
            // After a leading BEGIN, so its isolation level still comes before any query.
            let at = steps[0].query.sql.hasPrefix("BEGIN") ? 1 : 0
            steps.insert(.init(query: Query(sql: Self.setSearchPath, [searchPath]), name: nil, prepare: false, hidden: true), at: at)
        }
        guard PQenterPipelineMode(conn) == 1 else { throw connectionLost() }
        for step in steps {
            let binds = step.query.binds
            let ok = withOptionalCStringArray(binds) { values in
                switch step.name {
                case let name?:
                    if step.prepare, PQsendPrepare(conn, name, step.query.sql, Int32(binds.count), nil) != 1 { return Int32(0) }
                    return PQsendQueryPrepared(conn, name, Int32(binds.count), values, nil, nil, 0)
                case nil:
                    return PQsendQueryParams(conn, step.query.sql, Int32(binds.count), nil, values, nil, nil, 0)
                }
            }
            guard ok == 1 else {
                leavePipeline()
                throw connectionLost(query: step.query.sql)
            }
        }
        guard PQpipelineSync(conn) == 1 else {
            leavePipeline()
            throw connectionLost()
        }
        return steps
    }

    /// Leaves pipeline mode with nothing pending, whatever happened.
    private func leavePipeline() {
        if PQexitPipelineMode(conn) != 1 {
            while PQpipelineStatus(conn) != PQ_PIPELINE_OFF, PQstatus(conn) == CONNECTION_OK {
                if let result = PQgetResult(conn) { PQclear(result) } else if PQexitPipelineMode(conn) == 1 { break }
            }
        }
    }

    /// The results of a pipeline's statements, in order; the first error is kept to be thrown.
    struct PipelineResults {
        var rows: [Rows] = []
        var firstError: Error?

        mutating func fail(_ error: Error) { if firstError == nil { firstError = error } }

        func finish() throws -> [Rows] {
            if let firstError { throw firstError }
            return rows
        }
    }

    private func collect(_ result: OpaquePointer?, _ step: PreparedStatementCache.Step, preparing: Bool, into results: inout PipelineResults) {
        let empty = Rows(columns: [], values: [], affected: 0)
        let keeps = !preparing && !step.hidden  // one entry per caller's statement
        guard let result else {
            results.fail(connectionLost(query: step.query.sql))
            if keeps { results.rows.append(empty) }
            return
        }
        defer { PQclear(result) }
        switch (PQresultStatus(result), preparing) {
        case (PGRES_COMMAND_OK, true):
            if let name = step.name { prepared.prepared(step.query.sql, as: name) }
        case (PGRES_TUPLES_OK, false), (PGRES_COMMAND_OK, false), (PGRES_EMPTY_QUERY, false):
            if keeps { results.rows.append(Self.rows(of: result)) }
        case (PGRES_PIPELINE_ABORTED, _):
            if keeps { results.rows.append(empty) }
        default:
            var error = serverError(result, query: step.query.sql)
            if step.name != nil, let state = error.sqlState {
                if !preparing, state == "0A000" {
                    prepared.forget(step.query.sql)  // prepared again next time, under a new name
                } else if (!preparing && state == "26000") || (preparing && state == "42P05") {
                    // Our statement vanished from the session, or the session already had it:
                    // this is not the session we prepared it on. Never retried.
                    error = PostgresError.sessionPooler(sqlState: state, query: step.query.sql)
                }
            }
            results.fail(error)
            if keeps { results.rows.append(empty) }
        }
    }
}
