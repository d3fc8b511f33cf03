import Foundation
import Logging

/// LISTEN on a session connection of its own, delivering notifications as an `AsyncStream`.
///
/// It reconnects by itself after the server restarts, and says so with `.reconnected` (while it
/// was away, notifications were lost: a consumer should look for work it may have missed).
public final class Listener: Sendable {
    public enum Event: Sendable, Equatable {
        case notification(PostgresNotification)
        /// (Re)connected and listening; anything sent while disconnected was missed.
        case listening
    }

    public let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    private let stopped = LockedValue(false)

    /// Starts listening at once, on a thread of its own.
    public init(_ configuration: PostgresConfiguration, channels: [String], logger: Logger = Logger(label: "followup.postgres.listener")) {
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(1024))
        let thread = Thread { [continuation, stopped] in
            Self.run(configuration, channels: channels, logger: logger, continuation: continuation, stopped: stopped)
        }
        thread.name = "followup.listener"
        thread.start()
    }

    deinit { stop() }

    /// Stops listening; the thread ends within a fraction of a second and the stream finishes.
    public func stop() {
        stopped.withLock { $0 = true }
    }

    private static func run(
        _ configuration: PostgresConfiguration, channels: [String], logger: Logger,
        continuation: AsyncStream<Event>.Continuation, stopped: LockedValue<Bool>
    ) {
        var connection: Connection?
        var backoffMilliseconds: UInt32 = 50
        while !stopped.withLock({ $0 }) {
            do {
                if connection == nil {
                    let fresh = try Connection.connectBlocking(configuration, logger: logger)
                    for channel in channels {
                        _ = try fresh.queryBlocking(Query(sql: "LISTEN \(try fresh.escapeIdentifierBlocking(channel))"))
                    }
                    connection = fresh
                    backoffMilliseconds = 50
                    continuation.yield(.listening)
                }
                for notification in try connection!.waitForNotificationsBlocking(timeoutMilliseconds: 200) {
                    continuation.yield(.notification(notification))
                }
            } catch {
                if connection != nil {
                    logger.warning("listener lost its connection; reconnecting", metadata: ["error": "\(error)"])
                }
                connection?.close()
                connection = nil
                usleep(backoffMilliseconds * 1000)
                backoffMilliseconds = min(backoffMilliseconds * 2, 2000)
            }
        }
        connection?.close()
        continuation.finish()
    }
}

/// A value behind a lock, for the little state shared between a thread and async code.
public final class LockedValue<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is only touched while `lock` is held.
    private let lock = NSLock()
    private var value: Value
    public init(_ value: Value) { self.value = value }
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    public var current: Value { withLock { $0 } }
}
