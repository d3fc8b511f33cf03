import Foundation
import Outbound

/// Kakao AlimTalk-style template messages through a bizmessage gateway (NHN Cloud-like shape):
/// `POST {baseURL}/v2/sender/send`, header `X-Secret-Key`, JSON
/// `{"senderKey","templateCode","recipientList":[{"recipientNo","content","clientMsgId"}]}`;
/// the answer is `{"header":{"resultCode","resultMessage","isSuccessful"},
/// "message":{"requestId","sendResults":[{"recipientSeq","resultCode","resultMessage"}]}}`.
///
/// The gateway dedupes on `clientMsgId` (our idempotency key): a repeated send answers the
/// first result and delivers nothing new. `lookup` is `GET {baseURL}/v2/sender/messages?clientMsgId=KEY`.
///
/// Result codes (per recipient, then the header's), as this adapter reads them:
///
/// | code | meaning | outcome |
/// |---|---|---|
/// | 0 | accepted for delivery | success: `requestId` is the provider id |
/// | 3018 | message cannot be delivered: the user blocked the channel | final `.blocked` |
/// | 3019, 3020 | not a KakaoTalk user / number not linked to KakaoTalk | final `.notAUser` |
/// | 3008 | invalid recipient number | final `.invalidRecipient` |
/// | -1, 9998, 9999 | gateway timeout / system error while relaying to Kakao | retryable `.timeout` |
/// | header -1000…-1099 | bad secret key or sender key | final `.misconfigured` |
/// | anything else (template mismatch 3013–3016, …) | | final `.rejected` (the caller falls back to SMS) |
///
/// HTTP 5xx, 429 (honouring `Retry-After`) and transport timeouts are retryable, whatever the body says.
public struct KakaoBizMessage: MessengerProvider {
    public var endpoint: ProviderEndpoint
    private let secretKey: String

    public init(endpoint: ProviderEndpoint, secretKey: String) {
        self.endpoint = endpoint
        self.secretKey = secretKey
    }

    public func send(_ message: MessengerMessage) async throws -> String {
        let request = KakaoSendRequest(
            senderKey: message.senderKey, templateCode: message.templateCode,
            recipientList: [.init(recipientNo: message.phone, content: message.text, clientMsgId: message.idempotencyKey)])
        let response = try await endpoint.send(
            "POST", "/v2/sender/send",
            headers: headers + [HTTPHeader("Content-Type", "application/json;charset=UTF-8")],
            body: JSONBody.encode(request))
        let answer = JSONBody.decode(KakaoSendResponse.self, from: response)
        guard (200...299).contains(response.status) else {
            // 429 and 5xx are retryable whatever result code the body carries (429 with its
            // Retry-After): the gateway did not take the message, and a messenger text that is
            // merely rate-limited must not turn into an SMS at 2.5× the price.
            if let generic = ProviderError.http(response), generic.isRetryable { throw generic }
            throw answer.flatMap { Self.error(code: $0.header.resultCode, status: response.status, header: true) }
                ?? ProviderError.http(response) ?? ProviderError.unreadable(response)
        }
        guard let answer else { throw ProviderError.unreadable(response) }
        guard answer.header.isSuccessful else {
            throw Self.error(code: answer.header.resultCode, status: response.status, header: true)
                ?? ProviderError(.final, .rejected, providerCode: String(answer.header.resultCode), status: response.status)
        }
        guard let message = answer.message, let result = message.sendResults.first else {
            throw ProviderError.unreadable(response)
        }
        if let error = Self.error(code: result.resultCode, status: response.status, header: false) { throw error }
        return message.requestId
    }

    public func lookup(idempotencyKey: String) async throws -> ProviderLookup? {
        let response = try await endpoint.send(
            "GET", "/v2/sender/messages?clientMsgId=" + FormEncoding.escape(idempotencyKey), headers: headers)
        guard (200...299).contains(response.status) else {
            throw ProviderError.http(response) ?? ProviderError.unreadable(response)
        }
        guard let answer = JSONBody.decode(KakaoLookupResponse.self, from: response) else {
            throw ProviderError.unreadable(response)
        }
        guard answer.header.isSuccessful else {
            throw Self.error(code: answer.header.resultCode, status: response.status, header: true)
                ?? ProviderError(.final, .rejected, providerCode: String(answer.header.resultCode), status: response.status)
        }
        guard let found = answer.messages?.first else { return nil }
        let status: ProviderLookup.Status
        switch found.messageStatus {
        case "COMPLETED": status = found.resultCode == 0 ? .delivered : .failed
        case "FAILED": status = .failed
        default: status = .accepted  // READY, IN_PROGRESS
        }
        return ProviderLookup(providerMessageID: found.requestId, status: status)
    }

    private var headers: [HTTPHeader] {
        [HTTPHeader("X-Secret-Key", secretKey), HTTPHeader("Accept", "application/json")]
    }

    /// The error a result code means; nil for success (0).
    static func error(code: Int, status: Int, header: Bool) -> ProviderError? {
        let providerCode = String(code)
        switch code {
        case 0:
            return nil
        case 3018:
            return ProviderError(.final, .blocked, providerCode: providerCode, status: status)
        case 3019, 3020:
            return ProviderError(.final, .notAUser, providerCode: providerCode, status: status)
        case 3008:
            return ProviderError(.final, .invalidRecipient, providerCode: providerCode, status: status)
        case -1, 9998, 9999:
            return ProviderError(.retryable(after: nil), .timeout, providerCode: providerCode, status: status)
        case -1099 ... -1000 where header:
            return ProviderError(.final, .misconfigured, providerCode: providerCode, status: status)
        default:
            if (500...599).contains(status) { return ProviderError.http(status: status, providerCode: providerCode) }
            return ProviderError(.final, .rejected, providerCode: providerCode, status: status)
        }
    }
}

// MARK: The gateway's JSON

struct KakaoSendRequest: Encodable {
    struct Recipient: Encodable {
        var recipientNo: String
        var content: String
        var clientMsgId: String
    }
    var senderKey: String
    var templateCode: String
    var recipientList: [Recipient]
}

struct KakaoHeader: Decodable {
    var resultCode: Int
    var resultMessage: String?
    var isSuccessful: Bool
}

struct KakaoSendResponse: Decodable {
    struct Message: Decodable {
        struct Result: Decodable {
            var recipientSeq: Int?
            var resultCode: Int
            var resultMessage: String?
        }
        var requestId: String
        var sendResults: [Result]
    }
    var header: KakaoHeader
    var message: Message?
}

struct KakaoLookupResponse: Decodable {
    struct Found: Decodable {
        var requestId: String
        var recipientSeq: Int?
        var clientMsgId: String?
        var messageStatus: String?
        var resultCode: Int?
    }
    var header: KakaoHeader
    var messages: [Found]?
}
