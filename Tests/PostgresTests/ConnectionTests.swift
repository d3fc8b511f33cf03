import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Connections, transactions, pool")
struct ConnectionTests {
    @Test("withTransaction commits on return and rolls back on throw")
    func transactions() async throws {
        let db = try await TestDatabase.fresh()
        try await db.pool.execute("CREATE TABLE t (n int)")
        try await db.pool.withTransaction { tx in try await tx.execute("INSERT INTO t VALUES (1)") }
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await db.pool.withTransaction { tx in
                try await tx.execute("INSERT INTO t VALUES (2)")
                throw Boom()
            }
        }
        #expect(try await db.pool.scalar("SELECT array_agg(n)::text FROM t", as: String.self) == "{1}")
    }

    @Test("BEGIN travels with the first statement: a failing first statement rolls back and the connection is reused clean")
    func pipelinedBegin() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 1)
        try await db.pool.execute("CREATE TABLE t (n int PRIMARY KEY)")
        await #expect(throws: PostgresError.self) {
            try await db.pool.withTransaction { tx in try await tx.execute("INSERT INTO t VALUES (\(1)), (\(1))") }
        }
        // Same (only) connection: not left in an aborted transaction, and statements are in a transaction.
        let inside = try await db.pool.withTransaction { tx in
            try await tx.execute("INSERT INTO t VALUES (\(2))")
            return try await tx.scalar("SELECT now() = statement_timestamp()", as: Bool.self)
        }
        #expect(inside == false)  // a transaction started before this statement
        // A script run first in a body is inside the transaction too.
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await db.pool.withTransaction { tx in
                try await tx.connection.executeScript("INSERT INTO t VALUES (3); INSERT INTO t VALUES (4)")
                throw Boom()
            }
        }
        // An empty body commits nothing and leaves the connection usable.
        try await db.pool.withTransaction { _ in }
        #expect(try await db.pool.scalar("SELECT array_agg(n ORDER BY n)::text FROM t", as: String.self) == "{2}")
    }

    @Test("a last queued statement that raises stops the COMMIT sent with it; one that succeeds commits with it")
    func queuedLast() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 1)
        try await db.pool.execute("CREATE TABLE t (n int)")
        await #expect(throws: PostgresError.self) {
            try await db.pool.withTransaction { tx in
                try await tx.execute("INSERT INTO t VALUES (\(1))")
                tx.queue("SELECT 1 / (\(0))::int")
            }
        }
        try await db.pool.withTransaction { tx in
            try await tx.execute("INSERT INTO t VALUES (\(2))")
            tx.queue("INSERT INTO t VALUES (\(3))")
        }
        // With no statement waited for in the body, BEGIN, the queued statement and COMMIT go together.
        try await db.pool.withTransaction { tx in tx.queue("INSERT INTO t VALUES (\(4))") }
        #expect(try await db.pool.scalar("SELECT array_agg(n ORDER BY n)::text FROM t", as: String.self) == "{2,3,4}")
        #expect(try await db.pool.scalar("SELECT 1", as: Int.self) == 1)
    }

    @Test("queued statements run in order with the next statement or with COMMIT; a failing one rolls the transaction back")
    func queued() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 1)
        try await db.pool.execute("CREATE TABLE t (n int PRIMARY KEY)")
        let seen = try await db.pool.withTransaction { tx in
            tx.queue("INSERT INTO t VALUES (\(1))")
            tx.queue("INSERT INTO t VALUES (\(2))")
            return try await tx.scalar("SELECT array_agg(n ORDER BY n)::text FROM t", as: String.self)
        }
        #expect(seen == "{1,2}")
        try await db.pool.withTransaction { tx in tx.queue("INSERT INTO t VALUES (\(3))") }  // only with COMMIT
        await #expect(throws: PostgresError.self) {
            try await db.pool.withTransaction { tx in
                tx.queue("INSERT INTO t VALUES (\(4))")
                tx.queue("INSERT INTO t VALUES (\(1))")  // duplicate: fails at the next statement
                _ = try await tx.scalar("SELECT 1", as: Int.self)
            }
        }
        await #expect(throws: PostgresError.self) {
            try await db.pool.withTransaction { tx in tx.queue("INSERT INTO t VALUES (\(2))") }  // fails at COMMIT
        }
        #expect(try await db.pool.scalar("SELECT array_agg(n ORDER BY n)::text FROM t", as: String.self) == "{1,2,3}")
    }

    @Test("the isolation level is selectable")
    func isolation() async throws {
        let db = try await TestDatabase.fresh()
        let level = try await db.pool.withTransaction(isolation: .serializable) { tx in
            try await tx.scalar("SHOW transaction_isolation", as: String.self)
        }
        #expect(level == "serializable")
    }

    @Test("cancelling the task cancels the query on the server")
    func cancellation() async throws {
        let db = try await TestDatabase.fresh()
        let started = ContinuousClock.now
        let task = Task { try await db.pool.query("SELECT pg_sleep(30)") }
        let observer = db.anotherPool(maxConnections: 1)
        #expect(try await eventually {
            try await observer.scalar("SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND query = 'SELECT pg_sleep(30)' AND state = 'active'", as: Int.self) == 1
        })
        task.cancel()
        let result = await task.result
        #expect(ContinuousClock.now - started < .seconds(5))
        guard case .failure(let error as PostgresError) = result else {
            Issue.record("expected a cancelled query, got \(result)")
            return
        }
        #expect(error.code == .cancelled)
        // The connection is still good afterwards.
        #expect(try await db.pool.scalar("SELECT 1", as: Int.self) == 1)
    }

    /// This test database's sessions whose (last) statement is the 30-second sleep.
    private func sleepingSessions(_ observer: ConnectionPool) async throws -> Int {
        try await observer.scalar("""
            SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND query = 'SELECT pg_sleep(30)'
            """, as: Int.self)
    }

    @Test("closing a connection while a query runs cancels the query, then closes")
    func closeWhileRunning() async throws {
        let db = try await TestDatabase.fresh()
        let connection = try await Connection.connect(db.configuration)
        let started = ContinuousClock.now
        let task = Task { try await connection.query("SELECT pg_sleep(30)") }
        let observer = db.anotherPool(maxConnections: 1)
        #expect(try await eventually {
            try await sleepingSessions(observer) == 1
        })
        connection.close()
        let result = await task.result
        #expect(ContinuousClock.now - started < .seconds(10))
        guard case .failure(let error as PostgresError) = result else {
            Issue.record("expected the query to fail, got \(result)")
            return
        }
        #expect(error.code == .cancelled)
        #expect(!connection.isUsable)
        await #expect(throws: PostgresError.self) { try await connection.query("SELECT 1") }
        // The session is gone from the server.
        #expect(try await eventually {
            try await sleepingSessions(observer) == 0
        })
    }

    @Test("long queries do not pin Swift's cooperative threads")
    func nonBlocking() async throws {
        // Swift's cooperative pool has one thread per core (2 here). If a query pinned one of them,
        // 16 one-second queries would run two at a time: 8 s. Run off that pool, they overlap: ~1 s.
        let db = try await TestDatabase.fresh(maxConnections: 16)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 { group.addTask { try await db.pool.execute("SELECT pg_sleep(1)") } }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(5), "16 one-second queries took \(elapsed)")
    }

    @Test("statements and results larger than the socket's buffers go through whole")
    func largePayloads() async throws {
        // libpq is in nonblocking mode: an 8 MB parameter leaves most of itself unsent until the
        // socket drains (the task waits for it to be writable), and an 8 MB result arrives over
        // many reads.
        let db = try await TestDatabase.fresh(maxConnections: 1)
        let big = String(repeating: "0123456789abcdef", count: 512 * 1024)
        #expect(try await db.pool.scalar("SELECT md5(\(big))", as: String.self)
                == (try await db.pool.scalar("SELECT md5(repeat('0123456789abcdef', 524288))", as: String.self)))
        let echoed = try await db.pool.scalar("SELECT repeat('0123456789abcdef', \(512 * 1024))", as: String.self)
        #expect(echoed == big)
    }

    @Test("a pipeline runs its statements in order, in one round trip, and prepares a repeated one once")
    func pipeline() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 1)
        try await db.pool.execute("CREATE TABLE p (n int)")
        let results = try await db.pool.withTransaction { tx in
            try await tx.pipeline([
                "INSERT INTO p VALUES (\(1))", "INSERT INTO p VALUES (\(2))", "SELECT count(*)::int FROM p WHERE n > \(0)",
            ])
        }
        #expect(results.count == 3)
        #expect(try results[2].first?.decode(Int.self, at: 0) == 2)
        let prepared = try await db.pool.query("SELECT statement FROM pg_prepared_statements ORDER BY statement")
            .map { try $0.decode(String.self, at: 0) }
        #expect(prepared == ["INSERT INTO p VALUES ($1)", "SELECT count(*)::int FROM p WHERE n > $1"])
        // A failing statement stops the ones after it and throws.
        await #expect(throws: PostgresError.self) {
            try await db.pool.withTransaction { tx in
                _ = try await tx.pipeline(["INSERT INTO p VALUES (\(3))", "SELECT 1/\(0)", "INSERT INTO p VALUES (\(4))"])
            }
        }
        #expect(try await db.pool.scalar("SELECT count(*)::int FROM p", as: Int.self) == 2)
    }

    @Test("the pool never opens more than its bound")
    func bounded() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 3)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<12 { group.addTask { try await db.pool.execute("SELECT pg_sleep(0.1)") } }
            try await group.waitForAll()
        }
        #expect(await db.pool.openConnections <= 3)
        let observer = db.anotherPool(maxConnections: 1)
        let peak = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<12 { group.addTask { try await db.pool.execute("SELECT pg_sleep(0.05)"); return 0 } }
            group.addTask {
                try await Task.sleep(for: .milliseconds(60))
                return try await observer.scalar("SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", as: Int.self)
            }
            return try await group.reduce(0, max)
        }
        #expect(peak <= 3)
    }

    @Test("LISTEN receives what NOTIFY sends, payload bound as a parameter")
    func listenNotify() async throws {
        let db = try await TestDatabase.fresh()
        let listener = Listener(db.configuration, channels: ["events"])
        defer { listener.stop() }
        var iterator = listener.events.makeAsyncIterator()
        #expect(await iterator.next() == .listening)
        try await db.pool.execute("SELECT pg_notify(\("events"), \("it's \"quoted\""))")
        #expect(await iterator.next() == .notification(PostgresNotification(channel: "events", payload: "it's \"quoted\"")))
    }
}

