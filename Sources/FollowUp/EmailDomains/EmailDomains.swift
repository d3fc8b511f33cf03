import Foundation
import Postgres
import Providers

/// Setting up a channel's own sender domain (docs/email-domains.md): a DKIM key per domain and
/// selector in `channel_email_domains`, the DNS records to publish, switching keys, removing.
/// Verification is in `DomainVerification`, choosing the sender at send time in `EmailSender`.
public enum EmailDomains {
    /// One key of a channel's domain, as `followup channel domain` shows it (never the private key).
    public struct Key: Sendable, Equatable, RowDecodable {
        public var id: Int64
        public var channelID: Int64
        public var domain: String
        public var selector: String
        /// The `p=` value; nil until the key is made (a row the app inserted, before the poller ran).
        public var publicKey: String?
        public var active: Bool
        public var status: EmailDomainStatus
        public var reason: String?
        public var checkedAt: Date?
        public var verifiedAt: Date?

        /// The columns of `channel_email_domains` a `Key` is read from.
        static let columns: Query = "id, channel_id, domain, selector, public_key, active, status, reason, checked_at, verified_at"

        public init(row: Row) throws {
            id = try row.decode("id")
            channelID = try row.decode("channel_id")
            domain = try row.decode("domain")
            selector = try row.decode("selector")
            publicKey = try row.decode("public_key")
            active = try row.decode("active")
            status = try row.decode("status")
            reason = try row.decode("reason")
            checkedAt = try row.decode("checked_at")
            verifiedAt = try row.decode("verified_at")
        }

        /// Where the DKIM record goes.
        public var dkimName: String { "\(selector)._domainkey.\(domain)" }
    }

    /// The DNS records a company publishes for one key.
    public struct Records: Sendable, Equatable {
        public var dkimName: String
        /// `v=DKIM1; k=rsa; p=…` (nil until the key is made).
        public var dkimValue: String?
        public var spfName: String
        public var spfMechanism: String
        public var dmarcName: String
        public var dmarcValue: String

        /// The records as a person reads them, with what to do.
        public var text: String {
            """
            DKIM  (TXT)  \(dkimName)
                         \(dkimValue ?? "(the key is being made; run `followup channel domain show` again in a moment)")
            SPF   (TXT)  \(spfName)
                         add \(spfMechanism) to the domain's SPF record, before its "all"; with no SPF record yet:
                         v=spf1 \(spfMechanism) ~all
            DMARC (TXT)  \(dmarcName)   (recommended; start with p=none, tighten to quarantine once reports are clean)
                         \(dmarcValue)
            """
        }
    }

    public static func records(for key: Key, settings: EmailDomainSettings) -> Records {
        Records(dkimName: key.dkimName, dkimValue: key.publicKey.map { "v=DKIM1; k=rsa; p=\($0)" },
                spfName: key.domain, spfMechanism: settings.spfInclude,
                dmarcName: "_dmarc.\(key.domain)", dmarcValue: "v=DMARC1; p=none; adkim=r; aspf=r")
    }

    /// The domain as stored: lowercased, no trailing dot; a clear error when it is no domain name.
    public static func normalize(_ domain: String) throws -> String {
        var name = domain.trimmingCharacters(in: .whitespaces).lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        guard name.count <= 253,
              name.range(of: #"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"#, options: .regularExpression) != nil else {
            throw EmailDomainError("not a domain name (letters, digits and hyphens, with dots, e.g. acme.example)")
        }
        return name
    }

    static func checkSelector(_ selector: String) throws {
        guard selector.range(of: #"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"#, options: .regularExpression) != nil else {
            throw EmailDomainError("a selector is lowercase letters, digits and hyphens, e.g. followup2")
        }
    }

    /// `followup channel domain add`: makes an RSA-2048 key for `domain` (selector `followup1`, or
    /// the next free `followupN` when the domain has keys), stores it sealed, and makes `domain`
    /// the channel's sender domain. The first key of a domain is the active one; a later one
    /// (rotation) waits for ``use(channelID:domain:selector:on:)``.
    public static func add(channelID: Int64, domain rawDomain: String, selector requested: String? = nil,
                           settings: EmailDomainSettings, on pool: ConnectionPool) async throws -> Key {
        let domain = try normalize(rawDomain)
        if let requested { try checkSelector(requested) }
        guard let secrets = settings.secretsKey else { throw EmailDomainError(SecretsKey.missing.description) }
        guard let channel = try await pool.first("""
            SELECT email_domain, lower(split_part(email_from_address, '@', 2)) FROM public.channels WHERE id = \(channelID)
            """) else { throw EmailDomainError("there is no channel \(channelID)") }
        if let fromDomain = try channel.decode(String?.self, at: 1), fromDomain != domain {
            throw EmailDomainError("channel \(channelID)'s email_from_address is at another domain; set it to an address at \(domain) (or NULL, for support@\(domain)) first")
        }
        let existing = try await pool.query("""
            SELECT selector FROM public.channel_email_domains WHERE channel_id = \(channelID) AND domain = \(domain)
            """).map { try $0.decode(String.self, at: 0) }
        let selector = requested ?? nextSelector(after: existing)
        if existing.contains(selector) {
            throw EmailDomainError("\(domain) already has a key with selector \(selector); pick another with --selector")
        }
        let key = try DKIMPrivateKey.generate(domain: domain, selector: selector)
        let publicKey = try key.publicKeyBase64()
        let sealed = try key.sealed(with: secrets)
        return try await pool.withTransaction { tx in
            try await tx.execute("""
                UPDATE public.channels SET email_domain = \(domain),
                    email_domain_verified = email_domain_verified AND email_domain IS NOT DISTINCT FROM \(domain)
                WHERE id = \(channelID)
                """)
            guard let row = try await tx.first("""
                INSERT INTO public.channel_email_domains (channel_id, domain, selector, public_key, private_key_sealed, spf_include, active)
                VALUES (\(channelID), \(domain), \(selector), \(publicKey), \(Bytea(Array(sealed))), \(settings.spfInclude),
                        NOT EXISTS (SELECT 1 FROM public.channel_email_domains WHERE channel_id = \(channelID) AND domain = \(domain) AND active))
                RETURNING \(Key.columns)
                """) else { throw EmailDomainError("the key was not stored") }
            return try Key(row: row)
        }
    }

