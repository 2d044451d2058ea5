import Metrics
import Prometheus

/// Connects swift-metrics to a Prometheus registry, once per process, for `/metrics`.
public enum MetricsExport {
    /// swift-metrics can be bootstrapped only once per process; every caller shares this registry.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// The Prometheus text exposition of every metric recorded so far.
    public static func response() -> StatusResponse {
        StatusResponse(contentType: "text/plain; version=0.0.4; charset=utf-8", body: registry.emitToString())
    }
}
