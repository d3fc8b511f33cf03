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

/// The demo's cast and what happens to each of them.
struct DemoStory: Sendable {
    /// The database's owner login: what the demo reports, and an operator's credit.
    let pool: ConnectionPool
    /// The chat app's login: every row the app writes.
    let app: ConnectionPool
    let fakes: FakeProviders
    let offlineSeconds: Double
    let pushAckSeconds: Double

    struct Scenario: Sendable {
        var title: String
        var customer: String
        var channel: String
        var phone: String?
        var email: String?
        var country: String
        var language: String
        var device: (platform: String, token: String)?
        var openedBy = "customer"
        var kind = "support"
        var customerSays: String?
        /// How the customer goes away: left, tab_hidden, or silence (heartbeat, then nothing).
        var away: String
        var answers: [String]
        /// Shown when no notification is expected.
        var rule: String?
        var acknowledgesPush = false
        var messengerBlocked = false
    }

    static let acme = "Acme Shop"
    static let bloom = "Bloom Flowers"

    var scenarios: [Scenario] {
        [
            Scenario(title: "Push acknowledged", customer: "Minji", channel: Self.acme, phone: "+821055510001",
                     email: "minji@example.com", country: "KR", language: "en",
                     device: ("android", "fcm-demo-minji-" + String(repeating: "Zq9x", count: 30)),
                     customerSays: "Has my refund gone through?", away: "left",
                     answers: ["Yes — it was approved this morning."], acknowledgesPush: true),
            Scenario(title: "Push unanswered", customer: "Jisoo", channel: Self.acme, phone: "+821055510002",
                     email: "jisoo@example.com", country: "KR", language: "en",
                     device: ("ios", String(repeating: "a1b2c3d4", count: 8)),
                     customerSays: "Can I change my delivery address?", away: "tab_hidden",
                     answers: ["Sure, I updated it to the new address you gave us."]),
            Scenario(title: "No app: text and email at once", customer: "Alex", channel: Self.acme, phone: "+14155550123",
                     email: "alex@example.com", country: "US", language: "en",
                     customerSays: "Do you ship to Canada?", away: "silence",
                     answers: ["We do!", "Shipping to Canada takes 5-7 days."]),
            Scenario(title: "Messenger blocked: SMS instead", customer: "Hyun", channel: Self.bloom, phone: "+821055510004",
                     email: "hyun@example.com", country: "KR", language: "ko",
                     customerSays: "내일 배송 가능한가요?", away: "left",
                     answers: ["네, 내일 오전에 도착합니다."], messengerBlocked: true),
            Scenario(title: "Messenger delivered", customer: "Yuna", channel: Self.bloom, phone: "+821055510005",
                     email: nil, country: "KR", language: "ko",
                     customerSays: "장미 꽃다발 있나요?", away: "left",
                     answers: ["네, 오늘 들어온 장미가 있습니다."]),
            Scenario(title: "Long Korean answer: LMS", customer: "Seo-yeon", channel: Self.acme, phone: "+821055510006",
                     email: "seoyeon@example.com", country: "KR", language: "ko",
                     customerSays: "반품 절차를 알려주세요.", away: "left",
                     answers: ["반품은 주문 후 14일 이내에 가능합니다. 마이페이지에서 반품 신청을 누르신 후 사유를 선택해 주세요. "
                               + "택배 기사님이 2영업일 안에 방문하여 상품을 회수하며, 회수가 확인되면 3영업일 이내에 환불이 완료됩니다. "
                               + "포장은 받으신 상자 그대로 사용하셔도 됩니다."]),
            Scenario(title: "Manager-opened chat, no reply", customer: "Daniel", channel: Self.acme, phone: "+821055510007",
                     email: "daniel@example.com", country: "KR", language: "en", openedBy: "manager",
                     away: "left", answers: ["Hi Daniel, anything we can help you with?"],
                     rule: "a manager started this chat and the customer never replied"),
            Scenario(title: "Marketing message", customer: "Emma", channel: Self.acme, phone: "+821055510008",
                     email: "emma@example.com", country: "KR", language: "en", openedBy: "manager", kind: "marketing",
                     away: "left", answers: ["Spring sale: 20% off everything this weekend!"],
                     rule: "marketing messages are never followed up"),
        ]
    }

