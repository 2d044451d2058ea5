/// kube-proxy's health semantics for `/healthz` and `/livez`, as a pure value.
///
/// Healthy while no change has waited longer than the health timeout to be programmed. `/healthz` is also
/// unhealthy while the node is being deleted, so load balancers drain it; `/livez` ignores that, so the
/// kubelet does not restart a proxy that is only draining.
public struct HealthState: Sendable {
    public typealias Instant = ContinuousClock.Instant

    public var timeout: Duration
    public private(set) var lastUpdated: Instant?
    public private(set) var oldestPending: Instant?
    public var nodeDeleting = false

    public init(timeout: Duration) { self.timeout = timeout }

    public mutating func queued(at now: Instant) {
        if oldestPending == nil { oldestPending = now }
    }

    /// A sync that succeeded programmed everything queued before it started.
    public mutating func updated(at now: Instant, syncStartedAt: Instant) {
        lastUpdated = now
        if let pending = oldestPending, pending <= syncStartedAt { oldestPending = nil }
    }

    public func isLive(now: Instant) -> Bool {
        guard let oldestPending else { return true }
        return now - oldestPending < timeout
    }

    public func isHealthy(now: Instant) -> Bool { isLive(now: now) && !nodeDeleting }
}
