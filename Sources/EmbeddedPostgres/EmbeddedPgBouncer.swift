import Foundation
import Postgres

/// Debian's `pgbouncer` in front of a Postgres server, for the tests of the client's pooler mode
/// (docs/postgres-client.md): its own port on 127.0.0.1, a temporary directory, the unprivileged
/// user when we are root (PgBouncer refuses to run as root), and a watchdog that stops it when
/// this process exits for any reason.
///
/// Transaction mode by default, with a small server pool, so client connections really do share
/// server sessions. It passes no startup `options` (PgBouncer rejects unknown startup parameters),
/// and trusts every login in `users` (the server behind it checks nothing either in the tests).
public final class EmbeddedPgBouncer: Sendable {
    public struct Options: Sendable {
        public var poolMode = "transaction"
        /// Server connections per database and user.
        public var poolSize = 4
        public init() {}
    }

    public let port: Int
    public let directory: URL
    private let pidFile: String

    /// Starts PgBouncer in front of `server` (a Unix socket directory or host, and its port).
    /// `users`: the logins clients may use.
    public init(serverHost: String, serverPort: Int, users: [String], options: Options = Options()) throws {
        guard let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].first(where: FileManager.default.isExecutableFile) else {
            throw PostgresError(code: .invalidConfiguration, message: "pgbouncer is not installed (scripts/setup.sh installs Debian's `pgbouncer`)")
        }
        let osUser = geteuid() == 0 ? try EmbeddedCluster.unprivilegedUser() : nil
        directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["FOLLOWUP_PG_TMP"] ?? "/tmp")
            .appendingPathComponent("followup-pgbouncer-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try EmbeddedCluster.freePort()
        pidFile = directory.appendingPathComponent("pgbouncer.pid").path
        let config = """
            [databases]
            * = host=\(serverHost) port=\(serverPort)

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = \(port)
            unix_socket_dir =
            auth_type = trust
            auth_file = \(directory.path)/users.txt
            pool_mode = \(options.poolMode)
            default_pool_size = \(options.poolSize)
            max_client_conn = 500
            logfile = \(directory.path)/pgbouncer.log
            pidfile = \(pidFile)
            ignore_startup_parameters = extra_float_digits
            server_lifetime = 3600
            """
        try config.write(toFile: "\(directory.path)/pgbouncer.ini", atomically: true, encoding: .utf8)
        try users.map { "\"\($0)\" \"\"" }.joined(separator: "\n").write(toFile: "\(directory.path)/users.txt", atomically: true, encoding: .utf8)
        if let osUser { try Shell.run("/bin/chown", ["-R", osUser, directory.path]) }
        let run = osUser.map { ["/usr/sbin/runuser", "-u", $0, "--"] } ?? []
        let command = run + [binary, "-d", "\(directory.path)/pgbouncer.ini"]
        try Shell.run(command[0], Array(command.dropFirst()))
        // Stop it when we are gone, whatever way we go.
        let script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; "
            + "if [ -f '\(pidFile)' ]; then p=$(cat '\(pidFile)'); kill -TERM $p 2>/dev/null; sleep 1; kill -KILL $p 2>/dev/null; fi; "
            + "rm -rf '\(directory.path)'"
        _ = try? Shell.spawn("/usr/bin/setsid", ["/bin/sh", "-c", script], outputPath: "/dev/null")
        // `-d` returns once it forked; wait until it listens.
        for _ in 0..<100 where !Self.accepts(port: port) { usleep(50_000) }
        guard Self.accepts(port: port) else {
            let log = (try? String(contentsOfFile: "\(directory.path)/pgbouncer.log", encoding: .utf8)) ?? ""
            throw PostgresError(code: .invalidConfiguration, message: "pgbouncer did not start: \(log.suffix(1500))")
        }
    }

    /// The URL of `database` through PgBouncer, as `user`.
    public func url(database: String, user: String) -> String {
        "postgresql://\(user)@127.0.0.1:\(port)/\(database)"
    }

    /// Stops PgBouncer at once: SIGKILL (a throwaway with nothing to save; Debian's 1.18 was seen
    /// to outlive SIGINT and SIGTERM once its server had gone). Safe to call twice.
    public func stop() {
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(pid, SIGKILL)
        }
    }

    deinit { stop() }

    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
