import Logging
import Synchronization

/// Sends one query to one upstream and returns its reply bytes, or throws on timeout or network error.
/// ``NIOUpstreamExchanger`` is the real one; tests substitute scripted upstreams.
public protocol UpstreamExchanger: Sendable {
    func exchange(
        _ query: [UInt8],
        with upstream: Upstream,
        over transport: Transport,
        timeout: Duration
    )
        async throws -> [UInt8]
}

/// Forwards queries for names outside the cluster zone to upstream resolvers.
///
/// UDP first, TCP when the reply is truncated (as `prefer_udp` in CoreDNS's forward plugin). Upstreams are
/// tried in order, healthy ones first, each with its own timeout, all within one overall deadline after
/// which the client gets SERVFAIL rather than silence.
public final class Forwarder<Exchanger: UpstreamExchanger>: Sendable {
    public struct Configuration: Sendable {
        public var upstreams: [Upstream]
        public var perUpstreamTimeout: Duration
        /// The most a client waits before SERVFAIL when no upstream answers.
        public var totalTimeout: Duration
        /// Queries in flight upstream at once; beyond it clients get SERVFAIL at once, bounding memory.
        public var maxConcurrent: Int
        /// Consecutive failures that mark an upstream down.
        public var maxFails: Int
        public var healthCheckInterval: Duration

        public init(
            upstreams: [Upstream],
            perUpstreamTimeout: Duration = .seconds(2),
            totalTimeout: Duration = .seconds(5),
            maxConcurrent: Int = 1000,
            maxFails: Int = 2,
            healthCheckInterval: Duration = .milliseconds(500)
        ) {
            self.upstreams = upstreams
            self.perUpstreamTimeout = perUpstreamTimeout
            self.totalTimeout = totalTimeout
            self.maxConcurrent = maxConcurrent
            self.maxFails = maxFails
            self.healthCheckInterval = healthCheckInterval
        }
    }

    public enum Failure: Error, Hashable, Sendable {
        case noUpstreams
        case tooManyConcurrent
        case allUpstreamsFailed
    }

    public let configuration: Configuration
    let exchanger: Exchanger
    let metrics: DNSMetrics
    let logger: Logger
    private let health: Mutex<UpstreamHealth>
    private let inFlight = Atomic<Int>(0)

    public init(configuration: Configuration, exchanger: Exchanger, metrics: DNSMetrics = DNSMetrics(), logger: Logger)
    {
        self.configuration = configuration
        self.exchanger = exchanger
        self.metrics = metrics
        self.logger = logger
        self.health = Mutex(UpstreamHealth(count: configuration.upstreams.count, maxFails: configuration.maxFails))
        for upstream in configuration.upstreams { metrics.recordUpstreamHealth(upstream.description, healthy: true) }
    }

    /// Whether each upstream is currently considered up, in configured order.
    public var upstreamHealth: [(Upstream, Bool)] {
        let states = health.withLock { $0.states }
        return zip(configuration.upstreams, states).map { ($0, !$1.isDown) }
    }

    /// The upstream's reply to `query`, with the query's ID; throws ``Failure`` when there is none in time.
    public func forward(_ query: Message) async throws(Failure) -> Message {
        guard !configuration.upstreams.isEmpty else { throw .noUpstreams }
        let admitted = inFlight.wrappingAdd(1, ordering: .relaxed).newValue <= configuration.maxConcurrent
        defer { inFlight.wrappingSubtract(1, ordering: .relaxed) }
        guard admitted else {
            metrics.forwardRejected.increment()
            throw .tooManyConcurrent
        }
        let deadline = ContinuousClock.now + configuration.totalTimeout
        // A fresh query with a random ID: only the question and the DO and CD bits carry over, so nothing
        // else a client put in its packet (records, EDNS options) reaches the upstream.
        let outbound = Message(
            id: UInt16.random(in: .min ... .max),
            recursionDesired: true,
            checkingDisabled: query.checkingDisabled,
            questions: query.questions,
            edns: EDNS(dnssecOK: query.edns?.dnssecOK ?? false)
        )
        let bytes = outbound.encoded()
        for index in health.withLock({ $0.order }) {
            let remaining = deadline - .now
            guard remaining > .zero else { break }
            let timeout = min(configuration.perUpstreamTimeout, remaining)
            if var reply = await attempt(bytes, of: outbound, upstream: index, timeout: timeout) {
                reply.id = query.id
                return reply
            }
        }
        throw .allUpstreamsFailed
    }

