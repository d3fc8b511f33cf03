import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Migrations")
struct MigratorTests {
    let migrations = [
        Migration(version: 1, name: "one", sql: "CREATE TABLE one (id int); CREATE TABLE one_b (id int);"),
        Migration(version: 2, name: "two", sql: "CREATE TABLE two (id int);"),
    ]

    @Test("applies in order, once, even with two migrators racing")
    func concurrent() async throws {
        let db = try await TestDatabase.fresh()
        try await db.pool.execute("DROP TABLE schema_migrations")  // start from nothing but the template's tables
        async let a = Migrator(migrations).migrate(db.pool)
        async let b = Migrator(migrations).migrate(db.anotherPool())
        let (first, second) = try await (a, b)
        #expect(first.count + second.count == 2)
        #expect(try await Migrator(migrations).appliedVersions(db.pool) == [1, 2])
        #expect(try await Migrator(migrations).migrate(db.pool).isEmpty)
    }

    @Test("a failing migration leaves nothing half-applied")
    func failingMigration() async throws {
        let db = try await TestDatabase.fresh()
        try await db.pool.execute("DROP TABLE schema_migrations")
        let broken = [Migration(version: 1, name: "broken", sql: "CREATE TABLE half (id int); SELECT 1/0;")]
        await #expect(throws: PostgresError.self) { try await Migrator(broken).migrate(db.pool) }
        #expect(try await db.pool.scalar("SELECT to_regclass('half') IS NULL", as: Bool.self))
    }

    @Test("an applied file that was edited is an error, not a silent skip")
    func checksumMismatch() async throws {
        let db = try await TestDatabase.fresh()
        try await db.pool.execute("DROP TABLE schema_migrations")
        try await Migrator(migrations).migrate(db.pool)
        var edited = migrations
        edited[1].sql = "CREATE TABLE two (id bigint);"
        let error = try await #require(throws: PostgresError.self) { try await Migrator(edited).migrate(db.pool) }
        #expect(error.message.contains("was edited after it was applied"))
    }

    @Test("files sort into numbered migrations and repeatables; bad names and duplicate numbers are rejected")
    func loading() throws {
        let line = try MigrationLine(name: "x", files: [("0010_later.sql", "b"), ("R__views.sql", "v"), ("0002_first.sql", "a"),
                                                        ("R__functions.sql", "f"), ("README.md", "ignored")])
        #expect(line.migrations.map(\.version) == [2, 10])
        #expect(line.migrations.map(\.name) == ["first", "later"])
        #expect(line.repeatables.map(\.name) == ["functions", "views"])
        #expect(throws: PostgresError.self) { try MigrationLine(name: "x", files: [("oops.sql", "c")]) }
        #expect(throws: PostgresError.self) { try MigrationLine(name: "x", files: [("0001_a.sql", ""), ("0001_b.sql", "")]) }
    }

    @Test("repeatables run after every numbered migration, and all of them again when any one's text changes")
    func repeatables() async throws {
        let db = try await TestDatabase.fresh()
        try await db.pool.execute("DROP TABLE schema_migrations, schema_repeatables")
        func lines(_ body: String) -> [MigrationLine] {
            [MigrationLine(name: "a", migrations: [Migration(version: 1, name: "t", sql: "CREATE TABLE t (id int)")],
                           repeatables: [Repeatable(name: "f", sql: "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql RETURN \(body);")]),
             MigrationLine(name: "b", migrations: [Migration(version: 1, name: "u", sql: "CREATE TABLE u (id int)")],
                           repeatables: [Repeatable(name: "v", sql: "DROP VIEW IF EXISTS v; CREATE VIEW v AS SELECT f() AS x, count(*) AS n FROM t;")])]
        }
        let first = try await Migrator(lines: lines("1")).migrate(db.pool)
        #expect(first.map(\.description) == ["a 1 t", "b 1 u", "a f (repeatable)", "b v (repeatable)"])
        #expect(try await Migrator(lines: lines("1")).migrate(db.pool).isEmpty)
        // Changing f re-applies both (v is dropped and created again after it), and reports f.
        let second = try await Migrator(lines: lines("2")).migrate(db.pool)
        #expect(second.map(\.description) == ["a f (repeatable)"])
        #expect(try await db.pool.scalar("SELECT x FROM v", as: Int.self) == 2)
    }
}
