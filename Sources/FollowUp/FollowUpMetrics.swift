import Metrics
import Providers

/// What the delivery runner reports through swift-metrics (docs/operations.md). Labels are small
/// fixed sets (route, status, error class): never a recipient, a channel or a provider's text.
enum FollowUpMetrics {
    /// The `status` label of `deliveries_total`: what this run decided for a delivery.
    enum DeliveryOutcome: String {
        case sent, failed, unknown
        /// Failed for now; the delivery is tried again.
        case retry
    }

    /// A delivery reached an outcome this run decided.
    static func delivery(_ route: Route, _ outcome: DeliveryOutcome) {
        Counter(label: "deliveries_total", dimensions: [("route", route.rawValue), ("status", outcome.rawValue)]).increment()
        if outcome == .unknown {
            // The counter to alert on (the log line says `alert=delivery_outcome_unknown`).
            Counter(label: "delivery_outcome_unknown_total", dimensions: [("route", route.rawValue)]).increment()
        }
    }

    /// One provider call: how long it took and, when it failed, the class of error.
    static func providerCall(_ route: Route, _ elapsed: Duration, error: Error?) {
        let (seconds, attoseconds) = elapsed.components
        Timer(label: "provider_call_duration_seconds", dimensions: [("route", route.rawValue)])
            .recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        guard let error else { return }
        Counter(label: "provider_errors_total", dimensions: [("route", route.rawValue), ("class", errorClass(error))]).increment()
    }

    /// A follow-up was created, cancelled or sent (its first delivery went out).
    static func followUp(_ event: String) {
        Counter(label: "follow_ups_total", dimensions: [("event", event)]).increment()
    }

    static func errorClass(_ error: Error) -> String {
        guard let error = error as? ProviderError else { return "other" }
        switch error.reason {
        case .timeout: return "timeout"
        case .unavailable: return "unavailable"
        case .rateLimited: return "rate_limited"
        case .invalidRecipient: return "invalid_recipient"
        case .blocked: return "blocked"
        case .notAUser: return "not_a_user"
        case .unregisteredDevice: return "unregistered_device"
        case .rejected: return "rejected"
        case .declined: return "declined"
        case .badResponse: return "bad_response"
        case .unreadableSuccess: return "unreadable_success"
        case .misconfigured: return "misconfigured"
        default: return "other"
        }
    }
}
