import Foundation
import Outbound

/// A loopback stand-in for Twilio's Messages API, with Twilio's JSON shapes:
/// `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form `To`, `From` or `MessagingServiceSid`, `Body`,
/// `StatusCallback`; basic auth) answers 201 with `{"sid":"SM…","status":"queued",…}`, and
/// `GET` on the same path lists messages filtered by `To`, `From` and `DateSent>=`, newest first.
/// Errors are `{"code":21211,"message":…,"more_info":…,"status":400}`.
///
/// Accepted messages are "delivered" at once (a list shows `status: delivered`), and listed after
/// ``listingLag``. Failures are configured per recipient number; ``latency`` delays every answer;
/// `server.injectFault` injects hangs, garbage answers, 429s and outages.
public final class FakeTwilio: Sendable {
    /// How the fake answers for one recipient number.
    public enum Failure: Sendable, Equatable {
        /// 400, code 21211: the `To` number is not a valid phone number.
        case invalidNumber
        /// 400, code 21614: not a mobile number.
        case notMobile
        /// 400, code 21610: the recipient unsubscribed (replied STOP).
        case unsubscribed
        /// 429, code 20429, with `Retry-After: seconds`.
        case rateLimited(retryAfterSeconds: Int)
        /// 500 (or another 5xx), code 20500, the next `times` sends (then delivers).
        case serverError(status: Int = 500, times: Int = Int.max)
    }

    /// A message the fake accepted.
    public struct Message: Sendable, Equatable {
        public var sid: String
        public var to: String
        public var from: String
        public var body: String
        public var statusCallback: String?
        public var status: String
        public var dateCreated: Date
    }

    private struct State {
        var messages: [Message] = []
        var failures: [String: Failure] = [:]
        var listingLag: Duration = .zero
    }

    private let state = Locked(State())
    /// The underlying server: its `requests` are every call received, in order.
    public let server: LoopbackHTTPServer
    public let accountSID: String
    public let authToken: String

    /// Starts the fake on 127.0.0.1 at a free port.
    public init(accountSID: String = "AC00000000000000000000000000000000", authToken: String = "fake-auth-token") throws {
        self.accountSID = accountSID
        self.authToken = authToken
        let state = self.state
        let expected = "Basic " + Data("\(accountSID):\(authToken)".utf8).base64EncodedString()
        let path = "/2010-04-01/Accounts/\(accountSID)/Messages.json"
        server = try LoopbackHTTPServer { request in
            guard request.header("Authorization") == expected else {
                return Self.error(401, code: 20003, message: "Authenticate")
            }
            switch (request.method, request.path) {
            case ("POST", path): return Self.create(request, state: state, accountSID: accountSID)
            case ("GET", path): return Self.list(request, state: state, accountSID: accountSID)
            default: return Self.error(404, code: 20404, message: "The requested resource was not found")
            }
        }
    }

    deinit { server.stop() }

    /// `http://127.0.0.1:PORT`: the adapter's base URL.
    public var baseURL: String { server.baseURL }

    /// Delay before every answer.
    public var latency: Duration {
        get { server.latency }
        set { server.latency = newValue }
    }

    /// Makes sends to `number` fail this way (nil: deliver again).
    public func setFailure(_ failure: Failure?, for number: String) {
        state.withLock { $0.failures[number] = failure }
    }

    /// How long after accepting a message it first shows in a list (default zero). Real Twilio
    /// does not list a message by `DateSent` while it is still queued.
    public var listingLag: Duration {
        get { state.withLock { $0.listingLag } }
        set { state.withLock { $0.listingLag = newValue } }
    }

    /// Every message accepted, in order.
    public var messages: [Message] { state.withLock { $0.messages } }

    /// Messages accepted for `number`.
    public func messages(to number: String) -> [Message] { messages.filter { $0.to == number } }

    /// Stops the server. Idempotent.
    public func stop() { server.stop() }

    // MARK: Handling

