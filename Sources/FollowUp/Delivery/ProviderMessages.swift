import Foundation
import Providers

/// Each provider's message for one delivery (step 2 of `DeliveryRunner`): what the push, the
/// messenger, the SMS/LMS and the email carry, and which provider of `FollowUpProviders` takes it.
///
/// These are extensions of the `Providers` module's message types, kept in `FollowUp` because they
/// read a delivery row and its follow-up (`DeliveryRecord`, `FollowUpContext`, `EmailContent`),
/// which `Providers` must not know. The runner decides *whether* and *when* to send; this file is
/// *what* is sent.
extension FollowUpProviders {
    /// Sends `delivery` through the provider of its route, with the delivery id as idempotency key
    /// (messenger, SMS/LMS), Message-ID (email) or collapse id (push). Returns the provider's id.
    func send(_ delivery: DeliveryRecord, _ followUp: FollowUpContext, settings: FollowUpSettings) async throws -> String {
        switch delivery.route {
        case .push:
            guard let platform = delivery.platform.flatMap(PushPlatform.init(rawValue:)), let push = self.push else {
                throw ProviderError(.final, ProviderError.Reason("push is not configured for \(delivery.platform ?? "this platform")"))
            }
            return try await push.send(PushNotification(delivery, followUp, platform: platform))
        case .messenger:
            guard let messenger = self.messenger, let message = MessengerMessage(delivery, followUp) else {
                throw ProviderError(.final, ProviderError.Reason("messenger is not configured"))
            }
            return try await messenger.send(message)
        case .sms, .lms:
            return try await text.send(TextMessage(delivery, followUp, settings: settings))
        case .email:
            return try await email.send(EmailMessage(delivery, followUp, settings: settings))
        }
    }
}

extension PushNotification {
    /// The push: the answer's preview, and the data the app's SDK quotes back in its receipt
    /// (docs/app-contract.md). One collapse id per follow-up, so a resend replaces, never repeats.
    init(_ delivery: DeliveryRecord, _ followUp: FollowUpContext, platform: PushPlatform) {
        self.init(
            platform: platform, deviceToken: delivery.recipient ?? "", title: delivery.subject ?? followUp.channel.name,
            body: delivery.body ?? "",
            data: ["follow_up_id": String(followUp.followUpID), "chat_id": String(followUp.chatID),
                   "delivery_id": String(delivery.id), "device_id": delivery.deviceID.map(String.init) ?? "",
                   "receipt_token": delivery.receiptToken ?? ""],
            collapseKey: "followup-\(followUp.followUpID)")
    }
}

extension MessengerMessage {
    /// The messenger text as planned; nil when the channel has no sender key or template.
    init?(_ delivery: DeliveryRecord, _ followUp: FollowUpContext) {
        guard let senderKey = followUp.channel.messengerSenderKey, let templateCode = followUp.channel.messengerTemplateCode else {
            return nil
        }
        self.init(phone: delivery.recipient ?? "", senderKey: senderKey, templateCode: templateCode,
                  text: delivery.body ?? "", idempotencyKey: delivery.idempotencyKey)
    }
}

extension TextMessage {
    /// The SMS or LMS (an LMS has a subject), from the channel's sender or the product's. Also what
    /// reconciliation looks up at the provider.
    init(_ delivery: DeliveryRecord, _ followUp: FollowUpContext, settings: FollowUpSettings) {
        self.init(to: delivery.recipient ?? "", from: followUp.channel.smsFrom ?? settings.defaultSMSFrom,
                  body: delivery.body ?? "", route: delivery.route == .lms ? .lms : .sms,
                  subject: delivery.route == .lms ? delivery.subject : nil, idempotencyKey: delivery.idempotencyKey)
    }
}

extension EmailMessage {
    /// The email: From and DKIM key as chosen when it was marked `sending` (`EmailSender`), the
    /// content as planned (composed now for rows from before the HTML was stored), a Message-ID
    /// from the delivery id, the unsubscribe header and the bounce address.
    init(_ delivery: DeliveryRecord, _ followUp: FollowUpContext, settings: FollowUpSettings) {
        let sender = delivery.emailSender
        let envelope = EmailContent.Envelope(followUp, settings: settings, signedDomain: sender?.signedDomain)
        let composed = delivery.html == nil || delivery.subject == nil || delivery.body == nil
            ? EmailContent(followUp, settings: settings) : nil
        self.init(
            fromName: envelope.fromName, fromAddress: envelope.fromAddress, to: delivery.recipient ?? "",
            toName: followUp.customer.name, replyTo: envelope.replyTo, subject: delivery.subject ?? composed?.subject ?? "",
            text: delivery.body ?? composed?.text ?? "", html: delivery.html ?? composed?.html ?? "",
            messageID: EmailContent.messageID(deliveryID: delivery.id, settings: settings), dkim: sender?.key,
            listUnsubscribe: EmailContent.listUnsubscribe(deliveryID: delivery.id, settings: settings),
            returnPath: settings.replyTokens?.bounceAddress(deliveryID: delivery.id))
    }
}
