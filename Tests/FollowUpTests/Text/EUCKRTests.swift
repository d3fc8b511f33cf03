import Testing
@testable import FollowUp

@Suite("EUC-KR byte counting")
struct EUCKRTests {
    @Test func asciiIsOneByteHangulTwo() {
        #expect(EUCKR.byteCount("안녕하세요") == 10)
        #expect(EUCKR.byteCount("abc") == 3)
        #expect(EUCKR.byteCount("안녕 abc!") == 9)
        #expect(EUCKR.byteCount("") == 0)
    }

    @Test func allHangulSyllablesAndOtherCP949CharactersAreTwoBytes() {
        #expect(EUCKR.byteCount("\u{AC00}\u{D7A3}") == 4)   // 가, 힣: first and last syllable
        #expect(EUCKR.byteCount("똠똥") == 4)               // CP949-only syllables
        #expect(EUCKR.byteCount("ㄱㅏ") == 4)               // compatibility jamo
        #expect(EUCKR.byteCount("韓國") == 4)               // Hanja
        #expect(EUCKR.byteCount("ＡＢ") == 4)               // fullwidth forms
        #expect(EUCKR.byteCount("…") == 2)
    }

    @Test func scalarsOutsideCP949CountTwoBytesEach() {
        #expect(EUCKR.byteCount("😀") == 2)
        #expect(EUCKR.byteCount("a😀") == 3)
        #expect(EUCKR.byteCount("👍🏽") == 4)   // emoji + skin-tone modifier: two scalars
    }

    @Test func prefixCutsOnGraphemeBoundaries() {
        #expect(EUCKR.prefix("안녕하세요", maxBytes: 5) == "안녕")
        #expect(EUCKR.prefix("ab👍🏽c", maxBytes: 5) == "ab")
        #expect(EUCKR.prefix("ab👍🏽c", maxBytes: 6) == "ab👍🏽")
        #expect(EUCKR.prefix("abc", maxBytes: 10) == "abc")
    }
}
