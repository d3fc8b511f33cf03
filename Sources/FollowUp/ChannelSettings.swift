import Foundation
import Postgres

/// A channel's follow-up settings as `followup channel show|set` reads and writes them: the
/// seed's toggles, the waits, the cooldown, the caps and the quiet hours (columns of `channels`).
public struct ChannelSettings: Sendable, CustomStringConvertible {
    public var id: Int64
    public var name: String
    public var plan: String
    public var phoneEnabled: Bool
    public var emailEnabled: Bool
    public var offlineTimeoutSeconds: Double
    public var pushAckTimeoutSeconds: Double
    public var cooldownSeconds: Double
    /// nil: no cap.
    public var maxTextsPerChatPerDay: Int?
    public var maxEmailsPerChatPerDay: Int?
    /// "HH:MM" each, or nil: quiet hours off.
    public var quietHours: (start: String, end: String)?
    public var quietHoursHoldEmail: Bool
    public var quietHoursHoldPush: Bool
    public var timeZone: String

    /// Reads channel `id`; nil when there is none.
    public static func load(_ id: Int64, on db: some Queryable) async throws -> ChannelSettings? {
        guard let row = try await db.first("""
            SELECT id, name, plan, phone_enabled, email_enabled,
                   extract(epoch FROM offline_timeout)::float8 AS offline_timeout_seconds,
                   extract(epoch FROM push_ack_timeout)::float8 AS push_ack_timeout_seconds,
                   extract(epoch FROM follow_up_cooldown)::float8 AS cooldown_seconds,
                   max_texts_per_chat_per_day, max_emails_per_chat_per_day,
                   to_char(quiet_hours_start, 'HH24:MI') AS quiet_start, to_char(quiet_hours_end, 'HH24:MI') AS quiet_end,
                   quiet_hours_hold_email, quiet_hours_hold_push, time_zone
            FROM public.channels WHERE id = \(id)
            """) else { return nil }
        let start = try row.decode("quiet_start", as: String?.self), end = try row.decode("quiet_end", as: String?.self)
        return ChannelSettings(
            id: try row.decode("id"), name: try row.decode("name"), plan: try row.decode("plan"),
            phoneEnabled: try row.decode("phone_enabled"), emailEnabled: try row.decode("email_enabled"),
            offlineTimeoutSeconds: try row.decode("offline_timeout_seconds"),
            pushAckTimeoutSeconds: try row.decode("push_ack_timeout_seconds"),
            cooldownSeconds: try row.decode("cooldown_seconds"),
            maxTextsPerChatPerDay: try row.decode("max_texts_per_chat_per_day"),
            maxEmailsPerChatPerDay: try row.decode("max_emails_per_chat_per_day"),
            quietHours: start.flatMap { s in end.map { (s, $0) } },
            quietHoursHoldEmail: try row.decode("quiet_hours_hold_email"), quietHoursHoldPush: try row.decode("quiet_hours_hold_push"),
            timeZone: try row.decode("time_zone"))
    }

    /// The settings, one per line, as `followup channel show` prints them.
    public var description: String {
        func onOff(_ value: Bool) -> String { value ? "on" : "off" }
        func cap(_ value: Int?) -> String { value.map(String.init) ?? "none" }
        let quiet = quietHours.map {
            "\($0.start)-\($0.end) in the customer's time zone; texts held, email \(quietHoursHoldEmail ? "held" : "not held"), push \(quietHoursHoldPush ? "held" : "not held")"
        } ?? "off"
        return """
            Channel \(id) (\(name)), \(plan) plan
              phone (texts)             \(onOff(phoneEnabled))
              email                     \(onOff(emailEnabled))
              offline timeout           \(ChannelSettingsChange.format(seconds: offlineTimeoutSeconds))
              push ack timeout          \(ChannelSettingsChange.format(seconds: pushAckTimeoutSeconds))
              follow-up cooldown        \(cooldownSeconds == 0 ? "0 (off: every answer goes out at once)" : ChannelSettingsChange.format(seconds: cooldownSeconds))
              max texts / chat / day    \(cap(maxTextsPerChatPerDay))
              max emails / chat / day   \(cap(maxEmailsPerChatPerDay))
              quiet hours               \(quiet)
              time zone                 \(timeZone) (for customers with no zone of their own or from their phone)
            """
    }
}

