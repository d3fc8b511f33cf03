import Foundation

/// The default follow-up email (HTML and plain text): the unseen answers and a way back into the
/// chat. From the channel's own domain when it set one up, verified it in DNS and its key signs
/// (docs/email-domains.md), else the product's sender; Reply-To routes a reply back into the chat.
///
/// Bounded whatever the chat holds: the newest `maxAnswers` answers, each cut after
/// `maxAnswerCharacters` characters, and a line counting the earlier ones (they are in the chat,
/// behind the link). So an email stays under about 300 KB encoded, far below what mail servers
/// accept (commonly 10–25 MB), even for 1,500 unseen answers of 20,000 characters.
struct EmailContent: Sendable {
    static let maxAnswers = 10
    static let maxAnswerCharacters = 4_000

    var envelope: Envelope
    var subject: String
    var text: String
    var html: String

    /// Who the email is from and where replies go: the channel's settings alone (no messages).
    struct Envelope: Sendable {
        var fromName: String
        var fromAddress: String
        /// `r-<chat>-<mac>@<reply domain>` (unguessable: see `ReplyTokens`); nil without a reply secret.
        var replyTo: String?

        /// `signedDomain`: the channel's domain when a verified key signs this email (``EmailSender``).
        init(_ followUp: FollowUpContext, settings: FollowUpSettings, signedDomain: String? = nil) {
            fromName = followUp.channel.emailFromName ?? settings.defaultEmailFromName ?? followUp.channel.name
            fromAddress = EmailContent.sender(followUp.channel, signedDomain: signedDomain, settings: settings)
            replyTo = settings.replyTokens?.replyAddress(chatID: followUp.chatID)
        }
    }

    init(_ followUp: FollowUpContext, settings: FollowUpSettings) {
        let channel = followUp.channel
        envelope = Envelope(followUp, settings: settings)
        let korean = followUp.customer.language?.lowercased().hasPrefix("ko") ?? false
        let words = korean ? Words.korean : Words.english
        let company = channel.name
        subject = followUp.messages.count == 1
            ? words.subjectOne.replacingOccurrences(of: "{company}", with: company)
            : words.subjectMany.replacingOccurrences(of: "{company}", with: company)
                .replacingOccurrences(of: "{count}", with: String(followUp.messages.count))
        let greeting = followUp.customer.name.map { words.greetingNamed.replacingOccurrences(of: "{name}", with: $0) } ?? words.greeting
        let intro = words.intro.replacingOccurrences(of: "{company}", with: company)
        let link = followUp.link(chatURLBase: settings.chatURLBase)

        let shown = followUp.messages.suffix(Self.maxAnswers).map { message in
            var message = message
            if message.body.count > Self.maxAnswerCharacters { message.body = String(message.body.prefix(Self.maxAnswerCharacters - 1)) + "…" }
            return message
        }
        let earlier = followUp.messages.count - shown.count
        let earlierLine = words.earlier.replacingOccurrences(of: "{count}", with: String(earlier))

        var text = "\(greeting)\n\n\(intro)\n\n"
        if earlier > 0 { text += "\(earlierLine)\n\n" }
        for message in shown {
            let who = message.sender == "bot" ? words.bot : company
            text += "\(who):\n"
            text += message.body.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
            text += "\n\n"
        }
        // "Or simply reply" only when a reply can come back (a reply secret signs the Reply-To).
        let replies = envelope.replyTo != nil
        text += "\(words.continueHere) \(link)\n" + (replies ? "\(words.orReply)\n" : "")
        self.text = text

        var html = """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>\(Self.escape(subject))</title></head>
            <body style="font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222; max-width: 560px; margin: 0 auto; padding: 24px;">
            <p>\(Self.escape(greeting))</p>
            <p>\(Self.escape(intro))</p>

            """
        if earlier > 0 { html += "<p style=\"font-size: 12px; color: #666;\">\(Self.escape(earlierLine))</p>\n" }
        for message in shown {
            let who = message.sender == "bot" ? words.bot : company
            html += """
                <div style="border-left: 3px solid #5b5bd6; padding: 8px 12px; margin: 12px 0; background: #f6f6fb;">
                <div style="font-size: 12px; color: #666;">\(Self.escape(who))</div>
                <div>\(Self.escape(message.body).replacingOccurrences(of: "\n", with: "<br>"))</div>
                </div>

                """
        }
        html += """
            <p><a href="\(Self.escape(link))" style="display: inline-block; background: #5b5bd6; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none;">\(Self.escape(words.button))</a></p>
            \(replies ? "<p style=\"font-size: 12px; color: #666;\">\(Self.escape(words.orReply))</p>" : "")
            </body></html>

            """
        self.html = html
    }

