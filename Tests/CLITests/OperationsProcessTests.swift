import Fakes
import Foundation
import Jobs
import Outbound
import Postgres
import Testing
import TestSupport

/// `followup run --log-format json --metrics-port`: JSON log lines, the poller's own /metrics,
/// and the readiness bound, on the real binary.
@Suite("Operating the poller process")
struct OperationsProcessTests {
    /// Every non-empty line of `output` as a JSON object (a line that is not one fails the test).
    static func records(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n", omittingEmptySubsequences: true).compactMap { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line)")
            return object
        }
    }

    @Test("--log-format json: one object per line, a multi-line error in one record; --metrics-port serves the poller's counters")
    func jsonLogsAndMetrics() async throws {
        let db = try await TestDatabase.fresh()
        let fakes = try FakeProviders()
        defer { fakes.stop() }
        let poller = try ChildProcess(ChildProcess.followupBinary,
                                      ["run", "--database-url", try await db.url, "--log-format", "json", "--metrics-port", "0"],
                                      environment: fakes.environment)
        // The bound port is in the log.
        var port: Int?
        #expect(await eventually(timeout: .seconds(20)) {
            port = Self.records(poller.output).first { $0["message"] as? String == "serving metrics" }
                .flatMap { ($0["address"] as? String)?.split(separator: ":").last.flatMap { Int($0) } }
            return port != nil
        }, "\(poller.output)")
        let metricsPort = try #require(port)

        // A job whose error spans lines: the kind names no handler and contains a newline.
        try await JobQueue.enqueue(kind: "ops.first line\nsecond line", on: db.pool)
        #expect(try await eventually(timeout: .seconds(20)) {
            try await db.pool.scalar("SELECT count(*)::int FROM jobs WHERE state = 'dead'", as: Int.self) == 1
        })
        let client = OutboundClient()
        defer { client.shutdown() }
        let ready = try await client.send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(metricsPort)/readyz", timeout: .seconds(10)))
        #expect(ready.status == 200, "\(String(decoding: ready.body, as: UTF8.self))")
        var samples: [PrometheusParser.Sample] = []
        #expect(await eventually(timeout: .seconds(10)) {
            let response = try? await client.send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(metricsPort)/metrics", timeout: .seconds(10)))
            samples = (try? PrometheusParser.parse(String(decoding: response?.body ?? [], as: UTF8.self))) ?? []
            return samples.value("jobs_finished_total", ["outcome": "dead"]) == 1
        })
        #expect(!samples.families.contains("followup_jobs"), "queue-wide gauges come from serve, not from every poller")

        poller.signal(SIGTERM)
        #expect(await poller.wait(timeout: .seconds(15)) == 0, "\(poller.output)")
        let records = Self.records(poller.output)
        #expect(records.count >= 3)
        #expect(records.allSatisfy { $0["ts"] is String && $0["level"] is String && $0["label"] is String && $0["message"] is String })
        let dead = try #require(records.first { $0["message"] as? String == "job is dead" })
        #expect((dead["error"] as? String)?.contains("first line\nsecond line") == true, "\(dead)")
        #expect(dead["kind"] as? String == "ops.first line\nsecond line")
        #expect(dead["job_id"] is String && dead["worker"] is String, "the same metadata keys as the text format")
    }

    @Test("run exits 69 naming what is not ready when the schema is behind for FOLLOWUP_READY_TIMEOUT")
    func notReady() async throws {
        let db = try await TestDatabase.fresh()
        try await db.pool.execute("DELETE FROM public.schema_migrations WHERE line = 'jobs'")
        let fakes = try FakeProviders()
        defer { fakes.stop() }
        var environment = fakes.environment
        environment["FOLLOWUP_READY_TIMEOUT"] = "1"
        let poller = try ChildProcess(ChildProcess.followupBinary, ["run", "--database-url", try await db.url], environment: environment)
        #expect(await poller.wait(timeout: .seconds(20)) == 69, "\(poller.output)")
        #expect(poller.output.contains("not ready after 1 s"))
        #expect(poller.output.contains("migrations: not applied: jobs/1_jobs"), "\(poller.output)")
    }
}
