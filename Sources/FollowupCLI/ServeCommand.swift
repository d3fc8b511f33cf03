import ArgumentParser
import FollowUp
import Foundation
import Logging
import Postgres
import Server
import ServiceLifecycle

/// `followup serve`: the HTTP face — provider webhooks, inbound mail, unsubscribe (docs/webhooks.md).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "The HTTP face: Twilio status callbacks and inbound texts, inbound mail, unsubscribe links.",
        discussion: """
            Stateless: run as many as you like behind a load balancer (TLS ends there). On SIGTERM or SIGINT it \
            stops accepting connections and finishes the requests in flight.

            Settings (environment; each route group is on when its settings are): FOLLOWUP_PUBLIC_URL and \
            FOLLOWUP_TWILIO_AUTH_TOKEN (Twilio webhooks), FOLLOWUP_REPLY_SECRET and FOLLOWUP_REPLY_DOMAIN \
            (reply addresses, unsubscribe links), FOLLOWUP_INBOUND_MAIL_SECRET (the inbound mail webhook). \
            See docs/webhooks.md for what to configure at Twilio and at your mail provider.

            Operations (docs/operations.md): GET /metrics (Prometheus, with the queue-wide gauges read from the \
            database once per scrape), GET /healthz, GET /readyz; the status page at / when \
            FOLLOWUP_STATUS_PASSWORD is set (HTTP basic auth; actions through FOLLOWUP_OPERATOR_DATABASE_URL).

            Example:
              followup serve --host 0.0.0.0 --port 8080 --database-url URL
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "Address to listen on (0.0.0.0: every interface).") var host: String = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port; the log says which).") var port: Int = 8080

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard !host.isEmpty else { throw ValidationError("--host must not be empty") }
    }

    func run() async throws {
        logging.bootstrap()
        ProcessMetrics.bootstrap()
        let logger = Logger(label: "followup.serve")
        let settings: ServerSettings
        do {
            settings = try ServerSettings()
        } catch let error as FollowUpSettingsError {
            throw ValidationError("serve settings: \(error)")
        }
        var groups = settings.enabledGroups
        let environment = ProcessInfo.processInfo.environment
        func value(_ name: String) -> String? {
            environment[name].map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        let statusPassword = value("FOLLOWUP_STATUS_PASSWORD")
        if let statusPassword, statusPassword.count < 12 {
            throw ValidationError("FOLLOWUP_STATUS_PASSWORD must be at least 12 characters")
        }
        if statusPassword != nil { groups.append("status") }
        if groups.isEmpty {
            throw ValidationError("""
                nothing to serve: set FOLLOWUP_PUBLIC_URL and FOLLOWUP_TWILIO_AUTH_TOKEN (Twilio webhooks) and/or \
                FOLLOWUP_REPLY_SECRET (unsubscribe links; with FOLLOWUP_INBOUND_MAIL_SECRET, inbound mail)
                """)
        }
        let routes = groups
        let pool = try await database.pool()
        var operatorPool: ConnectionPool?
        if statusPassword != nil, let url = value("FOLLOWUP_OPERATOR_DATABASE_URL") {
            do {
                var configuration = try PostgresConfiguration(url)
                configuration.searchPath = DatabaseOptions.productSearchPath
                configuration.applicationName = "followup-status"
                operatorPool = ConnectionPool(configuration, maxConnections: 2)
            } catch let error as PostgresError {
                throw ValidationError("FOLLOWUP_OPERATOR_DATABASE_URL: \(error.message)")
            }
        }
        let statusPage = statusPassword.map {
            StatusPageSettings(password: $0, operatorPool: operatorPool,
                               secureCookie: settings.publicURL?.lowercased().hasPrefix("https://") ?? false)
        }
        let readiness = Readiness(configured: ["routes": true])
        let app = ServerApp.application(
            .init(pool: pool, settings: settings, logger: logger, readiness: readiness, statusPage: statusPage),
            address: .init(host: host, port: port),
            onRunning: { port in
                logger.info("listening", metadata: ["address": "\(host):\(port)", "routes": "\(routes.joined(separator: ","))"])
            })
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await operatorPool?.close()
            await pool.close()
            throw error
        }
        await operatorPool?.close()
        await pool.close()
        logger.info("stopped")
    }
}
