import Foundation
import Jobs
import Logging
import Outbound
import Postgres

/// Checks the DNS records of custom sender domains and records what it found (docs/email-domains.md):
///
/// - **verified**: the TXT at `<selector>._domainkey.<domain>` carries this key (`p=`), and the
///   domain's SPF record has the product's mechanism (`FOLLOWUP_SPF_INCLUDE`);
/// - **pending**: a record is not there yet, and the key never verified;
/// - **broken**: a record is there but wrong (another key, a revoked key, SPF without our
///   mechanism, several SPF records), or went missing after the key had verified.
///
/// A lookup that fails (timeout, SERVFAIL) changes no status; the reason says the check failed.
/// Run by `followup channel domain verify` and by the periodic job `followup.email_domains_verify`.
public enum DomainVerification {
    public static let jobKind = "followup.email_domains_verify"

    /// What one check found for one key.
    struct Finding: Equatable {
        enum Part: Equatable {
            case ok
            case missing(String)
            case wrong(String)
        }
        var dkim: Part
        var spf: Part

        /// The new status, given whether the key had ever verified, and the reason (nil when verified).
        func status(everVerified: Bool) -> (status: EmailDomainStatus, reason: String?) {
            let problems = [dkim, spf].compactMap { part -> String? in
                switch part {
                case .ok: nil
                case .missing(let why), .wrong(let why): why
                }
            }
            if problems.isEmpty { return (.verified, nil) }
            let wrong = [dkim, spf].contains { if case .wrong = $0 { true } else { false } }
            return (wrong || everVerified ? .broken : .pending, problems.joined(separator: "; "))
        }
    }

    /// Checks `keys`' records and stores each key's status; returns the keys as now stored.
    /// `channelID` nil: the `batch` least recently checked keys of every channel.
    @discardableResult
    public static func verify(channelID: Int64?, settings: EmailDomainSettings, logger: Logger,
                              on pool: ConnectionPool, batch: Int? = nil) async throws -> [EmailDomains.Key] {
        let dns = try settings.dnsClient()
        let keys = try await pool.query("""
            SELECT \(EmailDomains.Key.columns) FROM public.channel_email_domains
            WHERE public_key IS NOT NULL AND (\(channelID)::bigint IS NULL OR channel_id = \(channelID))
            ORDER BY checked_at NULLS FIRST, id LIMIT \(batch ?? settings.verifyBatch)
            """).map(EmailDomains.Key.init(row:))
        var spfByDomain: [String: Result<DNSClient.TXTAnswer, Error>] = [:]
        var results: [EmailDomains.Key] = []
        for key in keys {
            let spf: Result<DNSClient.TXTAnswer, Error>
            if let known = spfByDomain[key.domain] {
                spf = known
            } else {
                spf = await attempt { try await dns.txt(key.domain) }
                spfByDomain[key.domain] = spf
            }
            let dkim = await attempt { try await dns.txt(key.dkimName) }
            let updated: EmailDomains.Key
            switch (dkim, spf) {
            case (.success(let dkimAnswer), .success(let spfAnswer)):
                let finding = Finding(dkim: checkDKIM(dkimAnswer, name: key.dkimName, publicKey: key.publicKey ?? ""),
                                      spf: checkSPF(spfAnswer, domain: key.domain, mechanism: settings.spfInclude))
                let (status, reason) = finding.status(everVerified: key.verifiedAt != nil)
                updated = try await store(key, status: status, reason: reason, settings: settings, on: pool)
            case (.failure(let error), _), (_, .failure(let error)):
                updated = try await store(key, status: key.status, reason: "the last check could not ask DNS (\(error)); status unchanged",
                                          settings: settings, on: pool)
            }
            report(from: key, to: updated, logger: logger)
            results.append(updated)
        }
        return results
    }