    /// The channel's own address when its domain is the one a verified DKIM key signs for (the
    /// address at it, else support@ it); otherwise the product's sender. `email_domain_verified`
    /// alone is not enough: mail from a company's domain goes out signed, or not from it at all.
    static func sender(_ channel: FollowUpContext.Channel, signedDomain: String?, settings: FollowUpSettings) -> String {
        if let domain = channel.emailDomain?.lowercased(), domain == signedDomain?.lowercased() {
            if let address = channel.emailFromAddress, address.lowercased().hasSuffix("@" + domain) { return address }
            return "support@\(domain)"
        }
        return settings.defaultEmailFrom
    }

    /// The `List-Unsubscribe` value of a delivery's email (RFC 2369 / RFC 8058): the one-click
    /// HTTPS link when the public URL is known, and the mailto: address; nil without a secret.
    static func listUnsubscribe(deliveryID: Int64, settings: FollowUpSettings) -> String? {
        guard let tokens = settings.replyTokens else { return nil }
        var values: [String] = []
        if let base = settings.publicURL {
            values.append("<\(base)/unsubscribe/\(tokens.unsubscribeToken(deliveryID: deliveryID))>")
        }
        values.append("<mailto:\(tokens.unsubscribeAddress(deliveryID: deliveryID))?subject=unsubscribe>")
        return values.joined(separator: ", ")
    }

    /// The delivery id in one of our Message-IDs (a bounce or a reply quotes it), or nil.
    static func deliveryID(messageID: String) -> Int64? {
        let id = messageID.trimmingCharacters(in: CharacterSet(charactersIn: "<> \t"))
        guard id.hasPrefix("followup-delivery-"), let at = id.firstIndex(of: "@") else { return nil }
        return Int64(id[id.index(id.startIndex, offsetBy: "followup-delivery-".count)..<at])
    }

    /// The Message-ID of a delivery's email: the same across retries, so a resend is recognisably the same mail.
    static func messageID(deliveryID: Int64, settings: FollowUpSettings) -> String {
        "<followup-delivery-\(deliveryID)@\(settings.replyDomain)>"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    struct Words {
        var subjectOne, subjectMany, greeting, greetingNamed, intro, bot, continueHere, orReply, button, earlier: String

        static let english = Words(
            subjectOne: "{company} replied to your chat",
            subjectMany: "{company} sent you {count} new messages",
            greeting: "Hello,", greetingNamed: "Hello {name},",
            intro: "You left the chat before you could read the answer from {company}:",
            bot: "Bot", continueHere: "Continue the conversation:",
            orReply: "Or simply reply to this email.", button: "Open the chat",
            earlier: "{count} earlier messages are waiting in the chat; here are the newest.")

        static let korean = Words(
            subjectOne: "{company}에서 답변이 도착했습니다",
            subjectMany: "{company}에서 새 메시지 {count}개가 도착했습니다",
            greeting: "안녕하세요,", greetingNamed: "{name}님, 안녕하세요.",
            intro: "{company}의 답변을 확인하지 못하고 대화를 떠나셨습니다:",
            bot: "봇", continueHere: "대화 이어가기:",
            orReply: "이 이메일에 회신하셔도 됩니다.", button: "대화 열기",
            earlier: "이전 메시지 {count}개는 대화에서 확인하세요. 최근 메시지만 보여 드립니다.")
    }
}
