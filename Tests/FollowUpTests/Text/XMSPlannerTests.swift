import Testing
@testable import FollowUp

@Suite("XMS planning: SMS or LMS")
struct XMSPlannerTests {
    private func repeated(_ s: String, _ n: Int) -> String { String(repeating: s, count: n) }

    @Test func koreanUpTo90BytesIsSMSWithoutSubject() {
        let plan = XMSPlanner.plan(body: repeated("가", 45), subject: "[상점]", country: "KR")
        #expect(plan == XMSPlan(route: .sms, body: repeated("가", 45), subject: nil,
                                segments: 1, bytes: 90, charset: nil))
    }

    @Test func koreanOver90BytesIsLMS() {
        let plan = XMSPlanner.plan(body: repeated("가", 46), subject: "[상점]", country: "kr")
        #expect(plan == XMSPlan(route: .lms, body: repeated("가", 46), subject: "[상점]",
                                segments: 1, bytes: 92, charset: nil))
    }

    @Test func longKoreanTextIsTruncatedTo2000Bytes() {
        let body = repeated("안녕하세요 ", 273) + "끝"   // 11 bytes × 273 + 2 = 3,005 bytes
        #expect(EUCKR.byteCount(body) > 3000)
        let plan = XMSPlanner.plan(body: body, subject: nil, country: "KR")
        #expect(plan.route == .lms)
        #expect(plan.bytes <= 2000)
        #expect(plan.bytes >= 1990)
        #expect(plan.bytes == EUCKR.byteCount(plan.body))
        #expect(plan.body.hasSuffix("…"))
        #expect(body.hasPrefix(plan.body.dropLast()))
        #expect(plan.subject == nil)
    }

    @Test func oddByteLimitNeverCutsInsideAHangulSyllable() {
        let plan = XMSPlanner.plan(body: repeated("가", 100), subject: nil, country: "KR",
                                   limits: XMSLimits(koreaLMSBytes: 101))
        // 101 − 2 ("…") = 99 bytes of room: 49 syllables, not 49½.
        #expect(plan.body == repeated("가", 49) + "…")
        #expect(plan.bytes == 100)
    }

    @Test func subjectIsCutTo40BytesOnACharacterBoundary() {
        let subject = "[" + repeated("가", 30) + "]"   // 62 bytes
        let plan = XMSPlanner.plan(body: repeated("가", 50), subject: subject, country: "KR")
        #expect(plan.subject == "[" + repeated("가", 19))   // 39 bytes: a 20th syllable would make 41
        #expect(EUCKR.byteCount(plan.subject!) == 39)
    }

    @Test func decomposedHangulIsNormalisedBeforeCounting() {
        let decomposed = "\u{1112}\u{1161}\u{11AB}"   // 한 as three conjoining jamo
        let plan = XMSPlanner.plan(body: repeated(decomposed, 45), subject: nil, country: "KR")
        #expect(plan.route == .sms)
        #expect(plan.bytes == 90)
        #expect(plan.body == repeated("한", 45))
    }

    @Test func internationalShortTextIsOneGSM7SMS() {
        let plan = XMSPlanner.plan(body: "Your reply is waiting", subject: "ignored", country: "US")
        #expect(plan == XMSPlan(route: .sms, body: "Your reply is waiting", subject: nil,
                                segments: 1, bytes: 21, charset: .gsm7))
    }

    @Test func internationalUCS2CountsUTF8Bytes() {
        let plan = XMSPlanner.plan(body: "안녕", subject: nil, country: "JP")
        #expect(plan == XMSPlan(route: .sms, body: "안녕", subject: nil, segments: 1, bytes: 6, charset: .ucs2))
    }

    @Test func internationalGSM7IsTruncatedToThreeSegmentsWithDots() {
        let plan = XMSPlanner.plan(body: repeated("a", 500), subject: nil, country: "US")
        #expect(plan.segments == 3)
        #expect(plan.charset == .gsm7)
        #expect(plan.body == repeated("a", 456) + "...")   // 3 × 153 septets
    }

    @Test func internationalUCS2IsTruncatedWithUnicodeEllipsis() {
        let plan = XMSPlanner.plan(body: repeated("가", 300), subject: nil, country: "US")
        #expect(plan.segments == 3)
        #expect(plan.charset == .ucs2)
        #expect(plan.body == repeated("가", 200) + "…")   // 3 × 67 units
    }

    @Test func truncationThatDropsTheOnlyNonGSMCharacterUsesDots() {
        // The "ê" at the end forces UCS-2 (4 segments); cutting it off leaves
        // GSM-7 text, so the ellipsis must be "..." to keep it GSM-7.
        let plan = XMSPlanner.plan(body: repeated("a", 300) + "ê", subject: nil, country: "FR",
                                   limits: XMSLimits(maxSMSSegments: 2))
        #expect(plan.charset == .gsm7)
        #expect(plan.segments == 2)
        #expect(plan.body == repeated("a", 300) + "...")
    }

    @Test func internationalTruncationKeepsEmojiWhole() {
        let plan = XMSPlanner.plan(body: repeated("😀", 40), subject: nil, country: "GB",
                                   limits: XMSLimits(maxSMSSegments: 1))
        #expect(plan.body == repeated("😀", 34) + "…")   // 69 units; a 35th emoji would make 71
        // 66 + "👍" + "…" would be 69 units, but the skin-tone modifier belongs
        // to the same grapheme, so the whole thumbs-up goes.
        let thumbs = XMSPlanner.plan(body: repeated("가", 66) + repeated("👍🏽", 3), subject: nil, country: "GB",
                                     limits: XMSLimits(maxSMSSegments: 1))
        #expect(thumbs.body == repeated("가", 66) + "…")
        #expect(thumbs.segments == 1)
    }
}
