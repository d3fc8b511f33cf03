import Foundation

// Small helpers shared by the provider fakes, namespaced so they cannot clash with other fakes.

/// JSON text of a property-list-like value (dictionaries, arrays, strings, numbers, NSNull),
/// keys sorted so answers are stable for assertions.
enum FakeJSON {
    /// `value` as a JSON string literal (for responses written by hand, on hot paths).
    static func quote(_ value: String) -> String {
        var out = "\""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func text(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Provider-looking ids.
enum FakeIDs {
    /// Random alphanumerics, like the tail of a Stripe id.
    static func alphanumeric(length: Int = 24) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        // One random word per 8 characters: each draw from the system generator is a syscall.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        while bytes.count < length {
            var word = UInt64.random(in: .min ... .max)
            for _ in 0..<min(8, length - bytes.count) {
                bytes.append(alphabet[Int(word % UInt64(alphabet.count))])
                word >>= 8
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// 32 lowercase hex digits, like the tail of a Twilio sid.
    static func hex() -> String {
        func digits(_ word: UInt64) -> String {
            let text = String(word, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }
        return digits(.random(in: .min ... .max)) + digits(.random(in: .min ... .max))
    }
}

/// Reading (not verifying) compact JWTs.
enum FakeJWT {
    /// The claims of a compact JWT; nil if malformed.
    static func claims(_ token: String) -> [String: Any]? {
        part(token, index: 1)
    }

    /// Part `index` (0 header, 1 claims) of a compact JWT with a non-empty signature, decoded.
    static func part(_ token: String, index: Int) -> [String: Any]? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[2].isEmpty else { return nil }
        var text = parts[index].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}

/// Date formats the fakes write and read (UTC, POSIX locale).
enum FakeDates {
    /// `2023-08-24`, as Twilio's `DateSent` filters take.
    static var twilioDay: DateFormatter { formatter("yyyy-MM-dd") }

    private static func formatter(_ format: String) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = format
        return formatter
    }
}
