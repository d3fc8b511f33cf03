import Foundation
import Outbound

/// Android (and any FCM) push through the FCM HTTP v1 API:
/// `POST {baseURL}/v1/projects/{project}/messages:send`, `Authorization: Bearer <access token>`,
/// JSON `{"message":{"token","notification":{"title","body"},"data":{…},"android":{"collapse_key"}}}`.
/// Returns the message `name` (`projects/p/messages/…`).
///
/// Errors (FCM's `details[].errorCode`, else `error.status`, else the HTTP status):
/// - `UNREGISTERED` (404), `INVALID_ARGUMENT` (400: for a single-token send, almost always the
///   token), `SENDER_ID_MISMATCH` (403) → final `.unregisteredDevice`
/// - 401 / `THIRD_PARTY_AUTH_ERROR`: the cached access token is dropped and the send retried once
///   with a fresh one; a second refusal is final `.misconfigured`
/// - `QUOTA_EXCEEDED` (429), `UNAVAILABLE` (503), `INTERNAL` (500) → retryable (with Retry-After)
public struct FCMPush: PushProvider {
    public var endpoint: ProviderEndpoint
    public var projectID: String
    private let tokens: any AccessTokenSource

    /// - Parameter tokens: ``StaticAccessToken`` from settings, or ``ServiceAccountAccessToken``
    ///   (the production OAuth2 JWT-bearer exchange).
    public init(endpoint: ProviderEndpoint, projectID: String, tokens: any AccessTokenSource) {
        self.endpoint = endpoint
        self.projectID = projectID
        self.tokens = tokens
    }

    public func send(_ notification: PushNotification) async throws -> String {
        let body = JSONBody.encode(FCMRequest(message: .init(
            token: notification.deviceToken,
            notification: .init(title: notification.title, body: notification.body),
            data: notification.data,
            android: .init(collapse_key: notification.collapseKey, priority: "high"))))
        let path = "/v1/projects/\(FormEncoding.escape(projectID))/messages:send"
        var refreshed = false
        while true {
            let token = try await tokens.accessToken()
            let response = try await endpoint.send("POST", path, headers: [
                HTTPHeader("Authorization", "Bearer \(token)"),
                HTTPHeader("Content-Type", "application/json; charset=UTF-8"),
            ], body: body)
            if (200...299).contains(response.status) {
                guard let answer = JSONBody.decode(FCMResponse.self, from: response) else {
                    throw ProviderError.unreadable(response)
                }
                return answer.name
            }
            let error = Self.error(for: response)
            if error.reason == .misconfigured, !refreshed {
                refreshed = true
                await tokens.invalidate()
                continue
            }
            throw error
        }
    }

    static func error(for response: HTTPResponse) -> ProviderError {
        let detail = JSONBody.decode(FCMErrorBody.self, from: response)?.error
        let code = detail?.details?.compactMap(\.errorCode).first ?? detail?.status
        switch code {
        case "UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH":
            return ProviderError(.final, .unregisteredDevice, providerCode: code, status: response.status)
        case "THIRD_PARTY_AUTH_ERROR", "UNAUTHENTICATED", "PERMISSION_DENIED":
            return ProviderError(.final, .misconfigured, providerCode: code, status: response.status)
        default:
            return ProviderError.http(response, providerCode: code)
                ?? ProviderError(.final, .badResponse, providerCode: code, status: response.status)
        }
    }
}

// MARK: FCM's JSON

struct FCMRequest: Encodable {
    struct Message: Encodable {
        struct Notification: Encodable { var title: String; var body: String }
        struct Android: Encodable { var collapse_key: String; var priority: String }
        var token: String
        var notification: Notification
        var data: [String: String]
        var android: Android
    }
    var message: Message
}

struct FCMResponse: Decodable {
    var name: String
}

struct FCMErrorBody: Decodable {
    struct Detail: Decodable {
        struct Item: Decodable { var errorCode: String? }
        var code: Int?
        var message: String?
        var status: String?
        var details: [Item]?
    }
    var error: Detail
}
