import Foundation
import Outbound

/// Card top-ups through Stripe's PaymentIntents API, charged off-session and confirmed at once.
///
/// `charge` is `POST /v1/payment_intents` (form-encoded, `Authorization: Bearer sk_…`) with the
/// attempt's key both as the `Idempotency-Key` header (Stripe replays the first answer for 24 h:
/// a retry never charges twice) and as `metadata[attempt]` (so `lookup` can find it later with
/// the Search API, even after the idempotency window).
///
/// - 200 `status: succeeded` → `.succeeded`; `requires_payment_method`/`canceled` → `.declined`
/// - 402 `card_error` → `.declined(paymentID:reason:)` with the `decline_code` (or `code`)
/// - `processing` / `requires_action` etc. → retryable (the outcome is not known yet; reconcile)
/// - 409 (the same key is still in flight at Stripe), 429, 5xx, timeouts → retryable
/// - 401/403 → final `.misconfigured`; other 4xx → final `.rejected`
/// - `Stripe-Should-Retry: true|false` overrides the retryability of an error status.
///
/// `customer` is `cus_…`, or `cus_…/pm_…` to name the payment method too (otherwise Stripe uses
/// the customer's default payment method).
public struct StripePayments: PaymentProvider {
    public var endpoint: ProviderEndpoint
    private let secretKey: String

    /// - Parameters:
    ///   - endpoint: base URL `https://api.stripe.com` in production.
    ///   - secretKey: `sk_live_…` / `sk_test_…`; never logged or put in errors.
    public init(endpoint: ProviderEndpoint, secretKey: String) {
        self.endpoint = endpoint
        self.secretKey = secretKey
    }

    public func charge(_ request: PaymentRequest) async throws -> PaymentOutcome {
        let parts = request.customer.split(separator: "/", maxSplits: 1).map(String.init)
        var fields: [(String, String)] = [
            ("amount", String(request.amountMinor)),
            ("currency", request.currency.lowercased()),
            ("customer", parts.first ?? request.customer),
        ]
        if parts.count > 1 { fields.append(("payment_method", parts[1])) }
        fields += [
            ("confirm", "true"),
            ("off_session", "true"),
            ("description", request.description),
            ("metadata[attempt]", request.idempotencyKey),
        ]
        let response = try await endpoint.send(
            "POST", "/v1/payment_intents",
            headers: headers + [
                HTTPHeader("Content-Type", "application/x-www-form-urlencoded"),
                HTTPHeader("Idempotency-Key", request.idempotencyKey),
            ],
            body: FormEncoding.body(fields))

        if (200...299).contains(response.status) {
            guard let intent = JSONBody.decode(StripeIntent.self, from: response) else {
                throw ProviderError.unreadable(response)
            }
            return try outcome(of: intent, response: response)
        }
        switch failure(of: response) {
        case .declined(let outcome): return outcome
        case .error(let error): throw error
        }
    }

    /// Finds the intent created with `metadata[attempt]` = `idempotencyKey` through
    /// `GET /v1/payment_intents/search`. Note: Stripe's search index lags writes by up to about a
    /// minute, so a nil shortly after the attempt is not proof that nothing was charged;
    /// re-sending `charge` with the same key (within 24 h) is the authoritative reconciliation.
    public func lookup(idempotencyKey: String) async throws -> PaymentOutcome? {
        let escapedKey = idempotencyKey.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "'", with: "\\'")
        let query = FormEncoding.escape("metadata['attempt']:'\(escapedKey)'")
        let response = try await endpoint.send("GET", "/v1/payment_intents/search?query=\(query)", headers: headers)
        guard (200...299).contains(response.status) else {
            switch failure(of: response) {
            case .declined: throw ProviderError(.final, .badResponse, status: response.status)
            case .error(let error): throw error
            }
        }
        guard let result = JSONBody.decode(StripeSearchResult.self, from: response) else {
            throw ProviderError.unreadable(response)
        }
        // One intent per key is the norm; if there are several, a success wins.
        let intents = result.data
        if let succeeded = intents.first(where: { $0.status == "succeeded" }) {
            return .succeeded(paymentID: succeeded.id)
        }
        guard let intent = intents.first else { return nil }
        return try outcome(of: intent, response: response)
    }

    private var headers: [HTTPHeader] {
        [HTTPHeader("Authorization", "Bearer \(secretKey)")]
    }

    private func outcome(of intent: StripeIntent, response: HTTPResponse) throws -> PaymentOutcome {
        switch intent.status {
        case "succeeded":
            return .succeeded(paymentID: intent.id)
        case "requires_payment_method", "canceled":
            let error = intent.last_payment_error
            return .declined(paymentID: intent.id, reason: error?.decline_code ?? error?.code ?? intent.status)
        default:  // processing, requires_action, requires_confirmation, requires_capture
            throw ProviderError(.retryable(after: nil), .unavailable, providerCode: intent.status, status: response.status)
        }
    }

    private enum Failure {
        case declined(PaymentOutcome)
        case error(ProviderError)
    }

    private func failure(of response: HTTPResponse) -> Failure {
        let body = JSONBody.decode(StripeErrorBody.self, from: response)?.error
        let code = body?.decline_code ?? body?.code
        if response.status == 402 || body?.type == "card_error" {
            return .declined(.declined(paymentID: body?.payment_intent?.id, reason: code ?? "card_declined"))
        }
        var error = ProviderError.http(response, providerCode: code)
            ?? ProviderError(.final, .badResponse, providerCode: code, status: response.status)
        if response.status == 409 { error = error.with(.retryable(after: nil), .unavailable) }
        switch response.header("Stripe-Should-Retry")?.lowercased() {
        case "true" where !error.isRetryable: error = error.with(.retryable(after: nil), .unavailable)
        case "false" where error.isRetryable: error = error.with(.final, .rejected)
        default: break
        }
        return .error(error)
    }
}

// MARK: Stripe's JSON

struct StripeIntent: Decodable {
    var id: String
    var status: String
    var last_payment_error: StripeErrorBody.Detail?
}

struct StripeSearchResult: Decodable {
    var data: [StripeIntent]
}

struct StripeErrorBody: Decodable {
    struct Detail: Decodable {
        struct IntentRef: Decodable { var id: String }
        var type: String?
        var code: String?
        var decline_code: String?
        var payment_intent: IntentRef?
    }
    var error: Detail
}
