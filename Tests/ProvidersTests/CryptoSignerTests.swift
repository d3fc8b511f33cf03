import _CryptoExtras
import Crypto
import Foundation
import Providers
import Testing

@Suite("JWT signers")
struct CryptoSignerTests {
    func signingInput(_ token: String) -> (input: [UInt8], signature: Data) {
        let parts = token.split(separator: ".")
        var base64 = String(parts[2]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return (Array("\(parts[0]).\(parts[1])".utf8), Data(base64Encoded: base64)!)
    }

    @Test("ES256 (APNs): a JWT signed with a .p8 key verifies with its public key")
    func es256() throws {
        let key = P256.Signing.PrivateKey()
        let signer = try ES256Signer(pem: key.pemRepresentation)
        let token = try JWT.make(header: ["alg": "ES256", "kid": "ABC123"], claims: ["iss": .string("TEAM"), "iat": .int(1_790_000_000)], signer: signer)
        let (input, signature) = signingInput(token)
        #expect(signature.count == 64)
        let parsed = try P256.Signing.ECDSASignature(rawRepresentation: signature)
        #expect(key.publicKey.isValidSignature(parsed, for: input))
        #expect(!key.publicKey.isValidSignature(parsed, for: Array("tampered".utf8)))
    }

    @Test("RS256 (FCM service account): the signature verifies with the public key")
    func rs256() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let signer = try RS256Signer(pem: key.pemRepresentation)
        let token = try JWT.make(header: ["alg": "RS256"], claims: ["iss": .string("svc@project")], signer: signer)
        let (input, signature) = signingInput(token)
        #expect(key.publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: input), padding: .insecurePKCS1v1_5))
    }

    @Test("a malformed key is an error, not a crash")
    func badKey() {
        #expect(throws: (any Error).self) { try ES256Signer(pem: "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----") }
    }
}
