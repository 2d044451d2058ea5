import Metrics
import Synchronization

/// DNS metrics under `kproxy_dns_`, recorded through swift-metrics; the daemon exports them with
/// swift-prometheus next to the proxy's.
public struct DNSMetrics: Sendable {
    public let latency = Timer(label: "kproxy_dns_request_duration_seconds")
    public let cacheHits = Counter(label: "kproxy_dns_cache_hits_total")
    public let cacheMisses = Counter(label: "kproxy_dns_cache_misses_total")
    public let cacheEntries = Gauge(label: "kproxy_dns_cache_entries")
    public let forwardRejected = Counter(label: "kproxy_dns_forward_max_concurrent_rejects_total")
    public let tcpConnectionsRejected = Counter(label: "kproxy_dns_tcp_connections_rejected_total")

    /// Counters by (type, rcode, transport), made once: building a counter goes through the metrics
    /// factory's lock, which the per-query path should not pay each time.
    private let queryCounters = QueryCounters()

    public init() {}

    /// One answered query, labelled as CoreDNS's `coredns_dns_responses_total` is (by type and rcode).
    public func recordQuery(type: RecordType, rcode: ResponseCode, transport: Transport) {
        let rcodeLabel = rcode.description.hasPrefix("RCODE") ? "other" : rcode.description
        queryCounters.counter(type: Self.typeLabel(type), rcode: rcodeLabel, transport: transport).increment()
    }

    /// 1 while the upstream answers, 0 while it is marked down.
    public func recordUpstreamHealth(_ upstream: String, healthy: Bool) {
        Gauge(label: "kproxy_dns_upstream_healthy", dimensions: [("upstream", upstream)]).record(healthy ? 1 : 0)
    }

    public func recordUpstreamRequest(_ upstream: String, outcome: String, duration: Duration) {
        Timer(
            label: "kproxy_dns_upstream_request_duration_seconds",
            dimensions: [("upstream", upstream), ("outcome", outcome)]
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

    private let counters = Mutex<[Key: Counter]>([:])

    func counter(type: String, rcode: String, transport: Transport) -> Counter {
        let key = Key(type: type, rcode: rcode, transport: transport)
        return counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "kproxy_dns_queries_total",
                dimensions: [("type", type), ("rcode", rcode), ("proto", transport.rawValue)]
            )
            counters[key] = counter
            return counter
        }
    }
}
