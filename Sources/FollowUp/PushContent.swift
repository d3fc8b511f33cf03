import Foundation

/// The push notification for a follow-up: the company as title, the newest answer as text.
struct PushContent: Sendable {
    var title: String
    var body: String

    init(_ followUp: FollowUpContext) {
        title = followUp.channel.name
        let latest = followUp.messages.last?.body.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let more = followUp.messages.count > 1 ? " (+\(followUp.messages.count - 1))" : ""
        body = Self.shorten(latest, to: 150) + more
    }

    /// Cuts on a character boundary and marks the cut with "…".
    static func shorten(_ text: String, to limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// Device tokens as the providers issue them: APNs 64+ hex digits, FCM a long URL-safe string.
    /// Anything else is the app's mistake and is not sent.
    static func isWellFormed(token: String, platform: String) -> Bool {
        switch platform {
        case "ios":
            return token.count >= 64 && token.count <= 200 && token.allSatisfy(\.isHexDigit)
        case "android":
            return token.count >= 32 && token.count <= 4096
                && token.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_:.".unicodeScalars.contains($0)) }
        default:
            return false
        }
    }
}
