@testable import Postgres
import Testing

/// The connection's decisions, without a database (ConnectionStateMachine, PreparedStatementCache).
@Suite("Connection state machine")
struct ConnectionStateMachineTests {
    private func connected() -> ConnectionStateMachine {
        var machine = ConnectionStateMachine()
        #expect(machine.connected() == .ready)
        return machine
    }

    private func sent(_ action: ConnectionStateMachine.StartAction) -> (sql: [String], from: Int)? {
        guard case .send(let queries, let from) = action else { return nil }
        return (queries.map(\.sql), from)
    }

    @Test("nothing runs before the connection is up, and a close while connecting wins")
    func connecting() {
        var machine = ConnectionStateMachine()
        guard case .refuse(.closed) = machine.start(["SELECT 1"]) else { Issue.record("ran while connecting"); return }
        #expect(machine.close() == .none)  // the connecting task frees it
        #expect(machine.connected() == .closeConnection)
        #expect(!machine.isUsable)
    }

    @Test("BEGIN waits for the body's first statement, and queued statements go with the next one")
    func pendingBegin() {
        var machine = connected()
        machine.begin("BEGIN ISOLATION LEVEL READ COMMITTED")
        machine.enqueue("INSERT INTO t VALUES (1)")
        let first = sent(machine.start(["SELECT 1"]))
        #expect(first?.sql == ["BEGIN ISOLATION LEVEL READ COMMITTED", "INSERT INTO t VALUES (1)", "SELECT 1"])
        #expect(first?.from == 2)
        #expect(machine.finished(inTransaction: true, broken: false) == .none)
        machine.enqueue("UPDATE t SET a = 2")
        guard case .send(let commit) = machine.commit() else { Issue.record("no COMMIT"); return }
        let second = sent(machine.start([commit]))
        #expect(second?.sql == ["UPDATE t SET a = 2", "COMMIT"])
        #expect(second?.from == 1)
        _ = machine.finished(inTransaction: false, broken: false)
        #expect(machine.isReusable)
    }

    @Test("a transaction whose body ran nothing sends nothing, commit or rollback")
    func emptyTransaction() {
        var machine = connected()
        machine.begin("BEGIN ISOLATION LEVEL SERIALIZABLE")
        guard case .nothing = machine.commit() else { Issue.record("sent a COMMIT for nothing"); return }
        machine.begin("BEGIN ISOLATION LEVEL SERIALIZABLE")
        machine.enqueue("INSERT INTO t VALUES (1)")
        guard case .nothing = machine.rollback() else { Issue.record("sent a ROLLBACK for nothing"); return }
        #expect(sent(machine.start(["SELECT 1"]))?.sql == ["SELECT 1"], "the dropped BEGIN and INSERT stay dropped")
    }

    @Test("ROLLBACK goes only when the server is inside a transaction")
    func rollback() {
        var machine = connected()
        machine.begin("BEGIN ISOLATION LEVEL READ COMMITTED")
        _ = machine.start(["SELECT 1"])
        _ = machine.finished(inTransaction: true, broken: false)
        #expect(!machine.isReusable)
        guard case .send(let rollback) = machine.rollback() else { Issue.record("no ROLLBACK"); return }
        #expect(rollback.sql == "ROLLBACK")
    }

    @Test("one borrower at a time: a second round trip while one runs is refused")
    func busy() {
        var machine = connected()
        _ = machine.start(["SELECT 1"])
        guard case .refuse(.busy) = machine.start(["SELECT 2"]) else { Issue.record("two round trips at once"); return }
    }

    @Test("closing while a round trip runs cancels it and closes when it ends")
    func closeWhileRunning() {
        var machine = connected()
        _ = machine.start(["SELECT pg_sleep(10)"])
        #expect(machine.close() == .cancelRunning)
        #expect(machine.cancelRequested, "its 57014 is reported as cancelled")
        #expect(machine.finished(inTransaction: false, broken: false) == .closeConnection)
        #expect(!machine.isUsable)
        #expect(machine.close() == .none, "closing twice is harmless")
        guard case .refuse(.closed) = machine.start(["SELECT 1"]) else { Issue.record("ran after close"); return }
    }

    @Test("closing an idle connection frees it at once")
    func closeIdle() {
        var machine = connected()
        #expect(machine.close() == .closeConnection)
    }

