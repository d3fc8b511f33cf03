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
