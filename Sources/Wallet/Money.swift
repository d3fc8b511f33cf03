import Foundation

/// Money in micro-units of USD: 1 USD = 1,000,000. A US SMS segment is 7,900 ($0.0079), so
/// cents are too coarse; integers never round.
public enum Money {
    public static let microsPerDollar: Int64 = 1_000_000
    public static let microsPerCent: Int64 = 10_000

    /// "$12.3456" — dollars with up to 6 decimals, trailing zeros trimmed to at least 2.
    public static func format(_ micros: Int64) -> String {
        let sign = micros < 0 ? "-" : ""
        let magnitude = micros.magnitude
        let dollars = magnitude / UInt64(microsPerDollar)
        var fraction = String(magnitude % UInt64(microsPerDollar))
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.count > 2, fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(sign)$\(dollars).\(fraction)"
    }

    /// Parses "12.34", "$0.0079" or "-5" as dollars into micros; nil when malformed or finer than a micro.
    public static func parse(_ text: String) -> Int64? {
        var body = Substring(text.trimmingCharacters(in: .whitespaces))
        var negative = false
        if body.hasPrefix("-") { negative = true; body = body.dropFirst() }
        if body.hasPrefix("$") { body = body.dropFirst() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty || parts.count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else { return nil }
        guard let whole = parts[0].isEmpty ? 0 : Int64(parts[0]) else { return nil }
        var micros: Int64 = 0
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.count <= 6, let value = Int64(fraction) else { return nil }
            micros = value * Int64(pow10(6 - fraction.count))
        }
        let (product, overflow) = whole.multipliedReportingOverflow(by: microsPerDollar)
        guard !overflow else { return nil }
        let total = product + micros
        return negative ? -total : total
    }

    private static func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { acc, _ in acc * 10 } }
}
