import Foundation
import Jobs

/// The jobs of the follow-up flow. Payload keys are snake_case: SQL triggers build them too.
public enum FollowUpJobs {
    /// Is this chat's customer offline with unseen answers? One live job per chat
    /// (unique key `offline_check:<chat id>`), enqueued by the `messages` trigger.
    public struct OfflineCheck: JobPayload, Equatable {
        public static let kind = "followup.offline_check"
        public var chatID: Int64
        public init(chatID: Int64) { self.chatID = chatID }
        enum CodingKeys: String, CodingKey { case chatID = "chat_id" }
        static func uniqueKey(_ chatID: Int64) -> String { "offline_check:\(chatID)" }
    }

    /// The channel plan for a pending follow-up: push first, or text and email.
    public struct Dispatch: JobPayload, Equatable {
        public static let kind = "followup.dispatch"
        public var followUpID: Int64
        public init(followUpID: Int64) { self.followUpID = followUpID }
        enum CodingKeys: String, CodingKey { case followUpID = "follow_up_id" }
    }

    /// One attempt at one delivery (push, messenger, SMS/LMS or email).
    public struct Deliver: JobPayload, Equatable {
        public static let kind = "followup.deliver"
        public var deliveryID: Int64
        public init(deliveryID: Int64) { self.deliveryID = deliveryID }
        enum CodingKeys: String, CodingKey { case deliveryID = "delivery_id" }
    }

    /// The push acknowledgement deadline: a receipt ends the follow-up, none → text and email.
    /// Unique key `push_timeout:<follow-up id>`; a push receipt pulls it forward.
    public struct PushTimeout: JobPayload, Equatable {
        public static let kind = "followup.push_timeout"
        public var followUpID: Int64
        public init(followUpID: Int64) { self.followUpID = followUpID }
        enum CodingKeys: String, CodingKey { case followUpID = "follow_up_id" }
        static func uniqueKey(_ followUpID: Int64) -> String { "push_timeout:\(followUpID)" }
    }

    /// Makes the DKIM key of a `channel_email_domains` row the app inserted without one
    /// (enqueued by that table's trigger, unique key `email_domain_keys:<id>`).
    public struct EmailDomainKeys: JobPayload, Equatable {
        public static let kind = "followup.email_domain_keys"
        public var domainKeyID: Int64
        public init(domainKeyID: Int64) { self.domainKeyID = domainKeyID }
        enum CodingKeys: String, CodingKey { case domainKeyID = "domain_key_id" }
    }

    /// Asks the messenger gateway for a sent message's final result until it has one; a late
    /// failure sends the SMS/LMS instead. Unique key `messenger_result:<delivery id>`.
    public struct MessengerResult: JobPayload, Equatable {
        public static let kind = "followup.messenger_result"
        public var deliveryID: Int64
        public init(deliveryID: Int64) { self.deliveryID = deliveryID }
        enum CodingKeys: String, CodingKey { case deliveryID = "delivery_id" }
        static func uniqueKey(_ deliveryID: Int64) -> String { "messenger_result:\(deliveryID)" }
    }
}
