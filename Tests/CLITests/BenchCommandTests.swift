import Foundation
import Postgres
import Testing
import TestSupport

/// `followup bench …` as a process, small sizes: each benchmark runs to the end, prints its JSON
/// line, and leaves the database as it says (not a measurement: figures here mean nothing).
@Suite("followup bench")
struct BenchCommandTests {
    func followup(_ arguments: [String], timeout: Duration = .seconds(120)) async throws -> (Int32?, String) {
        let process = try ChildProcess(ChildProcess.followupBinary, arguments, environment: [:])
        let code = await process.wait(timeout: timeout)
        return (code, process.output)
    }

    func lastJSON(_ output: String) throws -> [String: Any] {
        let line = try #require(output.split(separator: "\n").last(where: { $0.hasPrefix("{") }))
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test("bench wallet reports charges beside bare inserts and leaves the ledger consistent")
    func wallet() async throws {
        let db = try await TestDatabase.fresh()
        let (code, output) = try await followup(["bench", "wallet", "--charges", "120", "--wallets", "20", "--concurrency", "4",
                                                  "--database-url", try await db.url])
        #expect(code == 0, "\(output)")
        #expect(output.contains("bare INSERT"), "\(output)")
        #expect(output.contains("\"ledger_consistent\":true"), "\(output)")
    }

    @Test("bench queue drains each --backlog in turn and summarises them; a bad list is refused")
    func backlogs() async throws {
        let db = try await TestDatabase.fresh()
        let url = try await db.url
        let (code, output) = try await followup(["bench", "queue", "--backlog", "300,1_000", "--workers", "4", "--database-url", url])
        #expect(code == 0, "\(output)")
        let summary = try lastJSON(output)
        #expect(summary["mode"] as? String == "drain_backlogs", "\(output)")
        #expect((summary["jobs_per_second_300"] as? Double ?? 0) > 0 && (summary["jobs_per_second_1000"] as? Double ?? 0) > 0, "\(output)")
        let (badCode, bad) = try await followup(["bench", "queue", "--backlog", "300,zero", "--database-url", url])
        #expect(badCode != 0 && bad.contains("--backlog: '300,zero'"), "\(bad)")
    }

    @Test("bench queue --mode sustained finds a rate that holds, then holds it and reports both ends of the run")
    func sustained() async throws {
        let db = try await TestDatabase.fresh()
        let (code, output) = try await followup([
            "bench", "queue", "--mode", "sustained", "--workers", "4", "--start-rate", "50", "--rate-step", "50", "--max-rate", "100",
            "--step-seconds", "2", "--minutes", "0.2", "--database-url", try await db.url])
        #expect(code == 0, "\(output)")
        let result = try lastJSON(output)
        // 50–100 no-op jobs a second are far below what any machine drains: both steps hold.
        #expect(result["highest_rate_held"] as? Int == 100, "\(output)")
        #expect(result["held_throughout"] as? Bool == true, "\(output)")
        #expect((result["first_10pct_jobs_per_second"] as? Double ?? 0) > 0 && (result["last_10pct_jobs_per_second"] as? Double ?? 0) > 0, "\(output)")
        #expect(output.contains("search: offered 50/s"), "\(output)")
    }
}