/// What `followup channel set` changes: every field nil = leave as is. Built from the command's
/// options by `parse`, which reports every bad value at once.
public struct ChannelSettingsChange: Sendable {
    public var phoneEnabled: Bool?
    public var emailEnabled: Bool?
    public var offlineTimeoutSeconds: Double?
    public var pushAckTimeoutSeconds: Double?
    public var cooldownSeconds: Double?
    /// .some(nil): no cap.
    public var maxTextsPerChatPerDay: Int??
    public var maxEmailsPerChatPerDay: Int??
    /// .some(nil): quiet hours off.
    public var quietHours: (start: String, end: String)??
    public var quietHoursHoldEmail: Bool?
    public var quietHoursHoldPush: Bool?
    public var timeZone: String?

    public init() {}

    public var isEmpty: Bool {
        phoneEnabled == nil && emailEnabled == nil && offlineTimeoutSeconds == nil && pushAckTimeoutSeconds == nil
            && cooldownSeconds == nil && maxTextsPerChatPerDay == nil && maxEmailsPerChatPerDay == nil && quietHours == nil
            && quietHoursHoldEmail == nil && quietHoursHoldPush == nil && timeZone == nil
    }

    /// The options as typed (name → value, e.g. "cooldown" → "10m"); problems name the option.
    public static func parse(_ options: [String: String]) -> (ChannelSettingsChange, problems: [String]) {
        var change = ChannelSettingsChange()
        var problems: [String] = []
        func toggle(_ name: String) -> Bool? {
            guard let value = options[name] else { return nil }
            switch value.lowercased() {
            case "on", "true", "yes": return true
            case "off", "false", "no": return false
            default: problems.append("--\(name): '\(value)' is not on or off"); return nil
            }
        }
        func duration(_ name: String, minimum: Double, maximum: Double) -> Double? {
            guard let value = options[name] else { return nil }
            guard let seconds = parse(duration: value) else {
                problems.append("--\(name): '\(value)' is not a duration (e.g. 30s, 4m30s, 10m, 1h)"); return nil
            }
            guard seconds >= minimum, seconds <= maximum else {
                problems.append("--\(name): must be \(minimum == 0 ? "0 (off)" : "more than 0") to \(format(seconds: maximum))"); return nil
            }
            return seconds
        }
        func cap(_ name: String) -> Int?? {
            guard let value = options[name] else { return nil }
            if value.lowercased() == "none" { return .some(nil) }
            guard let n = Int(value), (1...1000).contains(n) else {
                problems.append("--\(name): '\(value)' is not a number from 1 to 1000, or none"); return nil
            }
            return .some(n)
        }
        change.phoneEnabled = toggle("phone")
        change.emailEnabled = toggle("email")
        change.offlineTimeoutSeconds = duration("offline-timeout", minimum: 1, maximum: 86_400)
        change.pushAckTimeoutSeconds = duration("push-ack-timeout", minimum: 1, maximum: 3_600)
        change.cooldownSeconds = duration("cooldown", minimum: 0, maximum: 7 * 86_400)
        change.maxTextsPerChatPerDay = cap("max-texts-per-day")
        change.maxEmailsPerChatPerDay = cap("max-emails-per-day")
        if let value = options["quiet-hours"] {
            if value.lowercased() == "off" {
                change.quietHours = .some(nil)
            } else if let window = parse(window: value) {
                change.quietHours = .some(window)
            } else {
                problems.append("--quiet-hours: '\(value)' is not a window like 21:00-08:00 (two different times), or off")
            }
        }
        change.quietHoursHoldEmail = toggle("quiet-hours-hold-email")
        change.quietHoursHoldPush = toggle("quiet-hours-hold-push")
        if let zone = options["time-zone"] {
            if zone.range(of: #"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$"#, options: .regularExpression) != nil {
                change.timeZone = zone
            } else {
                problems.append("--time-zone: '\(zone)' is not an IANA time zone name (e.g. Asia/Seoul, America/New_York, UTC)")
            }
        }
        return (change, problems)
    }

