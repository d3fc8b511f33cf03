import ArgumentParser
import FollowUp
import Foundation
import Logging
import Postgres

/// `followup channel show|set …`: a channel's follow-up settings (ChannelSettingsCommand.swift);
/// `followup channel domain …`: its own sender domain — keys, DNS records, verification.
struct ChannelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channel",
        abstract: "A channel's follow-up settings, and its own email domain.",
        subcommands: [ChannelShowCommand.self, ChannelSetCommand.self, DomainCommand.self])
}

struct DomainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "domain",
        abstract: "Send a channel's email from its own domain, DKIM-signed (docs/email-domains.md).",
        discussion: """
            Needs FOLLOWUP_SECRETS_KEY (32 random bytes, base64: openssl rand -base64 32), the same as the pollers'.
              followup channel domain add 42 acme.example        make a key, print the DNS records to publish
              followup channel domain verify 42                  look the records up now (the poller also does, periodically)
              followup channel domain show 42                    the keys, their status, the records again
              followup channel domain add 42 acme.example --selector followup2    rotation: a second key…
              followup channel domain use 42 acme.example followup2               …signs once it verified
              followup channel domain remove 42 acme.example [--selector followup1]
            DNS: the system resolver (/etc/resolv.conf), or FOLLOWUP_DNS_SERVER=host:port.
            """,
        subcommands: [Add.self, Verify.self, Show.self, Use.self, Remove.self])

    static func settings() throws -> EmailDomainSettings {
        do {
            return try EmailDomainSettings(environment: ProcessInfo.processInfo.environment)
        } catch let error as EmailDomainError {
            throw ValidationError(error.description)
        }
    }

    /// Runs `body` with a pool; a refusal becomes `error: …` and exit code 1, without a usage dump.
    static func run(_ database: DatabaseOptions, _ body: (ConnectionPool) async throws -> String) async throws {
        do {
            print(try await database.withPool(body))
        } catch let error as EmailDomainError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }

    static func describe(_ key: EmailDomains.Key) -> String {
        let role = key.active ? (key.status == .verified ? "signing" : "active (signs once verified)") : "standby (see `use`)"
        var line = "\(key.dkimName): \(key.status.rawValue), \(role)"
        if let reason = key.reason { line += " — \(reason)" }
        if let checked = key.checkedAt { line += " (checked \(ISO8601DateFormatter().string(from: checked)))" }
        return line
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a DKIM key for DOMAIN, make it the channel's sender domain, print the records to publish.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The channel id.") var channel: Int64
        @Argument(help: "The domain mail should come from, e.g. acme.example.") var domain: String
        @Option(help: "The DKIM selector (default: followup1, or the next followupN).") var selector: String?
        func run() async throws {
            let settings = try DomainCommand.settings()
            try await DomainCommand.run(database) { pool in
                let key = try await EmailDomains.add(channelID: channel, domain: domain, selector: selector,
                                                     settings: settings, on: pool)
                let records = EmailDomains.records(for: key, settings: settings)
                return """
                    Key \(key.selector) made for \(key.domain)\(key.active ? " (it signs once verified)" : "; it signs after `followup channel domain use \(channel) \(key.domain) \(key.selector)`").
                    Until the records below verify, channel \(channel)'s email keeps coming from the product's address.

                    Publish these DNS records:
                    \(records.text)

                    Then: followup channel domain verify \(channel)
                    """
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Look the channel's DKIM and SPF records up in DNS now and record the result.",
            discussion: "Exits 0 when the channel's active key is verified (mail goes out signed from its domain), 1 otherwise, so a deploy script can wait for it.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The channel id.") var channel: Int64
        func run() async throws {
            let settings = try DomainCommand.settings()
            var logger = Logger(label: "followup.domains")
            logger.logLevel = .error
            var signing = false
            try await DomainCommand.run(database) { pool in
                let keys = try await DomainVerification.verify(channelID: channel, settings: settings, logger: logger, on: pool)
                signing = keys.contains { $0.active && $0.status == .verified }
                if keys.isEmpty { return "Channel \(channel) has no domain keys; add one with `followup channel domain add \(channel) DOMAIN`." }
                return keys.map(DomainCommand.describe).joined(separator: "\n")
            }
            if !signing { throw ExitCode.failure }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The channel's domain keys, their status, and the records to publish.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The channel id.") var channel: Int64
        func run() async throws {
            let settings = try DomainCommand.settings()
            try await DomainCommand.run(database) { pool in
                let keys = try await EmailDomains.list(channelID: channel, on: pool)
                if keys.isEmpty { return "Channel \(channel) has no domain keys; add one with `followup channel domain add \(channel) DOMAIN`." }
                return keys.map { key in
                    DomainCommand.describe(key) + "\n" + EmailDomains.records(for: key, settings: settings).text
                        .split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
                }.joined(separator: "\n\n")
            }
        }
    }

    struct Use: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Key rotation: sign with SELECTOR from now on (it must be verified).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The channel id.") var channel: Int64
        @Argument(help: "The domain.") var domain: String
        @Argument(help: "The selector to sign with, e.g. followup2.") var selector: String
        func run() async throws {
            try await DomainCommand.run(database) { pool in
                let key = try await EmailDomains.use(channelID: channel, domain: domain, selector: selector, on: pool)
                return "\(key.dkimName) signs channel \(channel)'s email from now on. Keep the old selector's record published for a few days (mail in flight), then remove it."
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the domain's keys (or one selector's): nothing signs with them again.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The channel id.") var channel: Int64
        @Argument(help: "The domain.") var domain: String
        @Option(help: "Only this selector's key.") var selector: String?
        func run() async throws {
            try await DomainCommand.run(database) { pool in
                let removed = try await EmailDomains.remove(channelID: channel, domain: domain, selector: selector, on: pool)
                return removed == 0 ? "Nothing to remove." : "Removed \(removed) key\(removed == 1 ? "" : "s"). Without a verified key, the channel's email comes from the product's address."
            }
        }
    }
}
