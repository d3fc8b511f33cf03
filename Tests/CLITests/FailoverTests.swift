import Fakes
import Foundation
import EmbeddedPostgres
import Postgres
import Testing
import TestSupport

/// A primary and a synchronous streaming standby; pollers and the app reach them through one
/// multi-host URL with `target_session_attrs=read-write` (docs/operations.md, "Failover"). While
/// customers arrive and texts and emails are in flight, the primary is stopped (immediate mode:
/// sessions cut, as a crash looks) and the standby promoted. Every job must finish and every
/// customer get exactly one text and exactly one email — the fakes' own records, no duplicate
/// tolerated (not even one with the same Message-ID).
///
/// Bounded: ~8 s of arrivals, then up to 60 s to settle. Runs alone (scripts/test.sh): two
/// clusters and two pollers on a 2-core machine.
@Suite("Failover") struct FailoverTests {
    static let customers = 60
    static let pollers = 2

    static var pollerBinary: String {
        URL(fileURLWithPath: ChildProcess.followupBinary).deletingLastPathComponent().appendingPathComponent("ChaosPoller").path
    }

    /// The URL a deployment would use: both servers, only a writable one accepted.
    static func url(_ primary: EmbeddedCluster, _ standby: EmbeddedCluster) -> String {
        "postgresql://followup@127.0.0.1:\(primary.port),127.0.0.1:\(standby.port)/failover?target_session_attrs=read-write&connect_timeout=2"
    }

