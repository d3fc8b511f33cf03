import Foundation
import Postgres

/// A channel's wallet, in micro-USD (1 USD = 1,000,000).
public struct WalletBalance: Sendable, Equatable, CustomStringConvertible {
    /// Money the company paid in (top-ups, operator credits), not yet spent or held.
    public var paidMicros: Int64
    /// Promotional credit (the monthly credit, operator promotions), spent before paid balance.
    public var promotionalMicros: Int64
    /// Reserved for texts in flight (held, not yet captured or released).
    public var heldMicros: Int64

    public init(paidMicros: Int64, promotionalMicros: Int64, heldMicros: Int64) {
        self.paidMicros = paidMicros
        self.promotionalMicros = promotionalMicros
        self.heldMicros = heldMicros
    }

    /// What the next text can spend: promotional plus paid (holds are already taken out).
    public var availableMicros: Int64 { paidMicros + promotionalMicros }

    public var description: String {
        "available \(Money.format(availableMicros)) (paid \(Money.format(paidMicros)), promotional \(Money.format(promotionalMicros))), held \(Money.format(heldMicros))"
    }
}

/// The wallet's operations. Each runs on the transaction (or pool) you pass, so a text's hold,
/// capture or release commits together with the delivery row and the job's completion.
///
/// The rules themselves live in SQL functions (`wallet.hold`, `wallet.capture`, …, see
/// `Sources/Wallet/SQL/R__*.sql`), so every client — this module, `psql`, the app — posts
/// through the same checks: balanced transfers, floors, append-only history, fixed lock order.
public enum Wallet {
    /// Price in micro-USD of one text on `route` ("messenger", "sms", "lms", "email") to `country`
    /// (ISO alpha-2), for `units` (SMS segments; ignored by routes billed per message), by the
    /// price table in force now. Throws `WalletError.noPrice` when neither the country nor the
    /// '*' default has a price for the route.
    public static func price(route: String, country: String, units: Int, on db: some Queryable) async throws -> Int64 {
        try await price(route: route, country: country, units: units, at: nil, on: db)
    }

    /// The price at `at` (nil: now, database clock).
    public static func price(route: String, country: String, units: Int, at: Date?, on db: some Queryable) async throws -> Int64 {
        try await walletErrors {
            try await db.scalar("SELECT wallet.price(\(route), \(country), \(max(units, 1)), coalesce(\(at)::timestamptz, now()))", as: Int64.self)
        }
    }

    /// The same price as `price`, as a join that adds the column `alias.price_micros` (NULL when
    /// no price applies): for reading a price with the row it is for; the planner inlines the
    /// price rule into the query. `route`, `country` and `units` are SQL fragments: other columns
    /// of the query (`"d.route"`) or bound values (`"\(route)"`), which travel as parameters.
    /// `alias` is an identifier chosen in code.
    public static func priceJoin(_ alias: String, route: Query, country: Query, units: Query) -> Query {
        "LEFT JOIN LATERAL wallet.list_price(\(route), \(country), \(units)) AS \(raw: alias) ON true"
    }

    /// Reserves `amountMicros` from the channel's wallet for delivery `deliveryID`: promotional
    /// credit first, then paid balance, moved into the channel's "held" account by a transfer.
    /// Idempotent per delivery (the same delivery and amount → no new transfer; another amount →
    /// `WalletError.idempotencyConflict`; a hold that was released → `holdAlreadySettled`). A zero
    /// amount (free routes) holds nothing.
    ///
    /// Throws `WalletError.insufficientFunds` when the wallet cannot cover it. In that case it has
    /// already requested an auto-charge top-up in `tx` (if the channel has auto-charge on).
    /// After any of these three `WalletError`s, `tx` is still usable: record the failed delivery
    /// and commit (and the top-up request goes with it).
    ///
    /// `route` ("sms", "lms", "messenger", "email") names the revenue account the capture credits;
    /// when nil, the capture reads it from the delivery row.
    public static func hold(channelID: Int64, deliveryID: Int64, amountMicros: Int64, route: String? = nil, on tx: Transaction) async throws {
        guard amountMicros >= 0 else { throw WalletError.invalid("a hold cannot be negative (\(amountMicros))") }
        if amountMicros == 0 { return }
        let row = try await walletErrors {
            try await tx.first("SELECT status, available FROM wallet.hold(\(channelID), \(deliveryID), \(amountMicros), \(route))")
        }
        guard let row else { throw WalletError.invalid("wallet.hold returned nothing") }
        switch HoldOutcome(rawValue: try row.decode("status", as: String.self)) {
        case .held:
            return
        case .insufficient:
            throw WalletError.insufficientFunds(channelID: channelID, neededMicros: amountMicros,
                                                availableMicros: try row.decode("available", as: Int64.self))
        case .conflict:
            throw WalletError.idempotencyConflict(key: "hold:\(deliveryID)")
        case .released:
            throw WalletError.holdAlreadySettled(deliveryID: deliveryID, as: HoldOutcome.released.rawValue)
        case nil:
            throw WalletError.invalid("wallet.hold answered a status this code does not know")
        }
    }

    /// Turns the delivery's hold into a charge: held → revenue for the route. Idempotent; a no-op
    /// when the delivery has no hold (a free text). When it leaves the wallet under the channel's
    /// auto-charge threshold, a top-up is requested in the same transaction.
    /// Throws `WalletError.holdAlreadySettled` when the hold was released.
    public static func capture(deliveryID: Int64, on tx: Transaction) async throws {
        try await walletErrors {
            _ = try await tx.query("SELECT wallet.capture(\(deliveryID))")
        }
    }

    /// `capture`, queued in `tx` (`Transaction.queue`): it travels with the next statement or the
    /// COMMIT, where its error — the hold was released (WL007) — is thrown as a `PostgresError`
    /// and the transaction rolls back. For the outcome transaction of a send, which has nothing
    /// else to ask the database.
    public static func queueCapture(deliveryID: Int64, on tx: Transaction) {
        tx.queue("SELECT wallet.capture(\(deliveryID))")
    }

    /// Gives the delivery's hold back to where it came from (promotional, then paid). Idempotent;
    /// a no-op without a hold. Throws `WalletError.holdAlreadySettled` when it was captured.
    public static func release(deliveryID: Int64, on tx: Transaction) async throws {
        try await walletErrors {
            _ = try await tx.query("SELECT wallet.release(\(deliveryID))")
        }
    }

    /// The channel's wallet now. A channel that never used its wallet has all zeros.
    public static func balance(channelID: Int64, on db: some Queryable) async throws -> WalletBalance {
        let row = try await walletErrors {
            try await db.first("SELECT paid, promotional, held FROM wallet.balance(\(channelID))")
        }
        guard let row else { throw WalletError.unknownChannel(channelID) }
        return WalletBalance(paidMicros: try row.decode(Int64.self, at: 0),
                             promotionalMicros: try row.decode(Int64.self, at: 1),
                             heldMicros: try row.decode(Int64.self, at: 2))
    }
}
