import Foundation
import Postgres

/// Running pgbench from a benchmark: a one-statement script, N clients, a fixed number of
/// transactions each. The bare-SQL anchors of `bench activity`, `bench webhooks` and
/// `bench followups` go through it.
enum Pgbench {
    static func find() -> String? {
        var candidates = ["/usr/bin/pgbench", "/usr/local/bin/pgbench"]
        if let dirs = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
            candidates += dirs.sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin/pgbench" }
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs one pgbench with a one-statement script; returns transactions (= rows) per second.
    static func run(_ pgbench: String, url: String, sql: String, clients: Int, transactions: Int) throws -> Double {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("followup-bench-\(UUID().uuidString).sql")
        try sql.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: pgbench)
        process.arguments = ["-n", "-f", script.path, "-c", String(clients), "-j", String(min(clients, 4)),
                             "-t", String(transactions), "-M", "prepared", url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0,
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
              let value = Double(line.dropFirst("tps = ".count).split(separator: " ").first ?? "") else {
            throw BenchmarkError("pgbench failed (exit \(process.terminationStatus))")
        }
        return value
    }

    /// Without pgbench: `clients` tasks inserting one row per statement for `seconds`.
    static func runSwiftClients(pool: ConnectionPool, sql: String, clients: Int, seconds: Int) async throws -> Double {
        let deadline = ContinuousClock.now + .seconds(seconds)
        let start = ContinuousClock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now < deadline {
                        try await pool.execute(Query(sql: sql))
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(total) / (ContinuousClock.now - start).seconds
    }

    struct BenchmarkError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
