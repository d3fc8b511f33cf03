import Crypto
import Foundation

/// Twilio's webhook signature (`X-Twilio-Signature`), exactly as Twilio specifies it:
///
/// 1. take the full URL Twilio requested (scheme, host, path and query string, as Twilio was
///    told it — for us `FOLLOWUP_PUBLIC_URL` + the request's path and query);
/// 2. for a POST with form parameters, sort the parameters by name and append each name
///    immediately followed by its value, no delimiters (a repeated name: its values sorted too, as Twilio's own libraries do);
/// 3. HMAC-SHA1 that string keyed by the account's auth token; base64 is the signature.
///
/// Twilio's published example (auth token `12345`, URL
/// `https://mycompany.com/myapp.php?foo=1&bar=2`, `CallSid=CA1234567890ABCDE`,
/// `Caller=+14158675310`, `Digits=1234`, `From=+14158675310`, `To=+18005551212`) signs as
/// `GvWf1cFY/Q7PnoempGyD5oXAezc=`; the test suite checks it.
public struct TwilioSignature: Sendable {
    /// The key's bytes (swift-crypto's `SymmetricKey` is not `Sendable`; one is made per use).
    private let secret: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: secret) }

    public init(authToken: String) {
        secret = Array(authToken.utf8)
    }

    /// The string Twilio signs.
    public static func payload(url: String, parameters: [(String, String)]) -> String {
        let sorted = parameters.sorted { a, b in
            a.0 != b.0 ? a.0.utf8.lexicographicallyPrecedes(b.0.utf8) : a.1.utf8.lexicographicallyPrecedes(b.1.utf8)
        }
        return url + sorted.map { $0.0 + $0.1 }.joined()
    }

    /// The signature Twilio would send for this request.
    public func signature(url: String, parameters: [(String, String)]) -> String {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(Self.payload(url: url, parameters: parameters).utf8), using: key)
        return Data(mac).base64EncodedString()
    }

    /// Whether `header` is the valid signature of this request (compared in constant time).
    public func isValid(_ header: String?, url: String, parameters: [(String, String)]) -> Bool {
        guard let header, let given = Data(base64Encoded: header.trimmingCharacters(in: .whitespaces)) else { return false }
        let payload = Data(Self.payload(url: url, parameters: parameters).utf8)
        return HMAC<Insecure.SHA1>.isValidAuthenticationCode(given, authenticating: payload, using: key)
    }
}
