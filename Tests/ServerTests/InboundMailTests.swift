@testable import FollowUp
import Foundation
import Testing
import TestSupport

/// Email replies, bounces and auto-replies through `POST /webhooks/email/inbound` (the same
/// code path as `followup mail-in`), with real-client samples kept as fixtures.
@Suite("Inbound mail")
struct InboundMailTests {
    struct Sample: Sendable, CustomStringConvertible {
        var fixture: String
        var expected: String
        var description: String { fixture }
    }

    static let samples = [
        Sample(fixture: "gmail", expected: "Thanks, that works for me! Can I pick it up at the store instead? — Kim"),
        Sample(fixture: "outlook", expected: "Yes please, send it to my office address.\n\nKim"),
        Sample(fixture: "outlook_korean", expected: "감사합니다. 내일 오전에 받을 수 있을까요?"),
        Sample(fixture: "apple_mail", expected: "Perfect, see you tomorrow."),
        Sample(fixture: "apple_mail_html", expected: "네, 그 주소로 보내주세요."),
        Sample(fixture: "gmail_euc_kr", expected: "내일 오후 3시에 방문해도 될까요?"),
        Sample(fixture: "iso_2022_kr", expected: "택배로 보내 주세요. 감사합니다."),
        Sample(fixture: "plain_signature", expected: "Got it, thank you."),
    ]

    func world(_ h: ServerHarness) async throws -> (channel: Int64, customer: Int64, chat: Int64) {
        let channel = try await h.channel()
        let customer = try await h.customer(channel: channel)
        return (channel, customer, try await h.chat(channel: channel, customer: customer))
    }

    @Test("a reply lands in its chat as the new text only (quote and signature stripped)", arguments: samples)
    func reply(_ sample: Sample) async throws {
        let h = try await ServerHarness()
        let (_, _, chat) = try await world(h)
        let raw = try ServerHarness.fixture(sample.fixture, to: h.tokens.replyAddress(chatID: chat))
        let response = try await h.postMail(raw)
        #expect(response.status == 200, "\(response.bodyText)")
        #expect(response.bodyText.contains("\"message\""))
        #expect(try await h.customerMessages(chat: chat) == [sample.expected])
        // The same mail delivered again changes nothing.
        #expect(try await h.postMail(raw).bodyText.contains("duplicate"))
        #expect(try await h.customerMessages(chat: chat).count == 1)
        await h.stop()
    }

    @Test("a forged token or an unknown chat is refused and nothing is written")
    func forged() async throws {
        let h = try await ServerHarness()
        let (_, _, chat) = try await world(h)
        let good = h.tokens.replyAddress(chatID: chat)
        // One character of the mac changed; another chat's id with this chat's mac.
        var forged = Array(good)
        let index = forged.firstIndex(of: "@")! - 1
        forged[index] = forged[index] == "0" ? "1" : "0"
        let otherChat = good.replacingOccurrences(of: "r-\(chat)-", with: "r-\(chat + 1)-")
        for address in [String(forged), otherChat, "chat-\(chat)@\(ServerHarness.replyDomain)", "someone@example.com"] {
            let response = try await h.postMail(try ServerHarness.fixture("gmail", to: address))
            #expect(response.status == 404, "\(address): \(response.status)")
        }
        // A valid token for a chat that does not exist.
        let response = try await h.postMail(try ServerHarness.fixture("gmail", to: h.tokens.replyAddress(chatID: chat + 100)))
        #expect(response.status == 404)
        #expect(try await h.count("messages") == 0)
        #expect(try await h.count("inbound_events") == 0)
        await h.stop()
    }

    @Test("auto-replies (Auto-Submitted, out-of-office) are accepted but are not customer messages", arguments: ["auto_reply", "out_of_office"])
    func autoReply(_ fixture: String) async throws {
        let h = try await ServerHarness()
        let (_, _, chat) = try await world(h)
        let response = try await h.postMail(try ServerHarness.fixture(fixture, to: h.tokens.replyAddress(chatID: chat)))
        #expect(response.status == 200)
        #expect(response.bodyText.contains("auto_reply"))
        #expect(try await h.count("messages") == 0)
        await h.stop()
    }