    func channelID(_ name: String) async throws -> Int64 {
        try await app.scalar("SELECT id FROM public.channels WHERE name = \(name)", as: Int64.self)
    }

    func chatID(_ scenario: Scenario) async throws -> Int64 {
        try await app.scalar("""
            SELECT c.id FROM public.chats c JOIN public.customers cu ON cu.id = c.customer_id WHERE cu.name = \(scenario.customer)
            """, as: Int64.self)
    }

    /// The companies, as an app (or its admin screen) would set them up: plain SQL.
    func setUp() async throws {
        let offline = "\(offlineSeconds) seconds"
        let ack = "\(pushAckSeconds) seconds"
        // No cooldown for these two shops (each scene shows one thing; Cedar Books, last, shows the
        // cooldown that merges answers).
        try await app.execute("""
            INSERT INTO public.channels (name, plan, phone_enabled, email_enabled, push_integrated, default_country,
                                  offline_timeout, push_ack_timeout, email_from_address, email_domain, email_domain_verified,
                                  link_base_url, follow_up_cooldown)
            VALUES (\(Self.acme), 'paid', true, true, true, 'KR', \(offline)::interval, \(ack)::interval,
                    'help@acme-shop.example', 'acme-shop.example', false, 'https://chat.acme-shop.example', '0')
            """)
        try await app.execute("""
            INSERT INTO public.channels (name, plan, phone_enabled, email_enabled, push_integrated, default_country,
                                  messenger_sender_key, messenger_template_code, offline_timeout, push_ack_timeout,
                                  follow_up_cooldown)
            VALUES (\(Self.bloom), 'paid', true, true, false, 'KR', 'bloom-sender-key', 'FOLLOWUP_KO_01',
                    \(offline)::interval, \(ack)::interval, '0')
            """)
        // Paid plans get their monthly SMS credit the moment they are created paid (a trigger enqueues
        // the wallet job for the channel); wait for it.
        for name in [Self.acme, Self.bloom] {
            let channel = try await channelID(name)
            let credited = await waitFor(seconds: 5) { () -> Bool? in
                let balance = try? await Wallet.balance(channelID: channel, on: pool)
                return (balance?.promotionalMicros ?? 0) > 0 ? true : nil
            }
            if credited == nil {
                try await Wallet.credit(channelID: channel, amountMicros: 10 * Money.microsPerDollar, to: .promotional,
                                        reason: "SMS credit for the demo", by: "demo", on: pool)
            }
        }
        for scenario in scenarios {
            let channel = try await channelID(scenario.channel)
            let customer = try await app.scalar("""
                INSERT INTO public.customers (channel_id, name, phone, email, country, language)
                VALUES (\(channel), \(scenario.customer), \(scenario.phone), \(scenario.email), \(scenario.country), \(scenario.language))
                RETURNING id
                """, as: Int64.self)
            if let device = scenario.device {
                try await app.execute("""
                    INSERT INTO public.customer_devices (customer_id, platform, token) VALUES (\(customer), \(device.platform), \(device.token))
                    """)
            }
            if scenario.messengerBlocked, let phone = scenario.phone { fakes.kakao.setBehaviour(.blocked, for: phone) }
            let chat = try await app.scalar("""
                INSERT INTO public.chats (channel_id, customer_id, opened_by, kind) VALUES (\(channel), \(customer), \(scenario.openedBy), \(scenario.kind))
                RETURNING id
                """, as: Int64.self)
            if let says = scenario.customerSays {
                try await app.execute("INSERT INTO public.messages (chat_id, sender, body) VALUES (\(chat), 'customer', \(says))")
            }
            try await app.execute("INSERT INTO public.activity (customer_id, kind) VALUES (\(customer), 'page_view')")
        }
    }

