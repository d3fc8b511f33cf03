/// One-dimensional arrays of any bindable element, in Postgres' text format (`{"a","b",NULL}`).
///
/// Bind an array and cast it on the SQL side: `WHERE id = ANY(\(ids)::bigint[])`,
/// `FROM unnest(\(payloads)::text[])`. Each element is quoted and escaped, so any text travels
/// as a value, never as SQL or array syntax; a nil element is NULL. Arrays of arrays are not
/// supported (Postgres' multidimensional arrays must be rectangular; bind one array per dimension).
extension Array: PostgresEncodable where Element: PostgresEncodable {
    public var postgresText: String? {
        var text = "{"
        for (i, element) in enumerated() {
            if i > 0 { text += "," }
            guard let value = element.postgresText else { text += "NULL"; continue }
            text += "\""
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { text += "\\" }
                text.unicodeScalars.append(character)
            }
            text += "\""
        }
        return text + "}"
    }
}

/// Reads a one-dimensional array column (`{1,2,3}`, `{"a b",NULL}`) into its elements. A NULL
/// element cannot be held by a non-optional element type: that is a decoding error.
extension Array: PostgresDecodable where Element: PostgresDecodable {
    public init(postgresText text: String) throws {
        self = try PostgresArrayText.elements(text).map { element in
            guard let element else { throw DecodingFailure(type: "array without NULLs") }
            return try Element(postgresText: element)
        }
    }
}

enum PostgresArrayText {
    /// The elements of a one-dimensional array literal, nil for an unquoted NULL.
    static func elements(_ text: String) throws -> [String?] {
        var scalars = Substring(text).unicodeScalars[...]
        // A non-default lower bound is written first: `[0:2]={…}`.
        if scalars.first == "[", let equals = scalars.firstIndex(of: "=") { scalars = scalars[scalars.index(after: equals)...] }
        guard scalars.first == "{", scalars.last == "}" else { throw DecodingFailure(type: "array") }
        scalars = scalars.dropFirst().dropLast()
        var elements: [String?] = []
        if scalars.isEmpty { return elements }
        var current = String.UnicodeScalarView()
        var quoted = false, wasQuoted = false
        var iterator = scalars.makeIterator()
        while let c = iterator.next() {
            if quoted {
                if c == "\\" { if let next = iterator.next() { current.append(next) }; continue }
                if c == "\"" { quoted = false; continue }
                current.append(c)
            } else {
                switch c {
                case "\"": quoted = true; wasQuoted = true
                case "{": throw DecodingFailure(type: "one-dimensional array")
                case ",":
                    elements.append(finish(current, wasQuoted)); current = .init(); wasQuoted = false
                default: current.append(c)
                }
            }
        }
        elements.append(finish(current, wasQuoted))
        return elements
    }

    private static func finish(_ scalars: String.UnicodeScalarView, _ quoted: Bool) -> String? {
        let text = String(scalars)
        return !quoted && text.uppercased() == "NULL" ? nil : text
    }
}
