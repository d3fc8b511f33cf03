import Foundation
import Testing
@testable import FollowUp

@Suite("Follow-up text composition")
struct FollowUpTextTests {
    private let link = "https://acme.example/c/8f3k2"
    private func repeated(_ s: String, _ n: Int) -> String { String(repeating: s, count: n) }

    @Test func shortMessageIsSentWhole() {
        let plan = FollowUpText.compose(template: TextTemplate(), company: "Acme", customerName: nil,
                                        messages: ["Your order shipped."], link: link, country: "US")
        #expect(plan.body == "[Acme] Your order shipped.\n\(link)")
        #expect(plan.route == .sms)
        #expect(plan.segments == 1)
        #expect(plan.charset == .gsm7)
    }

    @Test func severalMessagesAreJoinedOldestFirst() {
        let plan = FollowUpText.compose(template: TextTemplate(), company: "Acme", customerName: "Kim",
                                        messages: ["First", "  ", "Second\n", "Third"], link: link, country: "US")
        #expect(plan.body == "[Acme] First\nSecond\nThird\n\(link)")
    }

    @Test func customerPlaceholder() {
        let template = TextTemplate(template: "Hi {customer}, {company} replied: {messages} {link}")
        let named = FollowUpText.compose(template: template, company: "Acme", customerName: "Ana",
                                         messages: ["ok"], link: link, country: "US")
        #expect(named.body == "Hi Ana, Acme replied: ok \(link)")
        let anonymous = FollowUpText.compose(template: template, company: "Acme", customerName: nil,
                                             messages: ["ok"], link: link, country: "US")
        #expect(anonymous.body == "Hi , Acme replied: ok \(link)")
    }

    @Test func longGSMMessagesAreShortenedKeepingCompanyAndLink() {
        let messages = [repeated("word ", 100), repeated("more ", 100)]
        let plan = FollowUpText.compose(template: TextTemplate(), company: "Acme", customerName: nil,
                                        messages: messages, link: link, country: "US")
        #expect(plan.segments == 3)
        #expect(plan.charset == .gsm7)
        #expect(plan.body.hasPrefix("[Acme] word word"))
        #expect(plan.body.hasSuffix("...\n\(link)"))
        #expect(!plan.body.contains("…"))
        // Nearly all of the three parts is used.
        #expect(SMSEncoding.segmentation(of: plan.body).units > 3 * 153 - 8)
    }

    @Test func nonGSMMessagesAreShortenedWithUnicodeEllipsis() {
        let plan = FollowUpText.compose(template: TextTemplate(), company: "Café Olé", customerName: nil,
                                        messages: [repeated("Merci ! 🙏 ", 40)], link: link, country: "FR")
        #expect(plan.charset == .ucs2)
        #expect(plan.segments <= 3)
        #expect(plan.body.hasPrefix("[Café Olé] Merci"))
        #expect(plan.body.hasSuffix("…\n\(link)"))
    }

    @Test func emojiWithModifiersIsNeverBroken() {
        let plan = FollowUpText.compose(template: TextTemplate(), company: "A", customerName: nil,
                                        messages: [repeated("👍🏽", 100)], link: "l", country: "US",
                                        limits: XMSLimits(maxSMSSegments: 1))
        // "[A] " (4) + n × 4 + "…" (1) + "\nl" (2) ≤ 70 → n = 15
        #expect(plan.body == "[A] " + repeated("👍🏽", 15) + "…\nl")
    }

    @Test func koreanShortTextGoesAsSMS() {
        let plan = FollowUpText.compose(template: TextTemplate(), company: "채널", customerName: nil,
                                        messages: ["답변이 도착했습니다."], link: "https://ch.io/x", country: "KR")
        #expect(plan.route == .sms)
        #expect(plan.body == "[채널] 답변이 도착했습니다.\nhttps://ch.io/x")
        #expect(plan.bytes == EUCKR.byteCount(plan.body))
        #expect(plan.bytes <= 90)
        #expect(plan.subject == nil)
    }

    @Test func koreanMediumTextGoesAsLMSUnshortened() {
        let message = repeated("안녕하세요 ", 20)   // 220 bytes
        let plan = FollowUpText.compose(template: TextTemplate(), company: "채널", customerName: nil,
                                        messages: [message], link: link, country: "KR")
        #expect(plan.route == .lms)
        #expect(plan.body.contains(message.trimmingCharacters(in: .whitespaces)))
        #expect(!plan.body.contains("…"))
        #expect(plan.subject == "[채널]")
    }

    @Test func koreanLongTextIsShortenedToLMSKeepingCompanyAndLink() {
        let messages = [repeated("가나다라마바사 ", 150), repeated("아자차카타파하 ", 150)]   // ~4,500 bytes
        let company = repeated("아주긴회사이름", 5)   // 70 bytes: the subject must be cut
        let plan = FollowUpText.compose(template: TextTemplate(), company: company, customerName: nil,
                                        messages: messages, link: link, country: "KR")
        #expect(plan.route == .lms)
        #expect(plan.bytes <= 2000)
        #expect(plan.bytes > 1990)
        #expect(plan.body.hasPrefix("[\(company)] 가나다라마바사"))
        #expect(plan.body.hasSuffix("…\n\(link)"))
        // "[" + 19 syllables = 39 bytes; a 20th would make 41.
        #expect(plan.subject == "[" + repeated("아주긴회사이름", 2) + "아주긴회사")
        #expect(EUCKR.byteCount(plan.subject!) <= 40)
    }

    @Test func companyAndLinkTooLongForAnyMessageFallBackToPlannerCut() {
        let plan = FollowUpText.compose(template: TextTemplate(), company: repeated("x", 500), customerName: nil,
                                        messages: ["hello"], link: link, country: "US")
        #expect(plan.segments <= 3)
        #expect(!plan.body.contains("hello"))
    }
}
