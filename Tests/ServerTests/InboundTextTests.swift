import FollowUp
import Foundation
import Testing
import TestSupport

/// `POST /webhooks/twilio/inbound` end to end on a real socket: STOP, START, other text.
@Suite("Inbound texts")
struct InboundTextTests {
    static let channelNumber = "+15005551000"
    static let customerPhone = "+821012345678"

    func text(_ body: String, sid: String, to: String = InboundTextTests.channelNumber,
              from: String = InboundTextTests.customerPhone) -> [(String, String)] {
        [("ToCountry", "US"), ("SmsMessageSid", sid), ("NumMedia", "0"), ("SmsSid", sid), ("SmsStatus", "received"),
         ("Body", body), ("To", to), ("NumSegments", "1"), ("MessageSid", sid),
         ("AccountSid", "AC00000000000000000000000000000000"), ("From", from), ("ApiVersion", "2010-04-01")]
    }

    func suppressed(_ h: ServerHarness, channel: Int64) async throws -> [String] {
        try await h.pool.query("""
            SELECT reason FROM suppressions WHERE channel_id = \(channel) AND address_kind = 'phone' AND address = \(Self.customerPhone)
            """).map { try $0.decode(String.self, at: 0) }
    }

    @Test("STOP suppresses texts for that channel (and only it); START lifts it; replies are empty TwiML")
    func stopAndStart() async throws {
        let h = try await ServerHarness()
        let channel = try await h.channel(), other = try await h.channel(smsFrom: "+15005552000")
        let customer = try await h.customer(channel: channel)
        _ = try await h.customer(channel: other)
        _ = try await h.chat(channel: channel, customer: customer)

        let stop = try await h.postTwilio("/webhooks/twilio/inbound", text(" Stop. ", sid: "SMin1"))
        #expect(stop.status == 200)
        #expect(stop.header("Content-Type")?.hasPrefix("text/xml") == true)
        #expect(stop.bodyText.contains("<Response></Response>"))
        #expect(try await suppressed(h, channel: channel) == ["replied STOP by SMS"])
        #expect(try await h.pool.scalar("SELECT count(*)::int FROM suppressions WHERE channel_id = \(other)", as: Int.self) == 0)
        #expect(try await h.count("messages") == 0)

        // Twilio retries the same message: nothing changes.
        #expect(try await h.postTwilio("/webhooks/twilio/inbound", text("STOP", sid: "SMin1")).status == 200)
        #expect(try await h.count("suppressions") == 1)

        #expect(try await h.postTwilio("/webhooks/twilio/inbound", text("start", sid: "SMin2")).status == 200)
        #expect(try await suppressed(h, channel: channel).isEmpty)
        await h.stop()
    }

    @Test("any other text becomes a customer message in the customer's latest chat of that channel")
    func otherText() async throws {
        let h = try await ServerHarness()
        let channel = try await h.channel()
        let customer = try await h.customer(channel: channel)
        let older = try await h.chat(channel: channel, customer: customer)
        let latest = try await h.chat(channel: channel, customer: customer)
        let body = "Thanks! Can it come on Friday?"
        let response = try await h.postTwilio("/webhooks/twilio/inbound", text(body, sid: "SMin3"))
        #expect(response.status == 200 && response.bodyText.contains("<Response></Response>"))
        #expect(try await h.customerMessages(chat: latest) == [body])
        #expect(try await h.customerMessages(chat: older).isEmpty)
        // A retry of the same MessageSid adds nothing.
        #expect(try await h.postTwilio("/webhooks/twilio/inbound", text(body, sid: "SMin3")).status == 200)
        #expect(try await h.customerMessages(chat: latest) == [body])
        // Numbers that are no customer of a channel texting from that number: acknowledged, nothing written.
        #expect(try await h.postTwilio("/webhooks/twilio/inbound", text("hello", sid: "SMin4", from: "+821099999999")).status == 200)
        #expect(try await h.postTwilio("/webhooks/twilio/inbound", text("hello", sid: "SMin5", to: "+15005559999")).status == 200)
        #expect(try await h.count("messages") == 1)
        await h.stop()
    }

    @Test("channels without a number of their own share the default sender; the messaging service finds its channel")
    func defaultSenderAndMessagingService() async throws {
        let h = try await ServerHarness()
        let shared = try await h.channel(smsFrom: nil)
        let serviced = try await h.channel(smsFrom: nil)
        try await h.pool.execute("UPDATE channels SET sms_messaging_service_sid = 'MG0123456789abcdef0123456789abcdef' WHERE id = \(serviced)")
        let customer = try await h.customer(channel: shared)
        let chat = try await h.chat(channel: shared, customer: customer)
        #expect(try await h.postTwilio("/webhooks/twilio/inbound", text("On my way", sid: "SMin6", to: ServerHarness.defaultSender)).status == 200)
        #expect(try await h.customerMessages(chat: chat) == ["On my way"])

        let servicedCustomer = try await h.customer(channel: serviced, phone: "+821077777777")
        _ = servicedCustomer
        var form = text("STOP", sid: "SMin7", to: "+15005553000", from: "+821077777777")
        form.append(("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"))
        #expect(try await h.postTwilio("/webhooks/twilio/inbound", form).status == 200)
        #expect(try await h.pool.scalar("SELECT count(*)::int FROM suppressions WHERE channel_id = \(serviced)", as: Int.self) == 1)
        await h.stop()
    }

    @Test("Twilio's OptOutType (its Advanced Opt-Out, custom or localised keywords) wins; HELP is left to Twilio")
    func advancedOptOut() async throws {
        let h = try await ServerHarness()
        let channel = try await h.channel()
        let chat = try await h.chat(channel: channel, customer: try await h.customer(channel: channel))
        var stop = text("그만", sid: "SMin9")
        stop.append(("OptOutType", "STOP"))
        #expect(try await h.postTwilio("/webhooks/twilio/inbound", stop).status == 200)
        #expect(try await suppressed(h, channel: channel) == ["replied STOP by SMS"])
        var help = text("HELP", sid: "SMin10")
        help.append(("OptOutType", "HELP"))
        #expect(try await h.postTwilio("/webhooks/twilio/inbound", help).status == 200)
        #expect(try await h.customerMessages(chat: chat).isEmpty)
        await h.stop()
    }

    @Test("an unsigned inbound text is refused and writes nothing")
    func unsigned() async throws {
        let h = try await ServerHarness()
        let channel = try await h.channel()
        _ = try await h.chat(channel: channel, customer: try await h.customer(channel: channel))
        let response = try await h.postTwilio("/webhooks/twilio/inbound", text("STOP", sid: "SMin8"), token: "wrong-token")
        #expect(response.status == 403)
        #expect(try await h.count("suppressions") == 0)
        #expect(try await h.count("inbound_events") == 0)
        await h.stop()
    }

    @Test("keywords are the whole message, any case, punctuation ignored")
    func keywords() {
        #expect(InboundText.keyword("stop") == "STOP")
        #expect(InboundText.keyword("  Unsubscribe! ") == "UNSUBSCRIBE")
        #expect(InboundText.keyword("Yes") == "YES")
        #expect(InboundText.keyword("please stop texting me") == nil)
        #expect(InboundText.keyword("stopping by later") == nil)
    }
}
