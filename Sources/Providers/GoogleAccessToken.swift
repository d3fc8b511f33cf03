import Foundation
import Outbound

/// Where FCM's `Authorization: Bearer` token comes from.
public protocol AccessTokenSource: Sendable {
    /// A currently valid OAuth2 access token.
    func accessToken() async throws -> String
    /// Forgets a cached token the provider refused (401), so the next call mints a new one.
    func invalidate() async
}

/// A fixed access token (from settings): for tests, the demo, or a token minted elsewhere.
public struct StaticAccessToken: AccessTokenSource {
    private let token: String
    public init(_ token: String) { self.token = token }
    public func accessToken() async throws -> String { token }
    public func invalidate() async {}
}

/// Google's OAuth2 JWT-bearer flow for a service account (RFC 7523), as production FCM uses:
/// a JWT `{iss: client_email, scope, aud: token_uri, iat, exp: iat+3600}` signed RS256 with the
/// account's private key is POSTed to `token_uri` as
/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`; the answer's
/// `access_token` is cached until a minute before its `expires_in`.
public actor ServiceAccountAccessToken: AccessTokenSource {
    public static let messagingScope = "https://www.googleapis.com/auth/firebase.messaging"

    private let client: OutboundClient
    private let tokenURI: String
    private let clientEmail: String
    private let keyID: String?
    private let scope: String
    private let signer: any JWTSigner
    private let timeout: Duration
    private let now: @Sendable () -> Date
    private var cached: (token: String, expires: Date)?

    /// - Parameters:
    ///   - tokenURI: the service account's `token_uri` (`https://oauth2.googleapis.com/token`).
    ///   - clientEmail: the service account's `client_email`.
    ///   - keyID: its `private_key_id` (the JWT `kid`), if known.
    ///   - signer: RS256 over the account's `private_key` (see ``JWTSigner``).
    public init(client: OutboundClient, tokenURI: String, clientEmail: String, keyID: String? = nil,
                scope: String = ServiceAccountAccessToken.messagingScope, signer: any JWTSigner,
                timeout: Duration = .seconds(15), now: @escaping @Sendable () -> Date = { Date() }) {
        self.client = client
        self.tokenURI = tokenURI
        self.clientEmail = clientEmail
        self.keyID = keyID
        self.scope = scope
        self.signer = signer
        self.timeout = timeout
        self.now = now
    }

    public func accessToken() async throws -> String {
        let now = now()
        if let cached, cached.expires > now { return cached.token }
        let issued = Int64(now.timeIntervalSince1970)
        var header: [String: String] = [:]
        if let keyID { header["kid"] = keyID }
        let assertion = try JWT.make(header: header, claims: [
            "iss": .string(clientEmail), "scope": .string(scope), "aud": .string(tokenURI),
            "iat": .int(issued), "exp": .int(issued + 3600),
        ], signer: signer)
        let body = FormEncoding.body([
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion),
        ])
        let response: HTTPResponse
        do {
            response = try await client.send(HTTPRequest(
                method: "POST", url: tokenURI,
                headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded")], body: body, timeout: timeout))
        } catch let error as OutboundError {
            if error.code == .cancelled { throw CancellationError() }
            throw ProviderError.transport(error)
        }
        guard (200...299).contains(response.status) else {
            // 400 invalid_grant: the key or account is wrong; retrying will not help.
            let error = ProviderError.http(response) ?? ProviderError.unreadable(response)
            throw response.status == 400 ? error.with(.final, .misconfigured) : error
        }
        guard let answer = JSONBody.decode(OAuthTokenResponse.self, from: response), !answer.access_token.isEmpty else {
            throw ProviderError.unreadable(response)
        }
        let lifetime = max(60, answer.expires_in ?? 3600) - 60
        cached = (answer.access_token, now.addingTimeInterval(Double(lifetime)))
        return answer.access_token
    }

    public func invalidate() {
        cached = nil
    }
}

struct OAuthTokenResponse: Decodable {
    var access_token: String
    var expires_in: Int?
    var token_type: String?
}
