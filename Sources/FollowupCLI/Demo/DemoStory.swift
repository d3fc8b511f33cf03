import Fakes
import FollowUp
import Foundation
import Postgres
import Wallet

/// The demo's first act: the companies and customers are set up as an app would (plain SQL on the
/// app's login), everyone walks away, the managers answer, and the poller reaches them.
/// The cast is in `DemoScenarios.swift`, what each received in `DemoReport.swift`.
struct DemoStory: Sendable {
    /// The database's owner login: what the demo reports, and an operator's credit.
    let pool: ConnectionPool
    /// The chat app's login: every row the app writes.
    let app: ConnectionPool
    let fakes: FakeProviders
    let offlineSeconds: Double
    let pushAckSeconds: Double

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
}
