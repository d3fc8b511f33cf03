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

    @Test("files load in version order and bad names are rejected")
    func loading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mig-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "b".write(to: dir.appendingPathComponent("0010_later.sql"), atomically: true, encoding: .utf8)
        try "a".write(to: dir.appendingPathComponent("0002_first.sql"), atomically: true, encoding: .utf8)
        #expect(try Migration.load(from: dir).map(\.version) == [2, 10])
        try "c".write(to: dir.appendingPathComponent("oops.sql"), atomically: true, encoding: .utf8)
        #expect(throws: PostgresError.self) { try Migration.load(from: dir) }
    }
}
