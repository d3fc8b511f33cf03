import Foundation
import Logging
import Outbound
import Postgres
import Server
import Testing
import TestSupport

/// The status page: refused without the login; with it, it lists a dead job (its error escaped),
/// and the retry button — a POST carrying the CSRF cookie's value — makes the job due again,
/// through the operator's login.
@Suite("Status page") struct StatusPageTests {
    static let password = "status-page-password-1234"

    struct World {
        let db: TestDatabase
        let operatorPool: ConnectionPool
        let server: RunningServer
        let client = OutboundClient()
        var base: String { "http://127.0.0.1:\(server.port)" }

        func stop() async {
            await server.stop()
            client.shutdown()
            await operatorPool.close()
            await db.pool.close()
        }

        func send(_ method: String, _ path: String, password: String? = StatusPageTests.password, cookie: String? = nil,
                  form: String? = nil) async throws -> HTTPResponse {
            var headers: [HTTPHeader] = []
            if let password { headers.append(HTTPHeader("Authorization", "Basic " + Data("ops:\(password)".utf8).base64EncodedString())) }
            if let cookie { headers.append(HTTPHeader("Cookie", cookie)) }
            if form != nil { headers.append(HTTPHeader("Content-Type", "application/x-www-form-urlencoded")) }
            return try await client.send(HTTPRequest(method: method, url: base + path, headers: headers,
                                                     body: form.map { Array($0.utf8) } ?? [], timeout: .seconds(10)))
        }
    }

    static func world(operatorLogin: Bool = true) async throws -> World {
        let db = try await TestDatabase.fresh()
        let operatorPool = try await db.pool(as: .operator, maxConnections: 2)
        let server = try await RunningServer.start(.init(
            pool: db.pool, settings: ServerHarness.settings, logger: Logger(label: "test.status"),
            statusPage: StatusPageSettings(password: password, operatorPool: operatorLogin ? operatorPool : nil)))
        return World(db: db, operatorPool: operatorPool, server: server)
    }

    /// Runs `body` in a fresh world and stops it afterwards (awaited), whether it returned or threw.
    static func withWorld<T>(operatorLogin: Bool = true, _ body: (World) async throws -> T) async throws -> T {
        let w = try await world(operatorLogin: operatorLogin)
        return try await withCleanup({ try await body(w) }, cleanup: { await w.stop() })
    }

    /// A dead job with two failed attempts, one error carrying markup.
    static func deadJob(_ db: TestDatabase) async throws -> Int64 {
        try await db.pool.scalar("""
            INSERT INTO public.jobs (kind, state, attempt, max_attempts, finished_at, errors)
            VALUES ('ops.example', 'dead', 2, 2, now(), jsonb_build_array(
                jsonb_build_object('attempt', 1, 'at', now(), 'error', 'provider unavailable [HTTP 503]'),
                jsonb_build_object('attempt', 2, 'at', now(), 'error', '<script>alert(1)</script> & more')))
            RETURNING id
            """, as: Int64.self)
    }