    /// One upstream's answer over UDP, then TCP if truncated; nil (and a recorded failure) on error.
    private func attempt(_ bytes: [UInt8], of query: Message, upstream index: Int, timeout: Duration) async -> Message?
    {
        let upstream = configuration.upstreams[index]
        let start = ContinuousClock.now
        do {
            var reply = try await exchange(bytes, of: query, with: upstream, over: .udp, timeout: timeout)
            if reply.isTruncated {
                let left = timeout - (ContinuousClock.now - start)
                reply = try await exchange(bytes, of: query, with: upstream, over: .tcp, timeout: max(left, .zero))
            }
            record(success: true, index: index, start: start)
            return reply
        } catch {
            logger.debug(
                "upstream DNS query failed",
                metadata: [
                    "upstream": "\(upstream)", "error": "\(error)",
                    "name": "\(query.questions.first?.name.description ?? "")",
                ]
            )
            record(success: false, index: index, start: start)
            return nil
        }
    }

    private func exchange(
        _ bytes: [UInt8],
        of query: Message,
        with upstream: Upstream,
        over transport: Transport,
        timeout: Duration
    ) async throws -> Message {
        let replyBytes = try await exchanger.exchange(bytes, with: upstream, over: transport, timeout: timeout)
        let reply = try Message(decoding: replyBytes)
        // A reply to some other query (late, or spoofed) is no reply to this one.
        guard reply.isResponse, reply.id == query.id, reply.questions == query.questions else {
            throw UpstreamReplyMismatch()
        }
        return reply
    }

    private func record(success: Bool, index: Int, start: ContinuousClock.Instant) {
        let upstream = configuration.upstreams[index]
        metrics.recordUpstreamRequest(
            upstream.description,
            outcome: success ? "answer" : "failure",
            duration: ContinuousClock.now - start
        )
        let changed = health.withLock { success ? $0.recordSuccess(index) : $0.recordFailure(index) }
        guard changed else { return }
        metrics.recordUpstreamHealth(upstream.description, healthy: success)
        if success {
            logger.info("upstream DNS server is back", metadata: ["upstream": "\(upstream)"])
        } else {
            logger.warning("upstream DNS server marked down", metadata: ["upstream": "\(upstream)"])
        }
    }

    /// Probes down upstreams with `. IN NS` every ``Configuration/healthCheckInterval`` until cancelled, so
    /// a recovered upstream returns to the front without a client query paying for the discovery.
    public func runHealthChecks() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.healthCheckInterval)
            } catch {
                return
            }
            let down = health.withLock { $0.downIndices }
            await withTaskGroup(of: Void.self) { group in
                for index in down {
                    group.addTask {
                        let probe = Message.query(id: UInt16.random(in: .min ... .max), name: .root, type: .ns)
                        let timeout = min(
                            self.configuration.perUpstreamTimeout,
                            self.configuration.healthCheckInterval * 2
                        )
                        let start = ContinuousClock.now
                        let answered =
                            (try? await self.exchange(
                                probe.encoded(),
                                of: probe,
                                with: self.configuration.upstreams[index],
                                over: .udp,
                                timeout: timeout
                            )) != nil
                        if answered { self.record(success: true, index: index, start: start) }
                    }
                }
            }
        }
    }
}

struct UpstreamReplyMismatch: Error, CustomStringConvertible {
    var description: String { "upstream reply does not match the query (ID or question differ)" }
}
