import FollowUp
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Postgres

/// `POST /webhooks/email/inbound`: a raw RFC 5322 message (`Content-Type: message/rfc822`)
/// from a mail provider that forwards inbound mail, authenticated by the shared secret in
/// `X-Followup-Secret` (`FOLLOWUP_INBOUND_MAIL_SECRET`). The envelope recipient may be given
/// in `X-Followup-Recipient`; otherwise it is read from the message's headers.
///
/// The same code path as `followup mail-in` (``InboundMail``). Answers: 200 accepted (JSON
/// `{"outcome": …}`), 401 bad secret, 415 not message/rfc822, 413 too large, 400 not a mail,
/// 404 unknown recipient (forged token, unknown chat), 503 try later.
struct EmailWebhooks: Sendable {
    static let path = "/webhooks/email/inbound"
    static let secretHeader = HTTPField.Name("X-Followup-Secret")!
    static let recipientHeader = HTTPField.Name("X-Followup-Recipient")!

    let pool: ConnectionPool
    let tokens: ReplyTokens
    let secret: [UInt8]
    let logger: Logger

    init?(_ dependencies: ServerApp.Dependencies) {
        guard let tokens = dependencies.settings.followUps.replyTokens, let secret = dependencies.settings.inboundMailSecret else {
            return nil
        }
        pool = dependencies.pool
        self.tokens = tokens
        self.secret = Array(secret.utf8)
        logger = dependencies.logger
    }

    func add(to router: Router<ServerApp.ServerContext>) {
        router.post(RouterPath(Self.path)) { request, _ in try await inbound(request) }
    }

    func inbound(_ request: Request) async throws -> Response {
        var request = request
        let given: [UInt8] = Array((request.headers[Self.secretHeader] ?? "").utf8)
        guard Self.constantTimeEqual(given, secret) else {
            return .text(.unauthorized, "missing or wrong X-Followup-Secret\n")
        }
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("message/rfc822") else { return .text(.unsupportedMediaType, "send the raw mail as message/rfc822\n") }
        guard let raw = await request.bytes(limit: InboundMail.maxBytes) else { return .text(.contentTooLarge, "mail too large\n") }
        do {
            let outcome = try await InboundMail.handle(raw, recipient: request.headers[Self.recipientHeader],
                                                       tokens: tokens, on: pool)
            logger.info("inbound mail accepted", metadata: ["outcome": "\(EmailWebhooks.name(outcome))", "entrance": "webhook"])
            return .text(.ok, "{\"outcome\":\"\(Self.name(outcome))\"}\n", type: "application/json")
        } catch let error as InboundMail.Refusal {
            logger.info("inbound mail refused", metadata: ["reason": "\(error.reason)", "entrance": "webhook"])
            switch error.kind {
            case .unknownRecipient: return .text(.notFound, "\(error.reason)\n")
            case .badMessage: return .text(.badRequest, "\(error.reason)\n")
            case .tryLater: return .text(.serviceUnavailable, "try later\n")
            }
        } catch {
            return .text(.serviceUnavailable, "try later\n")
        }
    }

    /// Compares without stopping at the first difference (no timing hint about the secret).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// The outcome's name (no addresses, no text): the JSON answer and the log.
    static func name(_ outcome: InboundMail.Outcome) -> String {
        switch outcome {
        case .message: "message"
        case .autoReply: "auto_reply"
        case .bounce(_, let hard): hard ? "hard_bounce" : "bounce"
        case .unsubscribed: "unsubscribed"
        case .empty: "empty"
        case .duplicate: "duplicate"
        }
    }
}
