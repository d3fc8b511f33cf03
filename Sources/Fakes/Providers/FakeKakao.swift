import Foundation
import Outbound

/// A loopback stand-in for a Kakao AlimTalk-style bizmessage gateway:
/// `POST /v2/sender/send` (header `X-Secret-Key`, JSON `senderKey`, `templateCode`,
/// `recipientList[{recipientNo, content, clientMsgId}]`) and
/// `GET /v2/sender/messages?clientMsgId=…`.
///
/// Behaviour is set per phone number (deliver by default). It remembers every `clientMsgId`:
/// a repeated send answers the first result and delivers nothing new.
public final class FakeKakao: Sendable {
    /// What happens to messages for one phone number.
    public enum Behaviour: Sendable, Equatable {
        /// Delivered (result code 0).
        case deliver
        /// Result code 3018: the user blocked the channel.
        case blocked
        /// Result code 3019: not a KakaoTalk user.
        case notAUser
        /// Result code -1: the gateway timed out relaying to Kakao.
        case timeoutCode
        /// HTTP 500 with header result code -9999, the next `times` sends (then delivers).
        case serverError(times: Int = Int.max)
        /// HTTP 429 with header result code -9429 ("too many requests") and, if given, a
        /// `Retry-After` header, the next `times` sends (then delivers).
        case rateLimited(retryAfter: String?, times: Int = Int.max)
        /// Accepted by the send call (result code 0), but the relay to the messenger fails later:
        /// the first `afterLookups` result lookups answer IN_PROGRESS, then FAILED with `code`
        /// (3018 blocked, 3019 not a user, …). Nothing reaches the phone.
        case lateFailure(code: Int = 3018, afterLookups: Int = 1)
    }

    /// A message the fake accepted (delivered or not).
    public struct Message: Sendable, Equatable {
        public var requestId: String
        public var senderKey: String
        public var templateCode: String
        public var recipientNo: String
        public var content: String
        public var clientMsgId: String?
        public var resultCode: Int
        /// A failure the gateway reports only later (see `Behaviour.lateFailure`).
        public var lateResultCode: Int?
        public var delivered: Bool { resultCode == 0 && lateResultCode == nil }
    }

    private struct State {
        var behaviours: [String: Behaviour] = [:]
        var messages: [Message] = []
        var byClientID: [String: Message] = [:]
        /// Lookups still to answer IN_PROGRESS, per clientMsgId (late failures).
        var pendingLookups: [String: Int] = [:]
    }

    private let state = Locked(State())
    /// The underlying server: its `requests` are every call received, in order.
    public let server: LoopbackHTTPServer
    public let secretKey: String

