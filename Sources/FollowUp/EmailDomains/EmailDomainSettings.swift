import Foundation
import Outbound
import Providers

/// Settings of custom sender domains (docs/email-domains.md), from the environment:
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `FOLLOWUP_SECRETS_KEY` | none | 32 random bytes, base64: seals the DKIM private keys (AES-256-GCM). Without it no key is made or opened, and mail goes from the product's sender |
/// | `FOLLOWUP_DNS_SERVER` | first `nameserver` of `/etc/resolv.conf` | `host:port` of the resolver verification asks |
/// | `FOLLOWUP_SPF_INCLUDE` | `include:_spf.followup.example` | the SPF mechanism the sending path needs in the company's SPF record |
/// | `FOLLOWUP_DOMAIN_VERIFY_MINUTES` | 15 | how often the periodic job checks every domain's records |
public struct EmailDomainSettings: Sendable {
    public var secretsKey: SecretsKey?
    /// nil: the system resolver.
    public var dnsServer: DNSClient.Server?
    public var dnsTimeout: Duration = .seconds(5)
    public var spfInclude = "include:_spf.followup.example"
    public var verifyEvery: Duration = .seconds(15 * 60)
    /// Keys checked per run of the periodic job (least recently checked first).
    public var verifyBatch = 500

    public init() {}

    /// Reads the variables above; a malformed one is an error naming it (never echoing a secret).
    public init(environment: [String: String]) throws {
        do {
            secretsKey = try SecretsKey.from(environment: environment)
        } catch let error as SecretsKeyError {
            throw EmailDomainError(error.description)
        }
        if let server = environment["FOLLOWUP_DNS_SERVER"], !server.isEmpty {
            do {
                dnsServer = try DNSClient.Server(parsing: server)
            } catch let error as DNSError {
                throw EmailDomainError("FOLLOWUP_DNS_SERVER: \(error.detail)")
            }
        }
        if let include = environment["FOLLOWUP_SPF_INCLUDE"], !include.isEmpty {
            let mechanism = include.trimmingCharacters(in: .whitespaces)
            guard mechanism.range(of: #"^(include|a|mx|ip4|ip6|exists):?[A-Za-z0-9._:/%{}-]*$"#, options: .regularExpression) != nil else {
                throw EmailDomainError("FOLLOWUP_SPF_INCLUDE must be one SPF mechanism, e.g. include:_spf.mailer.example")
            }
            spfInclude = mechanism
        }
        if let minutes = environment["FOLLOWUP_DOMAIN_VERIFY_MINUTES"], !minutes.isEmpty {
            guard let value = Double(minutes), value > 0, value <= 24 * 60 else {
                throw EmailDomainError("FOLLOWUP_DOMAIN_VERIFY_MINUTES must be a number of minutes between 0 and 1440")
            }
            verifyEvery = .milliseconds(Int64(value * 60_000))
        }
    }

    /// The DNS client verification uses.
    func dnsClient() throws -> DNSClient {
        do {
            return DNSClient(server: try dnsServer ?? DNSClient.Server.system(), timeout: dnsTimeout)
        } catch let error as DNSError {
            throw EmailDomainError(error.detail)
        }
    }
}

/// A refusal or failure around custom domains, in words an operator can act on.
public struct EmailDomainError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