    @Test("the primary stopped mid-run, the standby promoted: every job finishes, one text and one email per customer")
    func failover() async throws {
        // Commits wait for the standby to have them on disk: what a poller heard committed, the
        // promoted standby has (the test default, synchronous_commit = off, would not wait).
        var options = EmbeddedCluster.Options()
        options.extraSettings["synchronous_commit"] = "on"
        let primary = try await EmbeddedCluster.start(options: options)
        defer { primary.stop() }
        let standby = try await primary.startStandby()
        defer { standby.stop() }
        try await primary.makeStandbysSynchronous()

        let admin = try await Connection.connect(primary.configuration)
        _ = try await admin.query(Query(sql: "CREATE DATABASE failover"))
        admin.close()
        let url = Self.url(primary, standby)
        let migrate = try ChildProcess(ChildProcess.followupBinary, ["migrate", "--database-url", url])
        #expect(await migrate.wait(timeout: .seconds(60)) == 0, "\(migrate.output)")
        let pool = ConnectionPool(try PostgresConfiguration(url), maxConnections: 4)

        let fakes = try FakeProviders()
        defer { fakes.stop() }
        fakes.latency = .milliseconds(120)  // texts in flight at any moment
        fakes.smtp.injectedFault = .hangAfterData(.milliseconds(150))  // emails taken, answer pending
        var environment = fakes.environment
        environment["CHAOS_POLLER_LEASE_SECONDS"] = "20"  // outlasts the failover: outcomes are kept, not rescued

        var channels: [Int64] = []
        for n in 0..<2 {
            let id = try await pool.scalar("""
                INSERT INTO channels (name, plan, phone_enabled, email_enabled, default_country)
                VALUES (\("Failover \(n)"), 'paid', true, true, 'KR') RETURNING id
                """, as: Int64.self)
            _ = try await pool.query("SELECT * FROM wallet.credit(\(id), \(Int64(50_000_000)), 'paid', 'failover test credit', 'tests', NULL)")
            channels.append(id)
        }

        var pollers: [ChildProcess] = []
        for _ in 0..<Self.pollers { pollers.append(try ChildProcess(Self.pollerBinary, [url], environment: environment)) }
        defer { for poller in pollers { poller.signal(SIGKILL) } }

        // Customers arrive throughout, through the same URL, as the app would write them.
        let arrivals = Task {
            for n in 0..<Self.customers {
                try await Self.arrive(n, channel: channels[n % channels.count], pool: pool)
                try await Task.sleep(for: .milliseconds(130))
            }
        }

        // Mid-run: a third of the texts out, others and emails in flight. The primary goes away.
        let midRun = await eventually(timeout: .seconds(40), every: .milliseconds(20)) {
            fakes.twilio.messages.count >= Self.customers / 3
        }
        #expect(midRun, "no texts went out before the failover: \(pollers.map(\.output).joined().suffix(3000))")
        // Right after the mail server took an email (it answers 150 ms later): that email's
        // outcome is still to be recorded when the primary goes.
        let emailsSeen = fakes.smtp.messages.count
        _ = await eventually(timeout: .seconds(5), every: .milliseconds(2)) { fakes.smtp.messages.count > emailsSeen }
        try primary.pause(mode: "immediate")
        let textsBefore = fakes.twilio.messages.count
        try standby.promote()
        let promoted = ContinuousClock.now
        try await arrivals.value

        let settled = await eventually(timeout: .seconds(60), every: .milliseconds(250)) {
            let row = try? await pool.first("""
                SELECT (SELECT count(*)::int FROM follow_ups),
                       (SELECT count(*)::int FROM deliveries WHERE status IN ('queued', 'sending')),
                       (SELECT count(*)::int FROM deliveries),
                       (SELECT count(*)::int FROM jobs WHERE state IN ('running', 'dead') OR (state = 'available' AND run_at <= now()))
                """)
            guard let row, let followUps = try? row.decode(Int.self, at: 0), let open = try? row.decode(Int.self, at: 1),
                  let total = try? row.decode(Int.self, at: 2), let jobs = try? row.decode(Int.self, at: 3) else { return false }
            return followUps == Self.customers && open == 0 && total >= 2 * Self.customers && jobs == 0
        }
        let statuses = (try? await pool.query("SELECT route, status, count(*)::int FROM deliveries GROUP BY 1, 2 ORDER BY 1, 2")
            .map { "\(try $0.decode(String.self, at: 0))/\(try $0.decode(String.self, at: 1)): \(try $0.decode(Int.self, at: 2))" }) ?? []
        let jobs = (try? await pool.query("SELECT kind, state, count(*)::int FROM jobs GROUP BY 1, 2 ORDER BY 1, 2")
            .map { "\(try $0.decode(String.self, at: 0))/\(try $0.decode(String.self, at: 1)): \(try $0.decode(Int.self, at: 2))" }) ?? []
        #expect(settled, "not settled: \(statuses) \(jobs) \(pollers.map(\.output).joined().suffix(3000))")

        // Writes landed on the promoted standby; the old primary is gone.
        #expect(try await pool.scalar("SELECT pg_is_in_recovery()", as: Bool.self) == false)
        #expect(try await pool.scalar("SELECT current_setting('port')::int", as: Int.self) == standby.port)
        #expect(textsBefore < Self.customers, "the failover came after every text: not mid-run")

        var textsWrong: [String] = []
        var emailsWrong: [String] = []
        let texts = Dictionary(grouping: fakes.twilio.messages, by: \.to)
        let mails = Dictionary(grouping: fakes.smtp.messages, by: { $0.recipients.first ?? "" })
        for n in 0..<Self.customers {
            let phone = Self.phone(n)
            if texts[phone]?.count != 1 { textsWrong.append("\(n): \(texts[phone]?.count ?? 0)") }
            if mails[Self.email(n)]?.count != 1 { emailsWrong.append("\(n): \(mails[Self.email(n)]?.count ?? 0)") }
        }
        // Jobs claimed again (a claim or a completion the standby never got, a rescue): expected, harmless.
        let again = (try? await pool.query("""
            SELECT kind, count(*)::int FROM (SELECT kind, attempt FROM jobs UNION ALL SELECT kind, attempt FROM job_history) j
            WHERE attempt > 1 GROUP BY 1 ORDER BY 1
            """)
            .map { "\(try $0.decode(String.self, at: 0)): \(try $0.decode(Int.self, at: 1))" }) ?? []
        print("failover: \(Self.customers) customers, \(textsBefore) texts before the primary stopped, settled " +
              "\(ContinuousClock.now - promoted) after the promotion; jobs run again \(again); " +
              "texts \(fakes.twilio.messages.count), emails \(fakes.smtp.messages.count); \(statuses)")
        #expect(textsWrong.isEmpty, "not exactly one text (customer: texts): \(textsWrong)")
        #expect(emailsWrong.isEmpty, "not exactly one email (customer: emails): \(emailsWrong)")
        try await expectMoneySettled(pool, channels: channels, statuses: "\(statuses)")
        await pool.close()
    }

    static func phone(_ n: Int) -> String { "+8210" + String(format: "%08d", 6_000_000 + n) }
    static func email(_ n: Int) -> String { "failover\(n)@example.com" }

    /// A customer opens a chat, asks, leaves; a manager answers: a follow-up is due. Each row is
    /// written once even when the database goes away in between (the statement is retried).
    static func arrive(_ n: Int, channel: Int64, pool: ConnectionPool) async throws {
        let email = email(n)
        let chat = try await retryingThroughOutage {
            if let chat = try await pool.first("""
                SELECT ch.id FROM chats ch JOIN customers cu ON cu.id = ch.customer_id WHERE cu.email = \(email)
                """) { return try chat.decode(Int64.self, at: 0) }
            return try await pool.scalar("""
                WITH c AS (INSERT INTO customers (channel_id, name, phone, email, country, language)
                           VALUES (\(channel), \("Customer \(n)"), \(phone(n)), \(email), 'KR', 'en') RETURNING id),
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
    }
}
