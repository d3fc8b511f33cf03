/// SQL text plus the values bound to its `$n` placeholders.
///
/// Written as a string literal with interpolations, every interpolated value becomes a bound
/// parameter, never SQL text:
///
///     let rows = try await db.query("SELECT id FROM public.jobs WHERE queue = \(queue) AND priority < \(p)")
///
/// A `Query` is also a fragment: interpolating one `Query` into another splices its SQL and
/// appends its values, renumbering its `$n` after the ones already written (GRDB's `SQL`
/// literals, with Postgres' numbered placeholders). So a piece of SQL that carries values is
/// built once and reused, and its values stay bound:
///
///     let recent: Query = "created_at > now() - \(window)::interval"
///     try await db.query("SELECT id FROM public.deliveries WHERE channel_id = \(id) AND \(recent)")
///
/// `\(raw: "...")` splices text as it is, with no values: only for identifiers and constant SQL
/// chosen in code (a table name from a fixed list), never for anything that came from outside.
public struct Query: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var sql: String
    public var binds: [String?]

    /// Explicit `$n` SQL and its values, in order.
    public init(sql: String, _ values: [any PostgresEncodable] = []) {
        self.sql = sql
        self.binds = values.map(\.postgresText)
    }

    public init(stringLiteral value: String) {
        sql = value
        binds = []
    }

    public init(stringInterpolation: StringInterpolation) {
        sql = stringInterpolation.sql
        binds = stringInterpolation.binds
    }

    /// Appends `fragment`: its SQL, and its values after these (its `$n` renumbered).
    public mutating func append(_ fragment: Query) {
        Self.splice(fragment, sql: &sql, binds: &binds)
    }

    /// `fragment`'s SQL added to `sql` with its `$n` shifted past `binds`, and its values added to `binds`.
    static func splice(_ fragment: Query, sql: inout String, binds: inout [String?]) {
        if fragment.binds.isEmpty {
            sql += fragment.sql
        } else {
            sql += Placeholders.shifted(fragment.sql, by: binds.count)
            binds += fragment.binds
        }
    }

    /// `lhs` followed by `rhs` (no space is added).
    public static func + (lhs: Query, rhs: Query) -> Query {
        var joined = lhs
        joined.append(rhs)
        return joined
    }

    /// The fragments one after another, `separator` between them: e.g. a list of conditions
    /// joined by `" AND "`, or `VALUES` rows joined by `", "`.
    public static func joined(_ fragments: some Sequence<Query>, separator: Query = ", ") -> Query {
        var result: Query = ""
        var first = true
        for fragment in fragments {
            if !first { result.append(separator) }
            result.append(fragment)
            first = false
        }
        return result
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [String?] = []
        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
        }
        public mutating func appendLiteral(_ literal: String) { sql += literal }
        public mutating func appendInterpolation<T: PostgresEncodable>(_ value: T) {
            binds.append(value.postgresText)
            sql += "$\(binds.count)"
        }
        public mutating func appendInterpolation<T: PostgresEncodable>(_ value: T?) {
            binds.append(value?.postgresText)
            sql += "$\(binds.count)"
        }
        /// Another query, as a fragment: its SQL spliced in, its values bound after the ones
        /// before it (its `$n` renumbered).
        public mutating func appendInterpolation(_ fragment: Query) {
            Query.splice(fragment, sql: &sql, binds: &binds)
        }
        /// Text spliced as it is, with no values: only identifiers and constant SQL chosen in
        /// code. Never pass input here; interpolate a value or a `Query` fragment instead.
        public mutating func appendInterpolation(raw fragment: String) { sql += fragment }
    }

    /// The SQL alone: safe to log, carries no values.
    public var description: String { sql }
}

/// Finding the `$n` parameter placeholders in SQL text, to renumber a fragment's.
enum Placeholders {
    /// `sql` with every placeholder `$n` outside quotes and comments rewritten as `$(n + offset)`.
    /// Skipped, so never renumbered: '…' and E'…' strings, "…" identifiers, $tag$…$tag$ bodies,
    /// -- and /* */ comments, and a `$` inside an identifier (`a$1`).
    static func shifted(_ sql: String, by offset: Int) -> String {
        if offset == 0 { return sql }
        let b = Array(sql.utf8)
        var out = [UInt8]()
        out.reserveCapacity(b.count + 8)
        var i = 0
        var copied = 0  // b[copied..<i] not yet copied to out
        func isIdentifier(_ c: UInt8) -> Bool {
            (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95 || c == 36 || c >= 128
        }
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        /// The end of a quoted run that began at `start` (the opening quote), doubled quotes kept inside.
        func skipQuoted(_ start: Int, _ quote: UInt8, backslashEscapes: Bool) -> Int {
            var j = start + 1
            while j < b.count {
                if backslashEscapes && b[j] == 92 { j += 2; continue }
                if b[j] == quote {
                    if j + 1 < b.count && b[j + 1] == quote { j += 2; continue }
                    return j + 1
                }
                j += 1
            }
            return b.count
        }
        var inWord = false  // inside an identifier or keyword, where `$` is part of the name
        while i < b.count {
            let c = b[i]
            let previous: UInt8? = i > 0 ? b[i - 1] : nil
            let wasInWord = inWord
            inWord = false
            switch c {
            case 39:  // '
                let escaped = previous.map { $0 == 69 || $0 == 101 } == true && (i < 2 || !isIdentifier(b[i - 2]))  // E'…'
                i = skipQuoted(i, 39, backslashEscapes: escaped)
            case 34:  // "
                i = skipQuoted(i, 34, backslashEscapes: false)
            case 45 where i + 1 < b.count && b[i + 1] == 45:  // --
                while i < b.count && b[i] != 10 { i += 1 }
            case 47 where i + 1 < b.count && b[i + 1] == 42:  // /* (they nest in Postgres)
                var depth = 0
                while i < b.count {
                    if b[i] == 47, i + 1 < b.count, b[i + 1] == 42 { depth += 1; i += 2; continue }
                    if b[i] == 42, i + 1 < b.count, b[i + 1] == 47 { depth -= 1; i += 2; if depth == 0 { break }; continue }
                    i += 1
                }
            case 36 where !wasInWord:  // $
                var j = i + 1
                if j < b.count && isDigit(b[j]) {
                    var n = 0
                    while j < b.count && isDigit(b[j]) { n = n * 10 + Int(b[j] - 48); j += 1 }
                    out += b[copied..<i]
                    out += Array("$\(n + offset)".utf8)
                    copied = j
                    i = j
                    continue
                }
                // $tag$ … $tag$ (or $$ … $$): skip to the same closing tag.
                while j < b.count && isIdentifier(b[j]) && b[j] != 36 { j += 1 }
                if j < b.count && b[j] == 36 {
                    let tag = b[i...j]
                    var k = j + 1
                    while k < b.count {
                        if b[k] == 36, k + tag.count <= b.count, b[k..<(k + tag.count)].elementsEqual(tag) { k += tag.count; break }
                        k += 1
                    }
                    i = min(k, b.count)
                } else {
                    i += 1
                }
            default:
                let startsWord = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95 || c >= 128
                inWord = startsWord || (wasInWord && isIdentifier(c))
                i += 1
            }
        }
        if copied == 0 { return sql }
        out += b[copied..<b.count]
        return String(decoding: out, as: UTF8.self)
    }
}
