import Foundation
import Outbound

/// One provider of each kind, as the follow-up and wallet code use them. Push, messenger and
/// payments are optional (not every deployment has an app, a messenger channel or auto-charge);
/// text and email always exist.
public struct ProviderSet: Sendable {
    public var push: (any PushProvider)?
    public var messenger: (any MessengerProvider)?
    public var text: any TextProvider
    public var email: any EmailProvider
    public var payments: (any PaymentProvider)?

    public init(push: (any PushProvider)?, messenger: (any MessengerProvider)?, text: any TextProvider,
                email: any EmailProvider, payments: (any PaymentProvider)?) {
        self.push = push
        self.messenger = messenger
        self.text = text
        self.email = email
        self.payments = payments
    }

    /// Makes an ES256 signer from the contents of an APNs `.p8` key (PEM). Foundation on Linux
    /// cannot sign P-256, so production passes one backed by a crypto library (swift-crypto).
    public typealias APNsSignerFactory = @Sendable (_ p8PEM: String) throws -> any JWTSigner

    /// Makes an RS256 signer from a service account's `private_key` (PEM), for the OAuth2
    /// JWT-bearer exchange that mints FCM access tokens.
    public typealias GoogleSignerFactory = @Sendable (_ privateKeyPEM: String) throws -> any JWTSigner

    /// The real adapters, configured by `settings`, all sharing `client`.
    ///
    /// - Parameters:
    ///   - apnsSigner: needed when `settings.apns` has a key file (built in when swift-crypto is
    ///     linked). Against a loopback APNs fake without a key file, an ``UnsignedTestSigner`` is used.
    ///   - googleSigner: needed when FCM uses a service-account file (built in with swift-crypto's extras).
    /// - Throws: ``ProviderSettingsError`` when a key file cannot be read or no signer is at hand.
    public init(settings: ProviderSettings, client: OutboundClient,
                apnsSigner: APNsSignerFactory? = ProviderSet.defaultAPNsSigner,
                googleSigner: GoogleSignerFactory? = ProviderSet.defaultGoogleSigner) throws {
        func endpoint(_ baseURL: String) -> ProviderEndpoint {
            ProviderEndpoint(client: client, baseURL: baseURL, timeout: settings.timeout)
        }

        text = TwilioText(endpoint: endpoint(settings.twilio.baseURL), accountSID: settings.twilio.accountSID,
                          authToken: settings.twilio.authToken, statusCallbackBase: settings.twilio.statusCallback)
        email = SMTPEmail(client: client, server: SMTPServer(
            url: settings.smtp.url, username: settings.smtp.user, password: settings.smtp.password,
            startTLS: settings.smtp.startTLS, timeout: settings.timeout))
        messenger = settings.kakao.map { KakaoBizMessage(endpoint: endpoint($0.baseURL), secretKey: $0.secretKey) }
        payments = settings.stripe.map { StripePayments(endpoint: endpoint($0.baseURL), secretKey: $0.secretKey) }

        var android: (any PushProvider)?
        if let fcm = settings.fcm {
            let tokens: any AccessTokenSource
            switch fcm.credential {
            case .accessToken(let token):
                tokens = StaticAccessToken(token)
            case .serviceAccountFile(let path):
                tokens = try Self.serviceAccount(path: path, client: client, timeout: settings.timeout, signer: googleSigner)
            }
            android = FCMPush(endpoint: endpoint(fcm.baseURL), projectID: fcm.projectID, tokens: tokens)
        }
        var ios: (any PushProvider)?
        if let apns = settings.apns {
            let signer: any JWTSigner
            if let keyFile = apns.keyFile {
                guard let apnsSigner else {
                    throw ProviderSettingsError(
                        variable: "FOLLOWUP_APNS_KEY_FILE",
                        problem: "is set, but this build has no ES256 signer for APNs tokens")
                }
                guard let pem = try? String(contentsOfFile: keyFile, encoding: .utf8) else {
                    throw ProviderSettingsError(variable: "FOLLOWUP_APNS_KEY_FILE", problem: "names a file that cannot be read")
                }
                do {
                    signer = try apnsSigner(pem)
                } catch {
                    throw ProviderSettingsError(variable: "FOLLOWUP_APNS_KEY_FILE", problem: "is not a valid .p8 key")
                }
            } else {
                signer = UnsignedTestSigner(algorithm: "ES256")
            }
            ios = APNsPush(endpoint: endpoint(apns.baseURL), topic: apns.topic,
                           auth: APNsAuthToken(keyID: apns.keyID, teamID: apns.teamID, signer: signer))
        }
        push = android == nil && ios == nil ? nil : PushRouter(android: android, ios: ios)
    }

    /// Reads a Google service-account JSON key into a token source.
    private static func serviceAccount(path: String, client: OutboundClient, timeout: Duration,
                                       signer: GoogleSignerFactory?) throws -> ServiceAccountAccessToken {
        let variable = "FOLLOWUP_FCM_SERVICE_ACCOUNT_FILE"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProviderSettingsError(variable: variable, problem: "names a file that cannot be read")
        }
        guard let account = try? JSONDecoder().decode(ServiceAccountKey.self, from: data) else {
            throw ProviderSettingsError(variable: variable, problem: "is not a service-account JSON key (client_email, private_key)")
        }
        guard let signer else {
            throw ProviderSettingsError(variable: variable, problem: "is set, but this build has no RS256 signer for service-account tokens")
        }
        let tokenURI = account.token_uri ?? "https://oauth2.googleapis.com/token"
        guard tokenURI.hasPrefix("https://") || tokenURI.hasPrefix("http://127.0.0.1") || tokenURI.hasPrefix("http://localhost") else {
            throw ProviderSettingsError(variable: variable, problem: "has a token_uri that is not https")
        }
        let jwtSigner: any JWTSigner
        do {
            jwtSigner = try signer(account.private_key)
        } catch {
            throw ProviderSettingsError(variable: variable, problem: "has a private_key that cannot be used")
        }
        return ServiceAccountAccessToken(client: client, tokenURI: tokenURI, clientEmail: account.client_email,
                                         keyID: account.private_key_id, signer: jwtSigner, timeout: timeout)
    }
}

/// The fields of a Google service-account key file this module uses.
struct ServiceAccountKey: Decodable {
    var client_email: String
    var private_key: String
    var private_key_id: String?
    var token_uri: String?
}
