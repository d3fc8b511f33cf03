/// The rows a statement returned, copied out of libpq's result (which is freed at once).
public struct Rows: Sendable, RandomAccessCollection {
    public let columns: [String]
    let values: [[String?]]
    /// Rows inserted, updated or deleted (from the command tag), or the row count for a SELECT.
    public let affected: Int

    init(columns: [String], values: [[String?]], affected: Int) {
        self.columns = columns
        self.values = values
        self.affected = affected
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { values.count }
    public subscript(position: Int) -> Row { Row(columns: columns, values: values[position]) }
}

/// One row. Read columns by position or name, decoding to the Swift type you ask for.
public struct Row: Sendable {
    public let columns: [String]
    let values: [String?]

    /// Decodes column `index`; throws when it is NULL or not of that type.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws -> T {
        guard index < values.count else {
            throw PostgresError(code: .decoding, message: "column \(index) is out of range (\(values.count) columns)")
        }
        guard let text = values[index] else {
            throw PostgresError(code: .decoding, message: "column \(columns[index]) is NULL, expected \(T.self)")
        }
        do {
            return try T(postgresText: text)
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(code: .decoding, message: "column \(columns[index]) is not a valid \(T.self)")
        }
    }

    /// Decodes column `index`, returning nil for NULL.
    public func decode<T: PostgresDecodable>(_ type: T?.Type, at index: Int) throws -> T? {
        guard index < values.count, values[index] != nil else { return nil }
        return try decode(T.self, at: index)
    }

    /// Decodes the column called `name`.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, _ name: String) throws -> T {
        try decode(T.self, at: indexOf(name))
    }

    /// Decodes the column called `name`, returning nil for NULL.
    public func decode<T: PostgresDecodable>(_ type: T?.Type, _ name: String) throws -> T? {
        try decode(T?.self, at: indexOf(name))
    }

    public func isNull(_ index: Int) -> Bool { values[index] == nil }

    private func indexOf(_ name: String) throws -> Int {
        guard let index = columns.firstIndex(of: name) else {
            throw PostgresError(code: .decoding, message: "no column named \(name)")
        }
        return index
    }
}
