import Foundation
import Logging
import EmbeddedPostgres
import Postgres
import Schema

/// The database a benchmark runs on: `--database-url`, or an embedded cluster with fsync on.
struct BenchDatabase {
    let pool: ConnectionPool
    let configuration: PostgresConfiguration
    let cluster: EmbeddedCluster?

    static func open(_ options: DatabaseOptions, connections: Int) async throws -> BenchDatabase {
        if options.isSet {
            let configuration = try options.configuration(productSession: false)
            let pool = ConnectionPool(configuration, maxConnections: connections)
            try await ProductSchema.migrate(pool)
            return BenchDatabase(pool: pool, configuration: configuration, cluster: nil)
        }
        var clusterOptions = EmbeddedCluster.Options()
        clusterOptions.durable = true
        // As docs/queue.md asks of production: the default 60 s lets the claim index's dead
        // entries pile up between passes (1 M drain: 952 → 266 buffers per claim, 0.55 → 0.93
        // of the 50 k rate). compare_queue.sh gives every system it measures the same setting.
        clusterOptions.extraSettings["autovacuum_naptime"] = "5s"
        // The same server as compare_queue.sh's, so figures from both read alike.
        clusterOptions.sharedBuffers = "256MB"
        clusterOptions.extraSettings["max_wal_size"] = "4GB"
        let cluster = try await EmbeddedCluster.start(options: clusterOptions, logger: Logger(label: "bench"))
        let pool = ConnectionPool(cluster.configuration, maxConnections: connections)
        try await ProductSchema.migrate(pool)
        return BenchDatabase(pool: pool, configuration: cluster.configuration, cluster: cluster)
    }

    func close() async {
        await pool.close()
        cluster?.stop()
    }

    /// Opens the benchmark's database, runs `body`, and closes it (stopping an embedded cluster)
    /// whether `body` returns or throws.
    static func using<T>(_ options: DatabaseOptions, connections: Int, _ body: (BenchDatabase) async throws -> T) async throws -> T {
        let db = try await open(options, connections: connections)
        do {
            let result = try await body(db)
            await db.close()
            return result
        } catch {
            await db.close()
            throw error
        }
    }
}

/// Resident memory of this process, MiB (Linux).
func residentMemoryMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}

func jsonLine(_ fields: [(String, Any)]) -> String {
    "{" + fields.map { key, value in
        let text: String
        switch value {
        case let string as String: text = "\"\(string)\""
        case let double as Double: text = String(format: "%.2f", double)
        default: text = "\(value)"
        }
        return "\"\(key)\":\(text)"
    }.joined(separator: ",") + "}"
}
