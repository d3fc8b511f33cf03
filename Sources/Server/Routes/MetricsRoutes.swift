import Foundation
import Hummingbird
import Logging
import Postgres
import Prometheus

/// `GET /metrics`: Prometheus text format, written by swift-prometheus from this process's
/// registry (``ProcessMetrics``). With `queueGauges` (serve), each scrape first reads the
/// queue-wide gauges from SQL (``QueueGauges``): one statement per scrape. Unauthenticated, like
/// most exporters: bind it to a private interface or keep it behind the load balancer
/// (docs/operations.md).
struct MetricsRoutes: Sendable {
    let pool: ConnectionPool
    let queueGauges: QueueGauges?
    let up: Gauge?
    let logger: Logger

    init(pool: ConnectionPool, queueGauges: Bool, logger: Logger) {
        let registry = ProcessMetrics.registry
        self.pool = pool
        self.queueGauges = queueGauges ? Self.sharedGauges : nil
        self.up = queueGauges ? registry.makeGauge(
            descriptor: .init(metricName: "followup_queue_gauges_up", unitName: "",
                              helpText: "1 when the last scrape read the queue-wide gauges from the database"), labels: []) : nil
        self.logger = logger
    }

    /// One per process, so two routers (tests) share the gauges they set.
    private static let sharedGauges = QueueGauges(registry: ProcessMetrics.registry)

    func add(to router: Router<ServerApp.ServerContext>) {
        router.get("/metrics") { _, _ in try await scrape() }
    }

    func scrape() async throws -> Response {
        if let queueGauges {
            do {
                try await queueGauges.refresh(pool)
                up?.set(to: 1)
            } catch {
                up?.set(to: 0)
                logger.warning("metrics: reading the queue-wide gauges failed", metadata: ["error": "\(error)"])
            }
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        ProcessMetrics.registry.emit(into: &buffer)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }
}
