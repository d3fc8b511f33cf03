import Foundation
@testable import FollowUp
import Testing

/// The seed's offline rule, as a pure function.
@Suite("Presence rule") struct PresenceTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let start = Date(timeIntervalSince1970: 1_700_000_000)

    @Test("left and a hidden tab are offline at once")
    func leftAndHidden() {
        let at = now.addingTimeInterval(-1)
        #expect(Presence.decide(latest: (.left, at), now: now, timeoutSeconds: 270, fallbackSince: start)
                == .offline(since: at, reason: "left the website"))
        #expect(Presence.decide(latest: (.tabHidden, at), now: now, timeoutSeconds: 270, fallbackSince: start)
                == .offline(since: at, reason: "viewing another tab or page"))
    }

    @Test("recent activity is online until the timeout; then offline since the timeout passed",
          arguments: [ActivityKind.heartbeat, .pageView, .tabVisible])
    func timeout(_ kind: ActivityKind) {
        let recent = now.addingTimeInterval(-100)
        #expect(Presence.decide(latest: (kind, recent), now: now, timeoutSeconds: 270, fallbackSince: start)
                == .online(offlineInSeconds: 170))
        let old = now.addingTimeInterval(-300)
        #expect(Presence.decide(latest: (kind, old), now: now, timeoutSeconds: 270, fallbackSince: start)
                == .offline(since: old.addingTimeInterval(270), reason: "no activity for 4m30s"))
    }

    @Test("no activity at all counts as offline")
    func never() {
        #expect(Presence.decide(latest: nil, now: now, timeoutSeconds: 270, fallbackSince: start)
                == .offline(since: start, reason: "no activity recorded"))
    }

    @Test("durations read like a person wrote them")
    func describe() {
        #expect(Presence.describe(seconds: 270) == "4m30s")
        #expect(Presence.describe(seconds: 300) == "5m")
        #expect(Presence.describe(seconds: 30) == "30s")
        #expect(Presence.describe(seconds: 1.5) == "1.5s")
    }
}

@Suite("Push and email content") struct ContentTests {
    @Test("device tokens: APNs hex, FCM URL-safe; anything else is malformed")
    func tokens() {
        #expect(PushContent.isWellFormed(token: String(repeating: "ab12", count: 16), platform: "ios"))
        #expect(!PushContent.isWellFormed(token: "not-a-token", platform: "ios"))
        #expect(!PushContent.isWellFormed(token: String(repeating: "zz", count: 32), platform: "ios"))
        #expect(PushContent.isWellFormed(token: "dQw4w9WgXcQ:APA91b" + String(repeating: "Xy_-", count: 30), platform: "android"))
        #expect(!PushContent.isWellFormed(token: "short", platform: "android"))
        #expect(!PushContent.isWellFormed(token: String(repeating: "a b ", count: 20), platform: "android"))
        #expect(!PushContent.isWellFormed(token: String(repeating: "ab12", count: 16), platform: "windows"))
    }

    @Test("HTML is escaped")
    func escaping() {
        #expect(EmailContent.escape("<b>\"Tom\" & 'Jerry'</b>") == "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;")
    }

    @Test("From: the channel's domain when a verified key signs for it, else the product's sender")
    func sender() {
        var channel = Self.channel(name: "Acme")
        channel.emailFromAddress = "help@acme.example"
        channel.emailDomain = "acme.example"
        channel.emailDomainVerified = true
        let settings = FollowUpSettings()
        // The app's flag alone does not make mail come from the company's domain: only a signing key does.
        #expect(EmailContent.sender(channel, signedDomain: nil, settings: settings) == "notifications@followup.example")
        #expect(EmailContent.sender(channel, signedDomain: "other.example", settings: settings) == "notifications@followup.example")
        #expect(EmailContent.sender(channel, signedDomain: "acme.example", settings: settings) == "help@acme.example")
        channel.emailFromAddress = nil
        #expect(EmailContent.sender(channel, signedDomain: "acme.example", settings: settings) == "support@acme.example")
    }

