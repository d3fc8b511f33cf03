import FollowUp
import Foundation
import Providers

/// What `followup serve` reads from the environment (docs/webhooks.md). Each route group is on
/// when its secrets are set, and `serve` logs which groups it serves:
///
/// | variable | needed by | meaning |
/// |---|---|---|
/// | `FOLLOWUP_PUBLIC_URL` | Twilio, unsubscribe links | the URL the internet reaches `serve` at, e.g. `https://hooks.example.com`; Twilio signs `FOLLOWUP_PUBLIC_URL` + path |
/// | `FOLLOWUP_TWILIO_AUTH_TOKEN` | Twilio | the key of `X-Twilio-Signature` (the same token `run` sends with) |
/// | `FOLLOWUP_REPLY_SECRET` | email, unsubscribe | signs reply addresses and unsubscribe tokens (≥ 16 characters; the same value `run` has) |
/// | `FOLLOWUP_REPLY_DOMAIN` | email | the domain of reply addresses (default `reply.followup.example`) |
/// | `FOLLOWUP_INBOUND_MAIL_SECRET` | email webhook | the shared secret a mail provider sends in `X-Followup-Secret` |
/// | `FOLLOWUP_SMS_FROM` | Twilio inbound | the product's default SMS sender, shared by channels without `sms_from` |
public struct ServerSettings: Sendable {
    public var followUps: FollowUpSettings
    public var publicURL: String?
    public var twilioAuthToken: String?
    public var inboundMailSecret: String?
    /// Largest request body read, in bytes (raw mail can be large; forms are small).
    public var maxFormBytes = 64 * 1024

    public init(followUps: FollowUpSettings, publicURL: String?, twilioAuthToken: String?, inboundMailSecret: String?) {
        self.followUps = followUps
        self.publicURL = publicURL
        self.twilioAuthToken = twilioAuthToken
        self.inboundMailSecret = inboundMailSecret
    }

    /// Reads the variables above. - Throws: ``FollowUpSettingsError`` naming a malformed variable.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var followUps = FollowUpSettings()
        try followUps.readTwoWay(from: environment)
        func value(_ name: String) -> String? {
            guard let raw = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else { return nil }
            return raw
        }
        if let sender = value("FOLLOWUP_SMS_FROM") { followUps.defaultSMSFrom = sender }
        let secret = value("FOLLOWUP_INBOUND_MAIL_SECRET")
        if let secret, secret.utf8.count < 16 {
            throw FollowUpSettingsError(variable: "FOLLOWUP_INBOUND_MAIL_SECRET", problem: "must be at least 16 characters")
        }
        self.init(followUps: followUps, publicURL: followUps.publicURL, twilioAuthToken: value("FOLLOWUP_TWILIO_AUTH_TOKEN"),
                  inboundMailSecret: secret)
    }

    /// The route groups these settings switch on, for the start-up log.
    public var enabledGroups: [String] {
        var groups: [String] = []
        if publicURL != nil && twilioAuthToken != nil { groups.append("twilio") }
        if followUps.replyTokens != nil && inboundMailSecret != nil { groups.append("email") }
        if followUps.replyTokens != nil { groups.append("unsubscribe") }
        return groups
    }
}