    /// `followup1`, or one past the highest `followupN` there is.
    static func nextSelector(after existing: [String]) -> String {
        let numbers = existing.compactMap { $0.hasPrefix("followup") ? Int($0.dropFirst("followup".count)) : nil }
        return "followup\((numbers.max() ?? 0) + 1)"
    }

    /// `followup.email_domain_keys`: makes the key of a row the app inserted without one.
    /// Idempotent: a row that has its key (or is gone) is left alone.
    public static func makeKey(id: Int64, settings: EmailDomainSettings, on pool: ConnectionPool) async throws -> Bool {
        guard let row = try await pool.first("""
            SELECT domain, selector FROM public.channel_email_domains WHERE id = \(id) AND public_key IS NULL
            """) else { return false }
        guard let secrets = settings.secretsKey else { throw EmailDomainError(SecretsKey.missing.description) }
        let key = try DKIMPrivateKey.generate(domain: try row.decode(String.self, at: 0), selector: try row.decode(String.self, at: 1))
        let publicKey = try key.publicKeyBase64()
        let sealed = try key.sealed(with: secrets)
        return try await pool.withTransaction { tx in
            let updated = try await tx.execute("""
                UPDATE public.channel_email_domains k SET public_key = \(publicKey), private_key_sealed = \(Bytea(Array(sealed))),
                    spf_include = \(settings.spfInclude),
                    active = NOT EXISTS (SELECT 1 FROM public.channel_email_domains o
                                         WHERE o.channel_id = k.channel_id AND o.domain = k.domain AND o.active)
                WHERE id = \(id) AND public_key IS NULL
                """)
            // A channel without a sender domain takes this one (the app may also set it itself).
            try await tx.execute("""
                UPDATE public.channels ch SET email_domain = k.domain FROM public.channel_email_domains k
                WHERE k.id = \(id) AND ch.id = k.channel_id AND ch.email_domain IS NULL
                  AND (ch.email_from_address IS NULL OR lower(split_part(ch.email_from_address, '@', 2)) = k.domain)
                """)
            return updated > 0
        }
    }

    /// A channel's keys, its sender domain's first, the active key first.
    public static func list(channelID: Int64, on db: some Queryable) async throws -> [Key] {
        try await db.query("""
            SELECT \(Key.columns) FROM public.channel_email_domains
            WHERE channel_id = \(channelID) ORDER BY domain, active DESC, selector
            """).map(Key.init(row:))
    }

    /// Key rotation: `selector` becomes the key that signs for `domain`. Only a verified key can
    /// take over, so signing never stops nor starts with a key DNS does not publish.
    public static func use(channelID: Int64, domain rawDomain: String, selector: String, on pool: ConnectionPool) async throws -> Key {
        let domain = try normalize(rawDomain)
        return try await pool.withTransaction { tx in
            guard let row = try await tx.first("""
                SELECT \(Key.columns) FROM public.channel_email_domains
                WHERE channel_id = \(channelID) AND domain = \(domain) AND selector = \(selector) FOR UPDATE
                """) else { throw EmailDomainError("channel \(channelID) has no key \(selector) for \(domain)") }
            let key = try Key(row: row)
            guard key.status == .verified else {
                throw EmailDomainError("\(key.dkimName) is \(key.status.rawValue)\(key.reason.map { " (\($0))" } ?? ""); publish its record and run `followup channel domain verify \(channelID)` first")
            }
            try await tx.execute("""
                UPDATE public.channel_email_domains SET active = false WHERE channel_id = \(channelID) AND domain = \(domain) AND active
                """)
            try await tx.execute("UPDATE public.channel_email_domains SET active = true WHERE id = \(key.id)")
            try await syncChannel(channelID, on: tx)
            var switched = key
            switched.active = true
            return switched
        }
    }

    /// Deletes the keys of `domain` (or one selector of it): the private key is gone, so nothing
    /// signs with it again. Mail falls back to the product's sender while no verified key is left.
    public static func remove(channelID: Int64, domain rawDomain: String, selector: String? = nil,
                              on pool: ConnectionPool) async throws -> Int {
        let domain = try normalize(rawDomain)
        return try await pool.withTransaction { tx in
            let removed = try await tx.execute("""
                DELETE FROM public.channel_email_domains
                WHERE channel_id = \(channelID) AND domain = \(domain) AND (\(selector)::text IS NULL OR selector = \(selector))
                """)
            try await syncChannel(channelID, on: tx)
            return removed
        }
    }

    /// `channels.email_domain_verified` follows the keys: true while the channel's sender domain
    /// has an active, verified key (the app reads it; sending decides by the key itself).
    static func syncChannel(_ channelID: Int64, on db: some Queryable) async throws {
        try await db.execute("""
            UPDATE public.channels ch SET email_domain_verified = EXISTS (
                SELECT 1 FROM public.channel_email_domains k
                WHERE k.channel_id = ch.id AND k.domain = ch.email_domain AND k.active AND k.status = 'verified')
            WHERE ch.id = \(channelID)
            """)
    }
}
