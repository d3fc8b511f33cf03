import FollowUp
import Foundation
import Outbound
import Providers
import Testing
import TestSupport

/// `followup mail-in` and `followup serve` as real processes.
@Suite("The mail-in and serve processes")
struct ProcessTests {
    static var environment: [String: String] {
        ["FOLLOWUP_REPLY_SECRET": ServerHarness.replySecret, "FOLLOWUP_REPLY_DOMAIN": ServerHarness.replyDomain,
         "FOLLOWUP_PUBLIC_URL": ServerHarness.publicURL, "FOLLOWUP_TWILIO_AUTH_TOKEN": ServerHarness.authToken]
    }

    /// Runs `followup mail-in` with `raw` on stdin; returns its exit code.
    func mailIn(_ raw: [UInt8], databaseURL: String, extra: [String] = [], environment: [String: String] = ProcessTests.environment)
        async throws -> (code: Int32?, output: String) {
        let input = "/tmp/followup-mail-in-\(UUID().uuidString.prefix(8)).eml"
        try Data(raw).write(to: URL(fileURLWithPath: input))
        defer { unlink(input) }
        let child = try ChildProcess(ChildProcess.followupBinary, ["mail-in", "--database-url", databaseURL] + extra,
                                     environment: environment, stdin: input)
        let code = await child.wait(timeout: .seconds(20))
        return (code, child.output)
    }

    func world(_ db: TestDatabase) async throws -> Int64 {
        let channel = try await db.pool.scalar("INSERT INTO channels (name) VALUES ('Acme') RETURNING id", as: Int64.self)
        let customer = try await db.pool.scalar("""
            INSERT INTO customers (channel_id, email) VALUES (\(channel), 'kim@example.com') RETURNING id
            """, as: Int64.self)
        return try await db.pool.scalar("INSERT INTO chats (channel_id, customer_id) VALUES (\(channel), \(customer)) RETURNING id", as: Int64.self)
    }