    private static func store(_ key: EmailDomains.Key, status: EmailDomainStatus, reason: String?, settings: EmailDomainSettings,
                              on pool: ConnectionPool) async throws -> EmailDomains.Key {
        try await pool.withTransaction { tx in
            // The key may have been removed meanwhile: then nothing is stored and it stays removed.
            guard let row = try await tx.first("""
                UPDATE public.channel_email_domains SET status = \(status), reason = \(reason), checked_at = now(),
                    verified_at = CASE WHEN \(status) = 'verified' THEN now() ELSE verified_at END,
                    spf_include = \(settings.spfInclude)
                WHERE id = \(key.id) AND public_key = \(key.publicKey)
                RETURNING \(EmailDomains.Key.columns)
                """) else {
                var gone = key
                gone.status = .removed
                return gone
            }
            try await EmailDomains.syncChannel(key.channelID, on: tx)
            return try EmailDomains.Key(row: row)
        }
    }

    /// Logs a change of status; a domain that stops verifying says where its mail goes now.
    private static func report(from old: EmailDomains.Key, to new: EmailDomains.Key, logger: Logger) {
        let metadata: Logger.Metadata = ["channel_id": "\(new.channelID)", "domain": "\(new.domain)", "selector": "\(new.selector)",
                                         "status": "\(new.status.rawValue)", "reason": "\(new.reason ?? "")"]
        guard old.status != new.status else {
            logger.debug("email domain checked", metadata: metadata)
            return
        }
        if old.status == .verified && new.active {
            logger.warning("custom sender domain stopped verifying; its mail now comes from the product's sender, unsigned by it",
                           metadata: metadata)
        } else if new.status == .verified {
            logger.info("custom sender domain verified", metadata: metadata)
        } else {
            logger.info("custom sender domain not verified", metadata: metadata)
        }
    }

    /// The DKIM record: one TXT whose `p=` is this key.
    static func checkDKIM(_ answer: DNSClient.TXTAnswer, name: String, publicKey: String) -> Finding.Part {
        let keys = answer.joined.compactMap { record -> String? in
            let tags = parseTags(record)
            guard tags["v"].map({ $0 == "DKIM1" }) ?? true else { return nil }
            return tags["p"].map { $0.filter { !$0.isWhitespace } }
        }
        if keys.isEmpty { return .missing("DKIM record missing at \(name)") }
        if keys.contains(publicKey) { return .ok }
        if keys.allSatisfy(\.isEmpty) { return .wrong("DKIM key mismatch at \(name): the published key is revoked (empty p=)") }
        return .wrong("DKIM key mismatch at \(name): the published key is not this selector's key")
    }

    /// The SPF record: exactly one `v=spf1` TXT, with our mechanism (qualifier `+` or none).
    static func checkSPF(_ answer: DNSClient.TXTAnswer, domain: String, mechanism: String) -> Finding.Part {
        let records = answer.joined.filter { $0.lowercased() == "v=spf1" || $0.lowercased().hasPrefix("v=spf1 ") }
        guard let record = records.first else { return .missing("SPF record missing at \(domain) (add \(mechanism))") }
        if records.count > 1 { return .wrong("several SPF records at \(domain); SPF allows one") }
        let wanted = mechanism.lowercased()
        let found = record.lowercased().split(separator: " ").contains { term in
            term == wanted || term == "+" + wanted
        }
        return found ? .ok : .wrong("SPF without our include: the SPF record at \(domain) lacks \(mechanism)")
    }

    /// `tag=value; tag=value` (RFC 6376 §3.2), whitespace around tags and values trimmed.
    static func parseTags(_ record: String) -> [String: String] {
        var tags: [String: String] = [:]
        for part in record.split(separator: ";") {
            guard let equals = part.firstIndex(of: "=") else { continue }
            let name = part[..<equals].trimmingCharacters(in: .whitespacesAndNewlines)
            let value = part[part.index(after: equals)...].trimmingCharacters(in: .whitespacesAndNewlines)
            if !name.isEmpty && tags[name] == nil { tags[name] = value }
        }
        return tags
    }

    /// The periodic job's handler.
    static func run(context: JobContext, settings: EmailDomainSettings, logger: Logger) async throws -> JobResult {
        let keys = try await verify(channelID: nil, settings: settings, logger: logger, on: context.database)
        if !keys.isEmpty {
            logger.debug("email domains checked", metadata: ["keys": "\(keys.count)"])
        }
        return .done
    }
}

/// The outcome of `body`, failure included.
private func attempt<T>(_ body: () async throws -> T) async -> Result<T, Error> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}
