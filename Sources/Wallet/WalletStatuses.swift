import Postgres

// The wallet's states and answers stored or returned as text, as Swift enums that bind and
// decode themselves (`PostgresEnum`): Swift code compares cases, never bare strings. Each list
// is its column's CHECK constraint or its function's answers (SQL/).

/// `wallet.transfers.kind` (the `transfers_kind_known` CHECK).
public enum TransferKind: String, PostgresEnum, Sendable {
    case hold, capture, release, credit, adjustment, reversal
    case topUp = "top_up"
    case monthlyCredit = "monthly_credit"
}

/// `wallet.top_ups.state`.
public enum TopUpState: String, PostgresEnum, Sendable {
    case pending, charging, succeeded, declined, failed
}

/// How a charge attempt ended (`wallet.top_up_declined`'s state argument).
enum TopUpFailure: String, PostgresEnum, Sendable {
    case declined, failed
}

/// `wallet.hold(...)`'s status column.
enum HoldOutcome: String, PostgresEnum, Sendable {
    case held, insufficient, conflict, released
}
