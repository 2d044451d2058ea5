import KubeModel
import Synchronization

/// Answers names outside the cluster zone from the cache or the upstreams, for allowed clients only.
///
/// An open resolver on a node would be an amplification reflector for anyone who can reach it, so
/// recursion is limited to ``allowedClients`` (loopback and the cluster CIDRs by default); others are
/// REFUSED, as BIND's `allow-recursion` does.
///
/// Identical queries that miss the cache while one is already on its way upstream wait for that one
/// instead of sending their own, so a popular name expiring from the cache costs one upstream query,
/// not one per pod asking.
public final class ForwardingResponder<Exchanger: UpstreamExchanger>: DNSResponder {
    public let forwarder: Forwarder<Exchanger>
    public let allowedClients: [CIDR]
    private let cache: Mutex<ResponseCache>
    /// Queries on their way upstream, with the callers waiting for the same answer.
    private let pending = Mutex<[ResponseCache.Key: [CheckedContinuation<Message?, Never>]]>([:])
    let metrics: DNSMetrics

    /// Loopback of both families; add the cluster CIDRs to let pods recurse.
    public static var loopback: [CIDR] { [CIDR("127.0.0.0/8")!, CIDR("::1/128")!] }

    public init(
        forwarder: Forwarder<Exchanger>,
        allowedClients: [CIDR],
        cacheLimits: ResponseCache.Limits = .init(),
        metrics: DNSMetrics = DNSMetrics()
    ) {
        self.forwarder = forwarder
        self.allowedClients = allowedClients
        self.cache = Mutex(ResponseCache(limits: cacheLimits))
        self.metrics = metrics
    }

    public func isAllowed(_ client: IPAddress) -> Bool {
        allowedClients.contains { $0.contains(client) }
    }

    public var cachedEntries: Int { cache.withLock { $0.count } }

    /// Refusals and cache hits; a miss needs the upstreams.
    public func respondImmediately(
        to query: Message,
        from client: IPAddress,
        transport: Transport
    )
        -> ImmediateResponse
    {
        guard isAllowed(client) else { return .answered(query.makeResponse(rcode: .refused)) }
        let now = ContinuousClock.now
        guard var hit = cache.withLock({ $0.lookup(query, now: now) }) else { return .needsSuspension }
        metrics.cacheHits.increment()
        hit.recursionAvailable = true
        return .answered(hit)
    }

    public func respond(to query: Message, from client: IPAddress, transport: Transport) async -> Message? {
        if case .answered(let reply) = respondImmediately(to: query, from: client, transport: transport) {
            return reply
        }
        guard let key = ResponseCache.key(for: query) else { return await forwardAndStore(query) }
        // The first caller for a key leads (its continuation resumes at once with nil); later ones wait.
        let shared = await withCheckedContinuation { (continuation: CheckedContinuation<Message?, Never>) in
            let joined = pending.withLock { pending -> Bool in
                guard pending[key] != nil else {
                    pending[key] = []
                    return false
                }
                pending[key]!.append(continuation)
                return true
            }
            if !joined { continuation.resume(returning: nil) }
        }
        if let shared {
            metrics.coalesced.increment()
            return ResponseCache.adapt(shared, to: query)
        }
        let reply = await forwardAndStore(query)
        let waiting = pending.withLock { $0.removeValue(forKey: key) ?? [] }
        for continuation in waiting { continuation.resume(returning: reply) }
        return reply
    }

    private func forwardAndStore(_ query: Message) async -> Message {
        metrics.cacheMisses.increment()
        do {
            var reply = try await forwarder.forward(query)
            reply.recursionAvailable = true
            // Authority over an upstream's zone is not ours to claim.
            reply.isAuthoritative = false
            let stored = reply
            let entries = cache.withLock {
                $0.store(stored, for: query, now: .now)
                return $0.count
            }
            metrics.cacheEntries.record(entries)
            return reply
        } catch {
            var failure = query.makeResponse(rcode: .serverFailure)
            failure.recursionAvailable = true
            return failure
        }
    }
}
