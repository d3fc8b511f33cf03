import Fakes
import Foundation
@testable import FollowUp
import Jobs
import Logging
import Outbound
import Postgres
import Providers
import TestSupport
import Wallet

/// Runs `body` in a fresh harness and stops it afterwards — pollers drained, fakes and pools
/// closed — whether `body` returned or threw (awaited, unlike a `defer { Task { … } }`).
///
/// ```swift
/// try await withFollowUpHarness { h in
///     h.startWorker()
///     let channel = try await h.channel()
///     …
/// }
/// ```
func withFollowUpHarness<T>(settings: FollowUpSettings = .fast(), providerTimeoutSeconds: Double = 5, throughPgBouncer: Bool = false,
                            _ body: (FollowUpHarness) async throws -> T) async throws -> T {
    let h = try await FollowUpHarness(settings: settings, providerTimeoutSeconds: providerTimeoutSeconds, throughPgBouncer: throughPgBouncer)
    return try await withCleanup({ try await body(h) }, cleanup: { await h.stop() })
}

/// One test's world: a fresh database, loopback provider fakes (Twilio, Kakao, FCM, SMTP), the
/// real provider adapters pointed at them, and one or more pollers running the follow-up jobs.
/// The app's side is written the way an app writes it: plain SQL INSERTs, logged in as a member
/// of `followup_app`; the pollers log in as a member of `followup_poller`. `pool` (the test
/// database's owner) is for looking, and for what an operator would do.
final class FollowUpHarness: Sendable {
    let db: TestDatabase
    /// The chat app's login.
    let app: ConnectionPool
    /// Where pollers connect: the poller's login.
    let poller: PostgresConfiguration
    let fakes: FakeProviders
    let client: OutboundClient
    let providers: FollowUpProviders
    let settings: FollowUpSettings
    private let workers: LockedValue<[(JobWorker, Task<Void, Error>)]>
    /// What a test opens beside the harness (another login's pool, a server): closed first by `stop()`.
    let scope = TestScope()

    var pool: ConnectionPool { db.pool }
    var twilio: FakeTwilio { fakes.twilio }
    var kakao: FakeKakao { fakes.kakao }
    var fcm: FakeFCM { fakes.fcm }
    var apns: FakeAPNs { fakes.apns }
    var smtp: LoopbackSMTPServer { fakes.smtp }

    /// `throughPgBouncer`: the pollers connect through a transaction-mode PgBouncer, in the
    /// client's pooler mode (`--no-prepared-statements`; docs/postgres-client.md).
    init(settings: FollowUpSettings = .fast(), providerTimeoutSeconds: Double = 5, throughPgBouncer: Bool = false) async throws {
        db = try await TestDatabase.fresh(maxConnections: 16)
        app = try await db.pool(as: .app)
        if throughPgBouncer {
            var configuration = try await db.configurationThroughPgBouncer(as: .poller)
            configuration.preparedStatements = false
            poller = configuration
        } else {
            poller = try await db.configuration(as: .poller)
        }
        fakes = try FakeProviders()
        client = OutboundClient()
        var environment = fakes.environment
        environment["FOLLOWUP_PROVIDER_TIMEOUT"] = String(providerTimeoutSeconds)
        providers = FollowUpProviders(try ProviderSet(settings: try ProviderSettings(environment: environment), client: client))
        self.settings = settings
        workers = LockedValue([])
    }

    /// Worker settings for tests: quick wake-ups and retries.
    static func workerConfiguration(concurrency: Int = 32) -> WorkerConfiguration {
        var configuration = WorkerConfiguration()
        configuration.queues = [.init("default", concurrency: concurrency)]
        configuration.safetyPoll = .milliseconds(200)
        configuration.backoff = Backoff(base: .milliseconds(50), maximum: .milliseconds(300))
        configuration.rescueInterval = .milliseconds(200)
        configuration.shutdownGrace = .seconds(2)
        return configuration
    }

    /// Starts a poller with the follow-up handlers (on its own pool, as another process would).
    @discardableResult
    func startWorker(configuration: WorkerConfiguration = FollowUpHarness.workerConfiguration(),
                     registry custom: JobRegistry? = nil) -> JobWorker {
        var registry = JobRegistry()
        if let custom {
            registry = custom
        } else {
            FollowUpRuntime.register(in: &registry, providers: providers, settings: settings,
                                     logger: Logger(label: "test.followups"))
            // The wallet's jobs too, as `followup run` has them: a channel created paid gets its
            // monthly credit through one.
            var periodic: [PeriodicJob] = []
            WalletRuntime.register(in: &registry, periodic: &periodic, payments: nil, settings: WalletSettings(),
                                   logger: Logger(label: "test.wallet"))
        }
        let worker = JobWorker(pool: ConnectionPool(poller, maxConnections: 16), registry: registry, configuration: configuration,
                               logger: Logger(label: "test.worker"))
        let task = Task { try await worker.run() }
        workers.withLock { $0.append((worker, task)) }
        return worker
    }

    /// Drains the pollers and closes the fakes and pools (`withFollowUpHarness` calls it).
    func stop() async {
        await scope.end()
        for (worker, task) in workers.withLock({ $0 }) {
            worker.shutdown()
            _ = try? await task.value
        }
        fakes.stop()
        await app.close()
        await db.pool.close()
    }

    // MARK: The app's side, in plain SQL

    struct ChannelOptions {
        var name = "Acme"
        // Free: a paid channel gets its monthly credit on creation, which would blur the wallet figures tests check.
        var plan = "free"
        var phone = true
        var email = true
        var push = false
        var messenger = false
        var country = "KR"
        var offlineTimeout = "270 seconds"
        var pushAckTimeout = "30 seconds"
        var credit: Int64 = 5_000_000

