import Fakes
import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport

/// No push integrated: text and email go out at once, separately (the seed's second process).
@Suite("Text and email follow-ups") struct TextAndEmailTests {
    @Test("a customer who left gets one text and one email carrying every unseen answer")
    func leftGetsTextAndEmail() async throws {
        var settings = FollowUpSettings.fast()
        settings.replySecret = "a-reply-secret-for-this-test"
        settings.publicURL = "https://hooks.example.com"
        try await withFollowUpHarness(settings: settings) { h in
            h.startWorker()
            let channel = try await h.channel()
            let customer = try await h.customer(channel: channel)
            let chat = try await h.chat(channel: channel, customer: customer)
            try await h.message(chat: chat, "customer", "Where is my order?")
            try await h.activity(customer: customer, "left")
            try await h.pool.execute("""
                INSERT INTO messages (chat_id, sender, body) VALUES
                    (\(chat), 'manager', 'It ships today.'), (\(chat), 'manager', 'Tracking: 12345')
                """)

            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.map(\.route).sorted() == ["email", "sms"] || rows.map(\.route).sorted() == ["email", "lms"])
            #expect(rows.allSatisfy { $0.status == "sent" }, "\(rows)")
            let texts = h.twilio.messages(to: "+821012345678")
            #expect(texts.count == 1)
            #expect(texts.first?.body.contains("It ships today.") == true)
            #expect(texts.first?.body.contains("Tracking: 12345") == true)
            #expect(texts.first?.body.contains("/chats/\(chat)") == true)
            let mails = await h.smtp.waitForMessages(count: 1, timeout: .seconds(5))
            #expect(mails.count == 1)
            let mail = try #require(mails.first)
            #expect(mail.recipients == ["kim@example.com"])
            let parsed = mail.parsed
            // Replies, bounces and unsubscribes come back through signed addresses (docs/webhooks.md).
            let tokens = try #require(settings.replyTokens)
            let replyTo = try #require(parsed.header("Reply-To"))
            #expect(tokens.chatID(replyAddress: replyTo) == chat)
            let deliveryID = try #require(parsed.header("Message-ID").flatMap { EmailContent.deliveryID(messageID: $0) })
            #expect(mail.envelopeFrom == tokens.bounceAddress(deliveryID: deliveryID))
            #expect(parsed.header("List-Unsubscribe") == "<https://hooks.example.com/unsubscribe/\(tokens.unsubscribeToken(deliveryID: deliveryID))>, "
                    + "<mailto:\(tokens.unsubscribeAddress(deliveryID: deliveryID))?subject=unsubscribe>")
            #expect(parsed.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click")
            #expect(parsed.textBody?.contains("Or simply reply to this email.") == true)
            #expect(parsed.decodedHeader("From")?.contains("notifications@followup.example") == true)
            #expect(parsed.decodedHeader("Subject") == "Acme sent you 2 new messages")
            #expect(parsed.header("Message-ID")?.hasPrefix("<followup-delivery-") == true)
            #expect(parsed.textBody?.contains("Tracking: 12345") == true)
            #expect(parsed.htmlBody?.contains("/chats/\(chat)") == true)
            let followUps = try await h.followUps(chat: chat)
            #expect(followUps.count == 1)
            #expect(followUps.first?.status == "notified")
            #expect(followUps.first?.count == 2)
            let offlineReason = try await h.pool.scalar("SELECT offline_reason FROM follow_ups WHERE chat_id = \(chat)", as: String.self)
            #expect(offlineReason == "left the website")
        }
    }

    @Test("the product's SMS sender, email From, reply domain and chat link base are settings; a channel's own link base wins")
    func productSettings() async throws {
        var settings = FollowUpSettings.fast()
        settings.defaultSMSFrom = "MG0123456789abcdef0123456789abcdef"
        settings.defaultEmailFrom = "hello@product.example"
        settings.defaultEmailFromName = "Product Support"
        settings.replyDomain = "replies.product.example"
        settings.replySecret = "a-reply-secret-of-some-length"
        settings.chatURLBase = "https://help.product.example/"
        try await withFollowUpHarness(settings: settings) { h in
            h.startWorker()
            let (_, _, chat) = try await h.offlineChat(asks: "Hello?", answer: "Hi, how can we help?")
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.allSatisfy { $0.status == "sent" }, "\(rows)")
            let text = try #require(h.twilio.messages(to: "+821012345678").first)
            #expect(text.from == "MG0123456789abcdef0123456789abcdef")
            #expect(text.body.contains("https://help.product.example/chats/\(chat)"))
            let first = await h.smtp.waitForMessages(count: 1, timeout: .seconds(5))
            let mail = try #require(first.first).parsed
            #expect(mail.decodedHeader("From")?.contains("Product Support") == true, "\(String(describing: mail.decodedHeader("From")))")
            #expect(mail.decodedHeader("From")?.contains("<hello@product.example>") == true)
            #expect(mail.header("Reply-To")?.contains("<r-\(chat)-") == true && mail.header("Reply-To")?.hasSuffix("@replies.product.example>") == true,
                    "\(String(describing: mail.header("Reply-To")))")
            #expect(mail.header("Message-ID")?.hasSuffix("@replies.product.example>") == true)

            // A channel with a link base and a From name of its own keeps them.
            let own = try await h.channel(.init(name: "Bloom"))
            try await h.pool.execute("UPDATE channels SET link_base_url = 'https://chat.bloom.example', email_from_name = 'Bloom Team' WHERE id = \(own)")
            let other = try await h.customer(channel: own, phone: "+821099998888", email: "lee@example.com")
            let otherChat = try await h.offlineChat(channel: own, customer: other, asks: "Hello?", answer: "Hi!")
            _ = try await h.settled(chat: otherChat, count: 2)
            #expect(h.twilio.messages(to: "+821099998888").first?.body.contains("https://chat.bloom.example/chats/\(otherChat)") == true)
            let mails = await h.smtp.waitForMessages(count: 2, timeout: .seconds(5))
            let bloom = try #require(mails.first { $0.recipients == ["lee@example.com"] }).parsed
            #expect(bloom.decodedHeader("From")?.contains("Bloom Team") == true)
        }
    }

    @Test("no activity for the channel's timeout counts as offline; before that, nothing is sent")
    func silentForTheTimeout() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            var options = FollowUpHarness.ChannelOptions()
            options.offlineTimeout = "1.5 seconds"
            let channel = try await h.channel(options)
            let customer = try await h.customer(channel: channel)
            let chat = try await h.chat(channel: channel, customer: customer)
            try await h.message(chat: chat, "customer", "Hello?")
            try await h.activity(customer: customer, "heartbeat")
            try await h.message(chat: chat, "manager", "Hi! Let me check.")

            try await Task.sleep(for: .milliseconds(700))
            #expect(try await h.deliveries(chat: chat).isEmpty, "the customer is still online")
            let rows = try await h.settled(chat: chat, count: 2, timeout: .seconds(6))
            #expect(rows.filter { $0.status == "sent" }.count == 2, "\(rows)")
            let reason = try await h.pool.scalar("SELECT offline_reason FROM follow_ups WHERE chat_id = \(chat)", as: String.self)
            #expect(reason == "no activity for 1.5s")
        }
    }

    @Test("a hidden tab is offline at once: a waiting check is pulled forward")
    func tabHiddenPullsTheCheckForward() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let channel = try await h.channel()  // 270 s timeout
            let customer = try await h.customer(channel: channel)
            let chat = try await h.chat(channel: channel, customer: customer)
            try await h.message(chat: chat, "customer", "Hello?")
            try await h.activity(customer: customer, "heartbeat")
            try await h.message(chat: chat, "manager", "Hi!")
            #expect(try await h.idle())
            #expect(try await h.deliveries(chat: chat).isEmpty)
            try await h.activity(customer: customer, "tab_hidden")
            let rows = try await h.settled(chat: chat, count: 2, timeout: .seconds(5))
            #expect(rows.filter { $0.status == "sent" }.count == 2, "\(rows)")
            let reason = try await h.pool.scalar("SELECT offline_reason FROM follow_ups WHERE chat_id = \(chat)", as: String.self)
            #expect(reason == "viewing another tab or page")
        }
    }
}
