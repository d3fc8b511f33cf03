import Foundation
import Outbound

/// A loopback stand-in for the APNs provider API: `POST /3/device/{token}` with `apns-topic`,
/// `apns-push-type`, `apns-collapse-id` and `authorization: bearer <JWT>` (an ES256-shaped JWT
/// with `kid` and `iss`; the signature is not checked). Answers 200 with an `apns-id` header, or
/// APNs' `{"reason": …}` errors, set per device token. Speaks HTTP/1.1 (APNs itself is HTTP/2
/// over TLS; libcurl keeps plain `http://` on HTTP/1.1).
public final class FakeAPNs: Sendable {
    /// How APNs answers for one device token.
    public enum Rejection: Sendable, Equatable {
        /// 410 `Unregistered`.
        case unregistered
        /// 400 `BadDeviceToken`.
        case badDeviceToken
        /// 429 `TooManyRequests`.
        case tooManyRequests
        /// 503 `ServiceUnavailable`.
        case unavailable
    }

    /// A push APNs accepted.
    public struct Push: Sendable, Equatable {
        public var apnsID: String
        public var deviceToken: String
        public var topic: String?
        public var pushType: String?
        public var collapseID: String?
        public var title: String
        public var body: String
        /// Top-level payload keys other than `aps`.
        public var data: [String: String]
    }

    private struct State {
        var rejections: [String: Rejection] = [:]
        var pushes: [Push] = []
        var expireNextTokens = 0
        var jwtsSeen: [String] = []
    }

    private let state = Locked(State())
    public let server: LoopbackHTTPServer
    /// The `kid` and `iss` the JWT must carry.
    public let keyID: String
    public let teamID: String

    public init(keyID: String = "FAKEKEY123", teamID: String = "FAKETEAM01") throws {
        self.keyID = keyID
        self.teamID = teamID
        let state = self.state
        server = try LoopbackHTTPServer { request in
            Self.handle(request, state: state, keyID: keyID, teamID: teamID)
        }
    }

    deinit { server.stop() }

    public var baseURL: String { server.baseURL }

    public var latency: Duration {
        get { server.latency }
        set { server.latency = newValue }
    }

    /// Makes sends to `deviceToken` fail this way (nil: accept again).
    public func reject(_ deviceToken: String, with rejection: Rejection?) {
        state.withLock { $0.rejections[deviceToken] = rejection }
    }

    /// The next `count` sends answer 403 `ExpiredProviderToken`, whatever their JWT.
    public func expireProviderToken(next count: Int = 1) {
        state.withLock { $0.expireNextTokens = count }
    }

    /// Every push accepted, in order.
    public var pushes: [Push] { state.withLock { $0.pushes } }
    /// The distinct JWTs seen, in order of first use.
    public var providerTokens: [String] { state.withLock { $0.jwtsSeen } }

    public func stop() { server.stop() }

    private static func handle(_ request: FakeHTTPRequest, state: Locked<State>, keyID: String, teamID: String) -> FakeHTTPResponse {
        guard request.method == "POST", request.path.hasPrefix("/3/device/") else {
            return reason(404, "BadPath")
        }
        let token = String(request.path.dropFirst("/3/device/".count))
        let authorization = request.header("authorization") ?? ""
        guard authorization.lowercased().hasPrefix("bearer ") else { return reason(403, "MissingProviderToken") }
        let jwt = String(authorization.dropFirst("bearer ".count))
        guard let header = FakeJWT.part(jwt, index: 0), let claims = FakeJWT.part(jwt, index: 1),
              header["alg"] as? String == "ES256", header["kid"] as? String == keyID,
              claims["iss"] as? String == teamID, claims["iat"] is NSNumber else {
            return reason(403, "InvalidProviderToken")
        }
        guard request.header("apns-topic")?.isEmpty == false else { return reason(400, "MissingTopic") }
        guard (request.header("apns-collapse-id")?.utf8.count ?? 0) <= 64 else { return reason(400, "BadCollapseId") }
        guard let payload = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any],
              let aps = payload["aps"] as? [String: Any] else {
            return reason(400, "PayloadEmpty")
        }
        return state.withLock { state in
            if !state.jwtsSeen.contains(jwt) { state.jwtsSeen.append(jwt) }
            if state.expireNextTokens > 0 {
                state.expireNextTokens -= 1
                return reason(403, "ExpiredProviderToken")
            }
            switch state.rejections[token] {
            case .unregistered:
                return .json(410, FakeJSON.text(["reason": "Unregistered", "timestamp": Int(Date().timeIntervalSince1970 * 1000)] as [String: Any]))
            case .badDeviceToken:
                return reason(400, "BadDeviceToken")
            case .tooManyRequests:
                return reason(429, "TooManyRequests")
            case .unavailable:
                return reason(503, "ServiceUnavailable")
            case nil:
                let alert = aps["alert"] as? [String: Any]
                var data: [String: String] = [:]
                for (key, value) in payload where key != "aps" { data[key] = value as? String ?? "\(value)" }
                let id = UUID().uuidString
                state.pushes.append(Push(
                    apnsID: id, deviceToken: token, topic: request.header("apns-topic"),
                    pushType: request.header("apns-push-type"), collapseID: request.header("apns-collapse-id"),
                    title: alert?["title"] as? String ?? "", body: alert?["body"] as? String ?? "", data: data))
                return FakeHTTPResponse(status: 200, headers: [HTTPHeader("apns-id", id)])
            }
        }
    }

    private static func reason(_ status: Int, _ reason: String) -> FakeHTTPResponse {
        var response = FakeHTTPResponse.json(status, FakeJSON.text(["reason": reason]))
        response.headers.append(HTTPHeader("apns-id", UUID().uuidString))
        return response
    }
}
