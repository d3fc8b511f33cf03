import Foundation

/// Polls `probe` until it returns a value or `seconds` pass (the demo's waits: every act waits on
/// what the poller does in the background).
func waitFor<T: Sendable>(seconds: Double = 10, _ probe: () async -> T?) async -> T? {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if let value = await probe() { return value }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await probe()
}