@Suite("Prepared statements")
struct PreparedStatementTests {
    @Test("a statement's name carries a hash of its SQL, so one name never means two statements behind a pooler")
    func namesHashTheSQL() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 1)
        #expect(try await db.pool.scalar("SELECT \(1)::int", as: Int.self) == 1)
        #expect(try await db.pool.scalar("SELECT \(1)::int + 1", as: Int.self) == 2)
        let names = try await db.pool.query("SELECT name FROM pg_prepared_statements WHERE statement LIKE 'SELECT $1::int%'")
            .map { try $0.decode(String.self, at: 0) }
        #expect(names.count == 2)
        let hashes = Set(names.compactMap { $0.wholeMatch(of: #/followup_([0-9a-f]+)_[0-9]+/#).map { String($0.1) } })
        #expect(hashes.count == 2, "\(names)")
    }

    @Test("a parameterized statement is prepared once per session and reused")
    func reused() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 1)
        for i in 0..<5 { #expect(try await db.pool.scalar("SELECT \(i)::int + 1", as: Int.self) == i + 1) }
        let prepared = try await db.pool.query("SELECT statement FROM pg_prepared_statements").map { try $0.decode(String.self, at: 0) }
        #expect(prepared == ["SELECT $1::int + 1"])
    }

    @Test("a schema change under a cached plan falls back instead of failing")
    func schemaChange() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 1)
        try await db.pool.execute("CREATE TABLE t (a int)")
        try await db.pool.execute("INSERT INTO t VALUES (\(1))")
        #expect(try await db.pool.query("SELECT * FROM t WHERE a = \(1)").columns == ["a"])
        try await db.pool.execute("ALTER TABLE t ADD COLUMN b int")
        #expect(try await db.pool.query("SELECT * FROM t WHERE a = \(1)").columns == ["a", "b"])
    }

    @Test("turned off, nothing is prepared (for old transaction-mode poolers)")
    func off() async throws {
        let db = try await TestDatabase.fresh()
        var configuration = db.configuration
        configuration.preparedStatements = false
        let pool = ConnectionPool(configuration, maxConnections: 1)
        #expect(try await pool.scalar("SELECT \(41)::int + 1", as: Int.self) == 42)
        #expect(try await pool.scalar("SELECT count(*)::int FROM pg_prepared_statements", as: Int.self) == 0)
    }
}

