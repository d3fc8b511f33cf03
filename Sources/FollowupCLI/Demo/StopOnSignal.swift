import Foundation

/// Stops the embedded cluster on Ctrl-C / SIGTERM before exiting.
final class StopOnSignal {
    private let sources: [DispatchSourceSignal]
    init(_ action: @escaping @Sendable () -> Void) {
        sources = [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                action()
                exit(130)
            }
            source.resume()
            return source
        }
    }
    func cancel() { for source in sources { source.cancel() } }
}