    /// Everyone walks away, the managers answer, and the app acknowledges the pushes it receives.
    func play() async throws {
        print("The customers walk away; the managers answer…")
        for scenario in scenarios {
            let chat = try await chatID(scenario)
            let customer = try await app.scalar("SELECT customer_id FROM public.chats WHERE id = \(chat)", as: Int64.self)
            if scenario.away != "silence" {
                try await app.execute("INSERT INTO public.activity (customer_id, kind) VALUES (\(customer), \(scenario.away))")
            } else {
                try await app.execute("INSERT INTO public.activity (customer_id, kind) VALUES (\(customer), 'heartbeat')")
            }
            for answer in scenario.answers {
                try await app.execute("INSERT INTO public.messages (chat_id, sender, body) VALUES (\(chat), 'manager', \(answer))")
            }
        }
        // The app's SDK backend: when Minji's phone shows the push, it acknowledges it.
        for scenario in scenarios where scenario.acknowledgesPush {
            guard let token = scenario.device?.token else { continue }
            let push = await waitFor(seconds: 10) { fakes.fcm.pushes.first { $0.token == token } }
            if let push, let id = push.data["follow_up_id"].flatMap(Int64.init) {
                // Everything the receipt quotes comes from the push's data payload.
                try await app.execute("""
                    INSERT INTO public.push_receipts (follow_up_id, device_id, token)
                    VALUES (\(id), \(push.data["device_id"].flatMap(Int64.init)), \(push.data["receipt_token"]))
                    """)
            }
        }
        let expected = scenarios.filter { $0.rule == nil }.count
        let finished = await waitFor(seconds: 30 + offlineSeconds + pushAckSeconds) { () -> Bool? in
            let done = try? await pool.scalar("""
                SELECT count(*)::int FROM public.follow_ups f
                WHERE f.status NOT IN ('pending', 'awaiting_push_ack')
                  AND NOT EXISTS (SELECT 1 FROM public.deliveries d WHERE d.follow_up_id = f.id AND d.status IN ('queued', 'sending'))
                """, as: Int.self)
            return (done ?? 0) >= expected ? true : nil
        }
        if finished == nil { print("(some follow-ups had not finished after the wait; showing what happened so far)") }
        // Give the checks of the chats that get nothing a moment to conclude.
        _ = await waitFor(seconds: 5) { () -> Bool? in
            let busy = try? await pool.scalar("""
                SELECT count(*)::int FROM public.jobs WHERE kind LIKE 'followup.%' AND (state = 'running' OR (state = 'available' AND run_at <= now()))
                """, as: Int.self)
            return busy == 0 ? true : nil
        }
        print("")
    }

    /// What each customer received, and why.
    func report() async throws {
        for (index, scenario) in scenarios.enumerated() {
            let chat = try await chatID(scenario)
            print("\(index + 1). \(scenario.title) — \(scenario.customer), a customer of \(scenario.channel)")
            print("   \(situation(scenario))")
            let followUp = try await pool.first("""
                SELECT id, status, reason, offline_reason, message_count FROM public.follow_ups WHERE chat_id = \(chat) ORDER BY id DESC LIMIT 1
                """)
            guard let followUp else {
                print("   → Nothing sent: \(scenario.rule ?? "no follow-up was needed").\n")
                continue
            }
            let offline = try followUp.decode(String.self, at: 3)
            let count = try followUp.decode(Int.self, at: 4)
            print("   Went offline (\(offline)) with \(count) unseen answer\(count == 1 ? "" : "s").")
            let rows = try await DeliveryReport.list(.init(chatID: chat, limit: 20), on: pool).reversed()
            for row in rows {
                print("   → \(describe(row, scenario))")
            }
            let status = try followUp.decode(String.self, at: 1)
            let reason = try followUp.decode(String?.self, at: 2) ?? ""
            print("   Outcome: \(outcome(status, reason))\n")
        }
        try await printWallets()
    }

    private func situation(_ scenario: Scenario) -> String {
        var parts: [String] = []
        if let device = scenario.device { parts.append("has the \(device.platform == "ios" ? "iPhone" : "Android") app") }
        else { parts.append("no mobile app") }
        switch scenario.away {
        case "left": parts.append("closed the website")
        case "tab_hidden": parts.append("switched to another browser tab")
        default: parts.append("stopped doing anything on the website")
        }
        if scenario.openedBy == "manager" && scenario.kind == "support" { parts.append("the chat was started by a manager") }
        if scenario.kind == "marketing" { parts.append("the message is a marketing campaign") }
        if scenario.messengerBlocked { parts.append("has blocked the company on the messenger") }
        if scenario.acknowledgesPush { parts.append("sees the push") }
        return parts.joined(separator: "; ").prefix(1).uppercased() + parts.joined(separator: "; ").dropFirst() + "."
    }

