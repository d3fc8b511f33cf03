import Foundation

/// Helpers shared by `XMSPlanner` and `FollowUpText` for cutting text to a
/// budget on grapheme-cluster boundaries.
enum Shortening {
    /// The ellipsis for Korean (EUC-KR) text: "…" is in KS X 1001 (2 bytes).
    static let koreanEllipsis = "…"

    /// The ellipsis to end a shortened SMS with: "..." when the text it ends
    /// is otherwise GSM-7 (so the ellipsis does not force UCS-2), "…" (one
    /// UCS-2 unit) when the text is UCS-2 anyway.
    static func smsEllipsis(forText text: String) -> String {
        GSM7Alphabet.canEncode(text) ? "..." : "…"
    }

    /// The largest `k` in `0...upper` for which `fits(k)` holds, by binary
    /// search, assuming `fits(0)`. Fitting grows no easier as `k` grows in
    /// practice; if it ever did, the answer still fits, it is just not the
    /// largest.
    static func longestFitting(upTo upper: Int, _ fits: (Int) -> Bool) -> Int {
        var low = 0            // always fits
        var high = max(0, upper)
        while low < high {
            let mid = low + (high - low + 1) / 2
            if fits(mid) { low = mid } else { high = mid - 1 }
        }
        return low
    }

    /// The first `count` characters of `characters`, without trailing
    /// whitespace, so that an ellipsis follows a word rather than a space.
    static func head(_ characters: [Character], _ count: Int) -> String {
        var end = min(count, characters.count)
        while end > 0, characters[end - 1].isWhitespace { end -= 1 }
        return String(characters[..<end])
    }

    /// Canonical composition (NFC): a decomposed "é" becomes one GSM-7
    /// character and decomposed Hangul jamo become one 2-byte syllable.
    static func nfc(_ s: String) -> String {
        s.precomposedStringWithCanonicalMapping
    }
}
