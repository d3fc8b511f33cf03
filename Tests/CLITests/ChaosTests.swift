import Fakes
import Foundation
import EmbeddedPostgres
import Postgres
import Testing
import TestSupport

/// Pollers SIGKILLed at random, Postgres crashed and restarted, providers answering slowly (and
/// some hanging past the timeout), customers arriving throughout: every customer gets exactly one
/// text and at least one email (a duplicate email only with the same Message-ID: counted and
/// reported), no hold is left open, and the ledger's integrity checks are empty.
///
/// Bounded: ~20 s of arrivals and chaos, then up to 60 s to settle. The pollers are
/// `ChaosPoller` processes: `followup run`'s handlers with test timings (a 3 s lease).
@Suite("Chaos") struct ChaosTests {
    static let customers = 120
    static let pollers = 3

    static var pollerBinary: String {
        URL(fileURLWithPath: ChildProcess.followupBinary).deletingLastPathComponent().appendingPathComponent("ChaosPoller").path
    }

    @Test("SIGKILL, an immediate Postgres restart, slow providers: one text and at least one email per customer")
    func chaos() async throws {
        // Let the suite's start-up burst (its own cluster, the timing-sensitive HTTP tests) pass
        // before this test's cluster and pollers compete for the two cores.
        try await Task.sleep(for: .seconds(5))
        // Commits wait for the log to be written, as in production (the test default turns that off,
        // and an immediate restart would then forget the last commits: a `sending` mark among them).
        // fsync may stay off: a Postgres crash does not lose what the OS already has.
        var options = EmbeddedCluster.Options()
        options.extraSettings["synchronous_commit"] = "on"
        let cluster = try await EmbeddedCluster.start(options: options)
        defer { cluster.stop() }
        let admin = try await Connection.connect(cluster.configuration)
        _ = try await admin.query(Query(sql: "CREATE DATABASE chaos"))
        admin.close()
        let url = cluster.url(database: "chaos")
        let migrate = try ChildProcess(ChildProcess.followupBinary, ["migrate", "--database-url", url])
        #expect(await migrate.wait(timeout: .seconds(60)) == 0, "\(migrate.output)")
        let pool = ConnectionPool(try PostgresConfiguration(url), maxConnections: 4)

        let fakes = try FakeProviders()
        defer { fakes.stop() }
        fakes.latency = .milliseconds(120)
        fakes.smtp.injectedFault = .hangAfterData(.milliseconds(250))  // a slow mail server: kills land mid-conversation
        // A few sends hang past the 1 s timeout after Twilio took them: looked up, never resent.
        fakes.twilio.server.injectFault(.hangAfterHandling(.milliseconds(1500)), times: 3, method: "POST")
        var environment = fakes.environment
        environment["FOLLOWUP_PROVIDER_TIMEOUT"] = "1"

        var channels: [Int64] = []
        for n in 0..<3 {
            let id = try await pool.scalar("""
                INSERT INTO channels (name, plan, phone_enabled, email_enabled, default_country)
                VALUES (\("Chaos \(n)"), 'paid', true, true, 'KR') RETURNING id
                """, as: Int64.self)
            _ = try await pool.query("SELECT * FROM wallet.credit(\(id), \(Int64(50_000_000)), 'paid', 'chaos test credit', 'tests', NULL)")
            channels.append(id)
        }

        let pollers = LockedPollers()
        for _ in 0..<Self.pollers { pollers.append(try ChildProcess(Self.pollerBinary, [url], environment: environment)) }
        defer { pollers.killAll() }

        // Customers arrive throughout; each answer is inserted once, even across the restart.
        let arrivals = Task {
            for n in 0..<Self.customers {
                let channel = channels[n % channels.count]
                let email = "chaos\(n)@example.com"
                let phone = "+8210" + String(format: "%08d", 7_000_000 + n)
                let chat = try await retryingThroughOutage {
                    if let chat = try await pool.first("""
                        SELECT ch.id FROM chats ch JOIN customers cu ON cu.id = ch.customer_id WHERE cu.email = \(email)
                        """) { return try chat.decode(Int64.self, at: 0) }
                    return try await pool.scalar("""
                        WITH c AS (INSERT INTO customers (channel_id, name, phone, email, country, language)
                                   VALUES (\(channel), \("Customer \(n)"), \(phone), \(email), 'KR', 'en') RETURNING id),
                             ch AS (INSERT INTO chats (channel_id, customer_id, opened_by, kind)
                                    SELECT \(channel), id, 'customer', 'support' FROM c RETURNING id, customer_id),
                             m AS (INSERT INTO messages (chat_id, sender, body) SELECT id, 'customer', 'Where is my order?' FROM ch),
                             a AS (INSERT INTO activity (customer_id, kind) SELECT customer_id, 'left' FROM ch)
                        SELECT id FROM ch
                        """, as: Int64.self)
                }
                try await retryingThroughOutage {
                    if try await pool.first("SELECT 1 FROM messages WHERE chat_id = \(chat) AND sender = 'manager'") != nil { return }
                    try await pool.execute("INSERT INTO messages (chat_id, sender, body) VALUES (\(chat), 'manager', \("It ships today, order \(n)."))")
                }
                try await Task.sleep(for: .milliseconds(120))
            }
        }

        // Chaos: a random poller SIGKILLed and replaced every 1–2.5 s; Postgres crashed and restarted once.
        let chaosUntil = ContinuousClock.now + .seconds(20)
        var restarted = false
        var kills = 0
        while ContinuousClock.now < chaosUntil {
            try await Task.sleep(for: .milliseconds(Int64.random(in: 1000...2500)))
            pollers.killOne()
            kills += 1
            pollers.append(try ChildProcess(Self.pollerBinary, [url], environment: environment))
            if !restarted && ContinuousClock.now > chaosUntil - .seconds(12) {
                try cluster.restart(mode: "immediate")
                restarted = true
            }
        }
        try await arrivals.value

        // Settle: every follow-up planned, every delivery finished.
        let settled = await eventually(timeout: .seconds(60), every: .milliseconds(250)) {
            let row = try? await pool.first("""
                SELECT (SELECT count(*)::int FROM follow_ups),
                       (SELECT count(*)::int FROM deliveries WHERE status IN ('queued', 'sending')),
                       (SELECT count(*)::int FROM deliveries)
                """)
            guard let row, let followUps = try? row.decode(Int.self, at: 0), let open = try? row.decode(Int.self, at: 1),
                  let total = try? row.decode(Int.self, at: 2) else { return false }
            return followUps == Self.customers && open == 0 && total >= 2 * Self.customers
        }
        let statuses = try await pool.query("SELECT route, status, count(*)::int FROM deliveries GROUP BY 1, 2 ORDER BY 1, 2")
            .map { "\(try $0.decode(String.self, at: 0))/\(try $0.decode(String.self, at: 1)): \(try $0.decode(Int.self, at: 2))" }
        #expect(settled, "not settled: \(statuses)")

        var textsWrong: [String] = []
        var emailsMissing: [String] = []
        var emailDuplicates = 0
        var foreignDuplicates: [String] = []
        let texts = Dictionary(grouping: fakes.twilio.messages, by: \.to)
        let mails = Dictionary(grouping: fakes.smtp.messages, by: { $0.recipients.first ?? "" })
        for n in 0..<Self.customers {
            let phone = "+8210" + String(format: "%08d", 7_000_000 + n)
            if texts[phone]?.count != 1 { textsWrong.append("\(phone): \(texts[phone]?.count ?? 0)") }
            let received = mails["chaos\(n)@example.com"] ?? []
            if received.isEmpty { emailsMissing.append("chaos\(n)") }
            if received.count > 1 {
                emailDuplicates += received.count - 1
                let ids = Set(received.map { $0.parsed.header("Message-ID") ?? "" })
                if ids.count != 1 { foreignDuplicates.append("chaos\(n): \(ids.sorted())") }
            }
        }
        print("chaos: \(Self.customers) customers, \(kills) SIGKILLs, Postgres restarted: \(restarted); " +
              "texts \(fakes.twilio.messages.count), emails \(fakes.smtp.messages.count) " +
              "(\(emailDuplicates) duplicates, all with the same Message-ID: \(foreignDuplicates.isEmpty)); \(statuses)")
        #expect(restarted)
        #expect(textsWrong.isEmpty, "not exactly one text: \(textsWrong)")
        #expect(emailsMissing.isEmpty, "no email: \(emailsMissing)")
        var evidence: [String] = []
        for entry in foreignDuplicates {
            let email = String(entry.prefix { $0 != ":" }) + "@example.com"
            evidence += try await pool.query("""
                SELECT d.id, d.follow_up_id, d.route, d.status, d.attempts FROM deliveries d JOIN customers c ON c.id = d.customer_id
                WHERE c.email = \(email) ORDER BY d.id
                """).map { "\(try $0.decode(Int64.self, at: 0))/\(try $0.decode(Int64.self, at: 1))/\(try $0.decode(String.self, at: 2))/\(try $0.decode(String.self, at: 3))/\(try $0.decode(Int.self, at: 4))" }
        }
        #expect(foreignDuplicates.isEmpty, "a duplicate email with another Message-ID: \(foreignDuplicates) \(evidence)")
        try await expectMoneySettled(pool, channels: channels, statuses: "\(statuses)")
        await pool.close()
    }
}

/// The poller processes, replaced as they are killed.
final class LockedPollers: @unchecked Sendable {
    // @unchecked: `processes` is only touched while `lock` is held.
    private let lock = NSLock()
    private var processes: [ChildProcess] = []

    func append(_ process: ChildProcess) {
        lock.lock()
        defer { lock.unlock() }
        processes.append(process)
    }

    /// SIGKILLs one at random and forgets it.
    func killOne() {
        lock.lock()
        defer { lock.unlock() }
        guard !processes.isEmpty else { return }
        let victim = processes.remove(at: Int.random(in: 0..<processes.count))
        victim.signal(SIGKILL)
        _ = victim  // its deinit reaps it
    }

    func killAll() {
        lock.lock()
        defer { lock.unlock() }
        for process in processes { process.signal(SIGKILL) }
        processes.removeAll()
    }
}
