import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport

/// Quiet hours: the decision is `followup_quiet_hours_end(moment, zone, start, end)`, a pure
/// function of its arguments (the instant is passed in, never read from a clock), computed with
/// Postgres's tz database. Then the flow: a text due inside the window waits until it opens.
@Suite("Quiet hours") struct QuietHoursTests {
    /// When the quiet hours `start`–`end` in `zone` end, seen at `moment` (nil: not inside).
    private func end(_ db: TestDatabase, _ moment: String, _ zone: String, _ start: String?, _ stop: String?) async throws -> String? {
        try await db.pool.first("""
            SELECT to_char(public.followup_quiet_hours_end(\(moment)::timestamptz, \(zone), \(start)::time, \(stop)::time) AT TIME ZONE 'UTC',
                           'YYYY-MM-DD HH24:MI"Z"')
            """)?.decode(String?.self, at: 0)
    }

    @Test("across midnight: inside before and after midnight, outside in the day; a window inside one day too")
    func acrossMidnight() async throws {
        let db = try await TestDatabase.fresh()
        // Seoul is UTC+9 all year: 21:00–08:00 local is 12:00–23:00 UTC.
        #expect(try await end(db, "2026-11-29 13:30Z", "Asia/Seoul", "21:00", "08:00") == "2026-11-29 23:00Z")  // 22:30 local
        #expect(try await end(db, "2026-11-29 16:00Z", "Asia/Seoul", "21:00", "08:00") == "2026-11-29 23:00Z")  // 01:00 local, next day
        #expect(try await end(db, "2026-11-29 22:59Z", "Asia/Seoul", "21:00", "08:00") == "2026-11-29 23:00Z")  // 07:59 local
        #expect(try await end(db, "2026-11-29 23:00Z", "Asia/Seoul", "21:00", "08:00") == nil)                  // 08:00: open
        #expect(try await end(db, "2026-11-29 03:30Z", "Asia/Seoul", "21:00", "08:00") == nil)                  // 12:30 local
        #expect(try await end(db, "2026-11-29 11:59Z", "Asia/Seoul", "21:00", "08:00") == nil)                  // 20:59 local
        #expect(try await end(db, "2026-11-29 12:00Z", "Asia/Seoul", "21:00", "08:00") == "2026-11-29 23:00Z")  // 21:00: quiet
        // A window that does not span midnight (a lunch break).
        #expect(try await end(db, "2026-11-29 03:30Z", "Asia/Seoul", "12:00", "13:00") == "2026-11-29 04:00Z")
        #expect(try await end(db, "2026-11-29 04:30Z", "Asia/Seoul", "12:00", "13:00") == nil)
        // Off.
        #expect(try await end(db, "2026-11-29 13:30Z", "Asia/Seoul", nil, nil) == nil)
        await db.pool.close()
    }

    @Test("a customer in Seoul and one in New York, the same channel and instant: one is quiet, the other is not")
    func seoulAndNewYork() async throws {
        let db = try await TestDatabase.fresh()
        // 2026-11-29 14:00Z: 23:00 in Seoul (quiet), 09:00 in New York (EST, UTC-5).
        #expect(try await end(db, "2026-11-29 14:00Z", "Asia/Seoul", "21:00", "08:00") == "2026-11-29 23:00Z")
        #expect(try await end(db, "2026-11-29 14:00Z", "America/New_York", "21:00", "08:00") == nil)
        // 2026-11-30 03:00Z: 12:00 in Seoul (not quiet), 22:00 in New York (quiet until 08:00 EST = 13:00Z).
        #expect(try await end(db, "2026-11-30 03:00Z", "Asia/Seoul", "21:00", "08:00") == nil)
        #expect(try await end(db, "2026-11-30 03:00Z", "America/New_York", "21:00", "08:00") == "2026-11-30 13:00Z")
        await db.pool.close()
    }

    @Test("across a DST change the window ends at local 08:00: 9 hours after 22:00 in spring, 11 in autumn")
    func acrossDST() async throws {
        let db = try await TestDatabase.fresh()
        // New York springs forward on 2026-03-08 (02:00 EST → 03:00 EDT). 22:00 EST on the 7th is 03:00Z;
        // 08:00 EDT on the 8th is 12:00Z: nine hours later, not ten.
        #expect(try await end(db, "2026-03-08 03:00Z", "America/New_York", "21:00", "08:00") == "2026-03-08 12:00Z")
        // It falls back on 2026-11-01 (02:00 EDT → 01:00 EST). 22:00 EDT on Oct 31 is 02:00Z;
        // 08:00 EST on Nov 1 is 13:00Z: eleven hours later.
        #expect(try await end(db, "2026-11-01 02:00Z", "America/New_York", "21:00", "08:00") == "2026-11-01 13:00Z")
        // Inside the repeated hour (01:30 EST, the second time): still quiet, same end.
        #expect(try await end(db, "2026-11-01 06:30Z", "America/New_York", "21:00", "08:00") == "2026-11-01 13:00Z")
        // An end the spring change skips (02:30 does not exist that night): the time after the gap, 03:30 EDT.
        #expect(try await end(db, "2026-03-08 06:00Z", "America/New_York", "23:00", "02:30") == "2026-03-08 07:30Z")
        await db.pool.close()
    }

