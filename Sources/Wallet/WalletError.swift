import Postgres

/// Why a wallet operation did not happen. Descriptions are safe to show an operator and to store
/// as a delivery's failure reason; they never carry a payment secret.
public enum WalletError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The wallet (promotional credit plus paid balance) cannot cover `neededMicros`.
    case insufficientFunds(channelID: Int64, neededMicros: Int64, availableMicros: Int64)
    /// This idempotency key was already used for a different transfer (other amount, kind or wallet).
    case idempotencyConflict(key: String)
    /// No channel with this id.
    case unknownChannel(Int64)
    /// No price for this route and country (and no '*' default either).
    case noPrice(route: String, country: String)
    /// No transfer with this id.
    case unknownTransfer(Int64)
    /// The transfer cannot be reversed (holds, captures and releases settle texts; reversals are final).
    case notReversible(transferID: Int64, reason: String)
    /// The transfer was already reversed, by transfer `by`.
    case alreadyReversed(transferID: Int64, by: Int64)
    /// The delivery's hold was already released (or captured) and cannot be settled again the other way.
    case holdAlreadySettled(deliveryID: Int64, as: String)
    /// Applying this would take a wallet account below its floor (e.g. reversing a top-up already spent).
    case wouldOverdraw(String)
    /// An amount or setting is out of range; the message says which and why.
    case invalid(String)

    public var description: String {
        switch self {
        case .insufficientFunds: "insufficient SMS balance"
        case .idempotencyConflict(let key): "idempotency key \(key) was already used for a different transfer"
        case .unknownChannel(let id): "no channel with id \(id)"
        case .noPrice(let route, let country): "no price for route \(route) in country \(country)"
        case .unknownTransfer(let id): "no transfer with id \(id)"
        case .notReversible(let id, let reason): "transfer \(id) cannot be reversed: \(reason)"
        case .alreadyReversed(let id, let by): "transfer \(id) was already reversed by transfer \(by)"
        case .holdAlreadySettled(let id, let how): "the hold of delivery \(id) was already \(how)"
        case .wouldOverdraw(let what): "this would take \(what) below zero"
        case .invalid(let message): message
        }
    }

    /// Maps the wallet's own SQLSTATEs (class `WL`, raised by the functions in SQL/R__*.sql) to
    /// typed errors; anything else is rethrown as it was.
    static func translate(_ error: Error) -> Error {
        guard let pg = error as? PostgresError, let state = pg.sqlState else { return error }
        let detail = pg.detail ?? ""
        switch state {
        case "WL001": return WalletError.idempotencyConflict(key: detail)
        case "WL002": return WalletError.unknownChannel(Int64(detail) ?? 0)
        case "WL003":
            let parts = detail.split(separator: "|", maxSplits: 1).map(String.init)
            return WalletError.noPrice(route: parts.first ?? "", country: parts.count > 1 ? parts[1] : "")
        case "WL004": return WalletError.unknownTransfer(Int64(detail) ?? 0)
        case "WL005": return WalletError.notReversible(transferID: Int64(detail) ?? 0, reason: pg.message)
        case "WL006":
            let parts = detail.split(separator: "|").compactMap { Int64($0) }
            return WalletError.alreadyReversed(transferID: parts.first ?? 0, by: parts.count > 1 ? parts[1] : 0)
        case "WL007":
            let parts = detail.split(separator: "|", maxSplits: 1).map(String.init)
            return WalletError.holdAlreadySettled(deliveryID: Int64(parts.first ?? "") ?? 0, as: parts.count > 1 ? parts[1] : "settled")
        case "WL008", "WL011", "WL012": return WalletError.invalid(pg.message)
        case "23514" where pg.constraint == "accounts_floor": return WalletError.wouldOverdraw("a wallet balance")
        default: return error
        }
    }
}

/// Runs `body`, turning the wallet's SQL errors into `WalletError`.
func walletErrors<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch { throw WalletError.translate(error) }
}
