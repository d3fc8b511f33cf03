import Foundation

/// APNs token-based authentication: an ES256 JWT with header `kid` (the key id of the `.p8`
/// key) and claims `iss` (the team id) and `iat`, reused for ``lifetime`` (Apple accepts a token
/// for up to an hour and refuses refreshing more than every 20 minutes; 50 minutes sits between).
public actor APNsAuthToken {
    public let keyID: String
    public let teamID: String
    public let lifetime: Duration
    private let signer: any JWTSigner
    private let now: @Sendable () -> Date
    private var cached: (token: String, issued: Date)?

    /// - Parameters:
    ///   - signer: ES256 over the team's `.p8` key (see ``JWTSigner``).
    ///   - now: the clock; injectable so tests can pass 50 minutes without waiting.
    public init(keyID: String, teamID: String, signer: any JWTSigner, lifetime: Duration = .seconds(50 * 60),
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.keyID = keyID
        self.teamID = teamID
        self.signer = signer
        self.lifetime = lifetime
        self.now = now
    }

    /// The current token, minting a new one when the cached one is older than ``lifetime``.
    public func token() throws -> String {
        let now = now()
        if let cached, now.timeIntervalSince(cached.issued) < Double(lifetime.components.seconds) {
            return cached.token
        }
        let token = try JWT.make(
            header: ["kid": keyID],
            claims: ["iss": .string(teamID), "iat": .int(Int64(now.timeIntervalSince1970))],
            signer: signer)
        cached = (token, now)
        return token
    }

    /// Forgets the cached token (after APNs answered `ExpiredProviderToken`).
    public func invalidate() {
        cached = nil
    }
}
