import Fakes
import FollowUp
import Foundation
import Postgres
import Wallet

/// The demo's last act (issue 14): a channel with a short cooldown and quiet hours. Noah, in New
/// York, gets one follow-up, then three more answers in a row — merged into one follow-up after
/// the cooldown. Hana, in Seoul, where it is inside the quiet hours, gets her email now and her
/// text when they end. Self-contained: its own channel, customers and chats.
struct DemoPolicy: Sendable {
    let pool: ConnectionPool
    let app: ConnectionPool
    let fakes: FakeProviders
    static let cooldownSeconds = 3

    func play() async throws {
        let channel = try await app.scalar("""
            INSERT INTO public.channels (name, plan, phone_enabled, email_enabled, default_country, offline_timeout, follow_up_cooldown)
            VALUES ('Cedar Books', 'free', true, true, 'US', '2 seconds', make_interval(secs => \(Double(Self.cooldownSeconds))))
            RETURNING id
            """, as: Int64.self)
        try await Wallet.credit(channelID: channel, amountMicros: 5 * Money.microsPerDollar, reason: "SMS credit for the demo", by: "demo", on: pool)
        // Quiet hours: the hour around now, Seoul time (an operator would run `followup channel set`).
        try await app.execute("""
            UPDATE public.channels SET quiet_hours_start = ((now() AT TIME ZONE 'Asia/Seoul') - interval '1 hour')::time(0),
                                       quiet_hours_end = ((now() AT TIME ZONE 'Asia/Seoul') + interval '1 hour')::time(0)
            WHERE id = \(channel)
            """)
        let noah = try await chat(channel, "Noah", phone: "+12125550188", email: "noah@example.com", zone: "America/New_York")
        let hana = try await chat(channel, "Hana", phone: "+821055510009", email: "hana@example.com", zone: nil)
        let window = try await pool.scalar("""
            SELECT to_char(quiet_hours_start, 'HH24:MI') || '-' || to_char(quiet_hours_end, 'HH24:MI') FROM public.channels WHERE id = \(channel)
            """, as: String.self)
        print("One follow-up per absence, and quiet hours — Cedar Books: cooldown \(Self.cooldownSeconds)s, quiet hours \(window) in the customer's time zone")

        try await answer(noah, "Let me check the shelf.")
        _ = await waitFor { try? await count(noah, "follow_ups WHERE status = 'notified'") == 1 ? true : nil }
        for line in ["Found it: one copy left.", "I set it aside for you.", "Rate our service!"] {
            try await answer(noah, line, sender: line.hasPrefix("Rate") ? "bot" : "manager")
            try await Task.sleep(for: .milliseconds(200))
        }
        try await answer(hana, "Yes, the Korean edition is in stock.")
        _ = await waitFor(seconds: 15) { try? await count(noah, "follow_ups WHERE status = 'notified'") == 2 ? true : nil }
        _ = await waitFor { try? await count(hana, "deliveries WHERE route = 'email' AND status = 'sent'") == 1 ? true : nil }

        let followUps = try await pool.query("""
            SELECT message_count, status FROM public.follow_ups WHERE chat_id = \(noah) ORDER BY id
            """).map { row -> String in
                let n = try row.decode(Int.self, at: 0)
                return "\(n) answer\(n == 1 ? "" : "s") (\(try row.decode(String.self, at: 1)))"
            }
        print("   Noah (New York, not quiet) left; 1 answer, then 3 more in a row (the last one a bot's):")
        print("   → \(followUps.count) follow-ups: \(followUps.joined(separator: ", then after the cooldown ")); 2 texts, not 4")
        if let text = fakes.twilio.messages(to: "+12125550188").last {
            print("     the second text: “\(text.body.replacingOccurrences(of: "\n", with: " ⏎ ").prefix(110))…”")
        }
        print("   Hana (Seoul, from her phone's country, inside the quiet hours):")
        for row in try await DeliveryReport.list(.init(chatID: hana, limit: 5), on: pool).reversed() {
            print("   → \(row.kind): \(row.status.rawValue) — \(row.why)")
        }
    }

    private func chat(_ channel: Int64, _ name: String, phone: String, email: String, zone: String?) async throws -> Int64 {
        let customer = try await app.scalar("""
            INSERT INTO public.customers (channel_id, name, phone, email, time_zone) VALUES (\(channel), \(name), \(phone), \(email), \(zone))
            RETURNING id
            """, as: Int64.self)
        let chat = try await app.scalar("INSERT INTO public.chats (channel_id, customer_id) VALUES (\(channel), \(customer)) RETURNING id", as: Int64.self)
        try await app.execute("INSERT INTO public.messages (chat_id, sender, body) VALUES (\(chat), 'customer', 'Do you have this book?')")
        try await app.execute("INSERT INTO public.activity (customer_id, kind) VALUES (\(customer), 'left')")
        return chat
    }

    private func answer(_ chat: Int64, _ body: String, sender: String = "manager") async throws {
        try await app.execute("INSERT INTO public.messages (chat_id, sender, body) VALUES (\(chat), \(sender), \(body))")
    }

    private func count(_ chat: Int64, _ table: String) async throws -> Int {
        try await pool.scalar("SELECT count(*)::int FROM public.\(raw: table) AND chat_id = \(chat)", as: Int.self)
    }
}
