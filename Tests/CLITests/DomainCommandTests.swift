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
        #expect(verifyCode == 0, "\(verified)")
        #expect(verified.contains("followup1._domainkey.acme.example: pending, active (signs once verified) — DKIM record missing"))

        dns.setTXT("followup1._domainkey.acme.example", [record])
        dns.setTXT("acme.example", ["v=spf1 include:_spf.mailer.example -all"])
        (verifyCode, verified) = try await followup(["channel", "domain", "verify", "\(channel)", "--database-url", url], environment)
        #expect(verified.contains("followup1._domainkey.acme.example: verified, signing"), "\(verified)")

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
}
