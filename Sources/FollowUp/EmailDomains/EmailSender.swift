import Foundation
import Postgres
import Providers

/// Who an email delivery is from, decided when it is marked `sending`: the channel's own domain,
/// signed with its active key, when that key is verified and opens with `FOLLOWUP_SECRETS_KEY`;
/// otherwise the product's sender, unsigned by the channel's key, with a note saying why. A key
/// that is not verified (pending, broken) or was removed is never used: mail from the channel's
/// domain always carries its DKIM signature, or does not claim that domain at all.
struct EmailSender: Sendable {
    /// The domain of the From address.
    var fromDomain: String
    /// The channel's domain when its key signs (the From address is then at it); nil: the product's sender.
    var signedDomain: String?
    var key: DKIMPrivateKey?
    /// Why the channel's own domain was not used, when it has one.
    var note: String?

    static func resolve(_ channel: FollowUpContext.Channel, settings: FollowUpSettings, on db: some Queryable) async throws -> EmailSender {
        let product = EmailSender(fromDomain: domain(of: settings.defaultEmailFrom), signedDomain: nil, key: nil, note: nil)
        guard let domain = channel.emailDomain?.lowercased() else { return product }
        func fallback(_ why: String) -> EmailSender {
            var sender = product
            sender.note = "\(why); sent from the product's address"
            return sender
        }
        guard let row = try await db.first("""
            SELECT selector, status, reason, private_key_sealed FROM public.channel_email_domains
            WHERE channel_id = \(channel.id) AND domain = \(domain) AND active AND public_key IS NOT NULL
            """) else {
            return fallback("\(domain) has no DKIM key (followup channel domain add)")
        }
        let selector = try row.decode("selector", as: String.self)
        let status = try row.decode("status", as: EmailDomainStatus.self)
        guard status == .verified else {
            let reason = try row.decode("reason", as: String?.self)
            return fallback("\(domain) is \(status == .pending ? "not verified yet" : "broken")\(reason.map { " (\($0))" } ?? "")")
        }
        guard let secrets = settings.emailDomains.secretsKey else {
            return fallback("FOLLOWUP_SECRETS_KEY is not set, so the DKIM key of \(domain) cannot be used")
        }
        let sealed = try row.decode("private_key_sealed", as: Bytea.self)
        guard let key = try? DKIMPrivateKey.open(Data(sealed.bytes), domain: domain, selector: selector, with: secrets) else {
            return fallback("the DKIM key of \(domain) does not open with FOLLOWUP_SECRETS_KEY")
        }
        return EmailSender(fromDomain: domain, signedDomain: domain, key: key, note: nil)
    }

    static func domain(of address: String) -> String {
        address.split(separator: "@").last.map { $0.lowercased() } ?? address
    }
}
