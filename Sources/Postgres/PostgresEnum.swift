/// A Swift enum stored in a `text` column (a status, a kind): it binds as its raw value and
/// decodes from it, so Swift code compares cases, never bare strings. Conform with nothing else
/// to write:
///
///     enum DeliveryStatus: String, PostgresEnum { case queued, sending, sent }
///
/// A value no case matches is a decoding error that names the type, not the value (the column
/// could hold anything; errors never carry values).
public protocol PostgresEnum: PostgresCodable, RawRepresentable, CaseIterable where RawValue == String {}

extension PostgresEnum {
    public var postgresText: String? { rawValue }
    public init(postgresText text: String) throws {
        guard let value = Self(rawValue: text) else { throw DecodingFailure(type: "\(Self.self)") }
        self = value
    }
}