    private func describe(_ row: DeliveryReport.Row, _ scenario: Scenario) -> String {
        let cost = row.costMicros > 0 ? ", \(Money.format(row.costMicros)) from the SMS wallet" : ""
        let label: String
        switch row.route {
        case "push": label = "Mobile push"
        case "messenger": label = "Messenger (Kakao AlimTalk)"
        case "sms": label = "SMS (\(row.segments) part\(row.segments == 1 ? "" : "s"))"
        case "lms": label = "LMS (long text)"
        default: label = "Email"
        }
        guard ["sent", "delivered"].contains(row.status) else {
            var text = "\(label): \(row.status) — \(row.why)"
            if let replaced = row.replacedByRoute { text += "; replaced by \(replaced.uppercased())" }
            return text
        }
        return "\(label): \(row.status)\(cost)\n     \(content(row, scenario))"
    }

    /// What the provider fake actually received.
    private func content(_ row: DeliveryReport.Row, _ scenario: Scenario) -> String {
        switch row.route {
        case "push":
            let token = scenario.device?.token ?? ""
            if let push = fakes.fcm.pushes.first(where: { $0.token == token }) { return "“\(push.title): \(push.body)”" }
            if let push = fakes.apns.pushes.first(where: { $0.deviceToken == token }) { return "“\(push.title): \(push.body)”" }
            return "(push accepted)"
        case "messenger":
            return quote(fakes.kakao.delivered(to: scenario.phone ?? "").first?.content ?? "")
        case "sms", "lms":
            return "to \(mask(scenario.phone ?? "")): " + quote(fakes.twilio.messages(to: scenario.phone ?? "").first?.body ?? "")
        default:
            guard let mail = fakes.smtp.messages.first(where: { $0.recipients.contains(scenario.email ?? "") })?.parsed else {
                return "(mail accepted)"
            }
            return "to \(scenario.email ?? ""): “\(mail.decodedHeader("Subject") ?? "")”, from \(mail.decodedHeader("From") ?? "?"), replies go to \(mail.header("Reply-To") ?? "?")"
                + DemoDomain.describe(row, signatureHeader: mail.header("DKIM-Signature"))
        }
    }

    private func outcome(_ status: String, _ reason: String) -> String {
        switch status {
        case "acknowledged": "the push reached the phone, so no text or email was sent."
        case "notified": reason.prefix(1).uppercased() + reason.dropFirst() + "."
        case "cancelled": "nothing sent — \(reason)."
        default: "\(status) — \(reason)"
        }
    }

    private func quote(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ⏎ ")
        return "“" + (flat.count > 110 ? String(flat.prefix(109)) + "…" : flat) + "”"
    }

    private func mask(_ phone: String) -> String {
        phone.count > 6 ? String(phone.prefix(5)) + String(repeating: "•", count: phone.count - 8) + String(phone.suffix(3)) : phone
    }

    private func printWallets() async throws {
        for name in [Self.acme, Self.bloom] {
            let channel = try await channelID(name)
            print("SMS wallet of \(name):")
            for line in try await Wallet.statement(channelID: channel, on: pool) {
                let change = line.promotionalChangeMicros + line.paidChangeMicros
                let amount = change == 0 ? String(repeating: " ", count: 10) : (change > 0 ? "+" : "") + Money.format(change)
                print("   \(line.kind.padding(toLength: 15, withPad: " ", startingAt: 0)) \(amount.padding(toLength: 10, withPad: " ", startingAt: 0))  available \(Money.format(line.availableAfterMicros))  — \(line.reason)")
            }
            let balance = try await Wallet.balance(channelID: channel, on: pool)
            print("   now: \(balance)\n")
        }
    }

    /// Polls `probe` until it returns a value or `seconds` pass.
    private func waitFor<T: Sendable>(seconds: Double, _ probe: () async -> T?) async -> T? {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if let value = await probe() { return value }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await probe()
    }
}

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
