import Foundation
import Testing
import TestSupport

/// `POST /webhooks/twilio/status` on a real socket against a real database.
@Suite("Twilio status callbacks")
struct StatusCallbackTests {
    func callback(_ delivery: Int64, _ status: String, code: String? = nil, sid: String = "SM0123456789abcdef0123456789abcdef")
        -> (path: String, form: [(String, String)]) {
        var form = [("AccountSid", "AC00000000000000000000000000000000"), ("MessageSid", sid), ("SmsSid", sid),
                    ("MessageStatus", status), ("SmsStatus", status), ("To", "+821012345678"), ("From", "+15005551000"),
                    ("ApiVersion", "2010-04-01")]
        if let code { form.append(("ErrorCode", code)) }
        return ("/webhooks/twilio/status?delivery=delivery-\(delivery)", form)
    }

    @Test("delivered, then a late 'sent': stays delivered; a replay changes nothing")
    func deliveredThenLateSent() async throws {
        let h = try await ServerHarness()
        let channel = try await h.channel(), customer = try await h.customer(channel: channel)
        let chat = try await h.chat(channel: channel, customer: customer)
        let delivery = try await h.delivery(channel: channel, chat: chat, customer: customer)

        let delivered = callback(delivery, "delivered")
        #expect(try await h.postTwilio(delivered.path, delivered.form).status == 204)
        var row = try await h.deliveryRow(delivery)
        #expect(row.status == "delivered" && row.receipt == "delivered")
        let deliveredAt = try await h.pool.scalar("SELECT delivered_at::text FROM deliveries WHERE id = \(delivery)", as: String.self)

        let late = callback(delivery, "sent")
        #expect(try await h.postTwilio(late.path, late.form).status == 204)
        #expect(try await h.postTwilio(delivered.path, delivered.form).status == 204)  // Twilio's retry
        let undelivered = callback(delivery, "undelivered", code: "30003")
        #expect(try await h.postTwilio(undelivered.path, undelivered.form).status == 204)
        row = try await h.deliveryRow(delivery)
        #expect(row.status == "delivered" && row.receipt == "delivered" && row.code == nil)
        #expect(try await h.pool.scalar("SELECT delivered_at::text FROM deliveries WHERE id = \(delivery)", as: String.self) == deliveredAt)
        await h.stop()
    }

    @Test("undelivered and failed keep Twilio's error code and say why")
    func undelivered() async throws {
        let h = try await ServerHarness()
        let channel = try await h.channel(), customer = try await h.customer(channel: channel)
        let chat = try await h.chat(channel: channel, customer: customer)
        let first = try await h.delivery(channel: channel, chat: chat, customer: customer)
        let second = try await h.delivery(channel: channel, chat: chat, customer: customer, providerMessageID: "SM99")
        let a = callback(first, "undelivered", code: "30003")
        #expect(try await h.postTwilio(a.path, a.form).status == 204)
        let b = callback(second, "failed", code: "30008", sid: "SM99")
        #expect(try await h.postTwilio(b.path, b.form).status == 204)
        let rowA = try await h.deliveryRow(first), rowB = try await h.deliveryRow(second)
        #expect(rowA.status == "undelivered" && rowA.code == "30003" && rowA.reason?.contains("unreachable") == true)
        #expect(rowB.status == "undelivered" && rowB.code == "30008" && rowB.reason?.contains("failed") == true)
        let report = try await h.pool.first("SELECT status, why, provider_code FROM delivery_report WHERE delivery_id = \(first)")!
        #expect(try report.decode(String.self, at: 0) == "undelivered")
        #expect(try report.decode(String.self, at: 2) == "30003")
        await h.stop()
    }

    // A receipt that arrives while the send is still in flight: TwoWayFlowTests.receiptDuringSend
    // (the real poller records the send after the receipt; the row ends `delivered`).

    @Test("bad requests get a 4xx and write nothing: signature, URL, token, fields, unknown delivery")
    func badRequests() async throws {
        let h = try await ServerHarness()
        let channel = try await h.channel(), customer = try await h.customer(channel: channel)
        let chat = try await h.chat(channel: channel, customer: customer)
        let delivery = try await h.delivery(channel: channel, chat: chat, customer: customer)
        let good = callback(delivery, "delivered")

        // Signed with another token, for another URL, or over other parameters.
        #expect(try await h.postTwilio(good.path, good.form, token: "someone-elses-token").status == 403)
        #expect(try await h.postTwilio(good.path, good.form, signedURL: ServerHarness.publicURL + "/webhooks/twilio/status?delivery=delivery-99999").status == 403)
        var tampered = good.form
        tampered[3] = ("MessageStatus", "undelivered")
        #expect(try await h.postTwilio(good.path, tampered, signedForm: good.form).status == 403)
        // No signature at all.
        #expect(try await h.post(good.path, headers: [.init("Content-Type", "application/x-www-form-urlencoded")],
                                 body: Array(ServerHarness.formBody(good.form).utf8)).status == 403)
        // Signed, but malformed or about nothing we know.
        #expect(try await h.postTwilio(good.path, good.form.filter { !$0.0.hasSuffix("Status") }).status == 400)
        #expect(try await h.postTwilio("/webhooks/twilio/status", good.form).status == 400)
        let unknown = callback(delivery + 1000, "delivered")
        #expect(try await h.postTwilio(unknown.path, unknown.form).status == 404)
        let otherSid = callback(delivery, "delivered", sid: "SMsomeoneelse")
        #expect(try await h.postTwilio(otherSid.path, otherSid.form).status == 404)

        let row = try await h.deliveryRow(delivery)
        #expect(row.status == "sent" && row.receipt == nil)
        await h.stop()
    }
}
