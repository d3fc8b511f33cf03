import Foundation
import Postgres
import Testing
import TestSupport
@testable import FollowUp

/// The exploit that once made a database owner superuser, replayed: a role that may create
/// objects in `public` plants an operator and functions that shadow built-ins, then calls every
/// wallet function it may call while the poller runs whole follow-ups. Nothing planted runs and
/// no privilege is gained: every function pins its search path, and the product's sessions
/// resolve nothing through `public`.
@Suite("Planted objects in public") struct PlantedObjectTests {
    @Test("a planted ||(text, bigint), jsonb_build_object(text, bigint), upper(text) and now() never run; no privilege is gained")
    func plantedObjectsNeverRun() async throws {
        try await withFollowUpHarness { h in
            let attacker = "attacker_\(UUID().uuidString.prefix(8).lowercased())"
            let password = UUID().uuidString
            // The attacker: both product roles (so it may call what they may), and CREATE on public
            // (as a database owner has on PG 15, and every role on PG 14 and older).
            for sql in ["CREATE ROLE \(attacker) LOGIN PASSWORD '\(password)'",
                        "GRANT followup_poller, followup_app TO \(attacker)",
                        "GRANT CREATE ON SCHEMA public TO \(attacker)"] {
                try await h.pool.execute(Query(sql: sql))
            }
            let evil = h.scope.closing(ConnectionPool(try h.db.configuration.login(attacker, password: password), maxConnections: 2))
            // Each planted function logs who ran it, and tries to make the attacker superuser.
            func planted(_ signature: String, returns: String, body: String) -> String {
                """
                CREATE FUNCTION public.\(signature) RETURNS \(returns) LANGUAGE plpgsql AS $f$
                BEGIN
                    INSERT INTO public.planted_calls (what, by_user) VALUES ('\(signature)', current_user);
                    BEGIN EXECUTE 'ALTER ROLE \(attacker) SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
                    RETURN \(body);
                END $f$
                """
            }
            for sql in ["CREATE TABLE public.planted_calls (what text, by_user text)",
                        "GRANT INSERT ON public.planted_calls TO PUBLIC",
                        planted("planted_concat(text, bigint)", returns: "text", body: "$1 || $2::text"),
                        "CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = bigint, FUNCTION = public.planted_concat)",
                        planted("jsonb_build_object(text, bigint)", returns: "jsonb", body: "pg_catalog.jsonb_build_object($1, $2::text)"),
                        planted("upper(text)", returns: "text", body: "pg_catalog.upper($1)"),
                        planted("now()", returns: "timestamptz", body: "pg_catalog.now()")] {
                try await evil.execute(Query(sql: sql))
            }
            // The plants work: a session that resolves through public runs them.
            _ = try await evil.query(Query(sql: "SELECT 'offline_check:' || 42::bigint, jsonb_build_object('chat_id', 42::bigint)"))
            #expect(try await h.pool.scalar("SELECT count(*)::int FROM public.planted_calls", as: Int.self) == 2)
            try await h.pool.execute("DELETE FROM public.planted_calls")

            // The poller's paths: a push acknowledged, and a text and an email.
            h.startWorker()
            let channel = try await h.channel(.push(ackTimeout: "5 seconds"))
            let pushed = try await h.customer(channel: channel)
            try await h.device(customer: pushed, token: FollowUpHarness.androidToken("planted"))
            let pushChat = try await h.offlineChat(channel: channel, customer: pushed, asks: "Where is my parcel?", answer: "It ships today.")
            #expect(await eventually { h.fcm.pushes.count == 1 })
            let push = try #require(h.fcm.pushes.first)
            try await h.app.execute("""
                INSERT INTO push_receipts (follow_up_id, device_id, token)
                VALUES (\(Int64(push.data["follow_up_id"] ?? "")), \(Int64(push.data["device_id"] ?? "")), \(push.data["receipt_token"]))
                """)
            let textChannel = try await h.channel()
            let texted = try await h.customer(channel: textChannel, name: "Lee", phone: "+821055556666", email: "lee@example.com")
            let textChat = try await h.offlineChat(channel: textChannel, customer: texted, asks: "Refund?", answer: "Refunded.")
            let rows = try await h.settled(chat: textChat, count: 2)
            #expect(rows.map(\.route).sorted() == ["email", "sms"] && rows.allSatisfy { $0.status == "sent" }, "\(rows)")
            #expect(try await eventually { try await h.followUps(chat: pushChat).first?.status == "acknowledged" })

            // Every wallet function the attacker may call, with its own arguments.
            let delivery = try await h.pool.scalar("SELECT min(id) FROM deliveries WHERE route = 'sms' AND channel_id = \(textChannel)", as: Int64.self)
            for sql in ["SELECT * FROM wallet.hold(\(textChannel), \(delivery), 15000, 'sms')", "SELECT wallet.capture(\(delivery))",
                        "SELECT wallet.release(\(delivery))", "SELECT * FROM wallet.balance(\(channel))",
                        "SELECT wallet.price('sms', 'KR', 1)", "SELECT wallet.find_price('sms', 'KR', 1)",
                        "SELECT * FROM wallet.list_price('sms', 'KR', 1)",
                        "SELECT wallet.grant_monthly_credit(\(channel), current_date, 10000000)",
                        "SELECT wallet.grant_monthly_credits(current_date, 10000000, 10)",
                        "SELECT * FROM wallet.top_up_begin(1)", "SELECT wallet.top_up_succeeded(gen_random_uuid(), 'pay_1')",
                        "SELECT wallet.top_up_declined(gen_random_uuid(), 'pay_1', 'no', 'declined', '1 minute', '1 hour')",
                        "INSERT INTO activity (customer_id, kind) VALUES (\(texted), 'left')",
                        "INSERT INTO messages (chat_id, sender, body) VALUES (\(textChat), 'manager', 'again')"] {
                _ = try? await evil.query(Query(sql: sql))
            }
            _ = try await h.idle()

            let calls = try await h.pool.query("SELECT what || ' by ' || by_user FROM public.planted_calls").map { try $0.decode(String.self, at: 0) }
            #expect(calls.isEmpty, "planted functions ran: \(calls)")
            #expect(try await h.pool.scalar("SELECT rolsuper FROM pg_roles WHERE rolname = \(attacker)", as: Bool.self) == false)
        }
    }
}
