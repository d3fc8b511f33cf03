import Metrics
import Prometheus

/// This process's Prometheus registry, with swift-metrics bootstrapped onto it the first time it
/// is asked for — before the worker or the routes make their first counter (swift-metrics binds
/// a handle to the factory it was made with). `followup serve`, `followup run --metrics-port`,
/// the demo and the tests all go through here, so a process bootstraps at most once.
public enum ProcessMetrics {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Seconds, from a fast local job (1 ms) to a provider at its timeout (15 s and more).
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
            .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Call once at start-up, before anything records a metric.
    public static func bootstrap() { _ = registry }
}
