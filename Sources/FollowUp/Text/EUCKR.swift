/// Byte counting in EUC-KR / CP949, the way Korean carriers measure SMS
/// (90 bytes) and LMS (2,000 bytes) messages.
///
/// The rule, per Unicode scalar:
/// - ASCII (U+0000–U+007F) is 1 byte.
/// - Every other scalar is 2 bytes. CP949 encodes each character it knows in
///   two bytes: all 11,172 Hangul syllables (U+AC00–U+D7A3), the Hangul
///   compatibility jamo, Hanja, fullwidth forms, kana, Greek, Cyrillic, and
///   the symbols of KS X 1001 (including "…").
/// - Scalars CP949 cannot represent (emoji, most accented Latin letters,
///   conjoining jamo, supplementary-plane ideographs) are **also counted as 2
///   bytes**. Gateways replace such a scalar with "?" (1 byte) or reject the
///   message; counting 2 is a safe upper bound for either a CP949 code or a
///   replacement, so a text that fits by this count always fits on the wire.
///   An emoji with a skin-tone modifier is two scalars, hence 4 bytes.
///
/// Counting is over the scalars as given; pass NFC text (as `XMSPlanner`
/// does), since a decomposed Hangul syllable is two or three jamo scalars.
public enum EUCKR {
    /// The EUC-KR / CP949 byte length of `s` under the rule above.
    public static func byteCount(_ s: String) -> Int {
        s.unicodeScalars.reduce(0) { $0 + byteCount($1) }
    }

    /// The byte length of one scalar: 1 for ASCII, 2 for anything else.
    static func byteCount(_ scalar: Unicode.Scalar) -> Int {
        scalar.isASCII ? 1 : 2
    }

    /// The byte length of one grapheme cluster.
    static func byteCount(_ character: Character) -> Int {
        character.unicodeScalars.reduce(0) { $0 + byteCount($1) }
    }

    /// The longest prefix of `s` of at most `maxBytes` bytes that ends on a
    /// grapheme-cluster boundary (never inside a Hangul syllable or an emoji
    /// sequence).
    static func prefix(_ s: String, maxBytes: Int) -> String {
        var used = 0
        var end = s.startIndex
        for index in s.indices {
            let cost = byteCount(s[index])
            if used + cost > maxBytes { break }
            used += cost
            end = s.index(after: index)
        }
        return String(s[..<end])
    }
}
