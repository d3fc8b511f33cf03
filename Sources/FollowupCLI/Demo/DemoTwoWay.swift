import Fakes
import FollowUp
import Foundation
import Logging
import Outbound
import Postgres
import Providers
import Server

/// The demo's second act: the conversation comes back (docs/webhooks.md). `followup serve`'s
/// application runs in this process; the demo plays Twilio and a mail provider against it over
/// loopback HTTP: a delivery receipt, a customer replying by email into the chat, and a STOP.
struct DemoTwoWay: Sendable {
    static let publicURL = "https://hooks.followup-demo.example"
    static let replySecret = "demo-reply-secret-not-for-production"
    static let mailSecret = "demo-inbound-mail-secret"

    /// The owner's login, for showing what happened.
    let pool: ConnectionPool
    /// What `followup serve` runs on: the poller's login, as deployed.
    let serverPool: ConnectionPool
    let fakes: FakeProviders
    let followUps: FollowUpSettings

    /// The follow-up settings and provider environment `run` needs for the two-way act.
    static func prepare(_ settings: inout FollowUpSettings, environment: inout [String: String]) {
        settings.replySecret = replySecret
        settings.publicURL = publicURL
        environment["FOLLOWUP_PUBLIC_URL"] = publicURL  // every SMS asks Twilio for status callbacks
    }

