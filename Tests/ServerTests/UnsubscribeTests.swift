import FollowUp
import Foundation
import Outbound
import Providers
import Testing
import TestSupport

@Suite("Email unsubscribe")
struct UnsubscribeTests {
    @Test("POST /unsubscribe/<token> (RFC 8058 one-click) suppresses that address for that channel; GET only asks")
    func oneClick() async throws {
        let h = try await ServerHarness()
        let channel = try await h.channel(), customer = try await h.customer(channel: channel)
        let chat = try await h.chat(channel: channel, customer: customer)
        let delivery = try await h.delivery(channel: channel, chat: chat, customer: customer, route: "email",
                                            recipient: "Kim@Example.com", providerMessageID: nil)
        let token = h.tokens.unsubscribeToken(deliveryID: delivery)

        let page = try await h.get("/unsubscribe/\(token)")
        #expect(page.status == 200 && page.bodyText.contains("<form method=\"post\""))
        #expect(try await h.count("suppressions") == 0)

        let body = Array("List-Unsubscribe=One-Click".utf8)
        let headers = [HTTPHeader("Content-Type", "application/x-www-form-urlencoded")]
        #expect(try await h.post("/unsubscribe/\(token)", headers: headers, body: body).status == 200)
        #expect(try await h.post("/unsubscribe/\(token)", headers: headers, body: body).status == 200)  // again: no change
        #expect(try await Suppressions.reason(channelID: channel, .email, "kim@example.com", on: h.pool) == "unsubscribed by the email link")
        #expect(try await h.count("suppressions") == 1)

        // Forged tokens: a changed mac, another delivery's id.
        let forged = token.dropLast() + (token.hasSuffix("0") ? "1" : "0")
        #expect(try await h.post("/unsubscribe/\(forged)", headers: headers, body: body).status == 404)
        let other = token.replacingOccurrences(of: "\(delivery)-", with: "\(delivery + 1)-")
        #expect(try await h.post("/unsubscribe/\(other)", headers: headers, body: body).status == 404)
        #expect(try await h.count("suppressions") == 1)
        await h.stop()
    }
}


@Suite("Unsubscribe by mail and the status callback URL")
struct UnsubscribeByMailTests {
    @Test("mail to the List-Unsubscribe mailto: address suppresses the address; a forged one is refused")
    func mailto() async throws {
        let h = try await ServerHarness()
        let channel = try await h.channel(), customer = try await h.customer(channel: channel)
        let chat = try await h.chat(channel: channel, customer: customer)
        let delivery = try await h.delivery(channel: channel, chat: chat, customer: customer, route: "email",
                                            recipient: "kim@example.com", providerMessageID: nil)
        let address = h.tokens.unsubscribeAddress(deliveryID: delivery)
        let mail = Array("From: kim@example.com\r\nTo: \(address)\r\nSubject: unsubscribe\r\nMessage-ID: <u1@example.com>\r\n\r\n\r\n".utf8)
        let response = try await h.postMail(mail)
        #expect(response.status == 200 && response.bodyText.contains("unsubscribed"))
        #expect(try await Suppressions.reason(channelID: channel, .email, "kim@example.com", on: h.pool) == "unsubscribed by email")
        let forged = address.replacingOccurrences(of: "u-\(delivery)-", with: "u-\(delivery + 1)-")
        let refused = try await h.postMail(Array("From: a@example.com\r\nTo: \(forged)\r\nMessage-ID: <u2@example.com>\r\n\r\nx\r\n".utf8))
        #expect(refused.status == 404)
        #expect(try await h.count("messages") == 0)
        await h.stop()
    }

    @Test("every SMS asks Twilio for status callbacks at FOLLOWUP_PUBLIC_URL + /webhooks/twilio/status")
    func statusCallbackURL() throws {
        var environment = [
            "FOLLOWUP_TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000", "FOLLOWUP_TWILIO_AUTH_TOKEN": "token",
            "FOLLOWUP_SMTP_URL": "smtp://127.0.0.1:2525",
        ]
        #expect(try ProviderSettings(environment: environment).twilio.statusCallback == nil)
        environment["FOLLOWUP_PUBLIC_URL"] = "https://hooks.example.com/"
        #expect(try ProviderSettings(environment: environment).twilio.statusCallback == "https://hooks.example.com/webhooks/twilio/status")
    }
}
