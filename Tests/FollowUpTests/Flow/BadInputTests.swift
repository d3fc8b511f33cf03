import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport

/// The app's mistakes: rejected by the contract with a clear message, or recorded with a
/// reason — and the poller keeps going.
@Suite("Bad input") struct BadInputTests {
    @Test("jobs for unknown chats or deliveries finish quietly; a malformed payload is dead with a reason; real work continues")
    func unknownIDsAndGarbage() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            try await h.pool.execute("SELECT jobs_enqueue('followup.offline_check', '{\"chat_id\": 987654}')")
            try await h.pool.execute("SELECT jobs_enqueue('followup.deliver', '{\"delivery_id\": 987654}')")
            try await h.pool.execute("SELECT jobs_enqueue('followup.dispatch', '{\"oops\": 1}')")
            try await h.pool.execute("SELECT jobs_enqueue('followup.push_timeout', '{\"follow_up_id\": 987654}')")
            #expect(try await h.idle())
            // Completed jobs leave `jobs` for `job_history`; the dead one stays for the operator.
            let states = try await h.pool.query("""
                SELECT kind, state::text, errors::text, id FROM jobs
                UNION ALL SELECT kind, state::text, coalesce(errors, '[]')::text, id FROM job_history ORDER BY 4
                """).map {
                (try $0.decode(String.self, at: 0), try $0.decode(String.self, at: 1), try $0.decode(String.self, at: 2))
            }
            #expect(states.map(\.1) == ["completed", "completed", "dead", "completed"], "\(states)")
            #expect(states[2].2.contains("missing field follow_up_id"))

            let (_, _, chat) = try await h.offlineChat()
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.allSatisfy { $0.status == "sent" }, "\(rows)")
        }
    }
}
