/// A channel's follow-up text: a template with placeholders in braces.
///
/// Placeholders: `{company}` (the channel's name), `{messages}` (the unseen
/// messages, shortened to fit), `{link}` (the way back into the chat, always
/// kept whole), `{customer}` (the customer's name, empty when unknown). Any
/// other `{name}` is an error; braces that do not enclose a name (`{}`,
/// `{ x }`, a lone `}`) are plain text.
public struct TextTemplate: Sendable, Equatable {
    /// The default message text.
    public static let defaultTemplate = "[{company}] {messages}\n{link}"
    /// The default LMS subject.
    public static let defaultSubject = "[{company}]"

    /// The message text, e.g. `"[{company}] {messages}\n{link}"`.
    public var template: String
    /// The LMS subject (Korea only), same placeholders; cut to 40 bytes.
    public var subject: String

    public init(template: String = TextTemplate.defaultTemplate,
                subject: String = TextTemplate.defaultSubject) {
        self.template = template
        self.subject = subject
    }

    /// The names a template may use.
    public enum Placeholder: String, Sendable, CaseIterable {
        case company, messages, link, customer
    }

    /// Checks that both texts use only known placeholders and that the
    /// message text contains `{link}`.
    public func validate() throws(TextTemplateError) {
        for (field, text) in [(TextTemplateError.Field.template, template), (.subject, subject)] {
            for piece in TemplatePiece.parse(text) {
                if case .unknown(let name) = piece {
                    throw .unknownPlaceholder(name, in: field)
                }
            }
        }
        let hasLink = TemplatePiece.parse(template).contains { $0 == .placeholder(.link) }
        if !hasLink { throw .missingLink }
    }
}

/// Why a `TextTemplate` cannot be used.
public enum TextTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which text of the template.
    public enum Field: String, Sendable { case template, subject }

    /// `{name}` is not one of `{company}`, `{messages}`, `{link}`, `{customer}`.
    case unknownPlaceholder(String, in: Field)
    /// The message text has no `{link}`, so the customer could not get back.
    case missingLink

    public var description: String {
        let known = TextTemplate.Placeholder.allCases.map { "{\($0.rawValue)}" }.joined(separator: ", ")
        switch self {
        case .unknownPlaceholder(let name, let field):
            return "unknown placeholder {\(name)} in the text \(field.rawValue); use \(known)"
        case .missingLink:
            return "the text template has no {link}; every follow-up text must carry the link back to the chat"
        }
    }
}

/// One piece of a parsed template.
enum TemplatePiece: Equatable {
    case literal(String)
    case placeholder(TextTemplate.Placeholder)
    case unknown(String)

    /// Splits `text` into literals and `{name}` placeholders, where a name is
    /// one or more ASCII letters, digits or underscores.
    static func parse(_ text: String) -> [TemplatePiece] {
        var pieces: [TemplatePiece] = []
        var literal = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            literal += rest[..<open]
            let afterOpen = rest.index(after: open)
            let nameEnd = rest[afterOpen...].firstIndex { !isNameCharacter($0) } ?? rest.endIndex
            if nameEnd > afterOpen, nameEnd < rest.endIndex, rest[nameEnd] == "}" {
                let name = String(rest[afterOpen..<nameEnd])
                if !literal.isEmpty { pieces.append(.literal(literal)); literal = "" }
                pieces.append(TextTemplate.Placeholder(rawValue: name).map { .placeholder($0) } ?? .unknown(name))
                rest = rest[rest.index(after: nameEnd)...]
            } else {
                literal += "{"
                rest = rest[afterOpen...]
            }
        }
        literal += rest
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return pieces
    }

    /// Joins the pieces, substituting `values` once (a value that contains
    /// "{link}" is not expanded again). Unknown placeholders stay verbatim.
    static func render(_ pieces: [TemplatePiece], _ values: [TextTemplate.Placeholder: String]) -> String {
        var out = ""
        for piece in pieces {
            switch piece {
            case .literal(let text): out += text
            case .placeholder(let name): out += values[name] ?? ""
            case .unknown(let name): out += "{\(name)}"
            }
        }
        return out
    }

    private static func isNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "_")
    }
}
