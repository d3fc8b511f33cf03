import FollowUp
import Foundation
import Logging
import Outbound
import Postgres
import Providers
import Server
import TestSupport

/// One test's world: a fresh database, `followup serve`'s application listening on a real
/// loopback port, and an HTTP client. The app's rows are written with plain SQL.
final class ServerHarness: Sendable {
    static let publicURL = "https://hooks.followup.test"
    static let authToken = "twilio-test-auth-token-0123456789"
    static let replySecret = "reply-secret-for-tests-0123456789"
    static let replyDomain = "reply.followup.test"
    static let mailSecret = "inbound-mail-secret-0123456789"
    static let defaultSender = "+15005550006"

    let db: TestDatabase
    let client = OutboundClient()
    let tokens: ReplyTokens
    private let server: RunningServer

    var pool: ConnectionPool { db.pool }
    var baseURL: String { "http://127.0.0.1:\(server.port)" }

    static var settings: ServerSettings {
        var followUps = FollowUpSettings()
        followUps.replySecret = replySecret
        followUps.replyDomain = replyDomain
        followUps.publicURL = publicURL
        followUps.defaultSMSFrom = defaultSender
        return ServerSettings(followUps: followUps, publicURL: publicURL, twilioAuthToken: authToken, inboundMailSecret: mailSecret)
    }

    init() async throws {
        db = try await TestDatabase.fresh(maxConnections: 8)
        tokens = ReplyTokens(secret: Self.replySecret, domain: Self.replyDomain)
        server = try await RunningServer.start(.init(pool: db.pool, settings: Self.settings, logger: Logger(label: "test.serve")))
    }

    func stop() async {
        await server.stop()
        client.shutdown()
        await db.pool.close()
    }

    // MARK: HTTP

    func post(_ path: String, headers: [HTTPHeader] = [], body: [UInt8]) async throws -> HTTPResponse {
        try await client.send(HTTPRequest(method: "POST", url: baseURL + path, headers: headers, body: body, timeout: .seconds(10)))
    }

    func get(_ path: String) async throws -> HTTPResponse {
        try await client.send(HTTPRequest(method: "GET", url: baseURL + path, timeout: .seconds(10)))
    }

    /// POSTs a form signed the way Twilio signs it (`token` defaults to the right one).
    func postTwilio(_ path: String, _ form: [(String, String)], token: String = ServerHarness.authToken,
                    signedURL: String? = nil, signedForm: [(String, String)]? = nil) async throws -> HTTPResponse {
        let signature = TwilioSignature(authToken: token).signature(url: signedURL ?? Self.publicURL + path, parameters: signedForm ?? form)
        return try await post(path, headers: [
            HTTPHeader("Content-Type", "application/x-www-form-urlencoded"), HTTPHeader("X-Twilio-Signature", signature),
        ], body: Array(Self.formBody(form).utf8))
    }

    /// `application/x-www-form-urlencoded`, as Twilio posts it.
    static func formBody(_ form: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return form.map { name, value in
            name.addingPercentEncoding(withAllowedCharacters: allowed)! + "=" + value.addingPercentEncoding(withAllowedCharacters: allowed)!
        }.joined(separator: "&")
    }

    /// POSTs a raw mail to the inbound mail webhook.
    func postMail(_ raw: [UInt8], secret: String = ServerHarness.mailSecret, recipient: String? = nil) async throws -> HTTPResponse {
        var headers = [HTTPHeader("Content-Type", "message/rfc822"), HTTPHeader("X-Followup-Secret", secret)]
        if let recipient { headers.append(HTTPHeader("X-Followup-Recipient", recipient)) }
        return try await post("/webhooks/email/inbound", headers: headers, body: raw)
    }

    // MARK: Rows, as the app writes them

    func channel(smsFrom: String? = "+15005551000", email: Bool = true) async throws -> Int64 {
        try await pool.scalar("""
            INSERT INTO channels (name, plan, phone_enabled, email_enabled, sms_from) VALUES ('Acme Shop', 'paid', true, \(email), \(smsFrom))
            RETURNING id
            """, as: Int64.self)
    }

    func customer(channel: Int64, phone: String? = "+821012345678", email: String? = "kim@example.com") async throws -> Int64 {
        try await pool.scalar("""
            INSERT INTO customers (channel_id, name, phone, email, country) VALUES (\(channel), 'Kim', \(phone), \(email), 'KR') RETURNING id
            """, as: Int64.self)
    }

    func chat(channel: Int64, customer: Int64) async throws -> Int64 {
        try await pool.scalar("INSERT INTO chats (channel_id, customer_id) VALUES (\(channel), \(customer)) RETURNING id", as: Int64.self)
    }

    /// A delivery as `run` leaves it after the provider accepted it.
    func delivery(channel: Int64, chat: Int64, customer: Int64, route: String = "sms", status: String = "sent",
                  recipient: String = "+821012345678", providerMessageID: String? = "SM0123456789abcdef0123456789abcdef") async throws -> Int64 {
        try await pool.scalar("""
            INSERT INTO deliveries (channel_id, chat_id, customer_id, route, status, recipient, provider_message_id, segments, sent_at)
            VALUES (\(channel), \(chat), \(customer), \(route), \(status), \(recipient), \(providerMessageID), 1,
                    CASE WHEN \(status) = 'sent' THEN now() END)
            RETURNING id
            """, as: Int64.self)
    }

    func deliveryRow(_ id: Int64) async throws -> (status: String, receipt: String?, code: String?, reason: String?) {
        let row = try await pool.first("SELECT status, receipt_status, provider_code, reason FROM deliveries WHERE id = \(id)")!
        return (try row.decode(String.self, at: 0), try row.decode(String?.self, at: 1), try row.decode(String?.self, at: 2),
                try row.decode(String?.self, at: 3))
    }

    func customerMessages(chat: Int64) async throws -> [String] {
        try await pool.query("SELECT body FROM messages WHERE chat_id = \(chat) AND sender = 'customer' ORDER BY id").map {
            try $0.decode(String.self, at: 0)
        }
    }

    func count(_ table: String) async throws -> Int {
        // `table` is a literal chosen by the tests.
        try await pool.scalar(Query(sql: "SELECT count(*)::int FROM \(table)"), as: Int.self)
    }

    /// A fixture mail with `{{TO}}` and `{{DELIVERY}}` filled in.
    static func fixture(_ name: String, to: String = "", delivery: Int64 = 0) throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: "Fixtures/mail/\(name)", withExtension: "eml") else {
            throw HarnessError("no fixture \(name)")
        }
        var bytes = Array(try Data(contentsOf: url))
        for (placeholder, value) in [("{{TO}}", to), ("{{DELIVERY}}", String(delivery))] {
            bytes = replace(bytes, Array(placeholder.utf8), Array(value.utf8))
        }
        return bytes
    }

    private static func replace(_ bytes: [UInt8], _ pattern: [UInt8], _ value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if index + pattern.count <= bytes.count && Array(bytes[index..<index + pattern.count]) == pattern {
                out += value
                index += pattern.count
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
