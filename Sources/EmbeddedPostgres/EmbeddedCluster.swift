import Foundation
import Logging
import Postgres

/// A throwaway Postgres cluster for the demo and the tests: the system's `initdb` and `pg_ctl`,
/// a temporary directory, a free port on 127.0.0.1 and a Unix socket in that directory.
///
/// Postgres refuses to run as root; when we are root, the cluster runs as an unprivileged user
/// (`postgres` if it exists, else `followup`, created on first use). A watchdog process stops
/// the cluster and deletes its directory when this process exits for any reason — Ctrl-C,
/// a failed test, even SIGKILL — so nothing is left behind.
public final class EmbeddedCluster: Sendable {
    public struct Options: Sendable {
        /// fsync and full-page writes on (for benchmarks that should mean something) or off (tests).
        public var durable = false
        public var maxConnections = 200
        public var sharedBuffers = "128MB"
        public var extraSettings: [String: String] = [:]
        public init() {}
    }

    /// The superuser connection to the `postgres` database, over the Unix socket.
    public let configuration: PostgresConfiguration
    public let port: Int
    public let directory: URL
    public let socketDirectory: String
    public let binDirectory: String
    /// The OS account the server runs as (when we are root), else nil: the server runs as us.
    let osUser: String?
    private let stoppedFlag = LockedValue(false)
    let logger: Logger

    /// `postgresql://followup@127.0.0.1:PORT/DB`: a TCP URL for tools such as psql and pgbench.
    public func tcpURL(database: String = "postgres") -> String {
        "postgresql://followup@127.0.0.1:\(port)/\(database)"
    }

    /// The socket URL of another database on this cluster.
    public func url(database: String) -> String {
        "postgresql://followup@/\(database)?host=\(socketDirectory)&port=\(port)"
    }

    public static func start(options: Options = Options(), logger: Logger = Logger(label: "followup.embedded-postgres")) async throws -> EmbeddedCluster {
        try await Task.detached {
            // The free port we picked can be taken by someone else before the server binds it: try again.
            var attempt = 1
            while true {
                do {
                    return try EmbeddedCluster(options: options, logger: logger)
                } catch let error as PostgresError where attempt < 3 && error.message.contains("did not start") {
                    logger.warning("embedded postgres did not start; retrying", metadata: ["error": "\(error)"])
                    attempt += 1
                }
            }
        }.value
    }

    /// A cluster whose directory (`data` inside, the socket beside it) and port are chosen; the
    /// server is started by the caller (``start(options:logger:)``, or `startStandby()`).
    init(directory: URL, port: Int, binDirectory: String, osUser: String?, logger: Logger) throws {
        self.logger = logger
        self.binDirectory = binDirectory
        self.osUser = osUser
        self.directory = directory
        self.socketDirectory = directory.path
        self.port = port
        self.configuration = try PostgresConfiguration("postgresql://followup@/postgres?host=\(directory.path)&port=\(port)")
    }

    /// A new empty directory for a cluster, owned by `osUser` when there is one.
    static func newDirectory(osUser: String?) throws -> URL {
        let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["FOLLOWUP_PG_TMP"] ?? "/tmp").appendingPathComponent("followup-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let osUser { try Shell.run("/bin/chown", ["-R", osUser, directory.path]) }
        return directory
    }

