import Foundation
import Jobs
import Logging
import Postgres
import Server
import ServiceLifecycle

/// `followup run`'s service: waits until ready (``Readiness``: the database answers with a
/// current schema) for at most `bound`, then runs the poller. SIGTERM/SIGINT while waiting ends
/// it at once (exit 0); a configuration error is thrown as such (exit 78); not ready in time is
/// ``NotReady`` (exit 69).
struct ReadyThenPoll: Service {
    let worker: JobWorker
    let pool: ConnectionPool
    let readiness: Readiness
    let bound: Duration
    let logger: Logger

    struct NotReady: Error {
        var report: Readiness.Report
        var bound: Duration
    }

    func run() async throws {
        let (readiness, pool, bound, logger) = (self.readiness, self.pool, self.bound, self.logger)
        let report = await cancelWhenGracefulShutdown {
            await readiness.waitUntilReady(pool, bound: bound) { report in
                if report.checks["database"]?.ok == false {
                    logger.warning("database unavailable, retrying", metadata: ["error": "\(report.checks["database"]?.detail ?? "")"])
                } else {
                    logger.warning("not ready, waiting", metadata: ["problems": "\(report.failures)"])
                }
            }
        }
        if Task.isShuttingDownGracefully || Task.isCancelled { return }
        if let error = report.configurationError { throw error }
        guard report.ready else { throw NotReady(report: report, bound: bound) }
        logger.info("ready")
        try await worker.run()
    }
}
