/// What one connection is doing, and what it must do next: the decisions, without the I/O.
///
/// `Connection` holds one of these behind its lock, tells it what happened (a caller wants to run
/// statements, a round trip ended, someone closed the connection) and carries out the action it
/// returns. Being a value with no libpq in it, it is unit-tested without a database
/// (Tests/PostgresTests/StateMachineTests.swift), the way postgres-nio tests its
/// `ConnectionStateMachine`.
///
///     connecting ──connected──▶ idle ◀──finished── running
///         │                      │  ──start────────▶  │
///         └──────── close ───────┴──▶ closed ◀── close (cancels; closes when finished)
///
/// A transaction adds no state of its own on the client: its BEGIN waits (`pendingBegin`) until
/// the body's first statement, and the statements it queues without waiting (`queued`) go with
/// the next statement that needs an answer, or with COMMIT — one round trip each.
struct ConnectionStateMachine: Sendable {
    enum State: Equatable, Sendable {
        /// `PQconnectPoll` is in progress.
        case connecting
        /// Connected, nothing in flight.
        case idle
        /// A round trip is in flight (a pipeline or a script); `closeRequested`: close when it ends.
        case running(closeRequested: Bool)
        /// Closed (or never connected); libpq's connection is freed.
        case closed
    }

    private(set) var state: State = .connecting
    /// The connection broke (libpq says it is no longer `CONNECTION_OK`).
    private(set) var broken = false
    /// The server's session was left inside a transaction by the last round trip.
    private(set) var inTransaction = false
    /// The running round trip's task was cancelled; a statement failing with 57014 then throws `.cancelled`.
    private(set) var cancelRequested = false
    /// The BEGIN of a transaction whose body has not run a statement yet: it goes with the first one.
    private(set) var pendingBegin: String?
    /// Statements of the transaction whose results nobody waits for (`Transaction.queue`).
    private(set) var queued: [Query] = []

    init() {}

    /// Not broken and not closed: the pool may keep it.
    var isUsable: Bool { !broken && state != .closed }
    /// Usable and not left inside a transaction: safe to hand to the next borrower.
    var isReusable: Bool { isUsable && !inTransaction }
    var isRunning: Bool { if case .running = state { true } else { false } }

    // MARK: Connecting

    enum ConnectedAction: Equatable { case ready, closeConnection }

    /// `PQconnectPoll` said OK. If `close()` came meanwhile, the caller frees the connection.
    mutating func connected() -> ConnectedAction {
        guard state == .connecting else { return .closeConnection }
        state = .idle
        return .ready
    }

    // MARK: Round trips

    enum Refusal: Equatable, Sendable { case closed, busy, cancelled }
    enum StartAction {
        /// Send these statements; the caller's results start at `resultsFrom` (the ones before
        /// are the pending BEGIN and queued statements).
        case send([Query], resultsFrom: Int)
        case refuse(Refusal)
    }

    /// A caller wants to run `queries` (empty: a script follows what is pending).
    /// `cancelled`: the caller's task is already cancelled (read under the same lock as `cancel()`,
    /// so a cancellation either stops the round trip here or finds it running).
    mutating func start(_ queries: [Query], cancelled: Bool = false) -> StartAction {
        switch state {
        case .closed, .connecting: return .refuse(.closed)
        case .running: return .refuse(.busy)  // a connection has one borrower at a time
        case .idle: break
        }
        guard !broken else { return .refuse(.closed) }
        // Cancelled before anything was sent: nothing to cancel on the server.
        if cancelled { return .refuse(.cancelled) }
        let pending = takePending()
        state = .running(closeRequested: false)
        return .send(pending + queries, resultsFrom: pending.count)
    }

    enum FinishedAction: Equatable { case none, closeConnection }

    /// The round trip ended; `inTransaction` and `broken` are what libpq says now.
    mutating func finished(inTransaction: Bool, broken: Bool) -> FinishedAction {
        self.inTransaction = inTransaction
        self.broken = self.broken || broken
        cancelRequested = false
        guard case .running(let closeRequested) = state else { return .none }
        if closeRequested {
            state = .closed
            return .closeConnection
        }
        state = .idle
        return .none
    }

    /// libpq reported the connection broken in the middle of a round trip.
    mutating func markBroken() { broken = true }

    // MARK: Transactions

    mutating func begin(_ statement: String) {
        pendingBegin = statement
        queued = []
    }

    mutating func enqueue(_ query: Query) { queued.append(query) }

    enum EndAction {
        /// Nothing was sent since BEGIN: nothing to end on the server.
        case nothing
        /// Send this statement (through `start`, with whatever is pending).
        case send(Query)
    }

    /// The body returned: COMMIT, unless the transaction never reached the server.
    mutating func commit() -> EndAction {
        if pendingBegin != nil, queued.isEmpty {
            pendingBegin = nil
            return .nothing
        }
        return .send("COMMIT")
    }

    /// The body (or COMMIT) threw: what was never sent is dropped with the transaction, and
    /// ROLLBACK goes only when the server is inside one (a failed COMMIT already ended it).
    mutating func rollback() -> EndAction {
        _ = takePending()
        return inTransaction && isUsable ? .send("ROLLBACK") : .nothing
    }

    /// Whether a statement that failed because the schema changed under its prepared plan
    /// (0A000 "cached plan must not change result type") may simply run again: only outside a
    /// transaction (inside one, the transaction is aborted) and when nothing else went with it.
    func mayRunAgainAfterPlanChange(sqlState: String?, sentPending: Bool) -> Bool {
        sqlState == "0A000" && !sentPending && isUsable && !inTransaction
    }

    // MARK: Closing and cancelling

    enum CloseAction: Equatable {
        case none
        /// Free libpq's connection now.
        case closeConnection
        /// A round trip is in flight: cancel it on the server; `finished` closes the connection.
        case cancelRunning
    }

    mutating func close() -> CloseAction {
        switch state {
        case .closed: return .none
        case .connecting:
            state = .closed  // the connecting task finds out at `connected()` and frees it
            return .none
        case .idle:
            state = .closed
            return .closeConnection
        case .running:
            state = .running(closeRequested: true)
            cancelRequested = true  // the query fails with 57014, which then throws `.cancelled`
            return .cancelRunning
        }
    }

    enum CancelAction: Equatable { case none, sendCancel }

    /// The task running a round trip was cancelled: ask the server to cancel it. Outside a round
    /// trip there is nothing to cancel (and nothing is remembered for the next borrower).
    mutating func cancel() -> CancelAction {
        guard isRunning else { return .none }
        cancelRequested = true
        return .sendCancel
    }

    private mutating func takePending() -> [Query] {
        defer {
            pendingBegin = nil
            queued = []
        }
        return (pendingBegin.map { [Query(sql: $0)] } ?? []) + queued
    }
}
