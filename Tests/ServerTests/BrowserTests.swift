import Foundation
import Jobs
import Logging
import Outbound
import Postgres
import Server
import Testing
import TestSupport

/// The status page in a real browser: headless Chromium driven through chromedriver by
/// scripts/browser/status_page_check.py loads the page (logged in), finds the dead job, presses
/// Retry, sees "due again", and sees a poller run it. The screenshot is kept in
/// `.build/test-artifacts/status-page.png`. Needs Debian's `chromium` and `chromium-driver`
/// (scripts/setup.sh installs them).
@Suite("Status page in a browser") struct BrowserTests {
    static let available = FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")

    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    @Test("headless Chromium: log in, retry a dead job, see it run", .enabled(if: available, "needs chromium and chromium-driver"))
    func retryInBrowser() async throws {
        try await StatusPageTests.withWorld { w in
            let job = try await w.db.pool.scalar("""
                INSERT INTO public.jobs (kind, state, attempt, max_attempts, finished_at, errors)
                VALUES ('ops.browser', 'dead', 1, 1, now(), '[{"attempt": 1, "at": "2026-11-29T12:00:00Z", "error": "provider timeout"}]')
                RETURNING id
                """, as: Int64.self)
            var registry = JobRegistry()
            registry.register(kind: "ops.browser") { _ in .done }
            var configuration = WorkerConfiguration()
            configuration.safetyPoll = .milliseconds(200)
            let worker = JobWorker(pool: w.db.anotherPool(maxConnections: 4), registry: registry, configuration: configuration,
                                   logger: Logger(label: "test.browser-worker"))
            let running = Task { try await worker.run() }
            defer {
                worker.shutdown()
                running.cancel()
            }

            let artifacts = Self.root.appendingPathComponent(".build/test-artifacts")
            try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
            let screenshot = artifacts.appendingPathComponent("status-page.png").path
            try? FileManager.default.removeItem(atPath: screenshot)
            let script = Self.root.appendingPathComponent("scripts/browser/status_page_check.py").path
            let child = try ChildProcess("/usr/bin/env", ["python3", script, w.base, StatusPageTests.password, "\(job)", screenshot])
            let code = await child.wait(timeout: .seconds(90))
            #expect(code == 0, "\(child.output)")
            #expect(try await w.db.pool.scalar("SELECT state::text FROM public.job_history WHERE id = \(job)", as: String.self) == "completed")
            #expect(FileManager.default.fileExists(atPath: screenshot), "the screenshot is kept")
        }
    }
}
