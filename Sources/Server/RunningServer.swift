import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `serve`'s application running inside this process (the demo, benchmarks, tests): started on
/// a port, stopped gracefully (in-flight requests finish) by ``stop()``.
public final class RunningServer: Sendable {
    public let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, Error>

    /// Starts the application and returns once it listens.
    public static func start(_ dependencies: ServerApp.Dependencies, address: ServerApp.Address = .init(port: 0)) async throws -> RunningServer {
        try await start(router: ServerApp.router(dependencies), address: address, logger: dependencies.logger)
    }

    /// Any router (`ServerApp.operationsRouter` for `run --metrics-port`).
    public static func start(router: Router<ServerApp.ServerContext>, address: ServerApp.Address = .init(port: 0),
                             logger: Logger) async throws -> RunningServer {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = ServerApp.application(router: router, address: address, logger: logger, onRunning: { continuation.yield($0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            task.cancel()
            throw CancellationError()
        }
        return RunningServer(port: port, group: group, task: task)
    }

    private init(port: Int, group: ServiceGroup, task: Task<Void, Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    /// Stops accepting connections, lets requests in flight finish, and returns when it has stopped.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
