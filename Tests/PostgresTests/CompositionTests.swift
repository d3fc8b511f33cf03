import Foundation
import Postgres
import Testing
import TestSupport

/// Query fragments, arrays, decoding by column name, enums: how SQL composes without raw strings.
@Suite("Query composition and row decoding")
struct CompositionTests {
    // MARK: Fragments

    @Test("a fragment's values are appended and its $n renumbered after the outer query's")
    func fragmentRenumbers() {
        let since: Query = "at > \(Date(timeIntervalSince1970: 0)) AND kind = \("heartbeat")"
        let query: Query = "SELECT 1 FROM t WHERE a = \(7) AND \(since) AND b = \(8)"
        #expect(query.sql == "SELECT 1 FROM t WHERE a = $1 AND at > $2 AND kind = $3 AND b = $4")
        #expect(query.binds == ["7", "1970-01-01T00:00:00.000000Z", "heartbeat", "8"])
    }

    @Test("fragments nest, join and concatenate; a fragment without values is spliced as it is")
    func fragmentsCompose() {
        let inner: Query = "x = \(1)"
        let middle: Query = "(\(inner) OR y = \(2))"
        let conditions = Query.joined([middle, "z IS NULL", "w = \(3)"], separator: " AND ")
        let query: Query = "SELECT \(4) WHERE \(conditions)"
        #expect(query.sql == "SELECT $1 WHERE (x = $2 OR y = $3) AND z IS NULL AND w = $4")
        #expect(query.binds == ["4", "1", "2", "3"])
        let first: Query = "SELECT \(5), ", second: Query = "\(6)"
        let sum = first + second
        #expect(sum.sql == "SELECT $1, $2" && sum.binds == ["5", "6"])
    }

