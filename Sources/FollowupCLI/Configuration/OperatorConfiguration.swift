import FollowUp
import Foundation
import Jobs
import Postgres
import Providers

/// Everything `followup run` needs from the operator (SettingsCatalog), read from the environment
/// and the optional `--config` file, and checked all at once: `problems` lists every missing or
/// malformed setting, each naming the setting and never echoing its value.
struct OperatorConfiguration {
    enum Source: String { case environment, file, flag }

    /// The settings in effect (empty values count as unset), and where each came from.
    private(set) var values: [String: String] = [:]
    private(set) var sources: [String: Source] = [:]
    private(set) var problems: [String] = []

    var database: PostgresConfiguration?
    var providers: ProviderSettings?
    var followUps = FollowUpSettings()
    var backoff = WorkerConfiguration().backoff
    var retention = WorkerConfiguration().retention
    var deadRetention = WorkerConfiguration().deadRetention
    /// How long `run` waits to become ready (database reachable, schema current) before exiting 69.
    var readyTimeout = OperatorConfiguration.defaultReadyTimeout
    static let defaultReadyTimeout = Duration.seconds(60)

    /// - Parameters:
    ///   - environment: the process environment; its variables win over the file's.
    ///   - file: the `--config` file, if any.
    ///   - databaseURL: `--database-url`, which wins over both.
    init(environment: [String: String], file: String?, databaseURL: String? = nil, preparedStatements: Bool = true) {
        if let file {
            let parsed = ConfigFile.read(path: file, known: SettingsCatalog.names)
            problems += parsed.problems
            for (name, value) in parsed.values where !value.isEmpty {
                values[name] = value
                sources[name] = .file
            }
        }
        for name in SettingsCatalog.names {
            if let value = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty {
                values[name] = value
                sources[name] = .environment
            }
        }
        if let databaseURL, !databaseURL.isEmpty {
            values["DATABASE_URL"] = databaseURL
            sources["DATABASE_URL"] = .flag
        }
        readDatabase(preparedStatements: preparedStatements)
        readProduct()
        let providerProblems = ProviderSettings.problems(in: values)
        problems += providerProblems.map(\.description)
        if providerProblems.isEmpty { providers = try? ProviderSettings(environment: values) }
    }

    var isValid: Bool { problems.isEmpty }

    /// One message listing every problem, for stderr.
    var report: String {
        let count = problems.count == 1 ? "1 problem" : "\(problems.count) problems"
        return """
            followup: the configuration has \(count):
            \(problems.map { "  - \($0)" }.joined(separator: "\n"))
            Every setting, its default and its meaning: docs/configuration.md (or `followup run --help`).
            """
    }

    mutating func add(problem: String) { problems.append(problem) }

    private mutating func readDatabase(preparedStatements: Bool) {
        guard let url = values["DATABASE_URL"] else {
            return problems.append("DATABASE_URL is missing (set it, put it in --config FILE, or pass --database-url)")
        }
        do {
            var configuration = try PostgresConfiguration(url)
            configuration.preparedStatements = preparedStatements && !SettingsCatalog.isOn(values["FOLLOWUP_NO_PREPARED_STATEMENTS"])
            database = configuration
        } catch let error as PostgresError {
            problems.append("DATABASE_URL: \(error.message)")
        } catch {
            problems.append("DATABASE_URL is not a libpq URL or conninfo")
        }
    }