    @Test("a cancelled task sends nothing; a cancel during a round trip asks the server, and is not remembered after")
    func cancel() {
        var machine = connected()
        #expect(machine.cancel() == .none, "nothing runs: nothing to cancel")
        #expect(!machine.cancelRequested, "the next borrower is not cancelled")
        guard case .refuse(.cancelled) = machine.start(["SELECT 1"], cancelled: true) else { Issue.record("sent after cancel"); return }
        _ = machine.start(["SELECT 1"])
        #expect(machine.cancel() == .sendCancel)
        #expect(machine.cancelRequested)
        _ = machine.finished(inTransaction: false, broken: false)
        #expect(!machine.cancelRequested)
    }

    @Test("a broken connection is not reused and refuses new work")
    func broken() {
        var machine = connected()
        _ = machine.start(["SELECT 1"])
        _ = machine.finished(inTransaction: false, broken: true)
        #expect(!machine.isUsable)
        guard case .refuse(.closed) = machine.start(["SELECT 1"]) else { Issue.record("used a broken connection"); return }
    }

    @Test("a changed plan is run again only outside a transaction and when nothing else went with it")
    func planChanged() {
        var machine = connected()
        #expect(machine.mayRunAgainAfterPlanChange(sqlState: "0A000", sentPending: false))
        #expect(!machine.mayRunAgainAfterPlanChange(sqlState: "0A000", sentPending: true))
        #expect(!machine.mayRunAgainAfterPlanChange(sqlState: "26000", sentPending: false), "a vanished statement means a pooler")
        _ = machine.start(["BEGIN"])
        _ = machine.finished(inTransaction: true, broken: false)
        #expect(!machine.mayRunAgainAfterPlanChange(sqlState: "0A000", sentPending: false))
    }
}

@Suite("Prepared-statement cache")
struct PreparedStatementCacheTests {
    @Test("statements with parameters are prepared once, in the pipeline that first runs them")
    func preparesOnce() {
        var cache = PreparedStatementCache(enabled: true)
        let claim = Query(sql: "SELECT $1::int", [1])
        let first = cache.plan([claim, claim, "SELECT 1"], sessionFailed: false)
        #expect(first.map(\.prepare) == [true, false, false])
        #expect(first[0].name == first[1].name && first[0].name != nil)
        #expect(first[2].name == nil, "no parameters: unnamed")
        cache.prepared(claim.sql, as: first[0].name!)
        let second = cache.plan([claim], sessionFailed: false)
        #expect(second[0].name == first[0].name && !second[0].prepare)
    }

    @Test("a forgotten statement is prepared again under a new name; none while the transaction failed")
    func forget() {
        var cache = PreparedStatementCache(enabled: true)
        let query = Query(sql: "SELECT $1::int", [1])
        let name = cache.plan([query], sessionFailed: false)[0].name!
        cache.prepared(query.sql, as: name)
        cache.forget(query.sql)
        #expect(cache.plan([query], sessionFailed: true)[0].name == nil)
        let again = cache.plan([query], sessionFailed: false)[0]
        #expect(again.prepare && again.name != name)
        #expect(again.name!.hasPrefix(name.split(separator: "_").dropLast().joined(separator: "_")), "same SQL, same hash")
    }

    @Test("off (the pooler mode), everything goes unnamed")
    func off() {
        var cache = PreparedStatementCache(enabled: false)
        #expect(cache.plan([Query(sql: "SELECT $1::int", [1])], sessionFailed: false).allSatisfy { $0.name == nil && !$0.prepare })
    }

    @Test("at most 256 statements per session")
    func capacity() {
        var cache = PreparedStatementCache(enabled: true)
        for i in 0..<PreparedStatementCache.capacity + 5 {
            let query = Query(sql: "SELECT $1::int + \(i)", [1])
            if let name = cache.plan([query], sessionFailed: false)[0].name { cache.prepared(query.sql, as: name) }
        }
        #expect(cache.names.count == PreparedStatementCache.capacity)
    }

    @Test("a name is followup_<FNV-1a 64 of the SQL>_<serial>")
    func names() {
        #expect(PreparedStatementCache.statementName("", serial: 1) == "followup_cbf29ce484222325_1")
        #expect(PreparedStatementCache.statementName("SELECT 1", serial: 2) != PreparedStatementCache.statementName("SELECT 2", serial: 2))
    }
}
