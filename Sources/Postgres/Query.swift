/// SQL text plus the values bound to its `$n` placeholders.
///
/// Written as a string literal with interpolations, every interpolated value becomes a bound
/// parameter, never SQL text:
///
///     let rows = try await db.query("SELECT id FROM public.jobs WHERE queue = \(queue) AND priority < \(p)")
///
/// Use `\(raw: "...")` only for trusted SQL fragments such as an identifier you chose in code.
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
        /// A trusted SQL fragment, spliced as text. Never pass user input here.
        public mutating func appendInterpolation(raw fragment: String) { sql += fragment }
    }

    /// The SQL alone: safe to log, carries no values.
    public var description: String { sql }
}