@Suite("Connection errors: transient or configuration")
struct ConnectionErrorKindTests {
    @Test("authentication and configuration failures are not retried; refusals and restarts are")
    func kinds() {
        let configuration = [
            "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"app\"",
            "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  no pg_hba.conf entry for host \"10.0.0.1\", user \"app\", database \"db\", no encryption",
            "connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: FATAL:  role \"nobody\" does not exist",
            "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \"nope\" does not exist",
            "invalid sslmode value: \"bogus\"",
            "connection to server at \"127.0.0.1\", port 5432 failed: fe_sendauth: no password supplied",
        ]
        for message in configuration {
            let error = PostgresError(code: .connectionFailed, message: message)
            #expect(error.isConfigurationError, "\(message)")
            #expect(!error.isConnectionError, "\(message)")
        }
        let transient = [
            "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?",
            "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  the database system is starting up",
            "connection to server at \"127.0.0.1\", port 5432 failed: timeout expired",
        ]
        for message in transient {
            let error = PostgresError(code: .connectionFailed, message: message)
            #expect(!error.isConfigurationError, "\(message)")
            #expect(error.isConnectionError, "\(message)")
        }
        #expect(PostgresError(code: .server, message: "x", sqlState: "28P01").isConfigurationError)
        #expect(!PostgresError(code: .connectionLost, message: "server closed the connection unexpectedly").isConfigurationError)
    }
}
