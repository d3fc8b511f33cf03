/// The character set an SMS is sent in.
public enum SMSCharset: String, Sendable {
    /// The GSM 03.38 default alphabet, 7 bits a character.
    case gsm7
    /// UCS-2 (in practice UTF-16), 16 bits a code unit.
    case ucs2
}

/// How a text splits into SMS parts.
public struct SMSSegmentation: Sendable, Equatable {
    /// GSM-7 when every character is in the GSM 03.38 basic or extension
    /// table, UCS-2 otherwise.
    public var charset: SMSCharset
    /// Septets for GSM-7 (extension characters count 2), UTF-16 code units
    /// for UCS-2 (characters outside the BMP, such as emoji, count 2).
    public var units: Int
    /// The number of SMS parts the text needs; 1 for the empty text.
    public var segments: Int

    public init(charset: SMSCharset, units: Int, segments: Int) {
        self.charset = charset
        self.units = units
        self.segments = segments
    }
}

/// Counts SMS parts the way a handset or an SMSC does.
///
/// A single SMS carries 160 GSM-7 septets or 70 UCS-2 code units. A
/// concatenated SMS spends room on its user data header, leaving 153 septets
/// or 67 code units per part. A part never ends in the middle of a GSM-7
/// escape pair or a UTF-16 surrogate pair, so a part may hold one unit less
/// than its capacity and the count is not always `units / capacity` rounded up.
public enum SMSEncoding {
    /// Septets in a single GSM-7 SMS.
    public static let gsm7SingleCapacity = 160
    /// Septets in each part of a concatenated GSM-7 SMS.
    public static let gsm7PartCapacity = 153
    /// UTF-16 code units in a single UCS-2 SMS.
    public static let ucs2SingleCapacity = 70
    /// UTF-16 code units in each part of a concatenated UCS-2 SMS.
    public static let ucs2PartCapacity = 67

    /// The charset, unit count and number of parts for `text`, counted over
    /// its Unicode scalars exactly as given (no normalisation: a decomposed
    /// "é" is "e" plus a combining accent, which forces UCS-2).
    public static func segmentation(of text: String) -> SMSSegmentation {
        var septetCosts: [Int] = []
        septetCosts.reserveCapacity(text.unicodeScalars.underestimatedCount)
        var isGSM7 = true
        for scalar in text.unicodeScalars {
            guard let cost = GSM7Alphabet.septets(scalar) else { isGSM7 = false; break }
            septetCosts.append(cost)
        }
        if isGSM7 {
            return pack(costs: septetCosts, charset: .gsm7,
                        single: gsm7SingleCapacity, part: gsm7PartCapacity)
        }
        let unitCosts = text.unicodeScalars.map { $0.utf16.count }
        return pack(costs: unitCosts, charset: .ucs2,
                    single: ucs2SingleCapacity, part: ucs2PartCapacity)
    }

    /// Fills parts in order with indivisible costs (1 or 2 units each).
    private static func pack(costs: [Int], charset: SMSCharset, single: Int, part: Int) -> SMSSegmentation {
        let units = costs.reduce(0, +)
        if units <= single {
            return SMSSegmentation(charset: charset, units: units, segments: 1)
        }
        var parts = 1
        var fill = 0
        for cost in costs {
            if fill + cost > part {
                parts += 1
                fill = 0
            }
            fill += cost
        }
        return SMSSegmentation(charset: charset, units: units, segments: parts)
    }
}
