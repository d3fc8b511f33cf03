import Foundation

/// Whether a customer is on the website, by the seed's rule: offline when they left the site,
/// are viewing another tab or page (`tab_hidden`), or sent no activity for the channel's timeout
/// (4.5 minutes by default). Anything else recent (`heartbeat`, `page_view`, `tab_visible`) is online.
public enum Presence: Sendable, Equatable {
    /// Online; counts as offline in `seconds` unless more activity arrives.
    case online(offlineInSeconds: Double)
    /// Offline since `since` (database time), for `reason` (in words).
    case offline(since: Date, reason: String)

    /// The rule itself. `latest` is the newest activity row (kind, time); nil when the customer
    /// never sent any, which counts as offline since `fallbackSince` (e.g. the chat's start).
    public static func decide(latest: (kind: ActivityKind, at: Date)?, now: Date, timeoutSeconds: Double,
                              fallbackSince: Date) -> Presence {
        guard let latest else { return .offline(since: fallbackSince, reason: "no activity recorded") }
        switch latest.kind {
        case .left:
            return .offline(since: latest.at, reason: "left the website")
        case .tabHidden:
            return .offline(since: latest.at, reason: "viewing another tab or page")
        case .heartbeat, .pageView, .tabVisible:
            let quiet = now.timeIntervalSince(latest.at)
            if quiet >= timeoutSeconds {
                return .offline(since: latest.at.addingTimeInterval(timeoutSeconds),
                                reason: "no activity for \(describe(seconds: timeoutSeconds))")
            }
            return .online(offlineInSeconds: timeoutSeconds - quiet)
        }
    }

    /// "4m30s", "30s", "1.5s".
    static func describe(seconds: Double) -> String {
        if seconds < 60 {
            return seconds == seconds.rounded() ? "\(Int(seconds))s" : String(format: "%.1fs", seconds)
        }
        let whole = Int(seconds.rounded())
        return whole % 60 == 0 ? "\(whole / 60)m" : "\(whole / 60)m\(whole % 60)s"
    }
}
