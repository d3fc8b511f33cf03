import Foundation
import Hummingbird
import FollowUp
import Jobs
import Logging
import Postgres
import Wallet

/// The status page of `followup serve` (docs/operations.md), for a person on call:
///
/// - `GET /` — queue depth and lag per kind, dead jobs with their error history and a retry
///   button, the latest follow-ups with each delivery's route, status, reason and cost, and a
///   channel's wallet statement (`/?channel=ID`).
/// - `POST /jobs/:id/retry` — makes a dead job due again (`JobAdmin.retry`) on the operator's pool.
///
/// Every request needs HTTP basic auth with `FOLLOWUP_STATUS_PASSWORD` (401 otherwise). Buttons
/// are CSRF-safe: a POST must carry, in its form, the value of the `followup_csrf` cookie
/// (double submit; the cookie is `HttpOnly; SameSite=Strict`, so another site can neither read
/// it nor have the browser send it). Only POST changes anything.
struct StatusPage: Sendable {
    let readPool: ConnectionPool
    let operatorPool: ConnectionPool?
    let password: String
    let secureCookie: Bool
    let logger: Logger

    static let csrfCookie = "followup_csrf"

    init?(_ dependencies: ServerApp.Dependencies) {
        guard let settings = dependencies.statusPage, !settings.password.isEmpty else { return nil }
        readPool = settings.operatorPool ?? dependencies.pool
        operatorPool = settings.operatorPool
        password = settings.password
        secureCookie = settings.secureCookie
        logger = dependencies.logger
    }

    func add(to router: Router<ServerApp.ServerContext>) {
        router.get("/") { request, _ in
            guard authorized(request) else { return Self.challenge }
            return try await page(request)
        }
        router.post("/jobs/:id/retry") { request, context in
            guard authorized(request) else { return Self.challenge }
            return try await retry(request, context)
        }
    }

    // MARK: Login and CSRF

