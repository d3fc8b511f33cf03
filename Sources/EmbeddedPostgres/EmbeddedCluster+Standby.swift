import Foundation
import Logging
import Postgres

/// Streaming replication for failover tests: a standby of a running cluster, made synchronous,
/// then promoted once the primary is stopped (``EmbeddedCluster/pause(mode:)`` with `immediate`).
extension EmbeddedCluster {
    /// Starts a hot standby of this cluster in a directory of its own, on its own port and socket:
    /// `pg_basebackup -R -X stream` (as the server's OS user) over this cluster's Unix socket
    /// (initdb's `pg_hba.conf` trusts local replication), then `pg_ctl start`. It streams
    /// asynchronously until ``makeStandbysSynchronous(timeout:)``; stop it with `stop()` like any
    /// cluster (a watchdog removes it when this process exits).
    public func startStandby() async throws -> EmbeddedCluster {
        try await Task.detached { try self.makeStandby() }.value
    }

    private func makeStandby() throws -> EmbeddedCluster {
        let directory = try Self.newDirectory(osUser: osUser)
        let data = directory.appendingPathComponent("data").path
        let standbyPort = try Self.freePort()
        let standby = try EmbeddedCluster(directory: directory, port: standbyPort, binDirectory: binDirectory, osUser: osUser, logger: logger)
        Self.startWatchdog(data: data, directory: directory, binDirectory: binDirectory, osUser: osUser)
        try runAsOwner("\(binDirectory)/pg_basebackup", [
            "-D", data, "-R", "-X", "stream", "-c", "fast", "--no-sync",
            "-h", socketDirectory, "-p", String(port), "-U", "followup",
        ])
        // The copy carries the primary's settings (postgresql.conf and postgresql.auto.conf, which
        // wins over it): its own port and socket here, last in the file that wins. And never
        // wait for a synchronous standby of its own: once promoted it has none, and every commit
        // would hang (a production failover manager, e.g. Patroni, sees to this too).
        let overrides = """

            # followup embedded standby
            port = \(standbyPort)
            unix_socket_directories = '\(directory.path)'
            synchronous_standby_names = ''
            hot_standby = on

            """
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(data)/postgresql.auto.conf"))
        handle.seekToEndOfFile()
        handle.write(Data(overrides.utf8))
        try handle.close()
        do {
            try runAsOwner("\(binDirectory)/pg_ctl", ["-D", data, "-l", "\(directory.path)/server.log", "-w", "-t", "60", "start"])
        } catch {
            let log = (try? String(contentsOfFile: "\(directory.path)/server.log", encoding: .utf8)) ?? ""
            throw PostgresError(code: .invalidConfiguration, message: "the embedded standby did not start: \(log.suffix(1500))")
        }
        logger.info("embedded standby started", metadata: ["port": "\(standbyPort)", "primary_port": "\(port)"])
        return standby
    }

    /// Makes every standby streaming from this cluster synchronous (`synchronous_standby_names =
    /// '*'`, reloaded): from now on a commit returns only once a standby has it on disk — given
    /// `synchronous_commit = on`, which the test default (`off`) is not: set it in `Options`.
    /// Waits until `pg_stat_replication` shows a standby as `sync`.
    public func makeStandbysSynchronous(timeout: Duration = .seconds(30)) async throws {
        let connection = try await Connection.connect(configuration)
        defer { connection.close() }
        _ = try await connection.query(Query(sql: "ALTER SYSTEM SET synchronous_standby_names = '*'"))
        _ = try await connection.query(Query(sql: "SELECT pg_reload_conf()"))
        let deadline = ContinuousClock.now + timeout
        while true {
            let rows = try await connection.query(Query(sql: "SELECT count(*)::int FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'sync'"))
            if try rows.first?.decode(Int.self, at: 0) ?? 0 > 0 { return }
            guard ContinuousClock.now < deadline else {
                throw PostgresError(code: .invalidConfiguration, message: "no standby became synchronous within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Promotes this standby (`pg_ctl promote -w`): when this returns it has left recovery and
    /// accepts writes (sessions asking `target_session_attrs=read-write` now land here).
    public func promote() throws {
        try runAsOwner("\(binDirectory)/pg_ctl", ["-D", directory.appendingPathComponent("data").path, "-w", "-t", "60", "promote"])
    }
}
