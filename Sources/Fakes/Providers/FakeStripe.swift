import Foundation
import Outbound

/// A loopback stand-in for Stripe's PaymentIntents API, shaped like the real one:
/// `POST /v1/payment_intents` (form-encoded, `Authorization: Bearer sk_…`, `Idempotency-Key`),
/// `GET /v1/payment_intents/:id` and `GET /v1/payment_intents/search?query=metadata['attempt']:'KEY'`.
///
/// Like Stripe it remembers every `Idempotency-Key`: the same key answers the first response
/// again (with `Idempotent-Replayed: true`) and never charges twice; the same key with different
/// parameters is a 400 `idempotency_error`. It can be told to decline a customer (402
/// `card_error`), to fail with 500 before doing anything, to answer slowly (``latency``), or to
/// charge and then lose the answer (records the intent, answers 500) — the cases a wallet's
/// crash matrix needs.
public final class FakeStripe: Sendable {
    /// A payment intent the fake created.
    public struct Intent: Sendable, Equatable {
        public var id: String
        public var amount: Int64
        public var currency: String
        public var customer: String
        public var paymentMethod: String?
        public var description: String
        /// `metadata[attempt]`.
        public var attempt: String?
        /// `succeeded`, or `requires_payment_method` for a decline.
        public var status: String
        public var declineCode: String?
        public var idempotencyKey: String?
    }

    private struct Stored {
        var fields: [String: String]
        var response: FakeHTTPResponse
    }

    private struct State {
        var intents: [Intent] = []
        var byKey: [String: Stored] = [:]
        var declines: [String: String] = [:]
        var failuresLeft = 0
        var dropsLeft = 0
        var slowLeft = 0
        var slowDelay: Duration = .zero
        var createRequests = 0
    }

    private let state = Locked(State())
    /// The underlying server: its `requests` are every call received, in order.
    public let server: LoopbackHTTPServer
    /// The secret key the fake accepts (`Authorization: Bearer <key>`); others get 401.
    public let secretKey: String

    /// Starts the fake on 127.0.0.1 at a free port.
    public init(secretKey: String = "sk_test_fake") throws {
        self.secretKey = secretKey
        let state = self.state
        server = try LoopbackHTTPServer { request in
            Self.handle(request, state: state, secretKey: secretKey)
        }
    }

    deinit { server.stop() }

    /// `http://127.0.0.1:PORT`: the adapter's base URL.
    public var baseURL: String { server.baseURL }

    /// Delay before every request is handled (make it longer than the client's timeout to
    /// simulate one; the request is still handled afterwards, as a real server would).
    public var latency: Duration {
        get { server.latency }
        set { server.latency = newValue }
    }

    /// Declines every charge for `customer` with this `decline_code` (e.g. `insufficient_funds`).
    public func decline(customer: String, code: String = "insufficient_funds") {
        state.withLock { $0.declines[customer] = code }
    }

    /// The next `count` create calls answer 500 without creating anything or remembering the key.
    public func failNext(_ count: Int) {
        state.withLock { $0.failuresLeft = count }
    }

    /// The next `count` create calls charge (and remember the key, as Stripe does) but answer 500,
    /// as if the response was lost on the way back.
    public func chargeButDropResponse(next count: Int = 1) {
        state.withLock { $0.dropsLeft = count }
    }

    /// The next `count` create calls charge at once (remembering the key) but answer only after
    /// `delay`: with a client timeout shorter than `delay`, the caller sees a timeout although the
    /// money was taken — the "did it or didn't it?" case reconciliation exists for.
    public func chargeButAnswerLate(by delay: Duration, next count: Int = 1) {
        state.withLock {
            $0.slowLeft = count
            $0.slowDelay = delay
        }
    }

    /// Every intent created, in order (declined ones included).
    public var intents: [Intent] { state.withLock { $0.intents } }

    /// Intents created (declined included); a replayed idempotent request creates none.
    public var intentsCreated: Int { state.withLock { $0.intents.count } }

    /// Successful charges: money actually taken.
    public var chargesCreated: Int { state.withLock { $0.intents.filter { $0.status == "succeeded" }.count } }

    /// `POST /v1/payment_intents` calls received (replays and failures included).
    public var createRequests: Int { state.withLock { $0.createRequests } }

    /// Stops the server. Idempotent.
    public func stop() { server.stop() }

    // MARK: Handling

    private static func handle(_ request: FakeHTTPRequest, state: Locked<State>, secretKey: String) -> FakeHTTPResponse {
        guard request.header("Authorization") == "Bearer \(secretKey)" else {
            return error(401, type: "invalid_request_error", code: nil, message: "Invalid API Key provided.")
        }
        switch (request.method, request.path) {
        case ("POST", "/v1/payment_intents"):
            return create(request, state: state)
        case ("GET", "/v1/payment_intents/search"):
            return search(request, state: state)
        case ("GET", let path) where path.hasPrefix("/v1/payment_intents/"):
            let id = String(path.dropFirst("/v1/payment_intents/".count))
            guard let intent = state.withLock({ $0.intents.first { $0.id == id } }) else {
                return error(404, type: "invalid_request_error", code: "resource_missing", message: "No such payment_intent")
            }
            return .json(200, json(intent))
        default:
            return error(404, type: "invalid_request_error", code: nil, message: "Unrecognized request URL")
        }
    }

