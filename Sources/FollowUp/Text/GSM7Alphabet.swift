/// The GSM 03.38 (3GPP TS 23.038) default 7-bit alphabet, as far as counting
/// is concerned: which Unicode scalars an SMS can carry in GSM-7, and how many
/// septets each one costs.
///
/// Characters of the basic table cost one septet. Characters of the extension
/// table (`^ { } \ [ ~ ] | €` and form feed) are sent as an escape (0x1B)
/// followed by their code, so they cost two septets, and the pair must stay in
/// one part of a concatenated message. Anything else cannot be sent in GSM-7.
enum GSM7Alphabet {
    /// The 127 printable and control characters of the basic table, in code
    /// order (0x00–0x7F, without 0x1B, the escape to the extension table).
    static let basic: Set<Unicode.Scalar> = {
        let rows: [String] = [
            "@£$¥èéùìòÇ\nØø\rÅå",
            "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ",
            " !\"#¤%&'()*+,-./",
            "0123456789:;<=>?",
            "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§",
            "¿abcdefghijklmnopqrstuvwxyzäöñüà",
        ]
        return Set(rows.joined().unicodeScalars)
    }()

    /// The extension table: each is sent as ESC + code, two septets.
    static let extended: Set<Unicode.Scalar> = Set("\u{0C}^{}\\[~]|€".unicodeScalars)

    /// Septets needed for `scalar` in GSM-7: 1 (basic), 2 (extension), or
    /// `nil` when the scalar is not in the alphabet.
    static func septets(_ scalar: Unicode.Scalar) -> Int? {
        if basic.contains(scalar) { return 1 }
        if extended.contains(scalar) { return 2 }
        return nil
    }

    /// Whether every scalar of `text` can be sent in GSM-7.
    static func canEncode(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { septets($0) != nil }
    }
}