    /// "90", "90s", "1.5s", "4m30s", "10m", "1h", "0" → seconds; nil when it is none of these.
    public static func parse(duration text: String) -> Double? {
        let value = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let plain = Double(value), plain >= 0, plain.isFinite { return plain }
        let pattern = #"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$"#
        guard !value.isEmpty, let match = value.range(of: pattern, options: .regularExpression), match == value.startIndex..<value.endIndex
        else { return nil }
        var total = 0.0
        var number = ""
        for character in value {
            if character.isNumber || character == "." { number.append(character); continue }
            guard let n = Double(number) else { return nil }
            total += n * (character == "h" ? 3600 : character == "m" ? 60 : 1)
            number = ""
        }
        return total
    }

    /// 270 → "4m30s"; 30 → "30s"; 600 → "10m"; 3600 → "1h"; 1.5 → "1.5s".
    public static func format(seconds: Double) -> String {
        if seconds != seconds.rounded() { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds)
        let (h, m, s) = (whole / 3600, whole % 3600 / 60, whole % 60)
        let text = (h > 0 ? "\(h)h" : "") + (m > 0 ? "\(m)m" : "") + (s > 0 ? "\(s)s" : "")
        return text.isEmpty ? "0s" : text
    }

    /// "21:00-08:00" (or with "–", or H:MM) → ("21:00", "08:00"); nil when malformed or empty.
    static func parse(window text: String) -> (start: String, end: String)? {
        let parts = text.replacingOccurrences(of: "–", with: "-").split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { return nil }
        func time(_ part: String) -> String? {
            let hm = part.split(separator: ":")
            guard hm.count == 2, let h = Int(hm[0]), let m = Int(hm[1]), (0...23).contains(h), (0...59).contains(m), hm[1].count == 2
            else { return nil }
            return String(format: "%02d:%02d", h, m)
        }
        guard let start = time(parts[0]), let end = time(parts[1]), start != end else { return nil }
        return (start, end)
    }

    /// Applies the change to channel `id` in one statement; false when there is no such channel.
    /// An unknown time zone is refused with a clear error (`ChannelSettingsError`).
    public func apply(to id: Int64, on db: some Queryable) async throws -> Bool {
        if let timeZone, try await db.scalar("SELECT public.followup_is_time_zone(\(timeZone))", as: Bool.self) == false {
            throw ChannelSettingsError("--time-zone: '\(timeZone)' is not a time zone Postgres knows (e.g. Asia/Seoul, America/New_York, UTC)")
        }
        let setTexts = maxTextsPerChatPerDay != nil, setEmails = maxEmailsPerChatPerDay != nil, setQuiet = quietHours != nil
        let texts = maxTextsPerChatPerDay ?? nil, emails = maxEmailsPerChatPerDay ?? nil
        let quiet = quietHours ?? nil
        return try await db.first("""
            UPDATE public.channels SET
                phone_enabled = coalesce(\(phoneEnabled), phone_enabled),
                email_enabled = coalesce(\(emailEnabled), email_enabled),
                offline_timeout = coalesce(make_interval(secs => \(offlineTimeoutSeconds)::float8), offline_timeout),
                push_ack_timeout = coalesce(make_interval(secs => \(pushAckTimeoutSeconds)::float8), push_ack_timeout),
                follow_up_cooldown = coalesce(make_interval(secs => \(cooldownSeconds)::float8), follow_up_cooldown),
                max_texts_per_chat_per_day = CASE WHEN \(setTexts) THEN \(texts)::int ELSE max_texts_per_chat_per_day END,
                max_emails_per_chat_per_day = CASE WHEN \(setEmails) THEN \(emails)::int ELSE max_emails_per_chat_per_day END,
                quiet_hours_start = CASE WHEN \(setQuiet) THEN \(quiet?.start)::time ELSE quiet_hours_start END,
                quiet_hours_end = CASE WHEN \(setQuiet) THEN \(quiet?.end)::time ELSE quiet_hours_end END,
                quiet_hours_hold_email = coalesce(\(quietHoursHoldEmail), quiet_hours_hold_email),
                quiet_hours_hold_push = coalesce(\(quietHoursHoldPush), quiet_hours_hold_push),
                time_zone = coalesce(\(timeZone), time_zone)
            WHERE id = \(id)
            RETURNING id
            """) != nil
    }
}

/// A channel setting that cannot be applied, in words for the operator.
public struct ChannelSettingsError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
