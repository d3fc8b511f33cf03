import Testing
@testable import FollowUp

@Suite("SMS encoding: GSM-7 and UCS-2 segments")
struct SMSEncodingTests {
    private func seg(_ text: String) -> SMSSegmentation { SMSEncoding.segmentation(of: text) }
    private func repeated(_ s: String, _ n: Int) -> String { String(repeating: s, count: n) }

    @Test func emptyTextIsOneSegment() {
        #expect(seg("") == SMSSegmentation(charset: .gsm7, units: 0, segments: 1))
    }

    @Test func gsm7PlainCharacterBoundaries() {
        #expect(seg(repeated("a", 160)) == SMSSegmentation(charset: .gsm7, units: 160, segments: 1))
        #expect(seg(repeated("a", 161)) == SMSSegmentation(charset: .gsm7, units: 161, segments: 2))
        #expect(seg(repeated("a", 306)) == SMSSegmentation(charset: .gsm7, units: 306, segments: 2))
        #expect(seg(repeated("a", 307)) == SMSSegmentation(charset: .gsm7, units: 307, segments: 3))
    }

    @Test func extensionCharactersCostTwoSeptets() {
        #expect(seg("€").units == 2)
        #expect(seg("{").units == 2)
        #expect(seg("^{}\\[~]|€\u{0C}").units == 20)
        #expect(seg(repeated("€", 80)) == SMSSegmentation(charset: .gsm7, units: 160, segments: 1))
        #expect(seg(repeated("€", 81)) == SMSSegmentation(charset: .gsm7, units: 162, segments: 2))
    }

    @Test func escapePairIsNeverSplitAcrossParts() {
        // 154 septets still fit one single SMS.
        #expect(seg(repeated("a", 152) + "€").segments == 1)
        // 306 septets would be exactly 2 × 153, but "€" cannot straddle the
        // boundary after 152 'a', so part 1 holds 152 and a third part is needed.
        let straddling = repeated("a", 152) + "€" + repeated("a", 152)
        #expect(seg(straddling) == SMSSegmentation(charset: .gsm7, units: 306, segments: 3))
        // The same septets with the escape pair away from the boundary: 2 parts.
        #expect(seg("€" + repeated("a", 304)).segments == 2)
    }

    @Test func ucs2HangulBoundaries() {
        #expect(seg(repeated("가", 70)) == SMSSegmentation(charset: .ucs2, units: 70, segments: 1))
        #expect(seg(repeated("가", 71)) == SMSSegmentation(charset: .ucs2, units: 71, segments: 2))
        #expect(seg(repeated("가", 134)).segments == 2)
        #expect(seg(repeated("가", 135)).segments == 3)
    }

    @Test func emojiCountTwoUnits() {
        #expect(seg("😀") == SMSSegmentation(charset: .ucs2, units: 2, segments: 1))
        #expect(seg(repeated("😀", 35)) == SMSSegmentation(charset: .ucs2, units: 70, segments: 1))
        #expect(seg(repeated("😀", 36)) == SMSSegmentation(charset: .ucs2, units: 72, segments: 2))
    }

    @Test func surrogatePairIsNeverSplitAcrossParts() {
        // 134 units would be exactly 2 × 67, but the emoji cannot straddle the
        // boundary after 66 units.
        let straddling = repeated("가", 66) + "😀" + repeated("가", 66)
        #expect(seg(straddling) == SMSSegmentation(charset: .ucs2, units: 134, segments: 3))
        #expect(seg("😀" + repeated("가", 132)).segments == 2)
    }

    @Test func accentsInTheBasicTableStayGSM7() {
        #expect(seg("café") == SMSSegmentation(charset: .gsm7, units: 4, segments: 1))
        #expect(seg("fête") == SMSSegmentation(charset: .ucs2, units: 4, segments: 1))
        // One character outside GSM-7 turns the whole message to UCS-2.
        #expect(seg(repeated("a", 100) + "ê").segments == 2)
        #expect(seg(repeated("a", 100) + "é").segments == 1)
    }

    @Test func gsm7TableIsComplete() {
        #expect(GSM7Alphabet.basic.count == 127)
        #expect(GSM7Alphabet.extended.count == 10)
        #expect(GSM7Alphabet.basic.isDisjoint(with: GSM7Alphabet.extended))
        #expect(seg("`").charset == .ucs2)   // the backtick is not in GSM 03.38
        #expect(seg("@£$¥").charset == .gsm7)
    }
}
