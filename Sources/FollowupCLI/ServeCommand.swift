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
        let logger = Logger(label: "followup.serve")
        let settings: ServerSettings
        do {
            settings = try ServerSettings()
        } catch let error as FollowUpSettingsError {
            throw ValidationError("serve settings: \(error)")
        }
        let groups = settings.enabledGroups
        if groups.isEmpty {
            throw ValidationError("""
                nothing to serve: set FOLLOWUP_PUBLIC_URL and FOLLOWUP_TWILIO_AUTH_TOKEN (Twilio webhooks) and/or \
                FOLLOWUP_REPLY_SECRET (unsubscribe links; with FOLLOWUP_INBOUND_MAIL_SECRET, inbound mail)
                """)
        }
        let pool = try await database.pool()
        let app = ServerApp.application(
            .init(pool: pool, settings: settings, logger: logger), address: .init(host: host, port: port),
            onRunning: { port in
                logger.info("listening", metadata: ["address": "\(host):\(port)", "routes": "\(groups.joined(separator: ","))"])
            })
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
        logger.info("stopped")
    }
}
