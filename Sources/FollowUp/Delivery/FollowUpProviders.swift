import Foundation
import Providers

/// The providers the follow-up flow sends through, by route.
public struct FollowUpProviders: Sendable {
    /// Mobile push (e.g. a `PushRouter` over FCM and APNs); nil: push always fails over to text and email.
    public var push: (any PushProvider)?
    /// Kakao AlimTalk-style messenger; nil: messenger deliveries fail over to SMS/LMS.
    public var messenger: (any MessengerProvider)?
    /// SMS/LMS.
    public var text: any TextProvider
    /// Email.
    public var email: any EmailProvider

    public init(push: (any PushProvider)?, messenger: (any MessengerProvider)?, text: any TextProvider, email: any EmailProvider) {
        self.push = push
        self.messenger = messenger
        self.text = text
        self.email = email
    }
}

extension FollowUpProviders {
    /// The follow-up routes of a configured provider set.
    public init(_ set: ProviderSet) {
        self.init(push: set.push, messenger: set.messenger, text: set.text, email: set.email)
    }
}
