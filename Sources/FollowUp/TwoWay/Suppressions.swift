import Foundation
import Postgres

/// Who a channel must not text or email again (`suppressions`): SMS STOP, the email unsubscribe
/// link, a hard bounce. One table for all of them; a suppressed customer gets no text (messenger
/// nor SMS/LMS) or email from that channel, and the follow-up records why.
public enum Suppressions {
    public enum AddressKind: String, Sendable { case phone, email }

    /// Phones are kept as E.164, emails lower-cased, so a lookup never misses on spelling.
    public static func normalized(_ address: String, kind: AddressKind) -> String {
        let trimmed = address.trimmingCharacters(in: .whitespacesAndNewlines)
        return kind == .email ? trimmed.lowercased() : trimmed
    }

    /// Suppresses `address` for `channelID`. Idempotent: suppressing again keeps the first reason.
    public static func suppress(channelID: Int64, _ kind: AddressKind, _ address: String, reason: String,
                                providerCode: String? = nil, on db: some Queryable) async throws {
        try await db.execute("""
            INSERT INTO public.suppressions (channel_id, address_kind, address, reason, provider_code)
            VALUES (\(channelID), \(kind.rawValue), \(normalized(address, kind: kind)), \(reason), \(providerCode))
            ON CONFLICT (channel_id, address_kind, address) DO NOTHING
            """)
    }

    /// Lifts a suppression (SMS START). Returns whether one existed.
    @discardableResult
    public static func lift(channelID: Int64, _ kind: AddressKind, _ address: String, on db: some Queryable) async throws -> Bool {
        try await db.execute("""
            DELETE FROM public.suppressions
            WHERE channel_id = \(channelID) AND address_kind = \(kind.rawValue) AND address = \(normalized(address, kind: kind))
            """) > 0
    }

    /// Why `address` is suppressed for `channelID`, or nil when it is not.
    public static func reason(channelID: Int64, _ kind: AddressKind, _ address: String, on db: some Queryable) async throws -> String? {
        try await db.first("""
            SELECT reason FROM public.suppressions
            WHERE channel_id = \(channelID) AND address_kind = \(kind.rawValue) AND address = \(normalized(address, kind: kind))
            """).map { try $0.decode(String.self, at: 0) }
    }

    /// The delivery log's words for a suppressed delivery.
    static func describe(_ reason: String) -> String { "not sent: the recipient opted out (\(reason))" }
}