    private convenience init(options: Options, logger: Logger) throws {
        let binDirectory = try Self.findBinDirectory()
        let osUser = geteuid() == 0 ? try Self.unprivilegedUser() : nil
        let directory = try Self.newDirectory(osUser: osUser)
        let socketDirectory = directory.path
        let data = directory.appendingPathComponent("data").path
        let port = try Self.freePort()
        try self.init(directory: directory, port: port, binDirectory: binDirectory, osUser: osUser, logger: logger)

        Self.startWatchdog(data: data, directory: directory, binDirectory: binDirectory, osUser: osUser)
        try Self.runAs(osUser, "\(binDirectory)/initdb", ["-D", data, "-U", "followup", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        var settings = [
            "port": String(port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "'\(socketDirectory)'",
            "max_connections": String(options.maxConnections),
            "shared_buffers": options.sharedBuffers,
            "log_min_messages": "warning",
            "log_min_error_statement": "panic",
        ]
        if !options.durable {
            settings["fsync"] = "off"
            settings["synchronous_commit"] = "off"
            settings["full_page_writes"] = "off"
        }
        for (key, value) in options.extraSettings { settings[key] = value }
        let conf = settings.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: "\n")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(data)/postgresql.conf"))
        handle.seekToEndOfFile()
        handle.write(Data(("\n# followup embedded cluster\n" + conf + "\n").utf8))
        try handle.close()
        do {
            try Self.runAs(osUser, "\(binDirectory)/pg_ctl", ["-D", data, "-l", "\(directory.path)/server.log", "-w", "-t", "60", "start"])
        } catch {
            let log = (try? String(contentsOfFile: "\(directory.path)/server.log", encoding: .utf8)) ?? ""
            throw PostgresError(code: .invalidConfiguration, message: "the embedded Postgres did not start: \(log.suffix(1500))")
        }
        logger.info("embedded postgres started", metadata: ["port": "\(port)", "dir": "\(directory.path)"])
    }

    /// Stops the server and removes its directory. Safe to call twice.
    public func stop() {
        let first = stoppedFlag.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        try? runAsOwner("\(binDirectory)/pg_ctl", ["-D", directory.appendingPathComponent("data").path, "-m", "fast", "-w", "stop"])
        try? FileManager.default.removeItem(at: directory)
    }

    /// `pg_ctl restart`, for tests of reconnecting after the server went away; `mode` is pg_ctl's
    /// shutdown mode (`fast`, or `immediate`: a crash and recovery).
    public func restart(mode: String = "fast") throws {
        try runAsOwner("\(binDirectory)/pg_ctl", ["-D", directory.appendingPathComponent("data").path, "-m", mode, "-w", "restart"])
    }

    /// Stops the server but keeps its data, for tests of what a process does while the database
    /// is down; ``resume()`` starts it again on the same port. `mode` is pg_ctl's shutdown mode:
    /// `fast`, or `immediate` (no checkpoint, sessions cut: as a crashed primary looks to a failover).
    public func pause(mode: String = "fast") throws {
        try runAsOwner("\(binDirectory)/pg_ctl", ["-D", directory.appendingPathComponent("data").path, "-m", mode, "-w", "stop"])
    }

    /// Starts a server ``pause()`` stopped.
    public func resume() throws {
        try runAsOwner("\(binDirectory)/pg_ctl", ["-D", directory.appendingPathComponent("data").path,
                                                 "-l", "\(directory.path)/server.log", "-w", "-t", "60", "start"])
    }

    deinit { stop() }

    func runAsOwner(_ executable: String, _ arguments: [String]) throws {
        try Self.runAs(osUser, executable, arguments)
    }

    static func runAs(_ osUser: String?, _ executable: String, _ arguments: [String]) throws {
        if let osUser {
            try Shell.run("/usr/sbin/runuser", ["-u", osUser, "--", executable] + arguments)
        } else {
            try Shell.run(executable, arguments)
        }
    }

    /// A detached shell that outlives us: once our pid is gone, it stops the server and cleans up.
    static func startWatchdog(data: String, directory: URL, binDirectory: String, osUser: String?) {
        let stopCommand = (osUser.map { "/usr/sbin/runuser -u \($0) -- " } ?? "")
            + "'\(binDirectory)/pg_ctl' -D '\(data)' -m immediate stop"
        let script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; "
            + "if [ -f '\(data)/postmaster.pid' ]; then \(stopCommand) >/dev/null 2>&1; fi; rm -rf '\(directory.path)'"
        _ = try? Shell.spawn("/usr/bin/setsid", ["/bin/sh", "-c", script], outputPath: "/dev/null")
    }

    /// `FOLLOWUP_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`, else `initdb` on PATH.
    static func findBinDirectory() throws -> String {
        let fm = FileManager.default
        if let dir = ProcessInfo.processInfo.environment["FOLLOWUP_PG_BIN"], fm.isExecutableFile(atPath: "\(dir)/initdb") {
            return dir
        }
        if let versions = try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
            for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
                let dir = "/usr/lib/postgresql/\(version)/bin"
                if fm.isExecutableFile(atPath: "\(dir)/initdb") { return dir }
            }
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where fm.isExecutableFile(atPath: "\(dir)/initdb") {
            return String(dir)
        }
        throw PostgresError(code: .invalidConfiguration, message: "no Postgres server binaries (initdb, pg_ctl) found: install the `postgresql` package, set FOLLOWUP_PG_BIN, or set DATABASE_URL to use an existing server")
    }

    /// The unprivileged account the server runs as when we are root.
    static func unprivilegedUser() throws -> String {
        if let user = ProcessInfo.processInfo.environment["FOLLOWUP_PG_USER"] { return user }
        if getpwnam("postgres") != nil { return "postgres" }
        if getpwnam("followup") == nil {
            try Shell.run("/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "followup"])
        }
        return "followup"
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw PostgresError(code: .invalidConfiguration, message: "could not open a socket to find a free port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw PostgresError(code: .invalidConfiguration, message: "could not bind a socket to find a free port") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Runs commands with posix_spawn and waitpid (Foundation's Process can miss a child's exit
/// on Linux when several run at once).
enum Shell {
    /// Runs a command to completion; a non-zero exit is an error carrying its output.
    static func run(_ executable: String, _ arguments: [String]) throws {
        let outputPath = "/tmp/followup-shell-\(getpid())-\(UUID().uuidString.prefix(8)).log"
        defer { unlink(outputPath) }
        let pid = try spawn(executable, arguments, outputPath: outputPath)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw PostgresError(code: .invalidConfiguration, message: "waitpid failed: \(errno)") }
        }
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            let name = (executable as NSString).lastPathComponent
            throw PostgresError(code: .invalidConfiguration, message: "\(name) \(arguments.first ?? "") failed (status \(status)): \(text.suffix(2000))")
        }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc
    /// module does not import: the child closes every descriptor from the given one up.
    private static let closeFrom3: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else {
            return nil
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Starts a command with stdin from /dev/null and stdout+stderr appended to `outputPath`.
    static func spawn(_ executable: String, _ arguments: [String], outputPath: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of ours: a postmaster that inherits this process's sockets has that many
        // fewer descriptors and refuses to start ("insufficient file descriptors").
        _ = closeFrom3?(&actions, 3)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard result == 0 else {
            throw PostgresError(code: .invalidConfiguration, message: "could not start \(executable): error \(result)")
        }
        return pid
    }
}
