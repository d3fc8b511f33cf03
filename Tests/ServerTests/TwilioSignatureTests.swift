import Providers
import Testing

@Suite("Twilio request signatures")
struct TwilioSignatureTests {
    // Twilio's published example (security docs): auth token 12345, this URL and these POST
    // parameters sign as GvWf1cFY/Q7PnoempGyD5oXAezc=. (The example's phone numbers are
    // +14158675310; with +12349013030 the same algorithm gives 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.)
    static let url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    static let parameters = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675310"), ("Digits", "1234"),
                             ("From", "+14158675310"), ("To", "+18005551212")]
    let signer = TwilioSignature(authToken: "12345")

    @Test("Twilio's published example vector")
    func publishedVector() {
        #expect(signer.signature(url: Self.url, parameters: Self.parameters) == "GvWf1cFY/Q7PnoempGyD5oXAezc=")
        #expect(signer.isValid("GvWf1cFY/Q7PnoempGyD5oXAezc=", url: Self.url, parameters: Self.parameters))
    }

    @Test("the parameters' order does not matter: they are sorted by name")
    func orderIndependent() {
        #expect(signer.isValid("GvWf1cFY/Q7PnoempGyD5oXAezc=", url: Self.url, parameters: Self.parameters.reversed()))
    }

    @Test("a changed parameter, URL or token is refused; so is no signature")
    func refused() {
        var changed = Self.parameters
        changed[2] = ("Digits", "1235")
        #expect(!signer.isValid("GvWf1cFY/Q7PnoempGyD5oXAezc=", url: Self.url, parameters: changed))
        #expect(!signer.isValid("GvWf1cFY/Q7PnoempGyD5oXAezc=", url: Self.url + "&baz=3", parameters: Self.parameters))
        #expect(!signer.isValid("GvWf1cFY/Q7PnoempGyD5oXAezc=", url: "http://mycompany.com/myapp.php?foo=1&bar=2", parameters: Self.parameters))
        #expect(!TwilioSignature(authToken: "12346").isValid("GvWf1cFY/Q7PnoempGyD5oXAezc=", url: Self.url, parameters: Self.parameters))
        #expect(!signer.isValid(nil, url: Self.url, parameters: Self.parameters))
        #expect(!signer.isValid("not base64!", url: Self.url, parameters: Self.parameters))
    }
}