        /// A channel with push integrated, whose acknowledgement wait is `ackTimeout` ("1 second").
        static func push(ackTimeout: String) -> ChannelOptions {
            var options = ChannelOptions()
            options.push = true
            options.pushAckTimeout = ackTimeout
            return options
        }
    }

    func channel(_ options: ChannelOptions = ChannelOptions()) async throws -> Int64 {
        let id = try await app.scalar("""
            INSERT INTO channels (name, plan, phone_enabled, email_enabled, push_integrated,
                                  messenger_sender_key, messenger_template_code, default_country,
                                  offline_timeout, push_ack_timeout)
            VALUES (\(options.name), \(options.plan), \(options.phone), \(options.email), \(options.push),
                    \(options.messenger ? "sender-key-1" : nil), \(options.messenger ? "FOLLOWUP_01" : nil), \(options.country),
                    \(options.offlineTimeout)::interval, \(options.pushAckTimeout)::interval)
            RETURNING id
            """, as: Int64.self)
        if options.credit > 0 {
            try await Wallet.credit(channelID: id, amountMicros: options.credit, reason: "test credit", by: "tests", on: pool)
        }
        return id
    }

    func customer(channel: Int64, name: String? = "Kim", phone: String? = "+821012345678",
                  email: String? = "kim@example.com", country: String? = "KR", language: String? = "en") async throws -> Int64 {
        try await app.scalar("""
            INSERT INTO customers (channel_id, name, phone, email, country, language)
            VALUES (\(channel), \(name), \(phone), \(email), \(country), \(language)) RETURNING id
            """, as: Int64.self)
    }

    func device(customer: Int64, platform: String = "android", token: String) async throws {
        try await app.execute("INSERT INTO customer_devices (customer_id, platform, token) VALUES (\(customer), \(platform), \(token))")
    }

    func chat(channel: Int64, customer: Int64, openedBy: String = "customer", kind: String = "support") async throws -> Int64 {
        try await app.scalar("""
            INSERT INTO chats (channel_id, customer_id, opened_by, kind) VALUES (\(channel), \(customer), \(openedBy), \(kind))
            RETURNING id
            """, as: Int64.self)
    }

    func message(chat: Int64, _ sender: String, _ body: String) async throws {
        try await app.execute("INSERT INTO messages (chat_id, sender, body) VALUES (\(chat), \(sender), \(body))")
    }

    func activity(customer: Int64, _ kind: String) async throws {
        try await app.execute("INSERT INTO activity (customer_id, kind) VALUES (\(customer), \(kind))")
    }

    /// The common start of a flow test: a channel, a customer who asks, leaves, and is answered —
    /// so a follow-up is on its way.
    func offlineChat(_ options: ChannelOptions = ChannelOptions(), phone: String? = "+821012345678",
                     email: String? = "kim@example.com", asks: String = "Hello",
                     answer: String = "Answer") async throws -> (channel: Int64, customer: Int64, chat: Int64) {
        let channel = try await self.channel(options)
        let customer = try await self.customer(channel: channel, phone: phone, email: email)
        let chat = try await offlineChat(channel: channel, customer: customer, asks: asks, answer: answer)
        return (channel, customer, chat)
    }

    /// A chat of `customer` on `channel` in which they ask, leave, and are answered: a follow-up
    /// is on its way. Returns the chat.
    func offlineChat(channel: Int64, customer: Int64, asks: String = "Hello", answer: String = "Answer") async throws -> Int64 {
        let chat = try await self.chat(channel: channel, customer: customer)
        try await message(chat: chat, "customer", asks)
        try await activity(customer: customer, "left")
        try await message(chat: chat, "manager", answer)
        return chat
    }

    // MARK: Looking

    struct DeliveryRow: Equatable, CustomStringConvertible {
        var route: String
        var status: String
        var reason: String?
        var description: String { "\(route)/\(status)\(reason.map { " (\($0))" } ?? "")" }
    }

    func deliveries(chat: Int64) async throws -> [DeliveryRow] {
        try await pool.query("SELECT route, status, reason FROM deliveries WHERE chat_id = \(chat) ORDER BY id").map {
            DeliveryRow(route: try $0.decode(String.self, at: 0), status: try $0.decode(String.self, at: 1),
                        reason: try $0.decode(String?.self, at: 2))
        }
    }

    func followUps(chat: Int64) async throws -> [(status: String, reason: String?, count: Int)] {
        try await pool.query("SELECT status, reason, message_count FROM follow_ups WHERE chat_id = \(chat) ORDER BY id").map {
            (try $0.decode(String.self, at: 0), try $0.decode(String?.self, at: 1), try $0.decode(Int.self, at: 2))
        }
    }

    /// Waits until every delivery of the chat is finished and there are at least `count`.
    func settled(chat: Int64, count: Int, timeout: Duration = .seconds(10)) async throws -> [DeliveryRow] {
        _ = try await eventually(timeout: timeout) {
            let rows = try await deliveries(chat: chat)
            return rows.count >= count && rows.allSatisfy { !["queued", "sending"].contains($0.status) }
        }
        return try await deliveries(chat: chat)
    }

    /// Waits until no follow-up job is due or running (snoozed checks far in the future do not count).
    func idle(timeout: Duration = .seconds(10)) async throws -> Bool {
        try await eventually(timeout: timeout) {
            try await pool.scalar("""
                SELECT count(*)::int FROM jobs
                WHERE state = 'running' OR (state = 'available' AND run_at <= now() + interval '1 second')
                """, as: Int.self) == 0
        }
    }
}
