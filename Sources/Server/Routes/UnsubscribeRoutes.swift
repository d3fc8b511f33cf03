import FollowUp
import Foundation
import Hummingbird
import Logging
import Postgres

/// The email unsubscribe link of `List-Unsubscribe` (RFC 8058 one-click):
///
/// - `POST /unsubscribe/<token>` (the mail client's one-click, body
///   `List-Unsubscribe=One-Click`, or the confirmation form): suppresses the address that
///   follow-up email went to, for its channel. 200 with a short page; 404 forged or unknown.
/// - `GET /unsubscribe/<token>`: a confirmation page with one button that POSTs. A GET never
///   unsubscribes: mail scanners and link previews fetch links nobody clicked.
struct UnsubscribeRoutes: Sendable {
    let pool: ConnectionPool
    let tokens: ReplyTokens
    let logger: Logger

    init?(_ dependencies: ServerApp.Dependencies) {
        guard let tokens = dependencies.settings.followUps.replyTokens else { return nil }
        pool = dependencies.pool
        self.tokens = tokens
        logger = dependencies.logger
    }

    func add(to router: Router<ServerApp.ServerContext>) {
        router.post("/unsubscribe/:token") { _, context in try await unsubscribe(context) }
        router.get("/unsubscribe/:token") { _, context in confirm(context) }
    }

    func unsubscribe(_ context: ServerApp.ServerContext) async throws -> Response {
        guard let token = context.parameters.get("token"), let deliveryID = tokens.deliveryID(unsubscribeToken: token),
              let channel = try await Unsubscribe.apply(deliveryID: deliveryID, how: "unsubscribed by the email link", on: pool) else {
            return .text(.notFound, page("This unsubscribe link is not valid."), type: "text/html; charset=utf-8")
        }
        logger.info("email unsubscribe", metadata: ["channel_id": "\(channel)", "delivery_id": "\(deliveryID)"])
        return .text(.ok, page("You are unsubscribed. You will not get follow-up emails from this company any more."),
                     type: "text/html; charset=utf-8")
    }

    func confirm(_ context: ServerApp.ServerContext) -> Response {
        guard let token = context.parameters.get("token"), tokens.deliveryID(unsubscribeToken: token) != nil else {
            return .text(.notFound, page("This unsubscribe link is not valid."), type: "text/html; charset=utf-8")
        }
        // The token is hex digits and a dash (checked above): safe to put in the page.
        return .text(.ok, page("""
            Stop follow-up emails from this company?</p>
            <form method="post" action="/unsubscribe/\(token)"><button type="submit">Unsubscribe</button></form><p>
            """), type: "text/html; charset=utf-8")
    }

    private func page(_ body: String) -> String {
        """
        <!DOCTYPE html><html><head><meta charset="utf-8"><title>Unsubscribe</title></head>
        <body style="font-family: sans-serif; max-width: 480px; margin: 48px auto;"><p>\(body)</p></body></html>

        """
    }
}
