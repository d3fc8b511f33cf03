import Foundation

/// An RFC 3464 delivery status notification (a bounce): `multipart/report;
/// report-type=delivery-status` with a `message/delivery-status` part of per-recipient fields
/// (`Final-Recipient`, `Action`, `Status`, `Diagnostic-Code`) and the returned message or its
/// headers (`message/rfc822`, `text/rfc822-headers`), whose Message-ID names our delivery.
struct DeliveryStatusNotification: Sendable {
    struct Recipient: Sendable {
        var address: String
        /// failed, delayed, delivered, relayed, expanded.
        var action: String
        /// e.g. 5.1.1 (permanent) or 4.2.2 (transient).
        var status: String
        var isHardBounce: Bool { action == "failed" && status.hasPrefix("5") }
    }

    var recipients: [Recipient]
    /// The Message-ID of the message that bounced, if the report carries it.
    var originalMessageID: String?

    /// Nil when `message` is not a delivery status report.
    init?(_ message: MailMessage) {
        guard message.contentType == "multipart/report",
              message.parameters["report-type"]?.lowercased() == "delivery-status",
              let status = message.parts.first(where: { $0.contentType == "message/delivery-status" }) else { return nil }
        // The status part is one block of per-message fields, then one block per recipient.
        let text = String(decoding: status.content, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        var recipients: [Recipient] = []
        for block in text.components(separatedBy: "\n\n") {
            guard let (fields, _) = try? MailMessage.split(Array((block.trimmingCharacters(in: .newlines) + "\n\n").utf8)) else { continue }
            guard let final = MailMessage.first("Final-Recipient", in: fields) ?? MailMessage.first("Original-Recipient", in: fields),
                  let action = MailMessage.first("Action", in: fields) else { continue }
            let address = final.split(separator: ";", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? final
            let code = (MailMessage.first("Status", in: fields) ?? "").split(separator: " ").first.map(String.init) ?? ""
            recipients.append(Recipient(address: address.lowercased(), action: action.lowercased().trimmingCharacters(in: .whitespaces),
                                        status: code))
        }
        self.recipients = recipients
        // The returned message (or its headers): a part's content is itself a header block.
        var originalID: String?
        for part in message.parts where ["message/rfc822", "text/rfc822-headers", "message/rfc822-headers"].contains(part.contentType) {
            if let (headers, _) = try? MailMessage.split(part.content), let id = MailMessage.first("Message-ID", in: headers) {
                originalID = id
                break
            }
        }
        originalMessageID = originalID
    }
}
