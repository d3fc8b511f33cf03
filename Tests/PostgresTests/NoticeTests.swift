import Foundation
import Logging
import Postgres
import Testing
import TestSupport

/// Server NOTICEs and WARNINGs reach the connection's logger (not libpq's stderr printer), one
/// record each, on one line, without the notice's detail.
@Suite("Database notices")
struct NoticeTests {
    @Test("RAISE NOTICE and RAISE WARNING are logged at notice and warning, one line each, without the detail")
    func notices() async throws {
        let db = try await TestDatabase.fresh()
        let logs = CapturedLogs()
        let connection = try await Connection.connect(db.configuration, logger: logs.logger(label: "test.notices"))
        defer { connection.close() }
        _ = try await connection.query("""
            DO $$ BEGIN
                RAISE NOTICE 'first line%second line', E'\\n' USING DETAIL = 'a detail that may quote data';
                RAISE WARNING 'careful' USING ERRCODE = '01000';
            END $$
            """)
        let logged = logs.records.filter { $0.message == "database notice" }
        #expect(logged.count == 2, "\(logs.lines)")
        #expect(logged.first?.level == .notice)
        #expect(logged.first?.metadata["message"]?.description == "first line second line")
        #expect(logged.first?.metadata["severity"]?.description == "NOTICE")
        #expect(logged.last?.level == .warning)
        #expect(logged.last?.metadata["sqlstate"]?.description == "01000")
        #expect(!logs.records.contains { "\($0.metadata)".contains("a detail that may quote data") })
        await db.pool.close()
    }
}
