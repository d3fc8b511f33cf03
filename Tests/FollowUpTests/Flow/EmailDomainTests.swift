import Fakes
import Foundation
@testable import FollowUp
import Jobs
import Logging
import Outbound
import Postgres
@testable import Providers
import Testing
import TestSupport

/// Custom sender domains: keys, DNS verification against a loopback DNS server, signed mail,
/// and the fallback to the product's sender when a domain stops verifying.
@Suite("Custom sender domains", .serialized)
struct EmailDomainTests {
    /// A harness whose pollers know the secrets key and ask the loopback DNS server.
    struct World {
        let h: FollowUpHarness
        let dns: LoopbackDNSServer
        let logs: CapturedLogs
        var settings: EmailDomainSettings { h.settings.emailDomains }

        init() async throws {
            dns = try LoopbackDNSServer()
            var settings = FollowUpSettings.fast()
            settings.emailDomains.secretsKey = SecretsKey.random()
            settings.emailDomains.dnsServer = try DNSClient.Server(parsing: dns.address)
            settings.emailDomains.dnsTimeout = .seconds(2)
            settings.emailDomains.spfInclude = "include:_spf.followup.example"
            h = try await FollowUpHarness(settings: settings)
            logs = CapturedLogs()
            var registry = JobRegistry()
            FollowUpRuntime.register(in: &registry, providers: h.providers, settings: settings, logger: logs.logger(label: "test.domains"))
            h.startWorker(registry: registry)
        }

        func stop() async {
            dns.stop()
            await h.stop()
        }

        /// Runs `body` in a fresh world and stops it afterwards (awaited), whether it returned or threw.
        static func with<T>(_ body: (World) async throws -> T) async throws -> T {
            let w = try await World()
            return try await withCleanup({ try await body(w) }, cleanup: { await w.stop() })
        }

        /// Publishes what `followup channel domain add` printed, as the company would.
        func publish(_ key: EmailDomains.Key, spf: String? = nil) {
            let records = EmailDomains.records(for: key, settings: settings)
            dns.setTXT(records.dkimName, [records.dkimValue ?? ""])
            dns.setTXT(records.spfName, [spf ?? "v=spf1 include:_spf.google.com \(records.spfMechanism) ~all"])
        }

        func verify(_ channel: Int64) async throws -> [EmailDomains.Key] {
            try await DomainVerification.verify(channelID: channel, settings: settings, logger: logs.logger(label: "test.domains"), on: h.pool)
        }

        /// One follow-up email to a customer who left; returns what the SMTP server received and the report row.
        func followUpEmail(channel: Int64, customerName: String) async throws -> (ReceivedMail, DeliveryReport.Row) {
            let before = h.smtp.messages.count
            let customer = try await h.customer(channel: channel, name: customerName, phone: nil)
            let chat = try await h.offlineChat(channel: channel, customer: customer, asks: "Is my order on its way?", answer: "Yes, it ships today.")
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.contains { $0.route == "email" && $0.status == "sent" }, "\(rows)")
            let mails = await h.smtp.waitForMessages(count: before + 1, timeout: .seconds(5))
            let mail = try #require(mails.last)
            let report = try await DeliveryReport.list(.init(chatID: chat, kind: "email"), on: h.pool)
            return (mail, try #require(report.first))
        }

        func privateKeyDER(_ channel: Int64, selector: String) async throws -> Data {
            let row = try await h.pool.first("""
                SELECT domain, private_key_sealed FROM channel_email_domains WHERE channel_id = \(channel) AND selector = \(selector)
                """)
            let sealed = try #require(row).decode(Bytea.self, at: 1)
            return try DKIMPrivateKey.open(Data(sealed.bytes), domain: try #require(row).decode(String.self, at: 0),
                                           selector: selector, with: #require(settings.secretsKey)).der
        }
    }

