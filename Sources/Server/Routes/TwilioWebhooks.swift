import FollowUp
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Postgres
import Providers

/// Twilio's webhooks, both verified by `X-Twilio-Signature` against `FOLLOWUP_PUBLIC_URL` + the
/// path and query Twilio requested (see ``TwilioSignature``); an unsigned or mis-signed request
/// gets 403 and writes nothing.
///
/// - `POST /webhooks/twilio/status?delivery=delivery-<id>`: a message status callback (every
///   SMS asks for one). `delivered`, `undelivered` and `failed` (with `ErrorCode`) are recorded
///   on the delivery (``DeliveryReceipts``); other statuses are acknowledged and ignored.
///   204 recorded or nothing to do, 400 malformed, 404 unknown delivery.
/// - `POST /webhooks/twilio/inbound`: a text a customer sent (``InboundText``): STOP / START
///   keywords, or a customer message in their chat. Answers empty TwiML (no auto-reply).
struct TwilioWebhooks: Sendable {
    static let statusPath = ProviderSettings.twilioStatusPath
    static let inboundPath = "/webhooks/twilio/inbound"
    static let signatureHeader = HTTPField.Name("X-Twilio-Signature")!

    let pool: ConnectionPool
    let signature: TwilioSignature
    let publicURL: String
    let defaultSender: String
    let maxBytes: Int
    let logger: Logger

    init?(_ dependencies: ServerApp.Dependencies) {
        guard let publicURL = dependencies.settings.publicURL, let token = dependencies.settings.twilioAuthToken else { return nil }
        pool = dependencies.pool
        signature = TwilioSignature(authToken: token)
        self.publicURL = publicURL
        defaultSender = dependencies.settings.followUps.defaultSMSFrom
        maxBytes = dependencies.settings.maxFormBytes
        logger = dependencies.logger
    }

    func add(to router: Router<ServerApp.ServerContext>) {
        router.post(RouterPath(Self.statusPath)) { request, _ in try await status(request) }
        router.post(RouterPath(Self.inboundPath)) { request, _ in try await inbound(request) }
    }

    enum Verified {
        case form([(String, String)])
        case refused(Response)
    }

    /// The form, when the signature is Twilio's; else the response to send.
    private func verifiedForm(_ request: inout Request) async -> Verified {
        guard let body = await request.bytes(limit: maxBytes) else { return .refused(.text(.contentTooLarge, "body too large\n")) }
        guard let form = Form.parse(String(decoding: body, as: UTF8.self)) else {
            return .refused(.text(.badRequest, "unreadable form body\n"))
        }
        let url = publicURL + request.uri.description
        guard signature.isValid(request.headers[Self.signatureHeader], url: url, parameters: form) else {
            logger.notice("Twilio webhook refused: bad or missing X-Twilio-Signature", metadata: ["path": "\(request.uri.path)"])
            return .refused(.text(.forbidden, "invalid X-Twilio-Signature\n"))
        }
        return .form(form)
    }

    func status(_ request: Request) async throws -> Response {
        var request = request
        let form: [(String, String)]
        switch await verifiedForm(&request) {
        case .refused(let response): return response
        case .form(let pairs): form = pairs
        }
        guard let sid = Form.value("MessageSid", in: form) ?? Form.value("SmsSid", in: form),
              let status = (Form.value("MessageStatus", in: form) ?? Form.value("SmsStatus", in: form))?.lowercased() else {
            return .text(.badRequest, "MessageSid and MessageStatus are required\n")
        }
        guard let key = request.uri.queryParameters.get("delivery"), let deliveryID = DeliveryReceipts.deliveryID(fromKey: key) else {
            return .text(.badRequest, "the callback URL names no delivery\n")
        }
        let code = Form.value("ErrorCode", in: form).flatMap { $0.isEmpty ? nil : $0 }
        let outcome: DeliveryReceipts.Outcome
        switch status {
        case "delivered", "read": outcome = .delivered
        case "undelivered", "failed": outcome = .undelivered
        default:
            // queued, sending, sent, accepted…: not final. A late one must never undo a receipt.
            return Response(status: .noContent)
        }
        let reason = outcome == .delivered ? nil : Self.describe(status: status, code: code)
        let applied = try await DeliveryReceipts.apply(deliveryID: deliveryID, providerMessageID: sid, outcome: outcome,
                                                       reason: reason, providerCode: code, routes: ["sms", "lms"], on: pool)
        logger.info("Twilio status callback", metadata: ["delivery_id": "\(deliveryID)", "status": "\(status)",
                                                         "applied": "\(applied)"])
        return applied == .unknownDelivery ? .text(.notFound, "unknown delivery\n") : Response(status: .noContent)
    }

    func inbound(_ request: Request) async throws -> Response {
        var request = request
        let form: [(String, String)]
        switch await verifiedForm(&request) {
        case .refused(let response): return response
        case .form(let pairs): form = pairs
        }
        guard let sid = Form.value("MessageSid", in: form) ?? Form.value("SmsSid", in: form),
              let from = Form.value("From", in: form), let to = Form.value("To", in: form) else {
            return .text(.badRequest, "MessageSid, From and To are required\n")
        }
        let outcome = try await InboundText.handle(
            InboundText.Message(messageSID: sid, from: from, to: to, messagingServiceSID: Form.value("MessagingServiceSid", in: form),
                                body: Form.value("Body", in: form) ?? "", optOutType: Form.value("OptOutType", in: form)),
            defaultSender: defaultSender, on: pool)
        logger.info("inbound text", metadata: ["outcome": "\(Self.name(outcome))"])
        return .text(.ok, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>", type: "text/xml; charset=utf-8")
    }

    /// The delivery log's words for a carrier failure (Twilio's 300xx error codes).
    static func describe(status: String, code: String?) -> String {
        let meaning: String? = switch code {
        case "30003": "the handset is unreachable"
        case "30004": "the message was blocked (the recipient may have opted out at the carrier)"
        case "30005": "the number is unknown or no longer exists"
        case "30006": "the number is a landline or cannot receive texts"
        case "30007": "the carrier filtered it as spam"
        case "30008": "the carrier reported an unknown error"
        default: nil
        }
        let word = status == "failed" ? "the provider could not send it" : "the carrier could not deliver it"
        return [word, meaning].compactMap { $0 }.joined(separator: ": ") + " (Twilio \(status)\(code.map { ", error \($0)" } ?? ""))"
    }

    /// The outcome without phone numbers or text, for the log.
    static func name(_ outcome: InboundText.Outcome) -> String {
        switch outcome {
        case .optedOut: "opted out"
        case .optedIn: "opted in"
        case .message(let chat): "message in chat \(chat)"
        case .unknownSender: "unknown sender"
        case .duplicate: "duplicate"
        case .empty: "empty"
        case .ignoredKeyword: "keyword handled by Twilio"
        }
    }
}
