import ArgumentParser
import Fakes
import FollowUp
import Foundation
import Jobs
import Logging
import EmbeddedPostgres
import Postgres
import Providers
import Schema
import Server
import Wallet

/// `followup demo`: the seed's scenarios, end to end, in seconds — on a Postgres it starts itself,
/// with loopback stand-ins for FCM, APNs, Kakao, Twilio and SMTP.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "See it work: customers walk away mid-chat and their answers follow them (own Postgres, fake providers).",
        discussion: """
            Starts an embedded Postgres (or uses --database-url / DATABASE_URL), applies the schema, starts
            local fakes of every provider, runs the poller, and plays the seed's scenarios with short
            timeouts: push acknowledged; push unanswered; no app; messenger blocked; a long Korean answer;
            a chat a manager opened; a marketing message. Acme Shop mails from its own domain, verified on a
            local DNS server and DKIM-signed. Then prints what each customer received, and why, and the SMS
            wallet's statement. Then the conversation comes back through `followup serve`'s webhooks: a
            delivery receipt, an email reply landing in the chat, and a STOP; last, answers merged into
            one follow-up by the cooldown, and a text held for quiet hours.
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Seconds without activity that count as offline in the demo (production default: 270).")
    var offlineSeconds: Double = 2
    @Option(help: "Seconds a push has to be acknowledged in the demo (production default: 30).")
    var pushAckSeconds: Double = 2
    @Flag(help: "Show the poller's log (info level).") var verbose = false
    @Option(help: "After the story, serve the status page, /metrics and /readyz on this port until Ctrl-C (docs/operations.md).")
    var statusPort: Int?

    /// The status page's password in the demo (any user name).
    static let statusPassword = "demo-status-page"

    func validate() throws {
        guard offlineSeconds > 0, pushAckSeconds > 0 else { throw ValidationError("the timeouts must be positive") }
    }

    func run() async throws {
        // Before the worker makes its first counter (swift-metrics binds each to the factory of its time).
        if statusPort != nil { ProcessMetrics.bootstrap() }
        var logger = Logger(label: "demo")
        logger.logLevel = verbose ? .info : .error
        let started = ContinuousClock.now
        let cluster = database.isSet ? nil : try await EmbeddedCluster.start(logger: logger)
        let stop = StopOnSignal { cluster?.stop() }
        defer { stop.cancel(); cluster?.stop() }
        let pool = ConnectionPool(try cluster?.configuration ?? database.configuration(productSession: false), maxConnections: 16, logger: logger)
        print("Postgres: \(cluster.map { "embedded (port \($0.port)), thrown away at the end" } ?? "the database at DATABASE_URL")")
        try await ProductSchema.migrate(pool, logger: logger)

        let fakes = try FakeProviders()
        defer { fakes.stop() }
        print("Providers: local fakes of FCM, APNs, Kakao AlimTalk, Twilio and an SMTP server\n")

        // The same handlers as `followup run`, with the providers pointed at the fakes.
        var settings = FollowUpSettings.fast()
        settings.gatherDelay = .milliseconds(300)
        let domain = try DemoDomain()  // Acme Shop's own email domain, on a loopback DNS server
        defer { domain.dns.stop() }
        var environment = fakes.environment.merging(domain.environment) { $1 }
        DemoTwoWay.prepare(&settings, environment: &environment)
        let runtime = try ProductRuntime(environment: environment, followUps: settings, logger: logger)
        var workerConfiguration = WorkerConfiguration()
        workerConfiguration.queues = [.init("default", concurrency: 16)]
        workerConfiguration.safetyPoll = .milliseconds(250)
        workerConfiguration.backoff = Backoff(base: .milliseconds(100), maximum: .seconds(1))
        workerConfiguration.shutdownGrace = .seconds(2)
        let logins = try await DemoLogins.make(try cluster?.configuration ?? database.configuration(productSession: false), on: pool)
        print(logins.separate
              ? "Logins: the poller as a member of followup_poller, the app as a member of followup_app (docs/security.md)\n"
              : "Logins: the poller and the app share DATABASE_URL's login (it may not create roles)\n")
        let pollerPool = ConnectionPool(logins.poller, maxConnections: 16, logger: logger)
        let appPool = ConnectionPool(logins.app, maxConnections: 4, logger: logger)
        let worker = JobWorker(pool: pollerPool, registry: runtime.registry, periodic: runtime.periodic,
                               configuration: workerConfiguration, logger: logger)
        let workerTask = Task { try await worker.run() }

        let story = DemoStory(pool: pool, app: appPool, fakes: fakes, offlineSeconds: offlineSeconds, pushAckSeconds: pushAckSeconds)
        do {
            try await story.setUp()
            try await domain.setUp(channelID: try await story.channelID(DemoStory.acme), pool: pool, logger: logger)
            try await story.play()
            try await story.report()
            try await DemoTwoWay(pool: pool, serverPool: pollerPool, fakes: fakes, followUps: settings).play()
            try await DemoPolicy(pool: pool, app: appPool, fakes: fakes).play()
            if let statusPort { try await serveStatus(port: statusPort, pollerPool: pollerPool, logins: logins, settings: settings, logger: logger) }
        } catch {
            worker.shutdown()
            _ = try? await workerTask.value
            await pollerPool.close()
            await appPool.close()
            await pool.close()
            throw error
        }
        worker.shutdown()
        _ = try? await workerTask.value
        await pollerPool.close()
        await appPool.close()
        await pool.close()
        runtime.client.shutdown()
        let elapsed = ContinuousClock.now - started
        print(String(format: "\nDone in %.1f s. Ask the delivery log yourself: followup deliveries --database-url URL --channel 1", elapsed.seconds))
    }
}

extension DemoCommand {
    /// `--status-port`: `serve`'s status page (on the poller's login, acting through the operator's),
    /// with the worker still running, until Ctrl-C (which stops the embedded Postgres too).
    func serveStatus(port: Int, pollerPool: ConnectionPool, logins: DemoLogins, settings: FollowUpSettings, logger: Logger) async throws {
        let operatorPool = ConnectionPool(logins.operator, maxConnections: 2, logger: logger)
        let server = try await RunningServer.start(.init(
            pool: pollerPool, settings: ServerSettings(followUps: settings, publicURL: nil, twilioAuthToken: nil, inboundMailSecret: nil),
            logger: logger, statusPage: StatusPageSettings(password: Self.statusPassword, operatorPool: operatorPool)),
            address: .init(host: "127.0.0.1", port: port))
        print("""

            Status page: http://127.0.0.1:\(server.port)/  (HTTP basic auth: any user, password \(Self.statusPassword))
            Metrics:     http://127.0.0.1:\(server.port)/metrics    Readiness: http://127.0.0.1:\(server.port)/readyz
            Ctrl-C to stop.
            """)
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