    private static func create(_ request: FakeHTTPRequest, state: Locked<State>, accountSID: String) -> FakeHTTPResponse {
        let form = request.formFields()
        guard let to = form["To"], let from = form["From"] ?? form["MessagingServiceSid"], let body = form["Body"], !body.isEmpty else {
            return error(400, code: 21602, message: "Message body is required.")
        }
        guard to.hasPrefix("+"), to.dropFirst().allSatisfy(\.isNumber), (8...16).contains(to.count) else {
            return error(400, code: 21211, message: "The 'To' number is not a valid phone number.")
        }
        return state.withLock { state in
            switch state.failures[to] {
            case .invalidNumber:
                return error(400, code: 21211, message: "The 'To' number is not a valid phone number.")
            case .notMobile:
                return error(400, code: 21614, message: "'To' number is not a valid mobile number")
            case .unsubscribed:
                return error(400, code: 21610, message: "Attempt to send to unsubscribed recipient")
            case .rateLimited(let seconds):
                var response = error(429, code: 20429, message: "Too Many Requests")
                response.headers.append(HTTPHeader("Retry-After", String(seconds)))
                return response
            case .serverError(let status, let times):
                if times > 0 {
                    state.failures[to] = times == 1 ? nil : .serverError(status: status, times: times == Int.max ? times : times - 1)
                    return error(status, code: 20500, message: "Internal Server Error")
                }
            case nil:
                break
            }
            let message = Message(
                sid: "SM" + FakeIDs.hex(), to: to, from: from, body: body, statusCallback: form["StatusCallback"],
                status: "queued", dateCreated: Date())
            state.messages.append(message)
            var response = FakeHTTPResponse.json(201, json(message, accountSID: accountSID))
            state.messages[state.messages.count - 1].status = "delivered"
            response.headers.append(HTTPHeader("Twilio-Request-Id", "RQ" + FakeIDs.hex()))
            return response
        }
    }

    private static func list(_ request: FakeHTTPRequest, state: Locked<State>, accountSID: String) -> FakeHTTPResponse {
        let day = FakeDates.twilioDay
        let since = request.query["DateSent>"].flatMap { day.date(from: $0) }
        let (messages, lag) = state.withLock { ($0.messages, $0.listingLag) }
        let listedBefore = Date(timeIntervalSinceNow: -(Double(lag.components.seconds) + Double(lag.components.attoseconds) / 1e18))
        let found = messages.reversed().filter { message in
            message.dateCreated <= listedBefore
                && (request.query["To"].map { $0 == message.to } ?? true)
                && (request.query["From"].map { $0 == message.from } ?? true)
                && (since.map { message.dateCreated >= $0 } ?? true)
        }
        let pageSize = request.query["PageSize"].flatMap(Int.init) ?? 50
        let page = found.prefix(pageSize).map { json($0, accountSID: accountSID) }.joined(separator: ",")
        return .json(200, """
            {"messages":[\(page)],"end":\(max(0, min(pageSize, found.count) - 1)),"first_page_uri":"\(request.path)?PageSize=\(pageSize)&Page=0",\
            "next_page_uri":null,"page":0,"page_size":\(pageSize),"previous_page_uri":null,"start":0,"uri":"\(request.path)"}
            """)
    }

    /// A Message resource as Twilio returns it (keys in the order `JSONSerialization` sorts them).
    static func json(_ message: Message, accountSID: String) -> String {
        let created = FakeJSON.quote(InternetDate.string(from: message.dateCreated))
        let q = FakeJSON.quote
        return """
            {"account_sid":\(q(accountSID)),"api_version":"2010-04-01","body":\(q(message.body)),\
            "date_created":\(created),"date_sent":\(message.status == "queued" ? "null" : created),"date_updated":\(created),\
            "direction":"outbound-api","error_code":null,"error_message":null,"from":\(q(message.from)),\
            "messaging_service_sid":null,"num_media":"0","num_segments":"1","price":null,"price_unit":"USD",\
            "sid":\(q(message.sid)),"status":\(q(message.status)),"to":\(q(message.to)),\
            "uri":\(q("/2010-04-01/Accounts/\(accountSID)/Messages/\(message.sid).json"))}
            """
    }

    static func error(_ status: Int, code: Int, message: String) -> FakeHTTPResponse {
        .json(status, FakeJSON.text([
            "code": code, "message": message, "more_info": "https://www.twilio.com/docs/errors/\(code)", "status": status,
        ] as [String: Any]))
    }
}
