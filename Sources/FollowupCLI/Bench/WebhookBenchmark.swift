import ArgumentParser
import FollowUp
import Foundation
import Logging
import Outbound
import Postgres
import Providers
import Server

/// `followup bench webhooks`: Twilio status callbacks per second through `serve` (signature
/// verified, delivery updated, over loopback HTTP) beside the same UPDATE as a bare SQL statement
/// under pgbench, in the same run and database.
struct WebhooksBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Status callbacks/s through serve (verified, recorded) vs the same UPDATE as bare SQL under pgbench, same run.",
        discussion: """
            Creates --callbacks sent SMS deliveries, starts serve's application in this process on a loopback port,
            and posts one signed `delivered` callback per delivery from --clients concurrent HTTP clients. Then runs
            the receipt's UPDATE as a bare statement under pgbench (--clients connections) on the same table.
            Uses --database-url if given (a scratch database: it writes deliveries), else an embedded cluster with fsync on.
            """)
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Callbacks to post (one per delivery).") var callbacks: Int = 20_000
    @Option(help: "Concurrent HTTP clients, and pgbench clients.") var clients: Int = 16
    @Option(help: "serve's database connections.") var connections: Int = 16

    func run() async throws {
        guard callbacks > 0, clients > 0, connections > 0 else {
            throw ValidationError("--callbacks, --clients and --connections must be positive")
        }
        try await BenchDatabase.using(database, connections: connections) { db in
            let ids = try await Self.seed(db.pool, count: callbacks)
            let served = try await Self.throughServe(db.pool, ids: ids, clients: clients)
            let url = db.cluster?.tcpURL(database: "postgres") ?? db.configuration.connectionString
            let bare: Double?
            if let pgbench = Pgbench.find() {
                let sql = """
                    \\set id random(\(ids.first!), \(ids.last!))
                    UPDATE public.deliveries SET receipt_status = 'delivered', receipt_at = now(), provider_code = coalesce(NULL, provider_code),
                        status = CASE WHEN status IN ('sent', 'unknown', 'delivered') THEN 'delivered' ELSE status END,
                        delivered_at = now(), updated_at = now()
                    WHERE id = :id AND route = ANY('{sms,lms}') AND (provider_message_id IS NULL OR provider_message_id = 'SMbench' || :id);
                    """
                bare = try Pgbench.run(pgbench, url: url, sql: sql, clients: clients,
                                                        transactions: max(1, callbacks / clients))
            } else {
                bare = nil
            }
            let ratio = bare.map { served / $0 }
            print(String(format: "serve: %.0f status callbacks/s (verified, recorded, %d clients)", served, clients)
                  + (bare.map { String(format: "; bare UPDATE under pgbench: %.0f/s → serve is %.0f%% of bare", $0, (ratio ?? 0) * 100) }
                     ?? "; pgbench not found (apt install postgresql-contrib / postgresql-client)"))
            print(jsonLine([("benchmark", "webhooks"), ("callbacks", callbacks), ("clients", clients),
                            ("serve_per_second", served), ("bare_update_per_second", bare ?? 0), ("ratio", ratio ?? 0)]))
        }
    }

    /// `count` SMS deliveries as `run` leaves them once Twilio accepted them.
    static func seed(_ pool: ConnectionPool, count: Int) async throws -> [Int64] {
        let channel = try await pool.scalar("INSERT INTO public.channels (name) VALUES ('Webhook bench') RETURNING id", as: Int64.self)
        let customer = try await pool.scalar("INSERT INTO public.customers (channel_id, phone) VALUES (\(channel), '+821000000000') RETURNING id", as: Int64.self)
        let chat = try await pool.scalar("INSERT INTO public.chats (channel_id, customer_id) VALUES (\(channel), \(customer)) RETURNING id", as: Int64.self)
        try await pool.execute("""
            INSERT INTO public.deliveries (channel_id, chat_id, customer_id, route, status, recipient, segments, sent_at)
            SELECT \(channel), \(chat), \(customer), 'sms', 'sent', '+821000000000', 1, now() FROM generate_series(1, \(count))
            """)
        try await pool.execute("UPDATE public.deliveries SET provider_message_id = 'SMbench' || id WHERE chat_id = \(chat)")
        return try await pool.query("SELECT id FROM public.deliveries WHERE chat_id = \(chat) ORDER BY id").map { try $0.decode(Int64.self, at: 0) }
    }

    /// Posts one signed `delivered` callback per delivery; returns callbacks per second.
    static func throughServe(_ pool: ConnectionPool, ids: [Int64], clients: Int) async throws -> Double {
        let publicURL = "https://hooks.bench.example"
        let token = "bench-twilio-auth-token"
        var followUps = FollowUpSettings()
        followUps.publicURL = publicURL
        let settings = ServerSettings(followUps: followUps, publicURL: publicURL, twilioAuthToken: token, inboundMailSecret: nil)
        var logger = Logger(label: "bench.serve")
        logger.logLevel = .error
        let server = try await RunningServer.start(.init(pool: pool, settings: settings, logger: logger))
        let port = server.port
        let signer = TwilioSignature(authToken: token)
        let client = OutboundClient()
        let started = ContinuousClock.now
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for lane in 0..<clients {
                group.addTask {
                    var failed = 0
                    for index in stride(from: lane, to: ids.count, by: clients) {
                        let id = ids[index]
                        let path = "/webhooks/twilio/status?delivery=delivery-\(id)"
                        let form = [("MessageSid", "SMbench\(id)"), ("MessageStatus", "delivered")]
                        let signature = signer.signature(url: publicURL + path, parameters: form)
                        let response = try await client.send(HTTPRequest(
                            method: "POST", url: "http://127.0.0.1:\(port)\(path)",
                            headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded"),
                                      HTTPHeader("X-Twilio-Signature", signature)],
                            body: Array("MessageSid=SMbench\(id)&MessageStatus=delivered".utf8)))
                        if response.status != 204 { failed += 1 }
                    }
                    return failed
                }
            }
            return try await group.reduce(0, +)
        }
        let seconds = (ContinuousClock.now - started).seconds
        await server.stop()
        client.shutdown()
        if failures > 0 { throw ValidationError("\(failures) callbacks were not answered 204") }
        return Double(ids.count) / seconds
    }
}