    @Test("an RFC 3464 hard bounce marks the email delivery bounced and suppresses the address")
    func bounce() async throws {
        let h = try await ServerHarness()
        let (channel, customer, chat) = try await world(h)
        let delivery = try await h.delivery(channel: channel, chat: chat, customer: customer, route: "email",
                                            recipient: "Nobody@Example.com", providerMessageID: nil)
        // Back to the VERP bounce address (the envelope sender of the follow-up email).
        let raw = try ServerHarness.fixture("bounce_dsn", to: h.tokens.bounceAddress(deliveryID: delivery), delivery: delivery)
        let response = try await h.postMail(raw)
        #expect(response.status == 200 && response.bodyText.contains("hard_bounce"), "\(response.bodyText)")
        let row = try await h.deliveryRow(delivery)
        #expect(row.status == "bounced" && row.code == "5.1.1")
        #expect(try await h.pool.scalar("""
            SELECT reason FROM suppressions WHERE channel_id = \(channel) AND address_kind = 'email' AND address = 'nobody@example.com'
            """, as: String.self) == "hard bounce")
        #expect(try await h.count("messages") == 0)
        await h.stop()
    }

    @Test("a bounce that reaches the reply address is matched by the returned Message-ID")
    func bounceByMessageID() async throws {
        let h = try await ServerHarness()
        let (channel, customer, chat) = try await world(h)
        let delivery = try await h.delivery(channel: channel, chat: chat, customer: customer, route: "email",
                                            recipient: "nobody@example.com", providerMessageID: nil)
        let raw = try ServerHarness.fixture("bounce_dsn", to: h.tokens.replyAddress(chatID: chat), delivery: delivery)
        #expect(try await h.postMail(raw).status == 200)
        #expect(try await h.deliveryRow(delivery).status == "bounced")
        #expect(try await h.count("messages") == 0)
        await h.stop()
    }

    @Test("the webhook wants its secret, message/rfc822 and a mail")
    func webhookRefusals() async throws {
        let h = try await ServerHarness()
        let (_, _, chat) = try await world(h)
        let raw = try ServerHarness.fixture("gmail", to: h.tokens.replyAddress(chatID: chat))
        #expect(try await h.postMail(raw, secret: "wrong-secret-wrong-secret").status == 401)
        #expect(try await h.post("/webhooks/email/inbound", headers: [.init("X-Followup-Secret", ServerHarness.mailSecret),
                                                                      .init("Content-Type", "text/plain")], body: raw).status == 415)
        #expect(try await h.postMail(Array("this is not a mail message at all".utf8)).status == 400)
        #expect(try await h.count("messages") == 0)
        await h.stop()
    }

    @Test("the envelope recipient header wins over the To: header")
    func envelopeRecipient() async throws {
        let h = try await ServerHarness()
        let (_, _, chat) = try await world(h)
        let raw = try ServerHarness.fixture("plain_signature", to: "undisclosed-recipients:;")
        #expect(try await h.postMail(raw).status == 404)
        #expect(try await h.postMail(raw, recipient: h.tokens.replyAddress(chatID: chat)).status == 200)
        #expect(try await h.customerMessages(chat: chat) == ["Got it, thank you."])
        await h.stop()
    }
}

@Suite("Mail parsing")
struct MailParsingTests {
    @Test("undeclared 8-bit Korean text is read as EUC-KR, not replacement characters")
    func undeclaredKorean() {
        let bytes: [UInt8] = [0xC7, 0xD1, 0xB1, 0xDB]  // 한글 in EUC-KR
        #expect(Charsets.decode(bytes, charset: nil) == "한글")
        #expect(Charsets.decode(Array("plain".utf8), charset: "us-ascii") == "plain")
    }

    @Test("RFC 2047 encoded-words in headers: B and Q, adjacent words joined")
    func encodedWords() {
        #expect(MailMessage.decodeEncodedWords("=?utf-8?B?7ZWc6riA?= =?utf-8?Q?_test?=") == "한글 test")
        #expect(MailMessage.decodeEncodedWords("=?EUC-KR?B?x9Gx2w==?=") == "한글")
        #expect(MailMessage.decodeEncodedWords("no words here") == "no words here")
    }
}
