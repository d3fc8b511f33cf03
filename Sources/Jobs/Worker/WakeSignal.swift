/// Wakes one waiting loop early: a NOTIFY arrived, a slot freed up, or shutdown began.
/// Signals sent while nobody waits are remembered (one is enough).
final class WakeSignal: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func signal() { continuation.yield() }

    /// Returns when signalled, after `timeout`, or when the task is cancelled.
    func wait(upTo timeout: Duration) async {
        guard timeout > .zero else { return }
        let timer = Task { [continuation] in
            if (try? await Task.sleep(for: timeout)) != nil { continuation.yield() }
        }
        var iterator = stream.makeAsyncIterator()
        _ = await iterator.next()
        timer.cancel()
    }
}
