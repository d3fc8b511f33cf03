import Foundation
import Postgres
import Testing
import TestSupport

/// `followup channel show|set` as an operator runs it.
@Suite("followup channel show|set")
struct ChannelSettingsCommandTests {
    func followup(_ arguments: [String]) async throws -> (Int32?, String) {
        let process = try ChildProcess(ChildProcess.followupBinary, arguments, environment: [:])
        let code = await process.wait(timeout: .seconds(60))
        return (code, process.output)
    }

    @Test("show prints the defaults; set changes only what is given; bad values are listed at once and change nothing")
    func showAndSet() async throws {
        let db = try await TestDatabase.fresh()
        let url = try await db.url
        let channel = try await db.pool.scalar("INSERT INTO channels (name) VALUES ('Acme') RETURNING id", as: Int64.self)

        let (code, shown) = try await followup(["channel", "show", "\(channel)", "--database-url", url])
        #expect(code == 0, "\(shown)")
        for line in ["phone (texts)             off", "offline timeout           4m30s", "push ack timeout          30s",
                     "follow-up cooldown        10m", "max texts / chat / day    3", "max emails / chat / day   3",
                     "quiet hours               off", "time zone                 UTC"] {
            #expect(shown.contains(line), "\(line) in \(shown)")
        }

        let (setCode, set) = try await followup([
            "channel", "set", "\(channel)", "--phone", "on", "--cooldown", "90s", "--max-texts-per-day", "none",
            "--max-emails-per-day", "5", "--quiet-hours", "21:00-08:00", "--quiet-hours-hold-email", "on",
            "--time-zone", "Asia/Seoul", "--offline-timeout", "2m", "--database-url", url])
        #expect(setCode == 0, "\(set)")
        #expect(set.contains("follow-up cooldown        1m30s"), "\(set)")
        #expect(set.contains("quiet hours               21:00-08:00 in the customer's time zone; texts held, email held, push not held"), "\(set)")
        let row = try #require(try await db.pool.first("""
            SELECT phone_enabled, email_enabled, follow_up_cooldown = '90 seconds', max_texts_per_chat_per_day IS NULL,
                   max_emails_per_chat_per_day, quiet_hours_start::text, quiet_hours_end::text, time_zone, offline_timeout = '2 minutes'
            FROM channels WHERE id = \(channel)
            """))
        #expect(try row.decode(Bool.self, at: 0) && !(try row.decode(Bool.self, at: 1)))  // email untouched
        #expect(try row.decode(Bool.self, at: 2) && row.decode(Bool.self, at: 3))
        #expect(try row.decode(Int.self, at: 4) == 5)
        #expect(try row.decode(String.self, at: 5) == "21:00:00" && row.decode(String.self, at: 6) == "08:00:00")
        #expect(try row.decode(String.self, at: 7) == "Asia/Seoul" && row.decode(Bool.self, at: 8))

        let (badCode, bad) = try await followup([
            "channel", "set", "\(channel)", "--phone", "maybe", "--cooldown", "10x", "--quiet-hours", "25:00-08:00",
            "--max-texts-per-day", "0", "--offline-timeout", "0", "--database-url", url])
        #expect(badCode == 1, "\(bad)")
        for problem in ["--phone: 'maybe' is not on or off", "--cooldown: '10x' is not a duration",
                        "--quiet-hours: '25:00-08:00' is not a window", "--max-texts-per-day: '0' is not a number from 1 to 1000",
                        "--offline-timeout: must be more than 0"] {
            #expect(bad.contains(problem), "\(problem) in \(bad)")
        }
        let (zoneCode, zone) = try await followup(["channel", "set", "\(channel)", "--time-zone", "Asia/Seol", "--database-url", url])
        #expect(zoneCode == 1 && zone.contains("'Asia/Seol' is not a time zone Postgres knows"), "\(zone)")
        let (noneCode, none) = try await followup(["channel", "set", "\(channel)", "--database-url", url])
        #expect(noneCode == 1 && none.contains("nothing to change"), "\(none)")
        let (missingCode, missing) = try await followup(["channel", "show", "999999", "--database-url", url])
        #expect(missingCode == 1 && missing.contains("there is no channel 999999"), "\(missing)")
        // Nothing changed by the refused commands.
        #expect(try await db.pool.scalar("SELECT follow_up_cooldown = '90 seconds' AND time_zone = 'Asia/Seoul' FROM channels", as: Bool.self))

        // The operator's login may change exactly these settings (followup_operator's grants).
        let operatorPool = try await db.pool(as: .operator)
        try await operatorPool.execute("""
            UPDATE public.channels SET phone_enabled = false, follow_up_cooldown = '5 minutes', quiet_hours_start = NULL,
                quiet_hours_end = NULL, max_texts_per_chat_per_day = 2, time_zone = 'UTC' WHERE id = \(channel)
            """)
        await #expect(throws: PostgresError.self) {
            try await operatorPool.execute("UPDATE public.channels SET plan = 'paid' WHERE id = \(channel)")
        }
        await operatorPool.close()
        await db.pool.close()
    }
}