    @Test("add makes an RSA key, sealed; prints the DKIM, SPF and DMARC records; a second key gets the next selector")
    func add() async throws {
        try await World.with { w in
            let channel = try await w.h.channel()
            let key = try await EmailDomains.add(channelID: channel, domain: "Acme.Example.", settings: w.settings, on: w.h.pool)
            #expect(key.domain == "acme.example" && key.selector == "followup1" && key.active && key.status == .pending)
            let publicKey = try #require(key.publicKey)
            #expect(Data(base64Encoded: publicKey)?.count == 294)  // SubjectPublicKeyInfo of an RSA-2048 key
            let records = EmailDomains.records(for: key, settings: w.settings)
            #expect(records.dkimName == "followup1._domainkey.acme.example")
            #expect(records.dkimValue == "v=DKIM1; k=rsa; p=\(publicKey)")
            #expect(records.text.contains("include:_spf.followup.example") && records.text.contains("_dmarc.acme.example"))
            // Stored sealed: the private key's bytes are not in the row.
            let der = try await w.privateKeyDER(channel, selector: "followup1")
            let stored = try await w.h.pool.scalar("SELECT private_key_sealed FROM channel_email_domains WHERE id = \(key.id)", as: Bytea.self)
            #expect(Data(stored.bytes).range(of: der.prefix(64)) == nil)
            #expect(try await w.h.pool.scalar("SELECT email_domain FROM channels WHERE id = \(channel)", as: String.self) == "acme.example")
            let second = try await EmailDomains.add(channelID: channel, domain: "acme.example", settings: w.settings, on: w.h.pool)
            #expect(second.selector == "followup2" && !second.active)

            var noSecrets = w.settings
            noSecrets.secretsKey = nil
            let error = await #expect(throws: EmailDomainError.self) {
                try await EmailDomains.add(channelID: channel, domain: "acme.example", settings: noSecrets, on: w.h.pool)
            }
            #expect(error?.description.contains("FOLLOWUP_SECRETS_KEY is not set") == true)
            await #expect(throws: EmailDomainError.self) {
                try await EmailDomains.add(channelID: channel, domain: "not a domain", settings: w.settings, on: w.h.pool)
            }
            await #expect(throws: EmailDomainError.self) {
                try await EmailDomains.add(channelID: 999_999, domain: "acme.example", settings: w.settings, on: w.h.pool)
            }
        }
    }

    @Test("verify: missing records are pending; published ones verify; a wrong key or an SPF without our include is broken")
    func verification() async throws {
        try await World.with { w in
            let channel = try await w.h.channel()
            let key = try await EmailDomains.add(channelID: channel, domain: "acme.example", settings: w.settings, on: w.h.pool)

            var checked = try #require(try await w.verify(channel).first)
            #expect(checked.status == .pending)
            #expect(checked.reason?.contains("DKIM record missing at followup1._domainkey.acme.example") == true)
            #expect(checked.reason?.contains("SPF record missing at acme.example") == true)

            w.publish(key)
            checked = try #require(try await w.verify(channel).first)
            #expect(checked.status == .verified && checked.reason == nil && checked.verifiedAt != nil)
            #expect(try await w.h.pool.scalar("SELECT email_domain_verified FROM channels WHERE id = \(channel)", as: Bool.self))

            // Another key at our selector: key mismatch.
            let other = try DKIMPrivateKey.generate(domain: "acme.example", selector: "followup1")
            w.dns.setTXT("followup1._domainkey.acme.example", ["v=DKIM1; k=rsa; p=\(try other.publicKeyBase64())"])
            checked = try #require(try await w.verify(channel).first)
            #expect(checked.status == .broken)
            #expect(checked.reason?.contains("DKIM key mismatch") == true)
            #expect(try await w.h.pool.scalar("SELECT email_domain_verified FROM channels WHERE id = \(channel)", as: Bool.self) == false)

            // The right key, but SPF without our include.
            w.publish(key, spf: "v=spf1 include:_spf.google.com ~all")
            checked = try #require(try await w.verify(channel).first)
            #expect(checked.status == .broken)
            #expect(checked.reason == "SPF without our include: the SPF record at acme.example lacks include:_spf.followup.example")

            // Fixed again; then the DKIM record disappears: broken (it had verified), not pending.
            w.publish(key)
            #expect(try await w.verify(channel).first?.status == .verified)
            w.dns.remove("followup1._domainkey.acme.example")
            checked = try #require(try await w.verify(channel).first)
            #expect(checked.status == .broken && checked.reason == "DKIM record missing at followup1._domainkey.acme.example")

            // DNS not answering changes no status; the reason says the check failed.
            w.publish(key)
            #expect(try await w.verify(channel).first?.status == .verified)
            w.dns.setSilent(true)
            var impatient = w.settings
            impatient.dnsTimeout = .milliseconds(300)
            checked = try #require(try await DomainVerification.verify(channelID: channel, settings: impatient, logger: w.logs.logger(label: "test.domains"),
                                                                       on: w.h.pool).first)
            #expect(checked.status == .verified)
            #expect(checked.reason?.contains("could not ask DNS") == true)
        }
    }

    @Test("a verified domain signs (dkimpy verifies); when it stops verifying, mail falls back to the product's sender, unsigned, and says so")
    func signsThenFallsBack() async throws {
        try await World.with { w in
            let channel = try await w.h.channel()
            let key = try await EmailDomains.add(channelID: channel, domain: "acme.example", settings: w.settings, on: w.h.pool)
            try await w.h.pool.execute("UPDATE channels SET email_from_address = 'help@acme.example' WHERE id = \(channel)")
            w.publish(key)
            #expect(try await w.verify(channel).first?.status == .verified)

            let (signed, signedRow) = try await w.followUpEmail(channel: channel, customerName: "Kim")
            #expect(signed.parsed.decodedHeader("From")?.contains("<help@acme.example>") == true)
            #expect(signed.envelopeFrom == "help@acme.example")
            #expect(signed.text.hasPrefix("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=acme.example;"))
            let record = EmailDomains.records(for: key, settings: w.settings)
            let verdicts = try DKIMCheck.verdicts(["signed": signed.data], recordName: record.dkimName, recordValue: record.dkimValue ?? "")
            #expect(verdicts["signed"] == "pass", "\(verdicts)")
            #expect(signedRow.fromDomain == "acme.example" && signedRow.dkimSigned == true && signedRow.senderNote == nil)

            // The company deletes the DKIM record; the periodic job notices.
            w.dns.remove(record.dkimName)
            let keys = try await w.verify(channel)
            #expect(keys.first?.status == .broken)
            #expect(w.logs.lines.contains { $0.contains("stopped verifying") && $0.contains("acme.example") })

            let (fallback, fallbackRow) = try await w.followUpEmail(channel: channel, customerName: "Lee")
            #expect(fallback.parsed.decodedHeader("From")?.contains("<notifications@followup.example>") == true)
            #expect(!fallback.text.contains("DKIM-Signature"))
            #expect(fallbackRow.fromDomain == "followup.example" && fallbackRow.dkimSigned == false)
            #expect(fallbackRow.senderNote == "acme.example is broken (DKIM record missing at followup1._domainkey.acme.example); sent from the product's address")
            #expect(w.logs.lines.contains { $0.contains("falls back to the product's sender") })

            // Removed keys never sign either.
            w.publish(key)
            #expect(try await w.verify(channel).first?.status == .verified)
            #expect(try await EmailDomains.remove(channelID: channel, domain: "acme.example", on: w.h.pool) == 1)
            let (removed, removedRow) = try await w.followUpEmail(channel: channel, customerName: "Park")
            #expect(!removed.text.contains("DKIM-Signature"))
            #expect(removedRow.senderNote?.contains("acme.example has no DKIM key") == true)
        }
    }

    @Test("the private key never appears in logs, errors or delivery_report")
    func privateKeyStaysPrivate() async throws {
        try await World.with { w in
            let channel = try await w.h.channel()
            let key = try await EmailDomains.add(channelID: channel, domain: "acme.example", settings: w.settings, on: w.h.pool)
            w.publish(key)
            _ = try await w.verify(channel)
            _ = try await w.followUpEmail(channel: channel, customerName: "Kim")
            w.dns.remove(key.dkimName)
            _ = try await w.verify(channel)
            _ = try await w.followUpEmail(channel: channel, customerName: "Lee")

            let der = try await w.privateKeyDER(channel, selector: "followup1")
            let secrets = try #require(w.settings.secretsKey)
            let forbidden = [der.base64EncodedString(), String(der.base64EncodedString().prefix(40)),
                             der.map { String(format: "%02x", $0) }.joined().prefix(64).description, secrets.base64]
            let report = try await w.h.pool.query("SELECT row_to_json(r)::text FROM delivery_report r").map { try $0.decode(String.self, at: 0) }
            #expect(report.count >= 2)
            let logs = w.logs.lines
            #expect(!logs.isEmpty)
            for secret in forbidden {
                #expect(!report.contains { $0.contains(secret) })
                #expect(!logs.contains { $0.contains(secret) })
            }
            // Errors: a key that does not open with the configured secrets key, and descriptions.
            let sealed = try await w.h.pool.scalar("SELECT private_key_sealed FROM channel_email_domains WHERE id = \(key.id)", as: Bytea.self)
            let error = #expect(throws: SecretsKeyError.self) {
                try DKIMPrivateKey.open(Data(sealed.bytes), domain: "acme.example", selector: "followup1", with: SecretsKey.random())
            }
            for secret in forbidden { #expect(error.map { "\($0)" }?.contains(secret) == false) }
            let opened = try DKIMPrivateKey.open(Data(sealed.bytes), domain: "acme.example", selector: "followup1", with: secrets)
            for secret in forbidden {
                #expect(!"\(opened)".contains(secret) && !String(reflecting: opened).contains(secret))
            }
        }
    }

    @Test("the app's SQL flow: insert a row, the poller makes the key, the records view shows what to publish")
    func sqlFlow() async throws {
        try await World.with { w in
            let channel = try await w.h.channel()
            try await w.h.pool.execute("INSERT INTO channel_email_domains (channel_id, domain) VALUES (\(channel), 'shop.example')")
            let made = try await eventually(timeout: .seconds(20)) {
                try await w.h.pool.scalar("""
                    SELECT count(*)::int FROM email_domain_records WHERE channel_id = \(channel) AND dkim_value IS NOT NULL
                    """, as: Int.self) == 1
            }
            #expect(made)
            let row = try #require(try await w.h.pool.first("""
                SELECT dkim_name, dkim_value, spf_mechanism, dmarc_name, active, status FROM email_domain_records WHERE channel_id = \(channel)
                """))
            #expect(try row.decode(String.self, at: 0) == "followup1._domainkey.shop.example")
            #expect(try row.decode(String.self, at: 1).hasPrefix("v=DKIM1; k=rsa; p=MIIBIjAN"))
            #expect(try row.decode(String.self, at: 2) == "include:_spf.followup.example")
            #expect(try row.decode(String.self, at: 3) == "_dmarc.shop.example")
            #expect(try row.decode(Bool.self, at: 4) && row.decode(String.self, at: 5) == "pending")
            #expect(try await w.h.pool.scalar("SELECT email_domain FROM channels WHERE id = \(channel)", as: String.self) == "shop.example")
            // The periodic job (run here by hand, as its tick would) verifies it once published.
            let key = try #require(try await EmailDomains.list(channelID: channel, on: w.h.pool).first)
            w.publish(key)
            try await PeriodicSchedules.register([PeriodicJob(name: DomainVerification.jobKind, kind: DomainVerification.jobKind,
                                                              every: .seconds(3600))], on: w.h.pool)
            try await PeriodicSchedules.fireDue(at: Date().addingTimeInterval(7200), on: w.h.pool)
            let verified = try await eventually(timeout: .seconds(20)) {
                try await w.h.pool.scalar("SELECT status FROM channel_email_domains WHERE id = \(key.id)", as: String.self) == "verified"
            }
            #expect(verified)
        }
    }

    @Test("key rotation: a second selector signs only once verified and switched to")
    func rotation() async throws {
        try await World.with { w in
            let channel = try await w.h.channel()
            let first = try await EmailDomains.add(channelID: channel, domain: "acme.example", settings: w.settings, on: w.h.pool)
            w.publish(first)
            _ = try await w.verify(channel)
            let second = try await EmailDomains.add(channelID: channel, domain: "acme.example", settings: w.settings, on: w.h.pool)
            let refused = await #expect(throws: EmailDomainError.self) {
                try await EmailDomains.use(channelID: channel, domain: "acme.example", selector: second.selector, on: w.h.pool)
            }
            #expect(refused?.description.contains("followup2._domainkey.acme.example is pending") == true)
            // Still signed with followup1 meanwhile.
            let (before, _) = try await w.followUpEmail(channel: channel, customerName: "Kim")
            #expect(before.text.contains("s=followup1;"))

            let records = EmailDomains.records(for: second, settings: w.settings)
            w.dns.setTXT(records.dkimName, [records.dkimValue ?? ""])
            #expect(try await w.verify(channel).allSatisfy { $0.status == .verified })
            let switched = try await EmailDomains.use(channelID: channel, domain: "acme.example", selector: "followup2", on: w.h.pool)
            #expect(switched.active)
            let (after, row) = try await w.followUpEmail(channel: channel, customerName: "Lee")
            #expect(after.text.contains("s=followup2;"))
            #expect(row.dkimSigned == true)
            let verdicts = try DKIMCheck.verdicts(["rotated": after.data], recordName: records.dkimName, recordValue: records.dkimValue ?? "")
            #expect(verdicts["rotated"] == "pass", "\(verdicts)")
        }
    }
}