    /// The port of serve's "listening" log line (`address=127.0.0.1:PORT`).
    static func listeningPort(_ output: String) -> Int? {
        guard let line = output.split(separator: "\n").first(where: { $0.contains("listening") }),
              let range = line.range(of: #"127\.0\.0\.1:[0-9]+"#, options: .regularExpression) else { return nil }
        return Int(line[range].split(separator: ":").last ?? "")
    }

    var tokens: ReplyTokens { ReplyTokens(secret: ServerHarness.replySecret, domain: ServerHarness.replyDomain) }

    @Test("mail-in exits 0 for an accepted reply, which lands in the chat")
    func accepted() async throws {
        let db = try await TestDatabase.fresh()
        let chat = try await world(db)
        let address = tokens.replyAddress(chatID: chat)
        let result = try await mailIn(try ServerHarness.fixture("gmail", to: "Acme <\(address)>"), databaseURL: try await db.url,
                                      extra: ["--recipient", address])
        #expect(result.code == 0, "\(result.output)")
        #expect(try await db.pool.scalar("SELECT count(*)::int FROM messages WHERE chat_id = \(chat) AND sender = 'customer'", as: Int.self) == 1)
    }

    @Test("mail-in exits 67 (EX_NOUSER) for a forged reply address, and writes nothing")
    func unknownRecipient() async throws {
        let db = try await TestDatabase.fresh()
        let chat = try await world(db)
        let forged = "r-\(chat)-00000000000000000000@\(ServerHarness.replyDomain)"
        let result = try await mailIn(try ServerHarness.fixture("gmail", to: forged), databaseURL: try await db.url)
        #expect(result.code == 67, "\(result.output)")
        #expect(try await db.pool.scalar("SELECT count(*)::int FROM messages", as: Int.self) == 0)
    }

    @Test("mail-in exits 65 (EX_DATAERR) for something that is not a mail")
    func badMessage() async throws {
        let db = try await TestDatabase.fresh()
        _ = try await world(db)
        let result = try await mailIn(Array("\u{1}\u{2} not a mail\n\nat all".utf8), databaseURL: try await db.url)
        #expect(result.code == 65, "\(result.output)")
    }

    @Test("mail-in exits 75 (EX_TEMPFAIL) when the database cannot be reached, so the MTA retries")
    func tryLater() async throws {
        let db = try await TestDatabase.fresh()
        let chat = try await world(db)
        let raw = try ServerHarness.fixture("gmail", to: tokens.replyAddress(chatID: chat))
        let result = try await mailIn(raw, databaseURL: "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")
        #expect(result.code == 75, "\(result.output)")
        let unconfigured = try await mailIn(raw, databaseURL: try await db.url, environment: [:])
        #expect(unconfigured.code == 75, "\(unconfigured.output)")
    }

    @Test("serve with nothing configured refuses to start and says what to set")
    func serveUnconfigured() async throws {
        let db = try await TestDatabase.fresh()
        let serve = try ChildProcess(ChildProcess.followupBinary, ["serve", "--database-url", try await db.url, "--port", "0"])
        #expect(await serve.wait(timeout: .seconds(20)) == 64)
        #expect(serve.output.contains("FOLLOWUP_PUBLIC_URL") && serve.output.contains("FOLLOWUP_REPLY_SECRET"))
    }

    @Test("serve under SIGTERM finishes the request in flight, then exits 0")
    func sigterm() async throws {
        let db = try await TestDatabase.fresh()
        let chat = try await world(db)
        let delivery = try await db.pool.scalar("""
            INSERT INTO deliveries (channel_id, chat_id, route, status, recipient, provider_message_id)
            SELECT channel_id, id, 'sms', 'sent', '+821012345678', 'SM1' FROM chats WHERE id = \(chat) RETURNING id
            """, as: Int64.self)
        let serve = try ChildProcess(ChildProcess.followupBinary, ["serve", "--database-url", try await db.url, "--port", "0"],
                                     environment: Self.environment)
        var port: Int?
        _ = await eventually(timeout: .seconds(20)) {
            port = Self.listeningPort(serve.output)
            return port != nil
        }
        let listening = try #require(port, "\(serve.output)")

        // Hold the delivery's row lock, so the callback's UPDATE waits: a request in flight.
        let blocker = db.anotherPool(maxConnections: 1)
        let (locked, lockedSignal) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
        let holder = Task {
            try await blocker.withTransaction { tx in
                try await tx.execute("SELECT 1 FROM deliveries WHERE id = \(delivery) FOR UPDATE")
                lockedSignal.yield()
                var wait = release.makeAsyncIterator()
                _ = await wait.next()
            }
        }
        var lockedIterator = locked.makeAsyncIterator()
        _ = await lockedIterator.next()

        let path = "/webhooks/twilio/status?delivery=delivery-\(delivery)"
        let form = [("MessageSid", "SM1"), ("MessageStatus", "delivered")]
        let signature = TwilioSignature(authToken: ServerHarness.authToken).signature(url: ServerHarness.publicURL + path, parameters: form)
        let client = OutboundClient()
        let request = Task {
            try await client.send(HTTPRequest(method: "POST", url: "http://127.0.0.1:\(listening)\(path)", headers: [
                HTTPHeader("Content-Type", "application/x-www-form-urlencoded"), HTTPHeader("X-Twilio-Signature", signature),
            ], body: Array(ServerHarness.formBody(form).utf8), timeout: .seconds(20)))
        }
        // The request is waiting on the lock.
        #expect(try await eventually(timeout: .seconds(10)) {
            try await db.pool.scalar("""
                SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                """, as: Int.self) > 0
        })
        serve.signal(SIGTERM)
        try await Task.sleep(for: .milliseconds(300))
        #expect(await serve.wait(timeout: .milliseconds(1)) == nil, "serve exited with a request in flight")
        releaseSignal.yield()
        try await holder.value
        let response = try await request.value
        #expect(response.status == 204)
        #expect(await serve.wait(timeout: .seconds(15)) == 0, "\(serve.output)")
        #expect(try await db.pool.scalar("SELECT status FROM deliveries WHERE id = \(delivery)", as: String.self) == "delivered")
        client.shutdown()
        await blocker.close()
    }
}