    @Test("$n inside quotes, comments, dollar-quoted bodies and identifiers is not a placeholder")
    func placeholdersOnlyOutsideQuotes() {
        let fragment = Query(sql: """
            SELECT $1, '$1', E'\\'$1', "col$1", a$1, $$ $1 $$, $f$ $1 $f$, $2 -- $1
            /* $1 /* $1 */ $1 */ + $1
            """, [10, 20])
        let query: Query = "SELECT \(0); \(fragment)"
        #expect(query.sql == """
            SELECT $1; SELECT $2, '$1', E'\\'$1', "col$1", a$1, $$ $1 $$, $f$ $1 $f$, $3 -- $1
            /* $1 /* $1 */ $1 */ + $2
            """)
        #expect(query.binds == ["0", "10", "20"])
    }

    @Test("a composed query runs: every fragment's values reach the right placeholder")
    func composedQueryRuns() async throws {
        let db = try await TestDatabase.fresh()
        func price(_ units: Int) -> Query { "(\(units)::int * \(Int64(1_500))::bigint)" }
        let query: Query = "SELECT \("a")::text AS a, \(price(2)) AS two, \(price(3)) AS three, \("b")::text AS b"
        let row = try #require(try await db.pool.first(query))
        #expect(try row.decode("a", as: String.self) == "a")
        #expect(try row.decode("two", as: Int64.self) == 3_000)
        #expect(try row.decode("three", as: Int64.self) == 4_500)
        #expect(try row.decode("b", as: String.self) == "b")
    }

    // MARK: Arrays

    @Test("arrays bind once for any element type: quotes, backslashes, commas, braces and NULL survive")
    func arraysRoundTrip() async throws {
        let db = try await TestDatabase.fresh()
        let texts = ["plain", "with \"quotes\"", "back\\slash", "a,b", "{braces}", "NULL", "", "안녕 😀"]
        let ids: [Int64] = [1, -2, Int64.max]
        let optional: [Int?] = [1, nil, 3]
        let uuid = UUID()
        let row = try #require(try await db.pool.first("""
            SELECT \(texts)::text[] AS texts, \(ids)::bigint[] AS ids, array_length(\(texts)::text[], 1) AS n,
                   (\(optional)::int[])[2] IS NULL AS second_null, \([uuid])::uuid[] AS uuids, \([Int]())::int[] AS empty,
                   \(Int64(-2)) = ANY(\(ids)::bigint[]) AS found
            """))
        #expect(try row.decode("texts", as: [String].self) == texts)
        #expect(try row.decode("ids", as: [Int64].self) == ids)
        #expect(try row.decode("n", as: Int.self) == texts.count)
        #expect(try row.decode("second_null", as: Bool.self))
        #expect(try row.decode("uuids", as: [UUID].self) == [uuid])
        #expect(try row.decode("empty", as: [Int].self) == [])
        #expect(try row.decode("found", as: Bool.self))
        #expect([Int?]([1, nil]).postgresText == #"{"1",NULL}"#)
    }

    @Test("an array with a NULL element is a decoding error for non-optional elements")
    func arrayNullElement() async throws {
        let db = try await TestDatabase.fresh()
        let row = try #require(try await db.pool.first("SELECT ARRAY[1, NULL]::int[] AS a"))
        #expect(throws: PostgresError.self) { try row.decode("a", as: [Int].self) }
    }

    // MARK: Decoding by name

    struct Account: RowDecodable, Equatable {
        var id: Int64
        var name: String
        var closedAt: Date?
        init(id: Int64, name: String, closedAt: Date?) { self.id = id; self.name = name; self.closedAt = closedAt }
        init(row: Row) throws {
            id = try row.decode("id")
            name = try row.decode("name")
            closedAt = try row.decode("closed_at")
        }
    }

    @Test("rows decode into structs by column name, whatever the column order")
    func decodeByName() async throws {
        let db = try await TestDatabase.fresh()
        let accounts = try await db.pool.query("""
            SELECT closed_at, name, id FROM (VALUES (2::bigint, 'b', NULL::timestamptz), (1, 'a', 'epoch'::timestamptz)) v(id, name, closed_at)
            ORDER BY id
            """).decode(Account.self)
        #expect(accounts == [Account(id: 1, name: "a", closedAt: Date(timeIntervalSince1970: 0)),
                             Account(id: 2, name: "b", closedAt: nil)])
    }

    @Test("a missing column, a duplicated name, a NULL or a wrong type is an error naming the column, never the value")
    func decodeErrorsAreClear() async throws {
        let db = try await TestDatabase.fresh()
        let secret = "+82 10-1234-5678 (secret)"
        let row = try #require(try await db.pool.first("""
            SELECT \(secret)::text AS phone, 1 AS id, 2 AS id, NULL::bigint AS nothing
            """))
        let missing = try #require(throws: PostgresError.self) { try row.decode("chat_id", as: Int64.self) }
        #expect(missing.code == .decoding && missing.description.contains("chat_id") && missing.description.contains("phone"))
        let twice = try #require(throws: PostgresError.self) { try row.decode("id", as: Int.self) }
        #expect(twice.description.contains("more than once"))
        let null = try #require(throws: PostgresError.self) { try row.decode("nothing", as: Int64.self) }
        #expect(null.description.contains("nothing") && null.description.contains("NULL"))
        let wrongType = try #require(throws: PostgresError.self) { try row.decode("phone", as: Int64.self) }
        #expect(wrongType.description.contains("phone") && wrongType.description.contains("Int64"))
        for error in [missing, twice, null, wrongType] { #expect(!error.description.contains(secret)) }
        #expect(try row.decode("nothing", as: Int64?.self) == nil)
    }

    // MARK: Enums

    enum Light: String, PostgresEnum {
        case red, amber, green
        case flashingAmber = "flashing_amber"
    }

    @Test("an enum binds as its raw value and decodes from it; an unknown value is an error without the value")
    func enumsRoundTrip() async throws {
        let db = try await TestDatabase.fresh()
        for light in Light.allCases {
            let back = try await db.pool.scalar("SELECT \(light)::text", as: Light.self)
            #expect(back == light)
        }
        #expect(try await db.pool.scalar("SELECT 'flashing_amber'", as: Light.self) == .flashingAmber)
        let row = try #require(try await db.pool.first("SELECT 'purple-secret' AS light, \(Light.allCases)::text[] AS all_lights"))
        #expect(try row.decode("all_lights", as: [Light].self) == Light.allCases)
        let error = try #require(throws: PostgresError.self) { try row.decode("light", as: Light.self) }
        #expect(error.description.contains("Light") && !error.description.contains("purple-secret"))
    }
}
