import Fakes
import Foundation
import Jobs
import Postgres
import Testing
import TestSupport

/// The operator's settings as `followup` reads them: variables, `--config FILE`, checks, help.
@Suite("Operator settings")
struct ConfigurationTests {
    /// Every setting blanked (an empty variable counts as unset), whatever the test runner's environment holds.
    static let nothingSet: [String: String] = Dictionary(uniqueKeysWithValues: documentedNames().map { ($0, "") })

    /// A complete, valid configuration as env-file lines (no provider is called by `config check`).
    static let validFile = """
        # followup settings
        DATABASE_URL=postgresql://followup@db.internal/followup
        export FOLLOWUP_SMS_FROM=MG0123456789abcdef0123456789abcdef
        FOLLOWUP_EMAIL_FROM="Acme Support <support@acme.example>"
        FOLLOWUP_REPLY_DOMAIN = reply.acme.example
        FOLLOWUP_CHAT_URL_BASE='https://chat.acme.example'
        FOLLOWUP_GATHER_DELAY=oops

        FOLLOWUP_TWILIO_ACCOUNT_SID=AC0123
        FOLLOWUP_TWILIO_AUTH_TOKEN=file-secret-token
        FOLLOWUP_SMTP_URL=smtps://smtp.acme.example:465
        """

