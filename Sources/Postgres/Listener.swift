import CLibPQ
import Logging

/// LISTEN on a session connection of its own, delivering notifications as an `AsyncStream`.
///
/// Its socket waits on `PostgresIOLoop` like every other connection's: no thread of its own, no
/// polling. It reconnects by itself after the server restarts, and says so with `.listening`
/// (while it was away, notifications were lost: a consumer should look for work it may have
/// missed). Behind a transaction-mode pooler LISTEN cannot work (`PostgresConfiguration.supportsListen`):
/// check that before making one.
public final class Listener: Sendable {
    public enum Event: Sendable, Equatable {
        case notification(PostgresNotification)
        /// (Re)connected and listening; anything sent while disconnected was missed.
        case listening
    }

    public let events: AsyncStream<Event>
    private let task: Task<Void, Never>

    /// Starts listening at once.
    public init(_ configuration: PostgresConfiguration, channels: [String], logger: Logger = Logger(label: "followup.postgres.listener")) {
        let (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(1024))
        self.events = events
        task = Task.detached {
            await Self.run(configuration, channels: channels, logger: logger, continuation: continuation)
        }
        continuation.onTermination = { [task] _ in task.cancel() }
    }

    deinit { stop() }

    /// Stops listening: the connection closes and the stream finishes.
    public func stop() {
        task.cancel()
    }

    private static func run(
        _ configuration: PostgresConfiguration, channels: [String], logger: Logger,
        continuation: AsyncStream<Event>.Continuation
    ) async {
        var backoff = Duration.milliseconds(50)
        while !Task.isCancelled {
            var connection: Connection?
            do {
                let fresh = try await Connection.connect(configuration, logger: logger)
                connection = fresh
                for channel in channels {
                    _ = try await fresh.query(Query(sql: "LISTEN \(try fresh.escapeIdentifier(channel))"))
                }
                backoff = .milliseconds(50)
                continuation.yield(.listening)
                while true {
                    for notification in try await fresh.notifications() {
                        continuation.yield(.notification(notification))
                    }
                }
            } catch {
                if Task.isCancelled { connection?.close(); break }
                if connection != nil {
                    logger.warning("listener lost its connection; reconnecting", metadata: ["error": "\(error)"])
                }
                connection?.close()
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
            }
        }
        continuation.finish()
    }
}

/// A NOTIFY received on a LISTEN connection.
public struct PostgresNotification: Sendable, Equatable {
    public var channel: String
    public var payload: String
    public init(channel: String, payload: String) {
        self.channel = channel
        self.payload = payload
    }
}

extension Connection {
    /// Quotes an identifier (a channel name for LISTEN, which cannot be a bound parameter).
    func escapeIdentifier(_ identifier: String) throws -> String {
        try lock.withLock {
            guard machine.isUsable, let escaped = PQescapeIdentifier(conn, identifier, identifier.utf8.count) else {
                throw PostgresError(code: .invalidConfiguration, message: "cannot quote a LISTEN channel name")
            }
            defer { PQfreemem(escaped) }
            return String(cString: escaped)
        }
    }

    /// Waits on the I/O loop until notifications arrive, and returns them. Throws when the
    /// connection breaks, and `.cancelled` when the calling task is cancelled.
    func notifications() async throws -> [PostgresNotification] {
        try await roundTrip([]) { _, _ in
            let socket = PQsocket(conn)
            while true {
                guard PQconsumeInput(conn) == 1 else { throw connectionLost() }
                var received: [PostgresNotification] = []
                while let notify = PQnotifies(conn) {
                    received.append(PostgresNotification(
                        channel: String(cString: notify.pointee.relname),
                        payload: String(cString: notify.pointee.extra)))
                    PQfreemem(notify)
                }
                if !received.isEmpty { return received }
                if await PostgresIOLoop.shared.wait(for: socket, until: nil) == .interrupted {
                    throw PostgresError(code: .cancelled, message: "stopped listening")
                }
            }
        }
    }
}