    @Test("the customer's zone: their own, else their phone's country (one zone only), else the channel's")
    func customerZone() async throws {
        let db = try await TestDatabase.fresh()
        func zone(_ own: String?, _ phone: String?, _ channel: String) async throws -> String {
            try await db.pool.scalar("SELECT public.followup_time_zone(\(own), \(phone), \(channel))", as: String.self)
        }
        #expect(try await zone("Europe/Berlin", "+821012345678", "UTC") == "Europe/Berlin")
        #expect(try await zone(nil, "+821012345678", "UTC") == "Asia/Seoul")
        #expect(try await zone(nil, "+886912345678", "UTC") == "Asia/Taipei")
        #expect(try await zone(nil, "+447700900123", "UTC") == "Europe/London")
        #expect(try await zone(nil, "+12125550100", "America/Chicago") == "America/Chicago")  // +1: many zones
        #expect(try await zone(nil, nil, "Asia/Tokyo") == "Asia/Tokyo")
        await db.pool.close()
    }

    @Test("time zones are validated when written: a name Postgres does not know is refused by name")
    func validatedZones() async throws {
        let db = try await TestDatabase.fresh()
        let app = try await db.pool(as: .app)
        let channel = try await app.scalar("INSERT INTO channels (name, time_zone) VALUES ('A', 'Asia/Seoul') RETURNING id", as: Int64.self)
        let customer = try await app.scalar("""
            INSERT INTO customers (channel_id, time_zone) VALUES (\(channel), 'America/New_York') RETURNING id
            """, as: Int64.self)
        for bad in ["Asia/Seol", "Mars/Olympus_Mons", "UTC; DROP TABLE customers", "+09:00", "XYZ+3", "Foo/Bar+3", "KST"] {
            let error = await #expect(throws: PostgresError.self) {
                try await app.execute("UPDATE customers SET time_zone = \(bad) WHERE id = \(customer)")
            }
            #expect(error.map { "\($0)" }?.contains("time_zone") == true, "\(String(describing: error))")
        }
        for good in ["Asia/Seoul", "America/Argentina/Buenos_Aires", "Etc/GMT+9", "Japan", "UTC"] {
            try await app.execute("UPDATE customers SET time_zone = \(good) WHERE id = \(customer)")
        }
        await #expect(throws: PostgresError.self) {
            try await app.execute("UPDATE channels SET time_zone = 'Europe/Nowhere' WHERE id = \(channel)")
        }
        await #expect(throws: PostgresError.self) {
            try await app.execute("UPDATE channels SET quiet_hours_start = '22:00' WHERE id = \(channel)")  // without an end
        }
        await app.close()
        await db.pool.close()
    }

    /// The window opens: the held delivery jobs of `chat` run now instead of at `held_until`
    /// (time passing, without waiting an hour). First checks each is due exactly when the hold ends.
    private func windowOpens(_ h: FollowUpHarness, chat: Int64) async throws {
        let due = try await h.pool.scalar("""
            SELECT count(*)::int FROM deliveries d JOIN jobs j ON j.kind = 'followup.deliver' AND (j.payload->>'delivery_id')::bigint = d.id
            WHERE d.chat_id = \(chat) AND d.held_until IS NOT NULL AND j.state = 'available' AND j.run_at = d.held_until
            """, as: Int.self)
        #expect(due >= 1, "a held delivery's job is due when the quiet hours end")
        try await h.pool.execute("""
            UPDATE jobs SET run_at = now() FROM deliveries d
            WHERE jobs.kind = 'followup.deliver' AND (jobs.payload->>'delivery_id')::bigint = d.id AND d.chat_id = \(chat)
              AND d.held_until IS NOT NULL AND jobs.state = 'available'
            """)
    }

    @Test("a text due in quiet hours waits until they end (Seoul); email goes now; New York on the same channel is not held")
    func heldText() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let channel = try await h.channel()
            // Quiet in Seoul from an hour ago until an hour from now (local wall-clock times; may span midnight).
            try await h.pool.execute("""
                UPDATE channels SET follow_up_cooldown = '0',
                    quiet_hours_start = ((now() AT TIME ZONE 'Asia/Seoul') - interval '1 hour')::time(0),
                    quiet_hours_end = ((now() AT TIME ZONE 'Asia/Seoul') + interval '1 hour')::time(0)
                WHERE id = \(channel)
                """)
            let seoul = try await h.customer(channel: channel)                      // +82: Asia/Seoul from the phone
            let newYork = try await h.customer(channel: channel, name: "Sam", phone: "+12125550100", email: "sam@example.com", country: "US")
            try await h.app.execute("UPDATE customers SET time_zone = 'America/New_York' WHERE id = \(newYork)")
            var chats: [Int64] = []
            for customer in [seoul, newYork] {
                let chat = try await h.offlineChat(channel: channel, customer: customer, asks: "Hello?", answer: "Hi, here is the answer.")
                chats.append(chat)
            }
            // New York: both out now.
            let ny = try await h.settled(chat: chats[1], count: 2)
            #expect(ny.allSatisfy { $0.status == "sent" }, "\(ny)")
            // Seoul: the email is out, the text waits, and delivery_report says until when.
            #expect(try await eventually { try await h.deliveries(chat: chats[0]).contains { $0.route == "email" && $0.status == "sent" } })
            let held = try #require(try await h.app.first("""
                SELECT status, why, held_until > now() FROM delivery_report WHERE chat_id = \(chats[0]) AND kind = 'text'
                """))
            #expect(try held.decode(String.self, at: 0) == "queued")
            let why = try held.decode(String.self, at: 1)
            #expect(why.hasPrefix("held for quiet hours until ") && why.hasSuffix(" Asia/Seoul"), "\(why)")
            #expect(try held.decode(Bool.self, at: 2))
            #expect(h.twilio.messages(to: "+821012345678").isEmpty)
            // When the window opens, it goes.
            try await windowOpens(h, chat: chats[0])
            let seoulRows = try await h.settled(chat: chats[0], count: 2, timeout: .seconds(15))
            #expect(seoulRows.allSatisfy { $0.status == "sent" }, "\(seoulRows)")
            #expect(h.twilio.messages(to: "+821012345678").count == 1)
        }
    }

    @Test("when the window opens, a held text is checked again: a customer who came back, or chose email only, gets no text")
    func heldTextRechecked() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let channel = try await h.channel()
            try await h.pool.execute("""
                UPDATE channels SET follow_up_cooldown = '0', time_zone = 'Asia/Seoul',
                    quiet_hours_start = ((now() AT TIME ZONE 'Asia/Seoul') - interval '1 hour')::time(0),
                    quiet_hours_end = ((now() AT TIME ZONE 'Asia/Seoul') + interval '1 hour')::time(0)
                WHERE id = \(channel)
                """)
            var chats: [(customer: Int64, chat: Int64)] = []
            for (name, phone) in [("Back", "+821055500001"), ("Pref", "+821055500002")] {
                let customer = try await h.customer(channel: channel, name: name, phone: phone, email: "\(name.lowercased())@example.com")
                let chat = try await h.offlineChat(channel: channel, customer: customer, asks: "Hello?", answer: "Here is the answer.")
                chats.append((customer, chat))
            }
            for (_, chat) in chats {
                #expect(try await eventually { try await h.deliveries(chat: chat).contains { $0.route == "email" && $0.status == "sent" } })
                #expect(try await h.deliveries(chat: chat).contains { $0.route != "email" && $0.status == "queued" })
            }
            try await h.activity(customer: chats[0].customer, "page_view")
            try await h.app.execute("UPDATE customers SET follow_up = 'email_only' WHERE id = \(chats[1].customer)")
            for (_, chat) in chats { try await windowOpens(h, chat: chat) }
            let back = try await h.settled(chat: chats[0].chat, count: 2, timeout: .seconds(15))
            #expect(back.first { $0.route != "email" }?.status == "excluded", "\(back)")
            #expect(back.first { $0.route != "email" }?.reason == "customer came back before it was sent")
            let preference = try await h.settled(chat: chats[1].chat, count: 2, timeout: .seconds(15))
            #expect(preference.first { $0.route != "email" }?.reason == "the customer asked for email only (follow_up = email_only)", "\(preference)")
            #expect(h.twilio.messages.isEmpty)
        }
    }

    @Test("a channel that holds push too: the push waits for the window, and its acknowledgement wait starts then")
    func heldPush() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let channel = try await h.channel(.push(ackTimeout: "1 second"))
            try await h.pool.execute("""
                UPDATE channels SET follow_up_cooldown = '0', quiet_hours_hold_push = true,
                    quiet_hours_start = ((now() AT TIME ZONE 'Asia/Seoul') - interval '1 hour')::time(0),
                    quiet_hours_end = ((now() AT TIME ZONE 'Asia/Seoul') + interval '1 hour')::time(0)
                WHERE id = \(channel)
                """)
            let customer = try await h.customer(channel: channel)
            try await h.device(customer: customer, token: FollowUpHarness.androidToken("quiet"))
            let chat = try await h.offlineChat(channel: channel, customer: customer, asks: "Hello?", answer: "Here is the answer.")
            #expect(try await eventually { try await h.deliveries(chat: chat).first?.reason?.hasPrefix("held for quiet hours") == true })
            let deadline = try await h.pool.scalar("""
                SELECT f.push_deadline >= d.held_until + interval '1 second' FROM follow_ups f JOIN deliveries d ON d.follow_up_id = f.id
                WHERE f.chat_id = \(chat) AND d.route = 'push'
                """, as: Bool.self)
            #expect(deadline)
            #expect(h.fcm.pushes.isEmpty)
            // The window opens: the push goes.
            try await windowOpens(h, chat: chat)
            #expect(await eventually { h.fcm.pushes.count == 1 })
        }
    }
}
