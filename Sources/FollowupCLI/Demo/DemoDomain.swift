import Fakes
import FollowUp
import Foundation
import Logging
import Postgres
import Providers

/// The demo's custom sender domain: Acme Shop sends from acme-shop.example, with its DKIM key
/// published on a loopback DNS server and verified the way production does it.
struct DemoDomain: Sendable {
    static let domain = "acme-shop.example"
    let dns: LoopbackDNSServer
    let secrets = SecretsKey.random()

    init() throws {
        dns = try LoopbackDNSServer()
    }

    /// What the poller needs to sign: the secrets key and the DNS server.
    var environment: [String: String] {
        ["FOLLOWUP_SECRETS_KEY": secrets.base64, "FOLLOWUP_DNS_SERVER": dns.address]
    }

    /// `followup channel domain add`, publishing the records (as the company would), then `verify`.
    func setUp(channelID: Int64, pool: ConnectionPool, logger: Logger) async throws {
        let settings = try EmailDomainSettings(environment: environment)
        let key = try await EmailDomains.add(channelID: channelID, domain: Self.domain, settings: settings, on: pool)
        let records = EmailDomains.records(for: key, settings: settings)
        dns.setTXT(records.dkimName, [records.dkimValue ?? ""])
        dns.setTXT(records.spfName, ["v=spf1 \(records.spfMechanism) ~all"])
        dns.setTXT(records.dmarcName, [records.dmarcValue])
        let verified = try await DomainVerification.verify(channelID: channelID, settings: settings,
                                                           logger: logger, on: pool)
        let status = verified.first { $0.active }?.status.rawValue ?? "missing"
        print("Email domain: \(Self.domain) for Acme Shop — DKIM key \(key.selector) published on a local DNS server, \(status)\n")
    }

    /// How the report shows an email's sender.
    static func describe(_ row: DeliveryReport.Row, signatureHeader: String?) -> String {
        guard let domain = row.fromDomain else { return "" }
        if row.dkimSigned == true, let signatureHeader {
            let selector = signatureHeader.range(of: #"s=[a-z0-9-]+"#, options: .regularExpression).map { signatureHeader[$0].dropFirst(2) }
            return "\n     from \(domain), DKIM-signed (d=\(domain), s=\(selector ?? "?"), rsa-sha256, relaxed/relaxed)"
        }
        guard let note = row.senderNote else { return "" }  // a channel without a domain of its own
        return "\n     from \(domain), not signed by the channel's key — \(note)"
    }
}
