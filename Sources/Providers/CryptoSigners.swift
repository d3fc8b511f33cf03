// Real JWT signers, compiled only when the Providers target depends on swift-crypto
// (`.product(name: "Crypto", package: "swift-crypto")` for ES256 and
// `.product(name: "_CryptoExtras", package: "swift-crypto")` for RS256). Without it this file is
// empty and production APNs/FCM service-account auth needs a signer passed in (see ProviderSet).

#if canImport(Crypto)
import Crypto
import Foundation

/// ES256 (ECDSA P-256 with SHA-256), as APNs token authentication needs, over the team's `.p8`
/// key. The signature is JWS's raw `r || s` (64 bytes).
public struct ES256Signer: JWTSigner {
    // The key's bytes, not the key: swift-crypto's key types are not Sendable. Rebuilding the key
    // per signature is cheap, and tokens are cached for most of an hour.
    private let keyBytes: Data
    public var algorithm: String { "ES256" }

    /// - Parameter pem: the `.p8` file's contents (`-----BEGIN PRIVATE KEY-----`, PKCS#8).
    public init(pem: String) throws {
        keyBytes = try P256.Signing.PrivateKey(pemRepresentation: pem).rawRepresentation
    }

    public func sign(_ signingInput: [UInt8]) throws -> [UInt8] {
        let key = try P256.Signing.PrivateKey(rawRepresentation: keyBytes)
        return Array(try key.signature(for: signingInput).rawRepresentation)
    }
}

extension ProviderSet {
    /// With swift-crypto linked, APNs `.p8` keys are signed with ``ES256Signer``.
    public static let defaultAPNsSigner: APNsSignerFactory? = { pem in try ES256Signer(pem: pem) }
}
#else
extension ProviderSet {
    /// Without swift-crypto there is no built-in ES256 signer.
    public static let defaultAPNsSigner: APNsSignerFactory? = nil
}
#endif

#if canImport(_CryptoExtras)
import Crypto
import _CryptoExtras
import Foundation

/// RS256 (RSASSA-PKCS1-v1_5 with SHA-256), as Google's service-account JWT-bearer grant needs.
public struct RS256Signer: JWTSigner {
    // The key's DER bytes, not the key: swift-crypto's key types are not Sendable.
    private let keyBytes: Data
    public var algorithm: String { "RS256" }

    /// - Parameter pem: the service account's `private_key` (`-----BEGIN PRIVATE KEY-----`).
    public init(pem: String) throws {
        keyBytes = try _RSA.Signing.PrivateKey(pemRepresentation: pem).derRepresentation
    }

    public func sign(_ signingInput: [UInt8]) throws -> [UInt8] {
        let key = try _RSA.Signing.PrivateKey(derRepresentation: keyBytes)
        return Array(try key.signature(for: SHA256.hash(data: signingInput), padding: .insecurePKCS1v1_5).rawRepresentation)
    }
}

extension ProviderSet {
    /// With swift-crypto's extras linked, service-account keys are signed with ``RS256Signer``.
    public static let defaultGoogleSigner: GoogleSignerFactory? = { pem in try RS256Signer(pem: pem) }
}
#else
extension ProviderSet {
    /// Without swift-crypto's extras there is no built-in RS256 signer.
    public static let defaultGoogleSigner: GoogleSignerFactory? = nil
}
#endif
