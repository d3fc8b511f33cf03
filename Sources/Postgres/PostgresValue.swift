import Foundation

/// A Swift value that can be bound as a query parameter. Values travel in Postgres' text format;
/// `nil` text is SQL NULL. Every value is bound, never spliced into SQL.
public protocol PostgresEncodable: Sendable {
    var postgresText: String? { get }
}

/// A Swift value that can be read from a column in Postgres' text format.
public protocol PostgresDecodable: Sendable {
    init(postgresText text: String) throws
}

public typealias PostgresCodable = PostgresEncodable & PostgresDecodable

struct DecodingFailure: Error { let type: String }

extension String: PostgresCodable {
    public var postgresText: String? { self }
    public init(postgresText text: String) { self = text }
}

extension Bool: PostgresCodable {
    public var postgresText: String? { self ? "t" : "f" }
    public init(postgresText text: String) throws {
        switch text {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw DecodingFailure(type: "bool")
        }
    }
}

extension Int: PostgresCodable {
    public var postgresText: String? { String(self) }
    public init(postgresText text: String) throws {
        guard let value = Int(text) else { throw DecodingFailure(type: "integer") }
        self = value
    }
}

extension Int64: PostgresCodable {
    public var postgresText: String? { String(self) }
    public init(postgresText text: String) throws {
        guard let value = Int64(text) else { throw DecodingFailure(type: "bigint") }
        self = value
    }
}

extension Int32: PostgresCodable {
    public var postgresText: String? { String(self) }
    public init(postgresText text: String) throws {
        guard let value = Int32(text) else { throw DecodingFailure(type: "integer") }
        self = value
    }
}

extension Int16: PostgresCodable {
    public var postgresText: String? { String(self) }
    public init(postgresText text: String) throws {
        guard let value = Int16(text) else { throw DecodingFailure(type: "smallint") }
        self = value
    }
}

extension Double: PostgresCodable {
    public var postgresText: String? { String(self) }
    public init(postgresText text: String) throws {
        guard let value = Double(text) else { throw DecodingFailure(type: "double precision") }
        self = value
    }
}

extension Decimal: PostgresCodable {
    public var postgresText: String? { NSDecimalNumber(decimal: self).stringValue }
    public init(postgresText text: String) throws {
        guard let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else {
            throw DecodingFailure(type: "numeric")
        }
        self = value
    }
}

extension UUID: PostgresCodable {
    public var postgresText: String? { uuidString.lowercased() }
    public init(postgresText text: String) throws {
        guard let value = UUID(uuidString: text) else { throw DecodingFailure(type: "uuid") }
        self = value
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresText: String? { self?.postgresText }
}

/// `bytea`, exchanged in Postgres' hex format (`\x0a1b…`).
public struct Bytea: PostgresCodable, Hashable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    private static let hex = Array("0123456789abcdef".utf8)
    public var postgresText: String? {
        var out = [UInt8](repeating: 0, count: 2 + bytes.count * 2)
        out[0] = UInt8(ascii: "\\"); out[1] = UInt8(ascii: "x")
        for (i, b) in bytes.enumerated() {
            out[2 + 2 * i] = Self.hex[Int(b >> 4)]
            out[3 + 2 * i] = Self.hex[Int(b & 0xF)]
        }
        return String(decoding: out, as: UTF8.self)
    }
    public init(postgresText text: String) throws {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else {
            throw DecodingFailure(type: "bytea")
        }
        func nibble(_ c: UInt8) throws -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: throw DecodingFailure(type: "bytea")
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity((utf8.count - 2) / 2)
        var i = 2
        while i < utf8.count {
            bytes.append(try nibble(utf8[i]) << 4 | nibble(utf8[i + 1]))
            i += 2
        }
        self.bytes = bytes
    }
}

/// A `json`/`jsonb` value holding a `Codable` Swift value.
public struct JSONB<Value: Codable & Sendable>: PostgresCodable {
    public var value: Value
    public init(_ value: Value) { self.value = value }
    public var postgresText: String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(value) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
    public init(postgresText text: String) throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        value = try decoder.decode(Value.self, from: Data(text.utf8))
    }
}

/// An interval bound from a Swift `Duration`, sent as microseconds.
extension Duration: PostgresEncodable {
    public var postgresText: String? {
        let (seconds, attos) = components
        let micros = seconds * 1_000_000 + attos / 1_000_000_000_000
        return "\(micros) microseconds"
    }
}

extension Duration {
    /// Seconds as a Double, for arithmetic and display.
    public var seconds: Double {
        let (s, a) = components
        return Double(s) + Double(a) / 1e18
    }
}

extension Date: PostgresCodable {
    /// Sent as ISO 8601 with microseconds in UTC, which Postgres parses for `timestamptz`.
    public var postgresText: String? { PostgresTimestamp.format(self) }
    /// Reads Postgres' ISO output (`2026-11-28 09:50:21.123456+00`, any offset, or `infinity`).
    public init(postgresText text: String) throws {
        guard let date = PostgresTimestamp.parse(text) else { throw DecodingFailure(type: "timestamptz") }
        self = date
    }
}

enum PostgresTimestamp {
    static func format(_ date: Date) -> String {
        var seconds = date.timeIntervalSince1970
        if seconds.isInfinite { return seconds > 0 ? "infinity" : "-infinity" }
        var micros = Int64((seconds * 1_000_000).rounded())
        seconds = 0
        let microPart = Int(((micros % 1_000_000) + 1_000_000) % 1_000_000)
        micros = (micros - Int64(microPart)) / 1_000_000
        var t = time_t(micros)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        let micro = String(microPart)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 6 - micro.count) + micro + "Z"
    }

    static func parse(_ text: String) -> Date? {
        if text == "infinity" { return .distantFuture }
        if text == "-infinity" { return .distantPast }
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                let c = b[i]
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard b.count >= 19, let year = num(0, 4), let month = num(5, 2), let day = num(8, 2),
              let hour = num(11, 2), let minute = num(14, 2), let second = num(17, 2) else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        var offset = 0
        if i < b.count {
            let sign: Int
            switch b[i] {
            case UInt8(ascii: "+"): sign = 1
            case UInt8(ascii: "-"): sign = -1
            case UInt8(ascii: "Z"): sign = 0
            default: return nil
            }
            if sign != 0 {
                i += 1
                guard let oh = num(i, 2) else { return nil }
                i += 2
                var om = 0, os = 0
                if i < b.count, b[i] == UInt8(ascii: ":") { om = num(i + 1, 2) ?? 0; i += 3 }
                if i < b.count, b[i] == UInt8(ascii: ":") { os = num(i + 1, 2) ?? 0; i += 3 }
                offset = sign * (oh * 3600 + om * 60 + os)
            }
        }
        // Days from civil (proleptic Gregorian), Howard Hinnant's algorithm.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        let epoch = days * 86400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(epoch) + fraction)
    }
}
