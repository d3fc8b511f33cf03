/// The rows a statement returned, copied out of libpq's result (which is freed at once).
public struct Rows: Sendable, RandomAccessCollection {
    /// The result's column names and where each is, shared by its rows: looked up once per result.
    let layout: ColumnLayout
    let values: [[String?]]
    /// Rows inserted, updated or deleted (from the command tag), or the row count for a SELECT.
    public let affected: Int

    init(columns: [String], values: [[String?]], affected: Int) {
        self.layout = ColumnLayout(columns)
        self.values = values
        self.affected = affected
    }

    public var columns: [String] { layout.names }
    public var startIndex: Int { 0 }
    public var endIndex: Int { values.count }
    public subscript(position: Int) -> Row { Row(layout: layout, values: values[position]) }

    /// Every row as a `T` (see `RowDecodable`).
    public func decode<T: RowDecodable>(_ type: T.Type = T.self) throws -> [T] {
        try map { try T(row: $0) }
    }
}

/// A struct read from a row by column name: `init(row:)` calls `row.decode("chat_id")` per field.
/// The names are resolved through the result's `ColumnLayout` (a hash lookup, built once per
/// result set), so reading by name costs about what reading by position did.
///
///     struct Chat: RowDecodable {
///         var id: Int64; var closedAt: Date?
///         init(row: Row) throws { id = try row.decode("id"); closedAt = try row.decode("closed_at") }
///     }
///     let chats = try await db.query("SELECT id, closed_at FROM public.chats").decode(Chat.self)
public protocol RowDecodable: Sendable {
    init(row: Row) throws
}

/// A result's column names and the position of each, built once per result set and shared by
/// its rows. A name that appears twice (`SELECT a.id, b.id`) cannot be read by name: alias one.
final class ColumnLayout: Sendable {
    let names: [String]
    /// Position by name; -1 for a name that appears more than once.
    private let positions: [String: Int]

    init(_ names: [String]) {
        self.names = names
        var positions = [String: Int](minimumCapacity: names.count)
        for (i, name) in names.enumerated() {
            positions[name] = positions[name] == nil ? i : -1
        }
        self.positions = positions
    }

    func position(of name: String) throws -> Int {
        switch positions[name] {
        case let i? where i >= 0: return i
        case .some: throw PostgresError(code: .decoding, message: "column \(name) appears more than once in the result; alias one")
        case nil: throw PostgresError(code: .decoding, message: "no column named \(name) (the result has: \(names.joined(separator: ", ")))")
        }
    }
}

/// One row. Read columns by name (`row.decode("chat_id", as: Int64.self)`) or by position,
/// decoding to the Swift type you ask for. Errors name the column and the type, never the value.
public struct Row: Sendable {
    let layout: ColumnLayout
    let values: [String?]

    public var columns: [String] { layout.names }

    /// Decodes column `index`; throws when it is NULL or not of that type.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws -> T {
        guard index < values.count else {
            throw PostgresError(code: .decoding, message: "column \(index) is out of range (\(values.count) columns)")
        }
        guard let text = values[index] else {
            throw PostgresError(code: .decoding, message: "column \(layout.names[index]) is NULL, expected \(T.self)")
        }
        do {
            return try T(postgresText: text)
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(code: .decoding, message: "column \(layout.names[index]) is not a valid \(T.self)")
        }
    }

    /// Decodes column `index`, returning nil for NULL.
    public func decode<T: PostgresDecodable>(_ type: T?.Type, at index: Int) throws -> T? {
        guard index < values.count, values[index] != nil else { return nil }
        return try decode(T.self, at: index)
    }

    /// Decodes the column called `name`; throws when there is none, it is NULL, or not a `T`.
    public func decode<T: PostgresDecodable>(_ type: T.Type, _ name: String) throws -> T {
        try decode(T.self, at: layout.position(of: name))
    }

    /// Decodes the column called `name`, returning nil for NULL.
    public func decode<T: PostgresDecodable>(_ type: T?.Type, _ name: String) throws -> T? {
        try decode(T?.self, at: layout.position(of: name))
    }

    /// `decode(_:_:)` with the name first: `row.decode("chat_id", as: Int64.self)`.
    public func decode<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try decode(T.self, at: layout.position(of: name))
    }

    /// `decode(_:_:)` with the name first, nil for NULL: `row.decode("closed_at", as: Date?.self)`.
    public func decode<T: PostgresDecodable>(_ name: String, as type: T?.Type = T?.self) throws -> T? {
        try decode(T?.self, at: layout.position(of: name))
    }

    public func isNull(_ index: Int) -> Bool { values[index] == nil }

    /// Whether column `name` is NULL (throws when there is no such column).
    public func isNull(_ name: String) throws -> Bool { values[try layout.position(of: name)] == nil }
}
