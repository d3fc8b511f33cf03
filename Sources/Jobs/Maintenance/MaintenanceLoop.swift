import Logging
import Postgres
import ServiceLifecycle

/// The shape every maintenance service shares: do one pass now (or, with `firstPassDone`, after
/// one `interval`: the worker already made it at start-up), then one every `interval`, until
/// graceful shutdown (which also ends the wait between passes at once). A failed pass is logged
/// and tried again at the next tick; it never ends the service.
struct MaintenanceLoop: Sendable {
    var name: String
    var interval: Duration
    var logger: Logger
    var firstPassDone = false

    func run(_ pass: @escaping @Sendable () async throws -> Void) async {
        let wake = WakeSignal()
        let stopping = LockedValue(false)
        await withGracefulShutdownHandler {
            if firstPassDone { await wake.wait(upTo: interval) }
            while !stopping.current && !Task.isCancelled {
                do {
                    try await pass()
                } catch {
                    if stopping.current || Task.isCancelled { break }
                    logger.warning("\(name) failed; will retry", metadata: ["error": "\(error)"])
                }
                await wake.wait(upTo: interval)
            }
        } onGracefulShutdown: {
            stopping.withLock { $0 = true }
            wake.signal()
        }
    }
}
