import Foundation
import Outbound

/// iOS push through Apple's APNs provider API: `POST {baseURL}/3/device/{token}` over HTTP/2
/// (`https://api.push.apple.com`, or `api.sandbox.push.apple.com` for development builds), with
/// `apns-topic` (the app's bundle id), `apns-push-type: alert`, `apns-priority: 10`,
/// `apns-collapse-id` (a repeated send replaces the shown notification), and
/// `authorization: bearer <ES256 JWT>` from ``APNsAuthToken``. Returns the `apns-id`.
///
/// The payload is `{"aps":{"alert":{"title","body"},"sound":"default"}, …data}`: the data keys
/// (e.g. `follow_up_id`) sit at the top level, where the app reads them.
///
/// Errors (APNs' `reason`, then the HTTP status):
/// - 410 `Unregistered`, 400 `BadDeviceToken` / `DeviceTokenNotForTopic` → final `.unregisteredDevice`
/// - 403 `ExpiredProviderToken`: a fresh JWT is minted and the send retried once
/// - 403 `InvalidProviderToken` and other 403s → final `.misconfigured`
/// - 429 `TooManyRequests`, 5xx (`InternalServerError`, `ServiceUnavailable`) → retryable
/// - other 400s (`PayloadTooLarge`, `BadCollapseId`, …) → final `.rejected`
public struct APNsPush: PushProvider {
    public var endpoint: ProviderEndpoint
    /// The app's bundle id (`apns-topic`).
    public var topic: String
    private let auth: APNsAuthToken

    public init(endpoint: ProviderEndpoint, topic: String, auth: APNsAuthToken) {
        self.endpoint = endpoint
        self.topic = topic
        self.auth = auth
    }

    public func send(_ notification: PushNotification) async throws -> String {
        var payload: [String: APNsValue] = [:]
        for (key, value) in notification.data where key != "aps" { payload[key] = .string(value) }
        payload["aps"] = .object([
            "alert": .object(["title": .string(notification.title), "body": .string(notification.body)]),
            "sound": .string("default"),
        ])
        let body = JSONBody.encode(payload)
        let path = "/3/device/" + FormEncoding.escape(notification.deviceToken)
        var refreshed = false
        while true {
            let jwt = try await auth.token()
            let response = try await endpoint.send("POST", path, headers: [
                HTTPHeader("authorization", "bearer \(jwt)"),
                HTTPHeader("apns-topic", topic),
                HTTPHeader("apns-push-type", "alert"),
                HTTPHeader("apns-priority", "10"),
                HTTPHeader("apns-collapse-id", Self.collapseID(notification.collapseKey)),
                HTTPHeader("content-type", "application/json"),
            ], body: body, preferHTTP2: true)
            if (200...299).contains(response.status) {
                return response.header("apns-id") ?? ""
            }
            let reason = JSONBody.decode(APNsErrorBody.self, from: response)?.reason
            if reason == "ExpiredProviderToken", !refreshed {
                refreshed = true
                await auth.invalidate()
                continue
            }
            throw Self.error(status: response.status, reason: reason, response: response)
        }
    }

    /// APNs limits `apns-collapse-id` to 64 bytes; longer keys are shortened to a stable hash.
    static func collapseID(_ key: String) -> String {
        guard key.utf8.count > 64 else { return key }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        let prefix = String(decoding: key.utf8.prefix(40), as: UTF8.self)
        return prefix + "-" + String(hash, radix: 16)
    }

    static func error(status: Int, reason: String?, response: HTTPResponse) -> ProviderError {
        switch reason {
        case "Unregistered", "BadDeviceToken", "DeviceTokenNotForTopic":
            return ProviderError(.final, .unregisteredDevice, providerCode: reason, status: status)
        default:
            if status == 410 { return ProviderError(.final, .unregisteredDevice, providerCode: reason, status: status) }
            return ProviderError.http(response, providerCode: reason)
                ?? ProviderError(.final, .badResponse, providerCode: reason, status: status)
        }
    }
}

/// A JSON value for the APNs payload.
indirect enum APNsValue: Encodable {
    case string(String)
    case object([String: APNsValue])

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

struct APNsErrorBody: Decodable {
    var reason: String?
}
