import Foundation

/// Content-Transfer-Encoding decoders (RFC 2045) and the payloads of RFC 2047 encoded-words: the
/// reading side of `MIMEMessage`. One copy for the product's inbound mail (`FollowUp`'s
/// `MailMessage`) and the loopback SMTP server's parsing (`Fakes`).
public enum MIMEDecoding {
    /// Base64, ignoring line breaks and white space; missing padding is tolerated. Garbage: empty.
    public static func base64(_ bytes: [UInt8]) -> [UInt8] {
        let clean = bytes.filter { !($0 == 0x0D || $0 == 0x0A || $0 == 0x20 || $0 == 0x09) }
        var text = String(decoding: clean, as: UTF8.self)
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text, options: .ignoreUnknownCharacters).map { Array($0) } ?? []
    }

    /// Quoted-printable: `=XX` escapes, soft line breaks (`=` before CRLF, LF or CR) removed; an
    /// `=` that starts neither stays as it is. `underscoreIsSpace`: the Q encoding of encoded-words.
    public static func quotedPrintable(_ bytes: [UInt8], underscoreIsSpace: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x41...0x46: byte - 0x41 + 10
            case 0x61...0x66: byte - 0x61 + 10
            default: nil
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x3D {  // "="
                if index + 1 < bytes.count && (bytes[index + 1] == 0x0A || bytes[index + 1] == 0x0D) {
                    // Soft line break.
                    index += bytes[index + 1] == 0x0D && index + 2 < bytes.count && bytes[index + 2] == 0x0A ? 3 : 2
                    continue
                }
                if index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
                    out.append(high << 4 | low)
                    index += 3
                    continue
                }
            }
            out.append(underscoreIsSpace && byte == 0x5F ? 0x20 : byte)
            index += 1
        }
        return out
    }
}
