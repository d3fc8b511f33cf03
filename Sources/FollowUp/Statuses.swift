import Postgres

// The statuses and kinds stored in text columns, as Swift enums that bind and decode themselves
// (`PostgresEnum`): Swift code compares cases, never bare strings. Each list is the column's
// CHECK constraint (SQL/0001_app_contract.sql, SQL/0002_follow_ups.sql); a value outside it fails
// to decode with an error naming the type.

/// `deliveries.status`.
public enum DeliveryStatus: String, PostgresEnum, Sendable {
    case queued, sending
    /// Accepted by the provider, no receipt yet.
    case sent, delivered, undelivered, bounced
    /// The recipient opted out or hard-bounced.
    case suppressed
    case failed, excluded
    /// Over the chat's daily cap: not sent, not charged.
    case capped
    /// The outcome could not be learned within the lookup window, so it was not sent again.
    case unknown

    /// No further attempt will be made.
    public var isFinished: Bool { self != .queued && self != .sending }
}

/// `follow_ups.status`.
public enum FollowUpStatus: String, PostgresEnum, Sendable {
    case pending
    case awaitingPushAck = "awaiting_push_ack"
    case notified, acknowledged, cancelled

    /// Still deciding what to send (at most one open follow-up per chat).
    public var isOpen: Bool { self == .pending || self == .awaitingPushAck }
}

/// `chats.kind`: marketing chats are never followed up.
enum ChatKind: String, PostgresEnum, Sendable {
    case support, marketing
}

/// `chats.opened_by`: who started the chat.
enum ChatOpener: String, PostgresEnum, Sendable {
    case customer, manager
}

/// `activity.kind`: what the app reports about the customer's presence.
public enum ActivityKind: String, PostgresEnum, Sendable {
    case heartbeat
    case pageView = "page_view"
    case tabHidden = "tab_hidden"
    case tabVisible = "tab_visible"
    case left

    /// The kinds that mean the customer is there (`Presence`): any of them after they went
    /// offline means they came back.
    public static let present: [ActivityKind] = [.heartbeat, .pageView, .tabVisible]

    /// `present` as a constant SQL list, `('heartbeat', 'page_view', 'tab_visible')`: written into
    /// the statement as constants (nothing from outside), as the queries always had them.
    static let presentSQL = "(" + present.map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")"
}

/// `channel_email_domains.status`: what the last DNS check found for a DKIM key
/// (`DomainVerification`).
public enum EmailDomainStatus: String, PostgresEnum, Sendable {
    /// The records are not there yet, and the key never verified.
    case pending
    /// DKIM and SPF records as they should be: the key signs (when active).
    case verified
    /// A record is there but wrong, or went missing after the key had verified.
    case broken
    /// Never stored (not in the CHECK list): what `DomainVerification.verify` reports for a key
    /// deleted while it was being checked.
    case removed
}