    /// Starts the fake on 127.0.0.1 at a free port.
    public init(secretKey: String = "fake-kakao-secret") throws {
        self.secretKey = secretKey
        let state = self.state
        server = try LoopbackHTTPServer { request in
            guard request.header("X-Secret-Key") == secretKey else {
                return Self.headerOnly(401, code: -1000, message: "Invalid appKey or secretKey")
            }
            switch (request.method, request.path) {
            case ("POST", "/v2/sender/send"): return Self.send(request, state: state)
            case ("GET", "/v2/sender/messages"): return Self.lookup(request, state: state)
            default: return Self.headerOnly(404, code: -404, message: "Not found")
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

    /// Sets what happens to messages for `phone` (as sent in `recipientNo`).
    public func setBehaviour(_ behaviour: Behaviour, for phone: String) {
        state.withLock { $0.behaviours[phone] = behaviour }
    }

    /// Every message the gateway took (a duplicate `clientMsgId` adds none).
    public var messages: [Message] { state.withLock { $0.messages } }

    /// Messages delivered to `phone`.
    public func delivered(to phone: String) -> [Message] {
        messages.filter { $0.recipientNo == phone && $0.delivered }
    }

    /// Stops the server. Idempotent.
    public func stop() { server.stop() }

    // MARK: Handling

    private struct SendBody: Decodable {
        struct Recipient: Decodable {
            var recipientNo: String
            var content: String?
            var clientMsgId: String?
        }
        var senderKey: String
        var templateCode: String
        var recipientList: [Recipient]
    }

    private static func send(_ request: FakeHTTPRequest, state: Locked<State>) -> FakeHTTPResponse {
        guard let body = try? JSONDecoder().decode(SendBody.self, from: Data(request.body)), !body.recipientList.isEmpty else {
            return headerOnly(400, code: -1006, message: "Invalid request body")
        }
        return state.withLock { state in
            var results: [[String: Any]] = []
            var requestId: String?
            for (index, recipient) in body.recipientList.enumerated() {
                if let id = recipient.clientMsgId, let first = state.byClientID[id] {
                    requestId = requestId ?? first.requestId
                    results.append(result(seq: index + 1, code: first.resultCode, clientMsgId: id))
                    continue
                }
                var code = 0
                var late: (code: Int, lookups: Int)?
                switch state.behaviours[recipient.recipientNo] ?? .deliver {
                case .deliver: code = 0
                case .lateFailure(let failure, let lookups): late = (failure, lookups)
                case .blocked: code = 3018
                case .notAUser: code = 3019
                case .timeoutCode: code = -1
                case .serverError(let times):
                    if times > 0 {
                        state.behaviours[recipient.recipientNo] = times == 1 ? nil : .serverError(times: times == Int.max ? times : times - 1)
                        return headerOnly(500, code: -9999, message: "Internal server error")
                    }
                case .rateLimited(let retryAfter, let times):
                    if times > 0 {
                        state.behaviours[recipient.recipientNo] = times == 1 ? nil
                            : .rateLimited(retryAfter: retryAfter, times: times == Int.max ? times : times - 1)
                        var response = headerOnly(429, code: -9429, message: "Too many requests")
                        if let retryAfter { response.headers.append(HTTPHeader("Retry-After", retryAfter)) }
                        return response
                    }
                }
                let id = requestId ?? dateStampedID()
                requestId = id
                let message = Message(
                    requestId: id, senderKey: body.senderKey, templateCode: body.templateCode,
                    recipientNo: recipient.recipientNo, content: recipient.content ?? "",
                    clientMsgId: recipient.clientMsgId, resultCode: code, lateResultCode: late?.code)
                state.messages.append(message)
                if let late, let clientID = recipient.clientMsgId { state.pendingLookups[clientID] = late.lookups }
                // A timeout is not remembered: the gateway never got an answer from Kakao.
                if let clientID = recipient.clientMsgId, code != -1 { state.byClientID[clientID] = message }
                results.append(result(seq: index + 1, code: code, clientMsgId: recipient.clientMsgId))
            }
            return .json(200, FakeJSON.text([
                "header": ["resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": true] as [String: Any],
                "message": ["requestId": requestId ?? "", "senderGroupingKey": NSNull(), "sendResults": results] as [String: Any],
            ] as [String: Any]))
        }
    }

    private static func lookup(_ request: FakeHTTPRequest, state: Locked<State>) -> FakeHTTPResponse {
        let wanted = request.query["clientMsgId"]
        let (found, pending) = state.withLock { state -> (Message?, Bool) in
            guard let id = wanted, let message = state.byClientID[id] else { return (nil, false) }
            if let left = state.pendingLookups[id], left > 0 {
                state.pendingLookups[id] = left - 1
                return (message, true)
            }
            return (message, false)
        }
        let messages: [[String: Any]] = found.map { message in
            [[
                "requestId": message.requestId, "recipientSeq": 1, "clientMsgId": message.clientMsgId ?? "",
                "senderKey": message.senderKey, "templateCode": message.templateCode,
                "messageStatus": pending ? "IN_PROGRESS" : (message.delivered ? "COMPLETED" : "FAILED"),
                "resultCode": pending ? 0 : (message.lateResultCode ?? message.resultCode),
            ] as [String: Any]]
        } ?? []
        return .json(200, FakeJSON.text([
            "header": ["resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": true] as [String: Any],
            "messages": messages, "totalCount": messages.count,
        ] as [String: Any]))
    }

    private static func result(seq: Int, code: Int, clientMsgId: String?) -> [String: Any] {
        let text: String = switch code {
        case 0: "SUCCESS"
        case 3018: "Message cannot be delivered (blocked by user or not a friend of the channel)"
        case 3019: "Not a KakaoTalk user"
        case -1: "Timeout while relaying to KakaoTalk"
        default: "Failed"
        }
        return ["recipientSeq": seq, "resultCode": code, "resultMessage": text,
                "recipientGroupingKey": clientMsgId ?? ""]
    }

    private static func headerOnly(_ status: Int, code: Int, message: String) -> FakeHTTPResponse {
        .json(status, FakeJSON.text([
            "header": ["resultCode": code, "resultMessage": message, "isSuccessful": false] as [String: Any],
        ] as [String: Any]))
    }

    /// `20261128103000` + random digits, like a gateway request id.
    private static func dateStampedID() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss"
        return formatter.string(from: Date()) + String(Int.random(in: 100_000...999_999))
    }
}
