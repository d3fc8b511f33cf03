import Foundation
import Outbound

/// A loopback stand-in for FCM HTTP v1 (`POST /v1/projects/{project}/messages:send`) and for
/// Google's OAuth2 token endpoint (`POST /token`, the service-account JWT-bearer grant).
///
/// Sends need `Authorization: Bearer <accessToken>`; the token endpoint hands out that token
/// for any well-formed assertion whose claims name the messaging scope and this `/token` URL
/// (signatures are not checked). Rejections are set per device token; every push accepted is
/// recorded.
public final class FakeFCM: Sendable {
    /// How FCM answers for one device token.
    public enum Rejection: Sendable, Equatable {
        /// 404 `NOT_FOUND`, errorCode `UNREGISTERED`: the app was uninstalled.
        case unregistered
        /// 400 `INVALID_ARGUMENT`: not a valid registration token.
        case invalidArgument
        /// 429 `RESOURCE_EXHAUSTED`, errorCode `QUOTA_EXCEEDED`, with `Retry-After`.
        case quotaExceeded(retryAfterSeconds: Int)
        /// 503 `UNAVAILABLE`.
        case unavailable
    }

    /// A push FCM accepted.
    public struct Push: Sendable, Equatable {
        public var name: String
        public var project: String
        public var token: String
        public var title: String
        public var body: String
        public var data: [String: String]
        public var collapseKey: String?
    }

    private struct State {
        var rejections: [String: Rejection] = [:]
        var pushes: [Push] = []
        var tokenGrants = 0
    }

    private let state = Locked(State())
    public let server: LoopbackHTTPServer
    /// The access token sends must carry (and the token endpoint grants).
    public let accessToken: String

    /// Starts the fake on 127.0.0.1 at a free port.
    public init(accessToken: String = "fake-fcm-access-token") throws {
        self.accessToken = accessToken
        let state = self.state
        let holder = Locked("")
        server = try LoopbackHTTPServer { request in
            if request.method == "POST", request.path == "/token" {
                return Self.grant(request, state: state, accessToken: accessToken, tokenURL: holder.withLock { $0 })
            }
            guard request.header("Authorization") == "Bearer \(accessToken)" else {
                return Self.error(401, status: "UNAUTHENTICATED", errorCode: "THIRD_PARTY_AUTH_ERROR",
                                  message: "Request had invalid authentication credentials.")
            }
            let parts = request.path.split(separator: "/")
            guard request.method == "POST", parts.count == 4, parts[0] == "v1", parts[1] == "projects",
                  parts[3] == "messages:send" else {
                return Self.error(404, status: "NOT_FOUND", errorCode: nil, message: "Not found")
            }
            return Self.send(request, project: String(parts[2]), state: state)
        }
        holder.withLock { $0 = server.baseURL + "/token" }
    }

    deinit { server.stop() }

    /// `http://127.0.0.1:PORT`: the adapter's base URL.
    public var baseURL: String { server.baseURL }
    /// The OAuth2 token URI to give a service-account token source.
    public var tokenURI: String { server.baseURL + "/token" }

    public var latency: Duration {
        get { server.latency }
        set { server.latency = newValue }
    }

    /// Makes sends to `deviceToken` fail this way (nil: accept again).
    public func reject(_ deviceToken: String, with rejection: Rejection?) {
        state.withLock { $0.rejections[deviceToken] = rejection }
    }

    /// Every push accepted, in order.
    public var pushes: [Push] { state.withLock { $0.pushes } }
    /// Access tokens granted by `/token`.
    public var tokenGrants: Int { state.withLock { $0.tokenGrants } }

    public func stop() { server.stop() }

    // MARK: Handling

    private struct SendBody: Decodable {
        struct Message: Decodable {
            struct Notification: Decodable { var title: String?; var body: String? }
            struct Android: Decodable { var collapse_key: String? }
            var token: String?
            var notification: Notification?
            var data: [String: String]?
            var android: Android?
        }
        var message: Message
    }

    private static func send(_ request: FakeHTTPRequest, project: String, state: Locked<State>) -> FakeHTTPResponse {
        guard let body = try? JSONDecoder().decode(SendBody.self, from: Data(request.body)),
              let token = body.message.token, !token.isEmpty else {
            return error(400, status: "INVALID_ARGUMENT", errorCode: "INVALID_ARGUMENT", message: "Invalid JSON payload received.")
        }
        return state.withLock { state in
            switch state.rejections[token] {
            case .unregistered:
                return error(404, status: "NOT_FOUND", errorCode: "UNREGISTERED", message: "Requested entity was not found.")
            case .invalidArgument:
                return error(400, status: "INVALID_ARGUMENT", errorCode: "INVALID_ARGUMENT",
                             message: "The registration token is not a valid FCM registration token")
            case .quotaExceeded(let seconds):
                var response = error(429, status: "RESOURCE_EXHAUSTED", errorCode: "QUOTA_EXCEEDED", message: "Quota exceeded.")
                response.headers.append(HTTPHeader("Retry-After", String(seconds)))
                return response
            case .unavailable:
                return error(503, status: "UNAVAILABLE", errorCode: "UNAVAILABLE", message: "The service is currently unavailable.")
            case nil:
                let name = "projects/\(project)/messages/0:\(Int.random(in: 1_000_000_000...9_999_999_999))"
                state.pushes.append(Push(
                    name: name, project: project, token: token, title: body.message.notification?.title ?? "",
                    body: body.message.notification?.body ?? "", data: body.message.data ?? [:],
                    collapseKey: body.message.android?.collapse_key))
                return .json(200, FakeJSON.text(["name": name]))
            }
        }
    }

    private static func grant(_ request: FakeHTTPRequest, state: Locked<State>, accessToken: String, tokenURL: String) -> FakeHTTPResponse {
        let form = request.formFields()
        guard form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer",
              let assertion = form["assertion"], let claims = FakeJWT.claims(assertion),
              claims["aud"] as? String == tokenURL, claims["iss"] is String,
              (claims["scope"] as? String)?.contains("firebase.messaging") == true,
              claims["iat"] is NSNumber, claims["exp"] is NSNumber else {
            return .json(400, #"{"error":"invalid_grant","error_description":"Invalid JWT assertion."}"#)
        }
        state.withLock { $0.tokenGrants += 1 }
        return .json(200, FakeJSON.text(["access_token": accessToken, "expires_in": 3599, "token_type": "Bearer"] as [String: Any]))
    }

    static func error(_ status: Int, status text: String, errorCode: String?, message: String) -> FakeHTTPResponse {
        var detail: [String: Any] = ["code": status, "message": message, "status": text]
        if let errorCode {
            detail["details"] = [["@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": errorCode]]
        }
        return .json(status, FakeJSON.text(["error": detail]))
    }
}