    private static func create(_ request: FakeHTTPRequest, state: Locked<State>) -> FakeHTTPResponse {
        let (response, delay) = createNow(request, state: state)
        if let delay { blockThread(for: delay) }  // outside the lock: other requests go on
        return response
    }

    /// The answer, and how long to hold it back.
    private static func createNow(_ request: FakeHTTPRequest, state: Locked<State>) -> (FakeHTTPResponse, Duration?) {
        let fields = request.formFields()
        let key = request.header("Idempotency-Key")
        var delay: Duration?
        let response: FakeHTTPResponse = state.withLock { state in
            state.createRequests += 1
            if state.failuresLeft > 0 {
                state.failuresLeft -= 1
                return error(500, type: "api_error", code: nil, message: "An unknown error occurred")
            }
            if let key, let stored = state.byKey[key] {
                guard stored.fields == fields else {
                    return error(400, type: "idempotency_error", code: nil,
                                 message: "Keys for idempotent requests can only be used with the same parameters they were first used with.")
                }
                var replay = stored.response
                replay.headers.append(HTTPHeader("Idempotent-Replayed", "true"))
                return replay
            }
            guard let amountText = fields["amount"], let amount = Int64(amountText), amount > 0,
                  let currency = fields["currency"], let customer = fields["customer"] else {
                return error(400, type: "invalid_request_error", code: "parameter_missing",
                             message: "Missing or invalid amount, currency or customer")
            }
            let declineCode = state.declines[customer]
            let intent = Intent(
                id: "pi_" + FakeIDs.alphanumeric(), amount: amount, currency: currency, customer: customer,
                paymentMethod: fields["payment_method"], description: fields["description"] ?? "",
                attempt: fields["metadata[attempt]"],
                status: declineCode == nil ? "succeeded" : "requires_payment_method",
                declineCode: declineCode, idempotencyKey: key)
            state.intents.append(intent)
            let response: FakeHTTPResponse
            if let declineCode {
                response = error(402, type: "card_error", code: "card_declined", declineCode: declineCode,
                                 message: "Your card was declined.", intent: intent)
            } else {
                response = FakeHTTPResponse.json(200, json(intent))
            }
            if let key { state.byKey[key] = Stored(fields: fields, response: response) }
            if state.dropsLeft > 0 {
                state.dropsLeft -= 1
                return error(500, type: "api_error", code: nil, message: "An unknown error occurred")
            }
            if state.slowLeft > 0 {
                state.slowLeft -= 1
                delay = state.slowDelay
            }
            return response
        }
        return (response, delay)
    }

    private static func search(_ request: FakeHTTPRequest, state: Locked<State>) -> FakeHTTPResponse {
        // Supports the one query the adapter sends: metadata['attempt']:'KEY'.
        let query = request.query["query"] ?? ""
        let prefix = "metadata['attempt']:'"
        guard query.hasPrefix(prefix), query.hasSuffix("'"), query.count > prefix.count else {
            return error(400, type: "invalid_request_error", code: nil, message: "Unsupported search query")
        }
        let key = String(query.dropFirst(prefix.count).dropLast())
            .replacingOccurrences(of: "\\'", with: "'").replacingOccurrences(of: "\\\\", with: "\\")
        let found = state.withLock { $0.intents.filter { $0.attempt == key } }
        let data = found.reversed().map(json).joined(separator: ",")
        return .json(200, #"{"object":"search_result","url":"/v1/payment_intents/search","has_more":false,"data":[\#(data)]}"#)
    }

    // MARK: Stripe's JSON

    static func json(_ intent: Intent) -> String {
        var object: [String: Any] = [
            "id": intent.id, "object": "payment_intent", "amount": intent.amount,
            "amount_received": intent.status == "succeeded" ? intent.amount : 0,
            "currency": intent.currency, "customer": intent.customer, "description": intent.description,
            "status": intent.status, "confirmation_method": "automatic", "livemode": false,
            "metadata": intent.attempt.map { ["attempt": $0] } ?? [:],
            "payment_method": intent.paymentMethod ?? "pm_card_visa",
            "latest_charge": intent.status == "succeeded" ? "ch_" + intent.id.dropFirst(3) : NSNull(),
        ]
        if let code = intent.declineCode {
            object["last_payment_error"] = [
                "type": "card_error", "code": "card_declined", "decline_code": code, "message": "Your card was declined.",
            ]
        } else {
            object["last_payment_error"] = NSNull()
        }
        return FakeJSON.text(object)
    }

    static func error(_ status: Int, type: String, code: String?, declineCode: String? = nil,
                      message: String, intent: Intent? = nil) -> FakeHTTPResponse {
        var detail: [String: Any] = ["type": type, "message": message]
        if let code { detail["code"] = code }
        if let declineCode { detail["decline_code"] = declineCode }
        if let intent, let data = json(intent).data(using: .utf8),
           let object = try? JSONSerialization.jsonObject(with: data) {
            detail["payment_intent"] = object
        }
        var response = FakeHTTPResponse.json(status, FakeJSON.text(["error": detail]))
        response.headers.append(HTTPHeader("Request-Id", "req_" + FakeIDs.alphanumeric()))
        return response
    }
}