    static var challenge: Response {
        Response(status: .unauthorized, headers: [.wwwAuthenticate: #"Basic realm="followup status", charset="UTF-8""#,
                                                  .contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: "login required\n")))
    }

    /// Basic auth: any user name, the configured password, compared in constant time.
    func authorized(_ request: Request) -> Bool {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("basic "),
              let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let credentials = String(data: decoded, encoding: .utf8),
              let colon = credentials.firstIndex(of: ":") else { return false }
        return Self.constantTimeEqual(String(credentials[credentials.index(after: colon)...]), password)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }

    static func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == name { return String(parts[1]) }
            }
        }
        return nil
    }

    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// The token already in the browser's cookie (when well formed), else a new one to set.
    func csrfToken(_ request: Request) -> (token: String, setCookie: String?) {
        if let token = Self.cookie(Self.csrfCookie, in: request), token.count == 64, token.allSatisfy(\.isHexDigit) {
            return (token, nil)
        }
        let token = Self.newToken()
        return (token, "\(Self.csrfCookie)=\(token); Path=/; HttpOnly; SameSite=Strict\(secureCookie ? "; Secure" : "")")
    }

    // MARK: Actions

    func retry(_ request: Request, _ context: ServerApp.ServerContext) async throws -> Response {
        var request = request
        guard let bytes = await request.bytes(limit: 4096), let form = Form.parse(String(decoding: bytes, as: UTF8.self)),
              let sent = Form.value("csrf", in: form), let cookie = Self.cookie(Self.csrfCookie, in: request),
              !cookie.isEmpty, Self.constantTimeEqual(sent, cookie) else {
            return .text(.forbidden, "the form's CSRF token does not match its cookie: reload the page and try again\n")
        }
        guard let operatorPool else {
            return .text(.forbidden, "actions need FOLLOWUP_OPERATOR_DATABASE_URL (a followup_operator login)\n")
        }
        guard let id = context.parameters.get("id").flatMap(Int64.init) else {
            return .text(.badRequest, "not a job id\n")
        }
        let retried = try await JobAdmin.retry(id: id, on: operatorPool)
        logger.notice("status page: retry", metadata: ["job_id": "\(id)", "retried": "\(retried)"])
        return Response(status: .seeOther, headers: [.location: retried ? "/?retried=\(id)" : "/?not_retried=\(id)"])
    }

    // MARK: The page

    func page(_ request: Request) async throws -> Response {
        let (token, setCookie) = csrfToken(request)
        let query = request.uri.queryParameters
        var sections: [String] = ["<h1>followup status</h1><p class=\"muted\">Times in UTC.</p>"]
        if let id = query.get("retried").flatMap(Int64.init) {
            sections.append("<p class=\"flash\">Job \(id) is due again.</p>")
        } else if let id = query.get("not_retried").flatMap(Int64.init) {
            sections.append("<p class=\"flash\">Job \(id) was not dead any more; nothing changed.</p>")
        }
        sections.append(try await queuesSection())
        sections.append(try await deadJobsSection(token: token))
        sections.append(try await followUpsSection())
        sections.append(try await walletSection(channel: query.get("channel")))
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
        if let setCookie { headers[.setCookie] = setCookie }
        let html = HTML.page(title: "followup status", body: sections.joined(separator: "\n"))
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    private func queuesSection() async throws -> String {
        let rows = try await StatusQueries.kinds(on: readPool).map { row in
            [HTML.escape(row.queue), "<code>\(HTML.escape(row.kind))</code>", "\(row.due)", "\(row.scheduled)", "\(row.running)",
             row.dead > 0 ? "<span class=\"bad\">\(row.dead)</span>" : "0",
             row.lagSeconds >= 60 ? "<span class=\"bad\">\(Self.seconds(row.lagSeconds))</span>" : Self.seconds(row.lagSeconds)]
        }
        return "<h2>Queues</h2>" + HTML.table(["queue", "kind", "due", "scheduled", "running", "dead", "lag"], rows,
                                              empty: "No job is waiting, running or dead.")
    }

    private func deadJobsSection(token: String) async throws -> String {
        let jobs = try await StatusQueries.deadJobs(on: readPool)
        let rows = jobs.map { job -> [String] in
            let errors = "<ol class=\"errors\">" + job.errors.map { attempt, at, error in
                "<li>attempt \(attempt), \(HTML.escape(Self.shortTime(at))): \(HTML.escape(error))</li>"
            }.joined() + "</ol>"
            let action = operatorPool == nil ? "<span class=\"muted\">read-only</span>" : """
                <form method="post" action="/jobs/\(job.id)/retry"><input type="hidden" name="csrf" value="\(HTML.escape(token))">\
                <button type="submit" id="retry-\(job.id)">Retry</button></form>
                """
            return ["\(job.id)", HTML.escape(job.queue), "<code>\(HTML.escape(job.kind))</code>", "\(job.attempt)",
                    HTML.escape(job.finishedAt.map(Self.time) ?? ""), errors, action]
        }
        return "<h2>Dead jobs</h2>" + HTML.table(["id", "queue", "kind", "attempts", "died", "errors", ""], rows, empty: "No dead jobs.")
    }

    private func followUpsSection() async throws -> String {
        let rows = try await StatusQueries.followUps(on: readPool).map { followUp -> [String] in
            let deliveries = followUp.deliveries.map { delivery in
                let status = [DeliveryStatus.failed, .unknown, .undelivered, .bounced].contains(delivery.status)
                    ? "<span class=\"bad\">\(HTML.escape(delivery.status.rawValue))</span>" : HTML.escape(delivery.status.rawValue)
                return "<li>\(HTML.escape(delivery.route)) · \(status)\(delivery.reason.map { " — " + HTML.escape($0) } ?? "")"
                    + (delivery.costMicros > 0 ? " · \(HTML.escape(Money.format(delivery.costMicros)))" : "") + "</li>"
            }.joined()
            return ["\(followUp.id)", "\(followUp.channelID)", "\(followUp.chatID)", HTML.escape(Self.time(followUp.createdAt)),
                    HTML.escape(followUp.status.rawValue) + (followUp.reason.map { "<br><span class=\"muted\">\(HTML.escape($0))</span>" } ?? ""),
                    deliveries.isEmpty ? "<span class=\"muted\">none yet</span>" : "<ul class=\"errors\">\(deliveries)</ul>"]
        }
        return "<h2>Latest follow-ups</h2>" + HTML.table(["id", "channel", "chat", "created", "status", "deliveries"], rows,
                                                         empty: "No follow-ups yet.")
    }

    private func walletSection(channel: String?) async throws -> String {
        var html = """
            <h2>Wallet statement</h2>
            <form method="get" action="/"><label>Channel id <input name="channel" inputmode="numeric" size="8" \
            value="\(HTML.escape(channel ?? ""))"></label> <button type="submit">Show</button></form>
            """
        guard let channel, !channel.isEmpty else { return html }
        guard let channelID = Int64(channel) else { return html + "<p class=\"bad\">A channel id is a number.</p>" }
        guard let operatorPool else {
            return html + "<p class=\"muted\">The statement needs FOLLOWUP_OPERATOR_DATABASE_URL (a followup_operator login).</p>"
        }
        let lines = try await StatusQueries.statement(channelID: channelID, on: operatorPool)
        html += HTML.table(["transfer", "at", "kind", "reason", "paid", "promotional", "held", "available after"], lines.map { line in
            ["\(line.transferID)", HTML.escape(Self.time(line.at)), HTML.escape(line.kind.rawValue), HTML.escape(line.reason),
             HTML.escape(Money.format(line.paidChangeMicros)), HTML.escape(Money.format(line.promotionalChangeMicros)),
             HTML.escape(Money.format(line.heldChangeMicros)), HTML.escape(Money.format(line.availableAfterMicros))]
        }, empty: "No transfers for channel \(channelID).")
        return html
    }

    static func seconds(_ value: Double) -> String {
        value < 1 ? "0s" : value < 120 ? "\(Int(value))s" : value < 7200 ? "\(Int(value / 60))m" : "\(Int(value / 3600))h"
    }

    /// `2026-11-29T13:02:00.18521+00:00` (a job error's `at`) as `2026-11-29 13:02:00`.
    static func shortTime(_ text: String) -> String {
        text.count >= 19 ? String(text.prefix(19)).replacingOccurrences(of: "T", with: " ") : text
    }

    static func time(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateTimeSeparator(.space).time(includingFractionalSeconds: false))
    }
}
