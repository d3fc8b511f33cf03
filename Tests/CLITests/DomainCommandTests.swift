import Fakes
import Foundation
import Testing
import TestSupport

/// `followup channel domain …` as an operator runs it.
@Suite("followup channel domain")
struct DomainCommandTests {
    static let secrets = Data((0..<32).map { UInt8($0 * 7 % 256) }).base64EncodedString()

    func followup(_ arguments: [String], _ environment: [String: String]) async throws -> (Int32?, String) {
        let process = try ChildProcess(ChildProcess.followupBinary, arguments, environment: environment)
        let code = await process.wait(timeout: .seconds(60))
        return (code, process.output)
    }

    @Test("add prints the records to publish; verify finds them in DNS; show and use work; bad settings are clear errors")
    func addVerify() async throws {
        let db = try await TestDatabase.fresh()
        let url = try await db.url
        let channel = try await db.pool.scalar("INSERT INTO channels (name) VALUES ('Acme') RETURNING id", as: Int64.self)
        let dns = try LoopbackDNSServer()
        defer { dns.stop() }
        let environment = ["FOLLOWUP_SECRETS_KEY": Self.secrets, "FOLLOWUP_DNS_SERVER": dns.address,
                           "FOLLOWUP_SPF_INCLUDE": "include:_spf.mailer.example"]

        let (code, output) = try await followup(["channel", "domain", "add", "\(channel)", "acme.example", "--database-url", url], environment)
        #expect(code == 0, "\(output)"); print(output)
        #expect(output.contains("followup1._domainkey.acme.example"))
        #expect(output.contains("include:_spf.mailer.example"))
        #expect(output.contains("_dmarc.acme.example"))
        let dkimLine = try #require(output.split(separator: "\n").first { $0.contains("v=DKIM1; k=rsa; p=") })
        let record = String(dkimLine.trimmingCharacters(in: .whitespaces))
        #expect(!output.contains("PRIVATE KEY") && !output.contains(Self.secrets))

        var (verifyCode, verified) = try await followup(["channel", "domain", "verify", "\(channel)", "--database-url", url], environment)
        #expect(verifyCode == 1, "not verified yet: \(verified)")
        #expect(verified.contains("followup1._domainkey.acme.example: pending, active (signs once verified) — DKIM record missing"))

        dns.setTXT("followup1._domainkey.acme.example", [record])
        dns.setTXT("acme.example", ["v=spf1 include:_spf.mailer.example -all"])
        (verifyCode, verified) = try await followup(["channel", "domain", "verify", "\(channel)", "--database-url", url], environment)
        #expect(verifyCode == 0 && verified.contains("followup1._domainkey.acme.example: verified, signing"), "\(verified)")

        let (_, shown) = try await followup(["channel", "domain", "show", "\(channel)", "--database-url", url], environment)
        #expect(shown.contains("verified") && shown.contains(record)); print(shown)

        // Rotation refused until the new key verifies; a missing or malformed secrets key is a clear error.
        _ = try await followup(["channel", "domain", "add", "\(channel)", "acme.example", "--database-url", url], environment)
        let (useCode, use) = try await followup(["channel", "domain", "use", "\(channel)", "acme.example", "followup2", "--database-url", url], environment)
        #expect(useCode == 1 && use.contains("error: followup2._domainkey.acme.example is pending"), "\(use)")

        let (missingCode, missing) = try await followup(["channel", "domain", "add", "\(channel)", "other.example", "--database-url", url],
                                                        ["FOLLOWUP_DNS_SERVER": dns.address])
        #expect(missingCode == 1 && missing.contains("FOLLOWUP_SECRETS_KEY is not set"), "\(missing)")
        let (badCode, bad) = try await followup(["channel", "domain", "add", "\(channel)", "other.example", "--database-url", url],
                                                ["FOLLOWUP_SECRETS_KEY": "c2hvcnQ="])
        #expect(badCode != 0 && bad.contains("decodes to 5 bytes; it must be exactly 32") && !bad.contains("c2hvcnQ="), "\(bad)")
        await db.pool.close()
    }

    @Test("followup run: the poller makes the key of a row the app inserted, and its periodic job verifies it")
    func pollerMakesAndVerifies() async throws {
        let db = try await TestDatabase.fresh()
        let url = try await db.url
        let channel = try await db.pool.scalar("INSERT INTO channels (name) VALUES ('Acme') RETURNING id", as: Int64.self)
        let dns = try LoopbackDNSServer()
        defer { dns.stop() }
        let fakes = try FakeProviders()
        defer { fakes.stop() }
        var environment = fakes.environment
        environment["FOLLOWUP_SECRETS_KEY"] = Self.secrets
        environment["FOLLOWUP_DNS_SERVER"] = dns.address
        environment["FOLLOWUP_DOMAIN_VERIFY_MINUTES"] = "0.02"  // every 1.2 s
        let poller = try ChildProcess(ChildProcess.followupBinary, ["run", "--database-url", url], environment: environment)
        defer { poller.signal(SIGTERM) }

        try await db.pool.execute("INSERT INTO channel_email_domains (channel_id, domain) VALUES (\(channel), 'acme.example')")
        let made = try await eventually(timeout: .seconds(30)) {
            try await db.pool.first("SELECT 1 FROM email_domain_records WHERE channel_id = \(channel) AND dkim_value IS NOT NULL") != nil
        }
        #expect(made, "\(poller.output)")
        let row = try #require(try await db.pool.first("""
            SELECT dkim_name, dkim_value, spf_name, spf_value_if_none_yet FROM email_domain_records WHERE channel_id = \(channel)
            """))
        dns.setTXT(try row.decode(String.self, at: 0), [try row.decode(String.self, at: 1)])
        dns.setTXT(try row.decode(String.self, at: 2), [try row.decode(String.self, at: 3)])
        let verified = try await eventually(timeout: .seconds(30)) {
            try await db.pool.scalar("SELECT email_domain_verified FROM channels WHERE id = \(channel)", as: Bool.self)
        }
        #expect(verified, "\(poller.output)")
        poller.signal(SIGTERM)
        #expect(await poller.wait(timeout: .seconds(15)) == 0)
        await db.pool.close()
    }
}
