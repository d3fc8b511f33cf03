import Fakes
import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport

/// The route country comes from the number's E.164 calling code; the declared one only for a
/// number without one.
@Suite("Calling codes") struct CallingCodesTests {
    @Test("calling code → ISO country", arguments: [
        ("+821012345678", "KR"), ("+14155550100", "US"), ("+14165550100", "CA"), ("+18765550100", "JM"),
        ("+17875550100", "PR"), ("+79161234567", "RU"), ("+77011234567", "KZ"), ("+447700900123", "GB"),
        ("+33612345678", "FR"), ("+8613812345678", "CN"), ("+85291234567", "HK"), ("+886912345678", "TW"),
        ("+35312345678", "IE"), ("+2348012345678", "NG"), ("+9715012345678", "AE"), ("+5511912345678", "BR"),
    ])
    func known(number: String, country: String) {
        #expect(CallingCodes.country(ofE164: number) == country)
    }

    @Test("no country: not E.164, non-geographic, unassigned, malformed",
          arguments: [nil, "", "01012345678", "+", "+82", "+80012345678", "+88212345678", "+2101234567", "+82abc12345"] as [String?])
    func none(number: String?) {
        #expect(CallingCodes.country(ofE164: number) == nil)
    }

    @Test("the table is a prefix code: no assigned code is the prefix of another")
    func prefixFree() {
        let all = Array(CallingCodes.codes.keys) + ["1", "7"]
        for code in all {
            #expect(!all.contains { $0 != code && $0.hasPrefix(code) }, "\(code)")
        }
    }

    @Test("a +82 number declared US is priced and sized as Korean; a +1 number declared XX pays the US rate")
    func pricedByNumber() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            var options = FollowUpHarness.ChannelOptions()
            options.email = false
            options.country = "US"
            let channel = try await h.channel(options)
            let korean = try await h.customer(channel: channel, phone: "+821099998888", country: "US")
            let american = try await h.customer(channel: channel, phone: "+14155550123", country: "XX")
            var chats: [Int64] = []
            for customer in [korean, american] {
                let chat = try await h.offlineChat(channel: channel, customer: customer, asks: "Hello", answer: "Your order shipped.")
                chats.append(chat)
            }
            for chat in chats { _ = try await h.settled(chat: chat, count: 1) }
            let rows = try await h.pool.query("""
                SELECT country, route, cost_micros FROM deliveries WHERE chat_id = ANY(\(chats)::bigint[]) AND route <> 'email' ORDER BY chat_id
                """).map { (try $0.decode(String.self, at: 0), try $0.decode(String.self, at: 1), try $0.decode(Int64.self, at: 2)) }
            #expect(rows.count == 2)
            #expect(rows.first.map { $0 == ("KR", "sms", 15000) } == true, "\(rows)")
            #expect(rows.last.map { $0 == ("US", "sms", 7900) } == true, "\(rows)")
        }
    }
}