    static func docs() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
    }

    /// The settings docs/configuration.md documents: the first two columns of its tables (name, default).
    static func documented() -> [(name: String, need: String)] {
        guard let text = try? docs() else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("| `") else { return nil }
            let columns = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "`", with: "") }
            guard columns.count >= 2, columns[0].allSatisfy({ $0.isUppercase || $0 == "_" || $0.isNumber }) else { return nil }
            return (columns[0], columns[1])
        }
    }

    static func documentedNames() -> [String] { documented().map(\.name) }

    func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (code: Int32?, output: String) {
        var env = Self.nothingSet
        for (key, value) in environment { env[key] = value }
        let process = try ChildProcess(ChildProcess.followupBinary, arguments, environment: env)
        let code = await process.wait(timeout: .seconds(20))
        return (code, process.output)
    }

    func file(_ text: String) throws -> String {
        let path = "/tmp/followup-config-\(UUID().uuidString.prefix(8)).env"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("--version prints the version and exits 0")
    func version() async throws {
        let (code, output) = try await run(["--version"])
        #expect(code == 0)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines).wholeMatch(of: #/[0-9]+\.[0-9]+\.[0-9]+.*/#) != nil, "\(output)")
    }

    @Test("run --help lists every setting docs/configuration.md documents, with the same default")
    func helpListsVariables() async throws {
        let names = Self.documentedNames()
        #expect(names.count >= 30, "docs/configuration.md lists \(names.count) settings")
        for required in ["DATABASE_URL", "FOLLOWUP_SMS_FROM", "FOLLOWUP_EMAIL_FROM", "FOLLOWUP_REPLY_DOMAIN", "FOLLOWUP_CHAT_URL_BASE",
                         "FOLLOWUP_GATHER_DELAY", "FOLLOWUP_PROVIDER_TIMEOUT", "FOLLOWUP_RETRY_BASE", "FOLLOWUP_JOB_RETENTION"] {
            #expect(names.contains(required))
        }
        let (code, output) = try await run(["run", "--help"])
        #expect(code == 0)
        // The same defaults in both (the help reads them from the code: a changed default needs the doc changed too).
        for (name, need) in Self.documented() {
            #expect(output.contains("\(name) (\(need))") || output.contains("\(name) (default: \(need))"),
                    "run --help and docs/configuration.md disagree on \(name) (docs: \(need))")
        }
    }

    @Test("run with nothing set lists every missing setting in one message, without usage text, exit 78")
    func nothingSet() async throws {
        let (code, output) = try await run(["run"])
        #expect(code == 78, "\(output)")
        for name in ["DATABASE_URL", "FOLLOWUP_SMS_FROM", "FOLLOWUP_EMAIL_FROM", "FOLLOWUP_REPLY_DOMAIN", "FOLLOWUP_CHAT_URL_BASE",
                     "FOLLOWUP_TWILIO_ACCOUNT_SID", "FOLLOWUP_TWILIO_AUTH_TOKEN", "FOLLOWUP_SMTP_URL"] {
            #expect(output.contains("\(name) is missing"), "\(name) not reported: \(output)")
        }
        #expect(output.contains("8 problems"), "\(output)")
        #expect(!output.contains("USAGE"), "\(output)")
        #expect(!output.contains("OPTIONS"))
    }

    @Test("config check: every malformed setting at once, exit 78, no secret echoed")
    func everyProblemAtOnce() async throws {
        let (code, output) = try await run(["config", "check"], environment: [
            "DATABASE_URL": "postgresql://u:hunter2@localhost/db?no_such_option=1",
            "FOLLOWUP_SMS_FROM": "+1 phone", "FOLLOWUP_EMAIL_FROM": "Acme <not-an-address>",
            "FOLLOWUP_REPLY_DOMAIN": "-bad-", "FOLLOWUP_CHAT_URL_BASE": "ftp://chat.example",
            "FOLLOWUP_GATHER_DELAY": "soon", "FOLLOWUP_RETRY_BASE": "-1", "FOLLOWUP_DELIVERY_ATTEMPTS": "0",
            "FOLLOWUP_TWILIO_ACCOUNT_SID": "AC1", "FOLLOWUP_TWILIO_AUTH_TOKEN": "secret-token-value",
            "FOLLOWUP_SMTP_URL": "http://mail.example", "FOLLOWUP_SMTP_USER": "mailer",
            "FOLLOWUP_PROVIDER_TIMEOUT": "forever",
        ])
        #expect(code == 78, "\(output)")
        for name in ["DATABASE_URL", "FOLLOWUP_SMS_FROM", "FOLLOWUP_EMAIL_FROM", "FOLLOWUP_REPLY_DOMAIN", "FOLLOWUP_CHAT_URL_BASE",
                     "FOLLOWUP_GATHER_DELAY", "FOLLOWUP_RETRY_BASE", "FOLLOWUP_DELIVERY_ATTEMPTS", "FOLLOWUP_SMTP_URL",
                     "FOLLOWUP_SMTP_PASSWORD", "FOLLOWUP_PROVIDER_TIMEOUT"] {
            #expect(output.contains(name), "\(name) not reported: \(output)")
        }
        #expect(output.contains("11 problems"), "\(output)")
        for secret in ["hunter2", "secret-token-value", "not-an-address", "soon"] {
            #expect(!output.contains(secret), "echoed \(secret): \(output)")
        }
        #expect(!output.contains("USAGE"))
    }

    @Test("--config: env-file lines are read, quotes and export accepted; variables win over the file")
    func fileAndPrecedence() async throws {
        let path = try file(Self.validFile)
        defer { unlink(path) }
        // The file's FOLLOWUP_GATHER_DELAY is bad: alone it is a problem, with a line of its own in the message…
        let fromFile = try await run(["config", "check", "--config", path])
        #expect(fromFile.code == 78, "\(fromFile.output)")
        #expect(fromFile.output.contains("1 problem:") && fromFile.output.contains("FOLLOWUP_GATHER_DELAY"), "\(fromFile.output)")
        // …a variable overrides it, and the variable's value is the one in effect.
        let overridden = try await run(["config", "check", "--config", path], environment: [
            "FOLLOWUP_GATHER_DELAY": "7", "FOLLOWUP_REPLY_DOMAIN": "reply.env.example",
        ])
        #expect(overridden.code == 0, "\(overridden.output)")
        let output = overridden.output
        #expect(output.contains("FOLLOWUP_GATHER_DELAY = 7  [environment]"), "\(output)")
        #expect(output.contains("FOLLOWUP_REPLY_DOMAIN = reply.env.example  [environment]"))
        #expect(output.contains("FOLLOWUP_EMAIL_FROM = Acme Support <support@acme.example>  [file]"))
        #expect(output.contains("FOLLOWUP_CHAT_URL_BASE = https://chat.acme.example  [file]"))
        #expect(output.contains("FOLLOWUP_SMS_FROM = MG0123456789abcdef0123456789abcdef  [file]"))
        #expect(output.contains("FOLLOWUP_TWILIO_AUTH_TOKEN = (set, secret)  [file]"))
        #expect(!output.contains("file-secret-token"))
        #expect(!output.contains("db.internal"), "DATABASE_URL is shown only as set")
        // --database-url wins over both.
        let flagged = try await run(["config", "check", "--config", path, "--database-url", "postgresql:///other"],
                                    environment: ["FOLLOWUP_GATHER_DELAY": "7"])
        #expect(flagged.code == 0 && flagged.output.contains("DATABASE_URL = (set, secret)  [flag]"), "\(flagged.output)")
    }

    @Test("--config: unknown names, lines without '=', names given twice and a missing file are problems with line numbers")
    func badFile() async throws {
        let path = try file("""
            FOLLOWUP_SMS_FORM=+15551234567
            just some words
            FOLLOWUP_GATHER_DELAY=1
            FOLLOWUP_GATHER_DELAY=2
            """)
        defer { unlink(path) }
        let (code, output) = try await run(["config", "check", "--config", path])
        #expect(code == 78)
        #expect(output.contains("\(path):1: unknown setting FOLLOWUP_SMS_FORM"), "\(output)")
        #expect(output.contains("\(path):2: expected NAME=value"))
        #expect(output.contains("\(path):4: FOLLOWUP_GATHER_DELAY is set twice"))
        #expect(!output.contains("+15551234567"))

        let missing = try await run(["config", "check", "--config", "/nonexistent/followup.env"])
        #expect(missing.code == 78 && missing.output.contains("/nonexistent/followup.env: cannot be read"), "\(missing.output)")
    }

    @Test("run --config FILE: the poller takes its database and providers from the file")
    func runFromFile() async throws {
        let db = try await TestDatabase.fresh()
        let fakes = try FakeProviders()
        defer { fakes.stop() }
        let lines = fakes.environment.map { "\($0.key)=\($0.value)" } + ["DATABASE_URL=\(try await db.url)"]
        let path = try file(lines.joined(separator: "\n"))
        defer { unlink(path) }
        try await JobQueue.enqueueMany(kind: "followup.noop", payloads: ["{}", "{}"], on: db.pool)
        let poller = try ChildProcess(ChildProcess.followupBinary, ["run", "--config", path, "--safety-poll-seconds", "0.2"],
                                      environment: Self.nothingSet)
        let done = try await eventually(timeout: .seconds(15)) {
            try await db.pool.scalar("SELECT count(*)::int FROM job_history WHERE kind = 'followup.noop' AND state = 'completed'", as: Int.self) == 2
        }
        poller.signal(SIGTERM)
        let code = await poller.wait(timeout: .seconds(15))
        #expect(done, "\(poller.output)")
        #expect(code == 0, "\(poller.output)")
    }
}
