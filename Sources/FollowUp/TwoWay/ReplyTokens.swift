import Crypto
import Foundation

/// Unguessable addresses and links that lead back to one chat or one delivery, signed with
/// `FOLLOWUP_REPLY_SECRET` (HMAC-SHA256, truncated to 80 bits, lower-case hex so a mail system
/// that changes the case of a local part cannot break it):
///
/// - the reply address `r-<chat id>-<mac>@<reply domain>`: a reply to a follow-up email lands
///   in that chat; a forged or altered address is refused;
/// - the unsubscribe token `<delivery id>-<mac>`: `POST /unsubscribe/<token>` (and mail to
///   `u-<token>@<reply domain>`) suppresses the address that delivery went to, for its channel.
///
/// - the bounce address `b-<delivery id>-<mac>@<reply domain>`: the envelope sender, so DSNs
///   come back to `followup mail-in` naming their delivery.
///
/// They are domain-separated (`reply:` / `unsubscribe:` / `bounce:`), so one never passes as another.
public struct ReplyTokens: Sendable {
    /// The key's bytes (swift-crypto's `SymmetricKey` is not `Sendable`; one is made per use).
    private let secret: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: secret) }
    public let domain: String

    /// - Parameter secret: at least 16 bytes; rotate it and older reply addresses stop working.
    public init(secret: String, domain: String) {
        self.secret = Array(secret.utf8)
        self.domain = domain.lowercased()
    }

    // MARK: Reply addresses

    /// `r-<chat>-<mac>@<domain>`.
    public func replyAddress(chatID: Int64) -> String {
        "r-\(chatID)-\(mac("reply:\(chatID)"))@\(domain)"
    }

    /// The chat a reply address leads to; nil when it is not one of ours or its mac is wrong.
    public func chatID(replyAddress address: String) -> Int64? {
        guard let local = localPart(address), local.hasPrefix("r-") else { return nil }
        let parts = local.dropFirst(2).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let chatID = Int64(parts[0]), chatID > 0, verify(String(parts[1]), "reply:\(chatID)") else {
            return nil
        }
        return chatID
    }

    // MARK: Unsubscribe tokens

    /// `<delivery id>-<mac>`: the token of an unsubscribe link or address.
    public func unsubscribeToken(deliveryID: Int64) -> String {
        "\(deliveryID)-\(mac("unsubscribe:\(deliveryID)"))"
    }

    /// The delivery an unsubscribe token names; nil when forged.
    public func deliveryID(unsubscribeToken token: String) -> Int64? {
        let parts = token.lowercased().split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let id = Int64(parts[0]), id > 0, verify(String(parts[1]), "unsubscribe:\(id)") else { return nil }
        return id
    }

    /// `u-<token>@<domain>`: the mailto: of `List-Unsubscribe`.
    public func unsubscribeAddress(deliveryID: Int64) -> String {
        "u-\(unsubscribeToken(deliveryID: deliveryID))@\(domain)"
    }

    /// The delivery an unsubscribe address names; nil when it is not one or is forged.
    public func deliveryID(unsubscribeAddress address: String) -> Int64? {
        guard let local = localPart(address), local.hasPrefix("u-") else { return nil }
        return deliveryID(unsubscribeToken: String(local.dropFirst(2)))
    }

    // MARK: Bounce addresses (VERP)

    /// `b-<delivery id>-<mac>@<domain>`: the envelope sender (Return-Path) of a follow-up email,
    /// so a bounce comes back to us naming its delivery even when it quotes nothing.
    public func bounceAddress(deliveryID: Int64) -> String {
        "b-\(deliveryID)-\(mac("bounce:\(deliveryID)"))@\(domain)"
    }

    /// The delivery a bounce address names; nil when it is not one or is forged.
    public func deliveryID(bounceAddress address: String) -> Int64? {
        guard let local = localPart(address), local.hasPrefix("b-") else { return nil }
        let parts = local.dropFirst(2).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let id = Int64(parts[0]), id > 0, verify(String(parts[1]), "bounce:\(id)") else { return nil }
        return id
    }

    /// Whether `address` is at our reply domain.
    public func isOurs(_ address: String) -> Bool { localPart(address) != nil }

    // MARK: Details

    /// The local part of an address at our domain, lower-cased; nil for another domain.
    private func localPart(_ address: String) -> String? {
        let trimmed = address.trimmingCharacters(in: CharacterSet(charactersIn: " <>\t")).lowercased()
        guard let at = trimmed.lastIndex(of: "@"), trimmed[trimmed.index(after: at)...] == domain else { return nil }
        return String(trimmed[..<at])
    }

    private func mac(_ message: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key)
        return Data(code).prefix(10).map { String(format: "%02x", $0) }.joined()
    }

    private func verify(_ given: String, _ message: String) -> Bool {
        let expected = Array(mac(message).utf8)
        let actual = Array(given.lowercased().utf8)
        guard expected.count == actual.count else { return false }
        // Constant time: no early exit on the first differing byte.
        return zip(expected, actual).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