    static func header(_ response: HTTPResponse, _ name: String) -> String? {
        response.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    @Test("no login, a wrong password: 401 with a Basic challenge, and nothing is shown")
    func refusedWithoutLogin() async throws {
        try await Self.withWorld { w in
            _ = try await Self.deadJob(w.db)
            for password in [nil, "wrong-password-123456"] as [String?] {
                let response = try await w.send("GET", "/", password: password)
                #expect(response.status == 401)
                #expect(Self.header(response, "WWW-Authenticate")?.hasPrefix("Basic") == true)
                #expect(!String(decoding: response.body, as: UTF8.self).contains("ops.example"))
                #expect(try await w.send("POST", "/jobs/1/retry", password: password, form: "csrf=x").status == 401)
            }
        }
    }

    @Test("retry: without the CSRF token refused; with it the dead job is due again")
    func retryButton() async throws {
        try await Self.withWorld { w in
            let job = try await Self.deadJob(w.db)

            let page = try await w.send("GET", "/")
            #expect(page.status == 200)
            let html = String(decoding: page.body, as: UTF8.self)
            #expect(html.contains("ops.example") && html.contains("provider unavailable [HTTP 503]"))
            #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"), "errors are escaped")
            #expect(!html.contains("<script>"))
            #expect(html.contains("name=\"viewport\""), "usable on a phone")
            let setCookie = try #require(Self.header(page, "Set-Cookie"))
            #expect(setCookie.contains("SameSite=Strict") && setCookie.contains("HttpOnly"))
            let cookie = try #require(setCookie.split(separator: ";").first.map(String.init))
            let token = String(cookie.dropFirst("followup_csrf=".count))
            #expect(html.contains("action=\"/jobs/\(job)/retry\"") && html.contains("value=\"\(token)\""))

            // A forged POST: no token, a wrong token, or the token without its cookie.
            #expect(try await w.send("POST", "/jobs/\(job)/retry", cookie: cookie, form: "").status == 403)
            #expect(try await w.send("POST", "/jobs/\(job)/retry", cookie: cookie, form: "csrf=\(String(repeating: "0", count: 64))").status == 403)
            #expect(try await w.send("POST", "/jobs/\(job)/retry", form: "csrf=\(token)").status == 403)
            #expect(try await w.send("GET", "/jobs/\(job)/retry", cookie: cookie).status != 303, "a GET changes nothing")
            #expect(try await w.db.pool.scalar("SELECT state::text FROM public.jobs WHERE id = \(job)", as: String.self) == "dead")

            let retried = try await w.send("POST", "/jobs/\(job)/retry", cookie: cookie, form: "csrf=\(token)")
            #expect(retried.status == 303)
            #expect(Self.header(retried, "Location") == "/?retried=\(job)")
            #expect(try await w.db.pool.scalar("SELECT state::text FROM public.jobs WHERE id = \(job)", as: String.self) == "available")
            let errors = try await w.db.pool.scalar("SELECT jsonb_array_length(errors) FROM public.jobs WHERE id = \(job)", as: Int.self)
            #expect(errors == 2, "the error history is kept")
            let after = String(decoding: try await w.send("GET", "/?retried=\(job)", cookie: cookie).body, as: UTF8.self)
            #expect(after.contains("Job \(job) is due again."))
        }
    }

    @Test("without an operator login the page is read-only and shows no wallet statement")
    func readOnlyWithoutOperator() async throws {
        try await Self.withWorld(operatorLogin: false) { w in
            let job = try await Self.deadJob(w.db)
            let page = try await w.send("GET", "/?channel=1")
            let html = String(decoding: page.body, as: UTF8.self)
            #expect(page.status == 200)
            #expect(!html.contains("/jobs/\(job)/retry") && html.contains("read-only"))
            #expect(html.contains("FOLLOWUP_OPERATOR_DATABASE_URL"))
            let cookie = try #require(Self.header(page, "Set-Cookie")?.split(separator: ";").first.map(String.init))
            let token = String(cookie.dropFirst("followup_csrf=".count))
            #expect(try await w.send("POST", "/jobs/\(job)/retry", cookie: cookie, form: "csrf=\(token)").status == 403)
        }
    }

    @Test("a channel's wallet statement, read through the operator's login")
    func walletStatement() async throws {
        try await Self.withWorld { w in
            let channel = try await w.db.pool.scalar("""
                INSERT INTO public.channels (name, plan) VALUES ('Acme <b>', 'free') RETURNING id
                """, as: Int64.self)
            _ = try await w.db.pool.query("SELECT wallet.credit(\(channel), 2500000, 'paid', 'welcome <credit>', 'tests', 'k-1')")
            let html = String(decoding: try await w.send("GET", "/?channel=\(channel)").body, as: UTF8.self)
            #expect(html.contains("welcome &lt;credit&gt;"), "\(html.suffix(1500))")
            #expect(html.contains("2.50"))
        }
    }
}
