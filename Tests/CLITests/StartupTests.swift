import Fakes
import Foundation
import Postgres
import Testing
import TestSupport

/// `followup run` at start-up: signals honoured from the first instant, configuration errors
/// fatal with one clear line, only transient errors waited out.
@Suite("Starting the poller")
struct StartupTests {
    /// `url` with one connection parameter added (URL or key=value form).
    static func adding(_ parameter: String, to url: String) -> String {
        url.hasPrefix("postgres") ? url + (url.contains("?") ? "&" : "?") + parameter : url + " " + parameter
    }

    @Test("SIGTERM while the database is unreachable at start-up: exits at once with status 0")
    func sigtermDuringOutage() async throws {
        let fakes = try FakeProviders()
        defer { fakes.stop() }
        // Nothing listens on port 1: every connection attempt is refused, as during an outage.
        let poller = try ChildProcess(ChildProcess.followupBinary, ["run", "--database-url", "postgresql://followup@127.0.0.1:1/followup"],
                                      environment: fakes.environment)
        #expect(await eventually(timeout: .seconds(15)) { poller.output.contains("database unavailable") }, "\(poller.output)")
        poller.signal(SIGTERM)
        let code = await poller.wait(timeout: .seconds(5))
        #expect(code == 0, "exit \(String(describing: code)): \(poller.output)")
    }

    @Test("SIGINT right at start, before the database answered: exits promptly")
    func sigintAtOnce() async throws {
        let fakes = try FakeProviders()
        defer { fakes.stop() }
        let poller = try ChildProcess(ChildProcess.followupBinary, ["run", "--database-url", "postgresql://followup@127.0.0.1:1/followup"],
                                      environment: fakes.environment)
        try await Task.sleep(for: .milliseconds(300))
        poller.signal(SIGINT)
        let code = await poller.wait(timeout: .seconds(5))
        #expect(code == 0 || code == 128 + SIGINT, "exit \(String(describing: code)): \(poller.output)")
    }

    @Test("configuration and authentication errors: exit 78 with one clear line, never retried",
          arguments: ["sslmode=bogus", "user=nobody_here", "dbname=no_such_database"])
    func configurationErrors(parameter: String) async throws {
        let db = try await TestDatabase.fresh()
        let fakes = try FakeProviders()
        defer { fakes.stop() }
        let url = Self.adding(parameter, to: try await db.url)
        let poller = try ChildProcess(ChildProcess.followupBinary, ["run", "--database-url", url], environment: fakes.environment)
        let code = await poller.wait(timeout: .seconds(10))
        #expect(code == 78, "exit \(String(describing: code)): \(poller.output)")
        let lines = poller.output.split(separator: "\n").filter { $0.hasPrefix("followup: ") }
        #expect(lines.count == 1, "\(poller.output)")
        #expect(lines.first?.contains("the database refused this configuration") == true, "\(poller.output)")
        #expect(!poller.output.contains("retrying"), "a configuration error is not retried: \(poller.output)")
    }
}
