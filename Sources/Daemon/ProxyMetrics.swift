import Metrics

/// kube-proxy's sync metrics under kproxy's prefix, so existing dashboards need only the prefix changed.
///
/// Recorded through swift-metrics; the daemon bootstraps it with swift-prometheus for `/metrics`.
public struct ProxyMetrics: Sendable {
    public let syncDuration = Timer(label: "kproxy_sync_proxy_rules_duration_seconds")
    public let fullSyncDuration = Timer(label: "kproxy_sync_full_proxy_rules_duration_seconds")
    public let partialSyncDuration = Timer(label: "kproxy_sync_partial_proxy_rules_duration_seconds")
    /// From the EndpointSlice's `endpoints.kubernetes.io/last-change-trigger-time` (or the event's arrival)
    /// to the kernel's ACK.
    public let networkProgrammingDuration = Timer(label: "kproxy_network_programming_duration_seconds")
    public let lastSyncTimestamp = Gauge(label: "kproxy_sync_proxy_rules_last_timestamp_seconds")
    public let serviceChanges = Counter(label: "kproxy_sync_proxy_rules_service_changes_total")
    public let endpointChanges = Counter(label: "kproxy_sync_proxy_rules_endpoint_changes_total")
    public let noLocalEndpointsInternal = Gauge(
        label: "kproxy_sync_proxy_rules_no_local_endpoints_total", dimensions: [("traffic_policy", "internal")])
    public let noLocalEndpointsExternal = Gauge(
        label: "kproxy_sync_proxy_rules_no_local_endpoints_total", dimensions: [("traffic_policy", "external")])
    public let syncFailures = Counter(label: "kproxy_sync_proxy_rules_nftables_sync_failures_total")
    public let conntrackCleared = Counter(label: "kproxy_conntrack_entries_cleared_total")

    public init() {}
}
