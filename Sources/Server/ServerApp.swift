import FollowUp
import Foundation
import Hummingbird
import Logging
import Postgres

/// `followup serve`: the product's HTTP face, a Hummingbird 2 application that runs as a
/// swift-service-lifecycle `Service` (graceful shutdown: on SIGTERM it stops accepting
/// connections and finishes the requests in flight).
///
/// Routes are grouped per concern, one file each under `Routes/`, and each group adds itself to
/// the router here. To add a group (metrics, health, a status page), write a type with
/// `func add(to router: Router<ServerContext>)` and call it in ``ServerApp/router(_:)``.
public enum ServerApp {
    public typealias ServerContext = BasicRequestContext

    /// Where to listen.
    public struct Address: Sendable {
        public var host: String
        /// 0: any free port (tests); the bound port is passed to `onRunning`.
        public var port: Int
        public init(host: String = "127.0.0.1", port: Int = 8080) {
            self.host = host
            self.port = port
        }
    }

    /// What every route group may use.
    public struct Dependencies: Sendable {
        public var pool: ConnectionPool
        public var settings: ServerSettings
        public var logger: Logger
        /// What `/readyz` checks besides the database (docs/operations.md).
        public var readiness: Readiness
        /// The status page's login and operator pool; nil: no status page (docs/operations.md).
        public var statusPage: StatusPageSettings?
        public init(pool: ConnectionPool, settings: ServerSettings, logger: Logger,
                    readiness: Readiness? = nil, statusPage: StatusPageSettings? = nil) {
            self.pool = pool
            self.settings = settings
            self.logger = logger
            self.readiness = readiness ?? Readiness(configured: ["routes": !settings.enabledGroups.isEmpty])
            self.statusPage = statusPage
        }
    }

    /// The router with every configured route group.
    public static func router(_ dependencies: Dependencies) -> Router<ServerContext> {
        let router = Router(context: ServerContext.self)
        TwilioWebhooks(dependencies)?.add(to: router)
        EmailWebhooks(dependencies)?.add(to: router)
        UnsubscribeRoutes(dependencies)?.add(to: router)
        // Operations (docs/operations.md): metrics with the queue-wide gauges, health, the status page.
        MetricsRoutes(pool: dependencies.pool, queueGauges: true, logger: dependencies.logger).add(to: router)
        HealthRoutes(pool: dependencies.pool, readiness: dependencies.readiness).add(to: router)
        StatusPage(dependencies)?.add(to: router)
        return router
    }

    /// `followup run --metrics-port`: `/metrics` (this process's counters only; the queue-wide
    /// gauges come from `serve`, once, not from every poller), `/healthz` and `/readyz`.
    public static func operationsRouter(pool: ConnectionPool, readiness: Readiness, logger: Logger) -> Router<ServerContext> {
        let router = Router(context: ServerContext.self)
        MetricsRoutes(pool: pool, queueGauges: false, logger: logger).add(to: router)
        HealthRoutes(pool: pool, readiness: readiness).add(to: router)
        return router
    }

    /// The application, ready to `run()` or to hand to a `ServiceGroup`.
    /// - Parameter onRunning: called with the bound port once the server listens.
    public static func application(_ dependencies: Dependencies, address: Address,
                                   onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        application(router: router(dependencies), address: address, logger: dependencies.logger, onRunning: onRunning)
    }

    /// Any of the routers above on `address`.
    public static func application(router: Router<ServerContext>, address: Address, logger: Logger,
                                   onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "followup"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? address.port) },
            logger: logger)
    }
}
