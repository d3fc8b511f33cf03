import Foundation
import Postgres
import Schema

/// What `/readyz` checks (and what `followup run` waits for before it polls): the database
/// answers, its schema is what this build expects (every numbered migration recorded, every
/// repeatable at this build's text), and what the process needs is configured.
public struct Readiness: Sendable {
    /// The migration lines to compare with the database (the product's, by default).
    public var lines: [MigrationLine]
    /// What this process needs configured: name → configured (e.g. "providers": true).
    public var configured: [String: Bool]
    /// How long the database checks may take before they count as failed.
    public var timeout: Duration

    public init(lines: [MigrationLine] = ProductSchema.lines, configured: [String: Bool] = [:], timeout: Duration = .seconds(5)) {
        self.lines = lines
        self.configured = configured
        self.timeout = timeout
    }

    /// One check's result, as `/readyz` shows it.
    public struct Check: Sendable, Codable, Equatable {
        public var ok: Bool
        public var detail: String?
    }

    public struct Report: Sendable, Codable {
        public var ready: Bool
        public var checks: [String: Check]
        /// Set when the database refused this configuration (bad credentials, no such database,
        /// no right to read the schema tables): waiting cannot help.
        public var configurationError: PostgresError?

        enum CodingKeys: String, CodingKey { case ready, checks }

        /// `{"ready":…,"checks":{…}}`, keys sorted.
        public var json: String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"ready":false}"#
        }

        /// The failed checks in one line, for a log or an exit message.
        public var failures: String {
            checks.filter { !$0.value.ok }.sorted { $0.key < $1.key }
                .map { "\($0.key): \($0.value.detail ?? "failed")" }.joined(separator: "; ")
        }
    }

    public func check(_ pool: ConnectionPool) async -> Report {
        var checks: [String: Check] = [:]
        for (name, ok) in configured { checks[name] = Check(ok: ok, detail: ok ? nil : "not configured") }
        let lines = self.lines
        let outcome: Result<[String], Error> = await withTimeout(timeout) {
            // The database answers and the schema is current, on one connection.
            try await pool.withConnection { connection in
                try await Migrator(lines: lines).pending(connection)
            }
        }
        switch outcome {
        case .success(let pending):
            checks["database"] = Check(ok: true)
            checks["migrations"] = pending.isEmpty ? Check(ok: true)
                : Check(ok: false, detail: "not applied: \(pending.joined(separator: ", ")) (run followup migrate)")
        case .failure(let error):
            if let error = error as? PostgresError, error.isConfigurationError {
                checks["database"] = Check(ok: false, detail: error.message)
                return Report(ready: false, checks: checks, configurationError: error)
            }
            let text = (error as? PostgresError).map { $0.message } ?? "\(error)"
            let oneLine = text.split(whereSeparator: \.isNewline).joined(separator: " ")
            checks["database"] = Check(ok: false, detail: oneLine)
            checks["migrations"] = Check(ok: false, detail: "unknown: the database did not answer")
        }
        return Report(ready: checks.values.allSatisfy(\.ok), checks: checks)
    }

    /// Checks until ready, a configuration error, cancellation, or `bound` has passed, every
    /// `interval`; the last report either way. `onNotReady` hears each failed check (for a log line).
    public func waitUntilReady(_ pool: ConnectionPool, bound: Duration, interval: Duration = .milliseconds(500),
                               onNotReady: @Sendable (Report) -> Void = { _ in }) async -> Report {
        let deadline = ContinuousClock.now + bound
        while true {
            let report = await check(pool)
            if report.ready || report.configurationError != nil || Task.isCancelled { return report }
            onNotReady(report)
            if ContinuousClock.now + interval > deadline { return report }
            try? await Task.sleep(for: interval)
        }
    }
}

struct TimedOut: Error, CustomStringConvertible {
    var description: String { "timed out" }
}

/// `body`'s result, or `TimedOut` after `limit`. Returns at the limit even when `body` cannot be
/// interrupted (a connect blocked in libpq): it is cancelled and left to finish on its own.
func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async -> Result<T, Error> {
    let resumed = LockedValue(false)
    let cancel = LockedValue<(@Sendable () -> Void)?>(nil)
    return await withTaskCancellationHandler {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, Error>, Never>) in
            let finish: @Sendable (Result<T, Error>) -> Void = { result in
                if resumed.withLock({ done in defer { done = true }; return !done }) { continuation.resume(returning: result) }
            }
            let work = Task {
                do { finish(.success(try await body())) } catch { finish(.failure(error)) }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                finish(.failure(TimedOut()))
                work.cancel()
            }
            cancel.withLock {
                $0 = {
                    finish(.failure(CancellationError()))
                    work.cancel()
                    timer.cancel()
                }
            }
            // Cancelled before the handler above was in place.
            if Task.isCancelled { cancel.current?() }
        }
    } onCancel: {
        cancel.current?()
    }
}
