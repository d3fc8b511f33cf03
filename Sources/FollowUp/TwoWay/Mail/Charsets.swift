import Foundation

/// Text in the charsets replies arrive in: UTF-8, US-ASCII, Latin-1 / Windows-1252, and the
/// Korean ones (EUC-KR, its superset CP949 that Outlook labels `ks_c_5601-1987`, and the 7-bit
/// ISO-2022-KR of older clients). Decoding goes through Foundation's `String(data:encoding:)`
/// (swift-corelibs-foundation has EUC-KR and ISO-2022-KR through CoreFoundation). Text declared
/// UTF-8 or ASCII that is not valid UTF-8 is tried as EUC-KR, then Windows-1252; what still does
/// not decode falls back to UTF-8 with replacement characters, so a reply is never lost.
enum Charsets {
    /// NSStringEncoding values CoreFoundation uses for the Korean encodings
    /// (`CFStringConvertEncodingToNSStringEncoding(kCFStringEncodingEUC_KR / ISO_2022_KR / DOSKorean)`).
    static let eucKR = String.Encoding(rawValue: 0x8000_0940)
    static let iso2022KR = String.Encoding(rawValue: 0x8000_0840)
    static let cp949 = String.Encoding(rawValue: 0x8000_0422)

    /// The text of `bytes` in `charset` (a MIME charset name, any case; nil: US-ASCII/UTF-8).
    static func decode(_ bytes: [UInt8], charset: String?) -> String {
        let name = (charset ?? "utf-8").trimmingCharacters(in: CharacterSet(charactersIn: "\" ")).lowercased()
        let data = Data(bytes)
        var candidates = encodings(name)
        // Undeclared (or wrongly declared ASCII) 8-bit text: most likely Korean, else Western.
        if candidates == [.utf8] { candidates += [eucKR, .windowsCP1252] }
        for encoding in candidates {
            if let text = String(data: data, encoding: encoding) { return text }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func encodings(_ name: String) -> [String.Encoding] {
        switch name {
        case "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968": return [.utf8]
        case "iso-8859-1", "latin1", "iso8859-1", "l1": return [.isoLatin1]
        case "windows-1252", "cp1252": return [.windowsCP1252, .isoLatin1]
        case "euc-kr", "euckr", "ks_c_5601-1987", "ks_c_5601", "ksc5601", "cp949", "windows-949", "x-windows-949", "uhc":
            return [eucKR, cp949]
        case "iso-2022-kr", "csiso2022kr": return [iso2022KR]
        case "utf-16": return [.utf16]
        case "utf-16le": return [.utf16LittleEndian]
        case "utf-16be": return [.utf16BigEndian]
        default: return [.utf8]
        }
    }
}
