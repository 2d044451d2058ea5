import Metrics

/// DNS metrics under `kproxy_dns_`, recorded through swift-metrics; the daemon exports them with
/// swift-prometheus next to the proxy's.
public struct DNSMetrics: Sendable {
    public let latency = Timer(label: "kproxy_dns_request_duration_seconds")
    public let cacheHits = Counter(label: "kproxy_dns_cache_hits_total")
    public let cacheMisses = Counter(label: "kproxy_dns_cache_misses_total")
    public let cacheEntries = Gauge(label: "kproxy_dns_cache_entries")
    public let forwardRejected = Counter(label: "kproxy_dns_forward_max_concurrent_rejects_total")
    public let tcpConnectionsRejected = Counter(label: "kproxy_dns_tcp_connections_rejected_total")

    public init() {}

    /// One answered query, labelled as CoreDNS's `coredns_dns_responses_total` is (by type and rcode).
    public func recordQuery(type: RecordType, rcode: ResponseCode, transport: Transport) {
        Counter(
            label: "kproxy_dns_queries_total",
            dimensions: [("type", Self.typeLabel(type)), ("rcode", rcode.description), ("proto", transport.rawValue)]
        ).increment()
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
