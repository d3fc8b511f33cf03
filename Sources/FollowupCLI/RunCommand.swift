import ArgumentParser
import Foundation
import Jobs
import Logging
import Postgres
import Server
import ServiceLifecycle

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The poller: claim due jobs and run them until SIGTERM or SIGINT.",
        discussion: """
            Deploy as many as you like; they coordinate through row locks only. On SIGTERM it stops claiming and \
            lets running jobs finish within --shutdown-grace. Every setting is checked before it starts; all \
            problems are listed at once, exit status 78.


            """ + SettingsCatalog.helpText)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions
    @OptionGroup var worker: WorkerOptions
    @Option(help: "Serve /metrics (this poller's counters), /healthz and /readyz on this port (docs/operations.md).")
    var metricsPort: Int?
    @Option(help: "Address for --metrics-port.") var metricsHost: String = "127.0.0.1"

    func validate() throws {
        if let metricsPort, !(0...65535).contains(metricsPort) { throw ValidationError("--metrics-port must be between 0 and 65535") }
    }

    func run() async throws {
        var settings = OperatorConfiguration(database)
        var workerConfiguration = WorkerConfiguration()
        do {
            workerConfiguration = try worker.configuration()
        } catch let error as ValidationError {
            settings.add(problem: error.message)
        }
        settings.checkProviderKeys()
        guard settings.isValid, let databaseConfiguration = settings.database, let providers = settings.providers else {
            throw settings.failure()
        }
        workerConfiguration.backoff = settings.backoff
        workerConfiguration.retention = settings.retention
        workerConfiguration.deadRetention = settings.deadRetention

        logging.bootstrap()
        // Before anything makes a counter: swift-metrics binds each to the factory of its time.
        if metricsPort != nil { ProcessMetrics.bootstrap() }
        let logger = Logger(label: "followup")
        let runtime = try ProductRuntime(providers: providers, followUps: settings.followUps, logger: logger)
        let pool = ConnectionPool(databaseConfiguration, maxConnections: database.maxConnections)
        // Providers were checked above (exit 78 otherwise); what is left is the database.
        let readiness = Readiness(configured: ["providers": true])
        var metricsServer: RunningServer?
        if let metricsPort {
            let server = try await RunningServer.start(router: ServerApp.operationsRouter(pool: pool, readiness: readiness, logger: logger),
                                                       address: .init(host: metricsHost, port: metricsPort), logger: logger)
            logger.info("serving metrics", metadata: ["address": "\(metricsHost):\(server.port)"])
            metricsServer = server
        }
        let jobWorker = JobWorker(pool: pool, registry: runtime.registry, periodic: runtime.periodic,
                                  configuration: workerConfiguration, logger: logger)
        let poller = ReadyThenPoll(worker: jobWorker, pool: pool, readiness: readiness, bound: settings.readyTimeout, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [poller], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let notReady as ReadyThenPoll.NotReady {
            await metricsServer?.stop()
            await pool.close()
            FileHandle.standardError.write(Data(
                "followup: not ready after \(Int(notReady.bound.seconds)) s (FOLLOWUP_READY_TIMEOUT): \(notReady.report.failures)\n".utf8))
            throw ExitCode(69)  // EX_UNAVAILABLE
        } catch let error as PostgresError where error.isConfigurationError {
            // Bad credentials, an invalid sslmode, a database that does not exist: retrying cannot
            // help, so stop at once with one clear line (transient errors are waited out instead).
            await metricsServer?.stop()
            await pool.close()
            FileHandle.standardError.write(Data((DatabaseConfigurationFailure(error).description + "\n").utf8))
            throw ExitCode(DatabaseConfigurationFailure.exitStatus)
        }
        await metricsServer?.stop()
        await pool.close()
    }
}

/// A database error only the operator can fix, at start-up: one line on stderr, exit status 78
/// (`EX_CONFIG`). Never the password (libpq's messages do not carry it).
struct DatabaseConfigurationFailure: Error, CustomStringConvertible {
    var error: PostgresError
    init(_ error: PostgresError) { self.error = error }
    static let exitStatus: Int32 = 78

    var description: String {
        let message = error.message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
        return "followup: the database refused this configuration\(error.sqlState.map { " (SQLSTATE \($0))" } ?? ""): \(message)"
    }
}

/// Queue and timing options for `run`.
struct WorkerOptions: ParsableArguments {
    @Option(help: "Queues and their concurrency, e.g. default=16,followups=32.")
    var queues: String = "default=16"
    @Option(help: "Jobs claimed per round trip.")
    var claimBatch: Int = 10
    @Option(help: "Seconds a running job may go without a heartbeat before another poller rescues it.")
    var leaseSeconds: Double = 60
    @Option(help: "Seconds between safety polls (NOTIFY and due-time timers do the real work).")
    var safetyPollSeconds: Double = 5
    @Option(help: "Seconds in-flight jobs get to finish after SIGTERM.")
    var shutdownGrace: Double = 30

    func configuration() throws -> WorkerConfiguration {
        var configuration = WorkerConfiguration()
        configuration.queues = try queues.split(separator: ",").map { entry in
            let parts = entry.split(separator: "=")
            guard parts.count == 2, let concurrency = Int(parts[1]), concurrency > 0 else {
                throw ValidationError("--queues takes name=concurrency pairs, e.g. default=16,followups=32 (got \(entry))")
            }
            return .init(String(parts[0]), concurrency: concurrency)
        }
        guard claimBatch > 0, leaseSeconds > 0, safetyPollSeconds > 0, shutdownGrace >= 0 else {
            throw ValidationError("--claim-batch, --lease-seconds and --safety-poll-seconds must be positive")
        }
        configuration.claimBatch = claimBatch
        configuration.lease = .milliseconds(Int64(leaseSeconds * 1000))
        configuration.heartbeatInterval = .milliseconds(Int64(leaseSeconds * 1000 / 3))
        configuration.rescueInterval = .milliseconds(Int64(max(leaseSeconds * 1000 / 4, 100)))
        configuration.safetyPoll = .milliseconds(Int64(safetyPollSeconds * 1000))
        configuration.shutdownGrace = .milliseconds(Int64(shutdownGrace * 1000))
        return configuration
    }
}