    private mutating func readProduct() {
        if let from = required("FOLLOWUP_SMS_FROM") {
            if SenderFormats.isSMSSender(from) { followUps.defaultSMSFrom = from } else {
                problems.append("FOLLOWUP_SMS_FROM must be an E.164 number (+15551234567), an alphanumeric sender id of up to 11 characters, or a Twilio Messaging Service SID (MG + 32 hex digits)")
            }
        }
        if let from = required("FOLLOWUP_EMAIL_FROM") {
            if let parsed = SenderFormats.emailFrom(from) {
                followUps.defaultEmailFrom = parsed.address
                followUps.defaultEmailFromName = parsed.name
            } else {
                problems.append("FOLLOWUP_EMAIL_FROM must be `Name <address@domain>` or `address@domain`")
            }
        }
        if let domain = required("FOLLOWUP_REPLY_DOMAIN") {
            if SenderFormats.isDomain(domain) { followUps.replyDomain = domain.lowercased() } else {
                problems.append("FOLLOWUP_REPLY_DOMAIN must be a domain name such as reply.example.com")
            }
        }
        if let base = required("FOLLOWUP_CHAT_URL_BASE") {
            if SenderFormats.isLinkBase(base) { followUps.chatURLBase = base } else {
                problems.append("FOLLOWUP_CHAT_URL_BASE must be an http(s) URL without query or credentials, e.g. https://chat.example.com")
            }
        }
        if let delay = seconds("FOLLOWUP_GATHER_DELAY", in: 0...3600) { followUps.gatherDelay = delay }
        if let attempts = integer("FOLLOWUP_DELIVERY_ATTEMPTS", in: 1...100) { followUps.deliveryAttempts = attempts }
        if let window = seconds("FOLLOWUP_RETRY_WINDOW", in: 60...86_400) { followUps.retryWindow = window }
        if let cap = seconds("FOLLOWUP_RETRY_AFTER_CAP", in: 1...86_400) { followUps.retryAfterCap = cap }
        if let grace = seconds("FOLLOWUP_LOOKUP_GRACE", in: 0...3600) { followUps.lookupGrace = grace }
        if let window = seconds("FOLLOWUP_LOOKUP_WINDOW", in: 60...86_400) { followUps.lookupWindow = window }
        if let base = seconds("FOLLOWUP_RETRY_BASE", in: 0.001...86_400) { backoff.base = base }
        if let maximum = seconds("FOLLOWUP_RETRY_MAX", in: 0.001...(7 * 86_400)) { backoff.maximum = maximum }
        if backoff.maximum < backoff.base {
            problems.append("FOLLOWUP_RETRY_MAX must be at least FOLLOWUP_RETRY_BASE")
        }
        if let keep = seconds("FOLLOWUP_JOB_RETENTION", in: 60...(366 * 86_400)) { retention = keep }
        if let keep = seconds("FOLLOWUP_DEAD_JOB_RETENTION", in: 60...(366 * 86_400)) { deadRetention = keep }
        if let bound = seconds("FOLLOWUP_READY_TIMEOUT", in: 0...3600) { readyTimeout = bound }
        if let days = integer("FOLLOWUP_ACTIVITY_RETENTION_DAYS", in: 1...366) { followUps.retention.activity = .seconds(days * 86_400) }
        if let days = integer("FOLLOWUP_ACTIVITY_DAYS_AHEAD", in: 1...60) { followUps.retention.activityDaysAhead = days }
        if let days = integer("FOLLOWUP_DELIVERY_RETENTION_DAYS", in: 1...3660) { followUps.retention.deliveries = .seconds(days * 86_400) }
        if let days = integer("FOLLOWUP_FOLLOW_UP_RETENTION_DAYS", in: 1...3660) { followUps.retention.followUps = .seconds(days * 86_400) }
        if let days = integer("FOLLOWUP_INBOUND_EVENT_RETENTION_DAYS", in: 1...3660) { followUps.retention.inboundEvents = .seconds(days * 86_400) }
        do {
            // FOLLOWUP_REPLY_DOMAIN was read (and any problem with it reported) above.
            try followUps.readTwoWay(from: values.filter { $0.key != "FOLLOWUP_REPLY_DOMAIN" })
        } catch let error as FollowUpSettingsError {
            problems.append("\(error)")
        } catch {
            problems.append("two-way settings: \(error)")
        }
        do {
            followUps.emailDomains = try EmailDomainSettings(environment: values)
        } catch let error as EmailDomainError {
            problems.append(error.description)
        } catch {
            problems.append("custom sender domain settings: \(error)")
        }
    }

    private mutating func required(_ name: String) -> String? {
        guard let value = values[name] else {
            problems.append("\(name) is missing")
            return nil
        }
        return value
    }

    private mutating func seconds(_ name: String, in range: ClosedRange<Double>) -> Duration? {
        guard let text = values[name] else { return nil }
        guard let value = Double(text), range.contains(value) else {
            problems.append("\(name) must be a number of seconds from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))")
            return nil
        }
        return .microseconds(Int64((value * 1_000_000).rounded()))
    }

    private mutating func integer(_ name: String, in range: ClosedRange<Int>) -> Int? {
        guard let text = values[name] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            problems.append("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int64(value)) : String(value)
    }

    /// The settings in effect, one per line, secrets shown only as set (for `config check`).
    var summary: String {
        SettingsCatalog.all.compactMap { setting in
            guard let value = values[setting.name], let source = sources[setting.name] else { return nil }
            let shown = setting.secret ? "(set, secret)" : value
            return "  \(setting.name) = \(shown)  [\(source.rawValue)]"
        }.joined(separator: "\n")
    }
}

/// The shapes of the product-wide senders and links.
enum SenderFormats {
    /// An E.164 number, an alphanumeric sender id (1–11 letters, digits, spaces; at least one
    /// letter), or a Twilio Messaging Service SID.
    static func isSMSSender(_ value: String) -> Bool {
        if value.wholeMatch(of: #/\+[1-9][0-9]{6,14}/#) != nil { return true }
        if value.wholeMatch(of: #/[A-Za-z0-9 ]{1,11}/#) != nil, value.contains(where: \.isLetter) { return true }
        return TwilioText.isMessagingService(value)
    }

    /// `Name <address>`, `"Name" <address>` or `address`; nil when malformed or when the name
    /// holds characters a header must not (line breaks, angle brackets).
    static func emailFrom(_ value: String) -> (name: String?, address: String)? {
        var name: String?
        var address = value
        if value.hasSuffix(">"), let open = value.lastIndex(of: "<") {
            address = String(value[value.index(after: open)..<value.index(before: value.endIndex)])
            var rawName = value[..<open].trimmingCharacters(in: .whitespaces)
            if rawName.count >= 2, rawName.hasPrefix("\""), rawName.hasSuffix("\"") { rawName = String(rawName.dropFirst().dropLast()) }
            guard !rawName.contains(where: { $0.isNewline || $0 == "<" || $0 == ">" || $0 == "\"" || $0.asciiValue.map { $0 < 32 } ?? false })
            else { return nil }
            name = rawName.isEmpty ? nil : rawName
        }
        guard address.wholeMatch(of: #/[^@\s<>",]+@[^@\s<>",]+\.[^@\s<>",]+/#) != nil else { return nil }
        return (name, address)
    }

    static func isDomain(_ value: String) -> Bool {
        value.count <= 253 && value.wholeMatch(of: #/([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?/#) != nil
    }

    static func isLinkBase(_ value: String) -> Bool {
        guard let components = URLComponents(string: value), let scheme = components.scheme?.lowercased(),
              scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty,
              components.user == nil, components.password == nil, components.query == nil, components.fragment == nil
        else { return false }
        return !value.contains(where: \.isWhitespace)
    }
}