    func play() async throws {
        print("Two-way: followup serve's webhooks, played by a fake Twilio and a fake mail provider…")
        var logger = Logger(label: "demo.serve")
        logger.logLevel = .error
        let settings = ServerSettings(followUps: followUps, publicURL: Self.publicURL, twilioAuthToken: fakes.twilio.authToken,
                                      inboundMailSecret: Self.mailSecret)
        let server = try await RunningServer.start(.init(pool: serverPool, settings: settings, logger: logger))
        let client = OutboundClient()
        defer { client.shutdown() }
        do {
            try await receipt(server, client)
            try await emailReply(server, client)
            try await stop(server, client)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        print("")
    }

    /// Twilio reports that Alex's SMS reached the phone.
    private func receipt(_ server: RunningServer, _ client: OutboundClient) async throws {
        guard let sms = fakes.twilio.messages(to: "+14155550123").first, let callback = sms.statusCallback,
              callback.hasPrefix(Self.publicURL) else {
            print("   (no SMS with a status callback to confirm)")
            return
        }
        let path = String(callback.dropFirst(Self.publicURL.count))
        let form = [("MessageSid", sms.sid), ("MessageStatus", "delivered"), ("To", sms.to), ("From", sms.from)]
        let signature = TwilioSignature(authToken: fakes.twilio.authToken).signature(url: callback, parameters: form)
        let response = try await client.send(HTTPRequest(
            method: "POST", url: "http://127.0.0.1:\(server.port)\(path)",
            headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded"), HTTPHeader("X-Twilio-Signature", signature)],
            body: Array(form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
                .joined(separator: "&").utf8)))
        let status = try await pool.first("""
            SELECT d.status FROM public.deliveries d WHERE d.provider_message_id = \(sms.sid)
            """).map { try $0.decode(String.self, at: 0) } ?? "?"
        print("1. Delivery receipt — Twilio calls POST /webhooks/twilio/status (signed) for Alex's SMS → HTTP \(response.status)")
        print("   → the delivery log now says: \(status) (it said `sent`: accepted, no receipt yet)")
    }

    /// Alex answers the follow-up email from Gmail; the new text lands in the chat.
    private func emailReply(_ server: RunningServer, _ client: OutboundClient) async throws {
        guard let mail = fakes.smtp.messages.first(where: { $0.recipients.contains("alex@example.com") })?.parsed,
              let replyTo = mail.header("Reply-To") else {
            print("2. (no follow-up email to reply to)")
            return
        }
        let raw = """
            From: Alex <alex@example.com>\r
            To: \(replyTo)\r
            Subject: Re: \(mail.decodedHeader("Subject") ?? "")\r
            Message-ID: <demo-reply-1@mail.example.com>\r
            In-Reply-To: \(mail.header("Message-ID") ?? "")\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            Great — can you ship it by express?\r
            \r
            On Sat, Nov 28, 2026 at 10:02 AM Acme Shop <help@acme-shop.example> wrote:\r
            > Hello Alex,\r
            > We do!\r
            """
        let response = try await client.send(HTTPRequest(
            method: "POST", url: "http://127.0.0.1:\(server.port)/webhooks/email/inbound",
            headers: [HTTPHeader("Content-Type", "message/rfc822"), HTTPHeader("X-Followup-Secret", Self.mailSecret)],
            body: Array(raw.utf8)))
        let landed = try await pool.first("""
            SELECT m.chat_id, m.body FROM public.messages m JOIN public.chats c ON c.id = m.chat_id JOIN public.customers cu ON cu.id = c.customer_id
            WHERE cu.email = 'alex@example.com' AND m.sender = 'customer' ORDER BY m.id DESC LIMIT 1
            """)
        let address = replyTo.trimmingCharacters(in: CharacterSet(charactersIn: "<> "))
        print("2. Email reply — Alex answers the follow-up email (Reply-To \(address.prefix(20))…, an unguessable address)")
        print("   POST /webhooks/email/inbound (or `followup mail-in` from the MTA) → HTTP \(response.status) \(response.bodyText.trimmingCharacters(in: .whitespacesAndNewlines))")
        if let landed {
            print("   → chat \(try landed.decode(Int64.self, at: 0)) has a new customer message: “\(try landed.decode(String.self, at: 1))” (quote stripped)")
        }
    }

    /// Hyun texts STOP; the next answer reaches Hyun by email only.
    private func stop(_ server: RunningServer, _ client: OutboundClient) async throws {
        let phone = "+821055510004"
        let form = [("MessageSid", "SMdemoSTOP0001"), ("From", phone), ("To", followUps.defaultSMSFrom), ("Body", "STOP")]
        let signature = TwilioSignature(authToken: fakes.twilio.authToken)
            .signature(url: Self.publicURL + "/webhooks/twilio/inbound", parameters: form)
        let response = try await client.send(HTTPRequest(
            method: "POST", url: "http://127.0.0.1:\(server.port)/webhooks/twilio/inbound",
            headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded"), HTTPHeader("X-Twilio-Signature", signature)],
            body: Array(form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
                .joined(separator: "&").utf8)))
        print("3. STOP — Hyun texts “STOP” to Bloom Flowers' number: POST /webhooks/twilio/inbound → HTTP \(response.status), empty TwiML")
        let reason = try await pool.first("SELECT reason FROM public.suppressions WHERE address = \(phone)").map { try $0.decode(String.self, at: 0) }
        print("   → suppressions: \(reason ?? "(none)")")
        // The shop answers Hyun again; the follow-up goes out by email only, and says why.
        let chat = try await pool.scalar("""
            SELECT c.id FROM public.chats c JOIN public.customers cu ON cu.id = c.customer_id WHERE cu.phone = \(phone)
            """, as: Int64.self)
        let before = try await pool.scalar("SELECT coalesce(max(id), 0) FROM public.follow_ups WHERE chat_id = \(chat)", as: Int64.self)
        try await pool.execute("INSERT INTO public.messages (chat_id, sender, body) VALUES (\(chat), 'manager', '꽃다발은 오전 10시에 출발합니다.')")
        let deadline = ContinuousClock.now + .seconds(20)
        var text: (String, String)?
        while ContinuousClock.now < deadline {
            text = try await pool.first("""
                SELECT status, why FROM public.delivery_report
                WHERE chat_id = \(chat) AND kind = 'text' AND follow_up_id > \(before)
                  AND status NOT IN ('queued', 'sending')
                """).map { (try $0.decode(String.self, at: 0), try $0.decode(String.self, at: 1)) }
            if text != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        if let (status, why) = text {
            print("   → the shop answers again; the next follow-up's text: \(status) — \(why)")
        } else {
            print("   → (the next follow-up had not been planned yet)")
        }
    }
}
