import Metrics
import Synchronization

/// DNS metrics under `kproxy_dns_`, recorded through swift-metrics; the daemon exports them with
/// swift-prometheus next to the proxy's.
///
/// The factory is injectable so tests can read the values with MetricsTestKit without bootstrapping the
/// process-wide metrics system.
public struct DNSMetrics: Sendable {
    let factory: any MetricsFactory
    public let latency: Timer
    public let cacheHits: Counter
    public let cacheMisses: Counter
    public let cacheEntries: Gauge
    /// Cache misses answered by joining an identical query already on its way upstream.
    public let coalesced: Counter
    public let forwardRejected: Counter
    public let tcpConnectionsRejected: Counter

    /// Counters by (type, rcode, transport), made once: building a counter goes through the metrics
    /// factory's lock, which the per-query path should not pay each time.
    private let queryCounters: QueryCounters

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        latency = Timer(label: "kproxy_dns_request_duration_seconds", factory: factory)
        cacheHits = Counter(label: "kproxy_dns_cache_hits_total", factory: factory)
        cacheMisses = Counter(label: "kproxy_dns_cache_misses_total", factory: factory)
        cacheEntries = Gauge(label: "kproxy_dns_cache_entries", factory: factory)
        coalesced = Counter(label: "kproxy_dns_forward_coalesced_total", factory: factory)
        forwardRejected = Counter(label: "kproxy_dns_forward_max_concurrent_rejects_total", factory: factory)
        tcpConnectionsRejected = Counter(label: "kproxy_dns_tcp_connections_rejected_total", factory: factory)
        queryCounters = QueryCounters(factory: factory)
    }

    /// One answered query, labelled as CoreDNS's `coredns_dns_responses_total` is (by type and rcode).
    public func recordQuery(type: RecordType, rcode: ResponseCode, transport: Transport) {
        let rcodeLabel = rcode.description.hasPrefix("RCODE") ? "other" : rcode.description
        queryCounters.counter(type: Self.typeLabel(type), rcode: rcodeLabel, transport: transport).increment()
    }

    /// 1 while the upstream answers, 0 while it is marked down.
    public func recordUpstreamHealth(_ upstream: String, healthy: Bool) {
        Gauge(label: "kproxy_dns_upstream_healthy", dimensions: [("upstream", upstream)], factory: factory)
            .record(healthy ? 1 : 0)
    }

    public func recordUpstreamRequest(_ upstream: String, outcome: String, duration: Duration) {
        Timer(
            label: "kproxy_dns_upstream_request_duration_seconds",
            dimensions: [("upstream", upstream), ("outcome", outcome)],
            factory: factory
        ).record(duration: duration)
    }

    /// Known mnemonics, and "other" for the rest, so a client cannot create unbounded label values.
    static func typeLabel(_ type: RecordType) -> String {
        let description = type.description
        return description.hasPrefix("TYPE") ? "other" : description
    }
}

private final class QueryCounters: Sendable {
    private struct Key: Hashable {
        var type: String
        var rcode: String
        var transport: Transport
    }

    private let factory: any MetricsFactory
    private let counters = Mutex<[Key: Counter]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    func counter(type: String, rcode: String, transport: Transport) -> Counter {
        let key = Key(type: type, rcode: rcode, transport: transport)
        return counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "kproxy_dns_queries_total",
                dimensions: [("type", type), ("rcode", rcode), ("proto", transport.rawValue)],
                factory: factory
            )
            counters[key] = counter
            return counter
        }
    }
}
