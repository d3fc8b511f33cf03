import FollowUp
import Foundation
import Outbound
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

