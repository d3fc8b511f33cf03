import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Postgres values and errors")
struct ValueTests {
    @Test("every type we use round-trips through a bound parameter")
    func roundTrip() async throws {
        let db = try await TestDatabase.fresh()
        let id = UUID()
        let date = Date(timeIntervalSince1970: 1_790_000_000.123456)
        let bytes = Bytea([0, 1, 2, 254, 255])
        struct Doc: Codable, Equatable { var name: String; var n: Int }
        let row = try #require(try await db.pool.first("""
            SELECT \(42)::int, \(Int64.max)::bigint, \("héllo 안녕 😀")::text, \(true)::bool, \(date)::timestamptz,
                   \(JSONB(Doc(name: "x", n: 3)))::jsonb, \(id)::uuid, \(bytes)::bytea, \(Decimal(string: "12.3400")!)::numeric,
                   \(Optional<Int>.none)::int, \(2.5)::float8
            """))
        #expect(try row.decode(Int.self, at: 0) == 42)
        #expect(try row.decode(Int64.self, at: 1) == Int64.max)
        #expect(try row.decode(String.self, at: 2) == "héllo 안녕 😀")
        #expect(try row.decode(Bool.self, at: 3) == true)
        #expect(abs(try row.decode(Date.self, at: 4).timeIntervalSince(date)) < 0.000_001)
        #expect(try row.decode(JSONB<Doc>.self, at: 5).value == Doc(name: "x", n: 3))
        #expect(try row.decode(UUID.self, at: 6) == id)
        #expect(try row.decode(Bytea.self, at: 7) == bytes)
        #expect(try row.decode(Decimal.self, at: 8) == Decimal(string: "12.34")!)
        #expect(try row.decode(Int?.self, at: 9) == nil)
        #expect(try row.decode(Double.self, at: 10) == 2.5)
    }

    @Test("timestamps in any session time zone decode to the same instant")
    func timeZones() async throws {
        let db = try await TestDatabase.fresh()
        try await db.pool.withConnection { connection in
            _ = try await connection.query("SET TimeZone = 'Asia/Kolkata'")
            let date = try await connection.scalar("SELECT '2026-11-28 09:50:21.5+00'::timestamptz", as: Date.self)
            #expect(date == Date(timeIntervalSince1970: 1_795_859_421.5))
            _ = try await connection.query("RESET TimeZone")
        }
    }

    @Test("a NULL read as a non-optional is a clear decoding error")
    func nullIsAnError() async throws {
        let db = try await TestDatabase.fresh()
        let row = try #require(try await db.pool.first("SELECT NULL::int AS missing"))
        #expect(throws: PostgresError.self) { try row.decode(Int.self, "missing") }
    }

    @Test("server errors carry SQLSTATE and never the bound value")
    func errorsDoNotLeakValues() async throws {
        let db = try await TestDatabase.fresh()
        let secret = "+821012345678-secret"
        let error = try await #require(throws: PostgresError.self) {
            try await db.pool.query("SELECT \(secret)::uuid")
        }
        #expect(error.sqlState == "22P02")
        #expect(error.code == .server)
        #expect(!error.description.contains(secret))
        #expect(!error.message.contains(secret))

        try await db.pool.execute("CREATE TABLE people (phone text UNIQUE)")
        try await db.pool.execute("INSERT INTO people VALUES (\(secret))")
        let duplicate = try await #require(throws: PostgresError.self) {
            try await db.pool.execute("INSERT INTO people VALUES (\(secret))")
        }
        #expect(duplicate.isUniqueViolation)
        #expect(duplicate.constraint == "people_phone_key")
        #expect(!duplicate.description.contains(secret))
    }

    @Test("a malformed DATABASE_URL is rejected up front with a clear message")
    func badURL() throws {
        let error = try #require(throws: PostgresError.self) { try PostgresConfiguration("postgresql://host:notaport:/x?=") }
        #expect(error.code == .invalidConfiguration)
        #expect(error.description.contains("bad database URL"))
    }

    @Test("a malformed DATABASE_URL's error never holds its password or the URL", arguments: [
        "postgresql://app:Pa%ZZSECRET@db.internal/followup",
        "postgresql://app:SECRET@[db.internal/followup",
        "host=db.internal password='SECRET",
    ])
    func badURLRedacted(url: String) throws {
        let error = try #require(throws: PostgresError.self) { try PostgresConfiguration(url) }
        #expect(error.description.contains("bad database URL"))
        #expect(!error.description.contains("SECRET"), "\(error)")
        #expect(!error.description.contains("db.internal"), "\(error)")
    }

    @Test("a URL to a server that is not there fails to connect, saying why")
    func unreachable() async throws {
        let configuration = try PostgresConfiguration("postgresql://nobody@127.0.0.1:1/none", connectTimeout: 2)
        let error = try await #require(throws: PostgresError.self) { try await Connection.connect(configuration) }
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("refused") || error.message.contains("connect"))
    }
}
