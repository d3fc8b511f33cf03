/// Sends each push through the provider for its platform: FCM for Android, APNs for iOS.
/// A platform without a provider is a final `.misconfigured` (the caller falls back to text).
public struct PushRouter: PushProvider {
    public var android: (any PushProvider)?
    public var ios: (any PushProvider)?

    public init(android: (any PushProvider)?, ios: (any PushProvider)?) {
        self.android = android
        self.ios = ios
    }

    public func send(_ notification: PushNotification) async throws -> String {
        let provider = switch notification.platform {
        case .android: android
        case .ios: ios
        }
        guard let provider else {
            throw ProviderError(.final, .misconfigured, providerCode: "no \(notification.platform.rawValue) push provider")
        }
        return try await provider.send(notification)
    }
}
