import Foundation
import Logging
import Postgres
import Testing
import TestSupport

/// Server NOTICEs and WARNINGs reach the connection's logger (not libpq's stderr printer), one
/// record each, on one line, without the notice's detail.
@Suite("Database notices")
struct NoticeTests {
    final class Records: @unchecked Sendable {
        // @unchecked: `entries` is only touched under `lock`.
        private let lock = NSLock()
        private var entries: [(Logger.Level, String, Logger.Metadata)] = []
        func append(_ entry: (Logger.Level, String, Logger.Metadata)) { lock.withLock { entries.append(entry) } }
        var all: [(Logger.Level, String, Logger.Metadata)] { lock.withLock { entries } }
    }

    struct Capture: LogHandler {
        let records: Records
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            records.append((event.level, event.message.description, metadata.merging(event.metadata ?? [:]) { $1 }))
        }
    }

    @Test("RAISE NOTICE and RAISE WARNING are logged at notice and warning, one line each, without the detail")
    func notices() async throws {
        let db = try await TestDatabase.fresh()
        let records = Records()
        let connection = try await Connection.connect(db.configuration, logger: Logger(label: "test.notices") { _ in Capture(records: records) })
        defer { connection.close() }
        _ = try await connection.query("""
            DO $$ BEGIN
                RAISE NOTICE 'first line%second line', E'\\n' USING DETAIL = 'a detail that may quote data';
                RAISE WARNING 'careful' USING ERRCODE = '01000';
            END $$
            """)
        let logged = records.all.filter { $0.1 == "database notice" }
        #expect(logged.count == 2, "\(records.all)")
        #expect(logged.first?.0 == .notice)
        #expect(logged.first?.2["message"]?.description == "first line second line")
        #expect(logged.first?.2["severity"]?.description == "NOTICE")
        #expect(logged.last?.0 == .warning)
        #expect(logged.last?.2["sqlstate"]?.description == "01000")
        #expect(!records.all.contains { "\($0.2)".contains("a detail that may quote data") })
        await db.pool.close()
    }
}
