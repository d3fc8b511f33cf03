import Crypto
import _CryptoExtras
import Foundation

/// A DKIM signing key for one domain and selector. Its description names the domain and
/// selector only: the key never reaches a log line or an error message.
public struct DKIMPrivateKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let domain: String
    public let selector: String
    // The key's DER bytes, not the key: swift-crypto's key types are not Sendable. Internal, not
    // public: tests (@testable) look for it in logs and reports; nothing else reads it.
    let der: Data

    /// A new RSA-2048 key pair.
    public static func generate(domain: String, selector: String) throws -> DKIMPrivateKey {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        return DKIMPrivateKey(domain: domain, selector: selector, der: key.derRepresentation)
    }

    public init(domain: String, selector: String, der: Data) {
        self.domain = domain
        self.selector = selector
        self.der = der
    }

    /// The `p=` value of the DNS record: the public key as base64 DER SubjectPublicKeyInfo.
    public func publicKeyBase64() throws -> String {
        try _RSA.Signing.PrivateKey(derRepresentation: der).publicKey.derRepresentation.base64EncodedString()
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `input`.
    func signature(for input: [UInt8]) throws -> Data {
        let key = try _RSA.Signing.PrivateKey(derRepresentation: der)
        return try key.signature(for: SHA256.hash(data: input), padding: .insecurePKCS1v1_5).rawRepresentation
    }

    /// Seals the private key with `secrets` for storage; the domain and selector are bound to it
    /// (a sealed key copied to another row does not open).
    public func sealed(with secrets: SecretsKey) throws -> Data {
        try secrets.seal(der, context: "dkim:\(domain):\(selector)")
    }

    /// Opens a key sealed by ``sealed(with:)`` for this domain and selector.
    public static func open(_ sealed: Data, domain: String, selector: String, with secrets: SecretsKey) throws -> DKIMPrivateKey {
        let der = try secrets.open(sealed, context: "dkim:\(domain):\(selector)")
        return DKIMPrivateKey(domain: domain, selector: selector, der: der)
    }

    public var description: String { "DKIMPrivateKey(\(selector)._domainkey.\(domain), redacted)" }
    public var debugDescription: String { description }
    /// `dump()` and debuggers see the domain and selector only.
    public var customMirror: Mirror { Mirror(self, children: ["domain": domain, "selector": selector]) }
}

/// The key that seals stored secrets (DKIM private keys): `FOLLOWUP_SECRETS_KEY`, 32 random
/// bytes in base64 (`openssl rand -base64 32`), AES-256-GCM. Never printed.
public struct SecretsKey: Sendable, CustomStringConvertible {
    public static let variable = "FOLLOWUP_SECRETS_KEY"
    private let bytes: Data

    /// Parses the variable's value; the error says what is wrong without echoing it.
    public init(base64 text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Data(base64Encoded: trimmed) else {
            throw SecretsKeyError("\(Self.variable) is not valid base64; set it to 32 random bytes in base64 (openssl rand -base64 32)")
        }
        guard bytes.count == 32 else {
            throw SecretsKeyError("\(Self.variable) decodes to \(bytes.count) bytes; it must be exactly 32 (openssl rand -base64 32)")
        }
        self.bytes = bytes
    }

    /// From the environment: nil when unset or empty, an error when malformed.
    public static func from(environment: [String: String]) throws -> SecretsKey? {
        guard let value = environment[variable], !value.isEmpty else { return nil }
        return try SecretsKey(base64: value)
    }

    /// The clear error for "a secret is needed but the key is not configured".
    public static var missing: SecretsKeyError {
        SecretsKeyError("\(variable) is not set; it seals the DKIM private keys: set it to 32 random bytes in base64 (openssl rand -base64 32), the same on every poller")
    }

    /// A fresh random key, for tests and the demo.
    public static func random() -> SecretsKey {
        try! SecretsKey(base64: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString())
    }

    /// The key as base64 (what `FOLLOWUP_SECRETS_KEY` holds), for handing to a child process.
    public var base64: String { bytes.base64EncodedString() }

    func seal(_ plaintext: Data, context: String) throws -> Data {
        let box = try AES.GCM.seal(plaintext, using: SymmetricKey(data: bytes), authenticating: Data(context.utf8))
        guard let combined = box.combined else { throw SecretsKeyError("sealing failed") }
        return combined
    }

    func open(_ sealed: Data, context: String) throws -> Data {
        do {
            return try AES.GCM.open(try AES.GCM.SealedBox(combined: sealed), using: SymmetricKey(data: bytes),
                                    authenticating: Data(context.utf8))
        } catch {
            throw SecretsKeyError("a stored key does not open with \(Self.variable) (a different key than the one it was sealed with?)")
        }
    }

    public var description: String { "SecretsKey(redacted)" }
}

public struct SecretsKeyError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
