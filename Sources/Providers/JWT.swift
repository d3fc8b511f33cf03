import Foundation

/// Signs the bytes of a JWT (`base64url(header).base64url(claims)`), e.g. ES256 with an APNs
/// `.p8` key or RS256 with a Google service-account key.
///
/// Foundation on Linux has no P-256 or RSA signing, so the adapters take a signer instead of a
/// key: production plugs in one backed by a crypto library (swift-crypto's
/// `P256.Signing.PrivateKey(pemRepresentation:)` / `_RSA.Signing.PrivateKey`), tests and the
/// demo use ``UnsignedTestSigner`` against the loopback fakes (which do not verify signatures).
public protocol JWTSigner: Sendable {
    /// The JOSE `alg`, e.g. `ES256` or `RS256`.
    var algorithm: String { get }
    /// The signature over `signingInput`, in JWS form (for ES256: raw `r || s`, 64 bytes).
    func sign(_ signingInput: [UInt8]) throws -> [UInt8]
}

/// A signer whose "signature" is a fixed marker: only for loopback fakes, which check the JWT's
/// shape and claims but cannot check a signature. Real providers reject it.
public struct UnsignedTestSigner: JWTSigner {
    public var algorithm: String
    public init(algorithm: String) { self.algorithm = algorithm }
    public func sign(_ signingInput: [UInt8]) throws -> [UInt8] { Array("unsigned-test-signature".utf8) }
}

/// Compact JWS serialisation.
public enum JWT {
    /// `header.claims.signature`, each base64url without padding; header gets `alg` and `typ`.
    public static func make(header: [String: String], claims: [String: JWTClaim], signer: any JWTSigner) throws -> String {
        var fullHeader = header
        fullHeader["alg"] = signer.algorithm
        fullHeader["typ"] = "JWT"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let input = base64url(Array(try encoder.encode(fullHeader))) + "." + base64url(Array(try encoder.encode(claims)))
        return input + "." + base64url(try signer.sign(Array(input.utf8)))
    }

    /// The decoded header and claims of a compact JWT (no signature check); nil if malformed.
    public static func decode(_ token: String) -> (header: [String: Any], claims: [String: Any])? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
              let header = decodePart(parts[0]), let claims = decodePart(parts[1]) else { return nil }
        return (header, claims)
    }

    public static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func decodePart(_ part: Substring) -> [String: Any]? {
        var text = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}

/// A claim value: a string or an integer (NumericDate).
public enum JWTClaim: Encodable, Sendable, Equatable {
    case string(String)
    case int(Int64)

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        }
    }
}