    /// A channel for the email tests: email on, no domain of its own, links under chat.acme.example.
    static func channel(name: String) -> FollowUpContext.Channel {
        FollowUpContext.Channel(
            id: 1, name: name, phoneEnabled: true, emailEnabled: true, pushIntegrated: false,
            messengerSenderKey: nil, messengerTemplateCode: nil, smsFrom: nil, emailFromName: nil,
            emailFromAddress: nil, emailDomain: nil, emailDomainVerified: false, defaultCountry: "KR",
            pushAckTimeoutSeconds: 30, textTemplate: nil, textSubject: nil, linkBaseURL: "https://chat.acme.example/")
    }

    @Test("the email carries every unseen answer, escaped, with the link and a Korean variant")
    func rendering() {
        let channel = Self.channel(name: "Acme & Co")
        var followUp = FollowUpContext(
            followUpID: 7, status: .pending, chatID: 42, offlineSince: Date(), firstMessageID: 1, lastMessageID: 2,
            channel: channel,
            customer: .init(id: 3, name: "Kim", phone: nil, email: "kim@example.com", country: "KR", language: "en"),
            messages: [.init(id: 1, sender: "manager", body: "Use <b>code</b> 42", createdAt: Date()),
                       .init(id: 2, sender: "bot", body: "Line one\nLine two", createdAt: Date())])
        var settings = FollowUpSettings()
        settings.replySecret = "a-reply-secret-for-this-test"
        let email = EmailContent(followUp, settings: settings)
        #expect(email.subject == "Acme & Co sent you 2 new messages")
        // Unguessable: r-<chat>-<mac>, verified by the same secret (docs/webhooks.md).
        #expect(email.envelope.replyTo?.hasPrefix("r-42-") == true)
        #expect(email.envelope.replyTo.flatMap { settings.replyTokens?.chatID(replyAddress: $0) } == 42)
        #expect(email.text.contains("Or simply reply to this email."))
        // Without a reply secret nothing can come back: no Reply-To, and the email does not promise it.
        let oneWay = EmailContent(followUp, settings: FollowUpSettings())
        #expect(oneWay.envelope.replyTo == nil)
        #expect(!oneWay.text.contains("reply to this email"))
        #expect(email.envelope.fromName == "Acme & Co")
        #expect(email.text.contains("Use <b>code</b> 42"))
        #expect(email.text.contains("https://chat.acme.example/chats/42"))
        #expect(email.html.contains("Use &lt;b&gt;code&lt;/b&gt; 42"))
        #expect(email.html.contains("Line one<br>Line two"))
        #expect(email.html.contains("Acme &amp; Co"))
        followUp.customer.language = "ko-KR"
        #expect(EmailContent(followUp, settings: FollowUpSettings()).subject == "Acme & Co에서 새 메시지 2개가 도착했습니다")
    }

    @Test("1,500 unseen answers of 20,000 characters make one bounded email: the newest ten, each cut, the rest counted")
    func boundedEmail() {
        let channel = Self.channel(name: "Acme")
        let messages = (1...1_500).map { index in
            FollowUpContext.Message(id: Int64(index), sender: "manager",
                                    body: "answer \(index) " + String(repeating: "가", count: 20_000), createdAt: Date())
        }
        let followUp = FollowUpContext(
            followUpID: 7, status: .pending, chatID: 42, offlineSince: Date(), firstMessageID: 1, lastMessageID: 1_500,
            channel: channel, customer: .init(id: 3, name: "Kim", phone: nil, email: "kim@example.com", country: "KR", language: "en"),
            messages: messages)
        let email = EmailContent(followUp, settings: FollowUpSettings())
        #expect(email.subject == "Acme sent you 1500 new messages")
        #expect(email.text.contains("1490 earlier messages are waiting in the chat"))
        #expect(email.text.contains("answer 1500 ") && email.text.contains("answer 1491 "))
        #expect(!email.text.contains("answer 1490 "))
        #expect(email.text.contains("https://chat.acme.example/chats/42"))
        #expect(email.text.utf8.count + email.html.utf8.count < 400_000, "\(email.text.utf8.count + email.html.utf8.count) bytes")
    }
}
