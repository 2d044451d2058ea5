import Foundation
import Logging
import Synchronization

/// Decides which Events to post, so a Service that fails on every sync cannot flood the API server.
///
/// Two limits, as client-go's spam filter has: the same (object, reason) at most once per ``repeatInterval``,
/// and a token bucket over everything (``burst`` Events, refilled one per ``refillInterval``). Pure: the
/// caller passes the time.
public struct EventRateLimiter: Sendable, Hashable {
    public var burst: Int
    public var refillInterval: Duration
    public var repeatInterval: Duration
    var tokens: Double
    var refilledAt: ContinuousClock.Instant?
    var lastPosted: [String: ContinuousClock.Instant] = [:]

    public init(burst: Int = 25, refillInterval: Duration = .seconds(10), repeatInterval: Duration = .seconds(300)) {
        self.burst = burst
        self.refillInterval = refillInterval
        self.repeatInterval = repeatInterval
        tokens = Double(burst)
    }

    /// True if an Event with this key may be posted now (and counts it).
    public mutating func allow(key: String, now: ContinuousClock.Instant) -> Bool {
        if let refilledAt {
            let elapsed = Backoff.seconds(now - refilledAt) / Backoff.seconds(refillInterval)
            tokens = min(Double(burst), tokens + elapsed)
        }
        refilledAt = now
        if let last = lastPosted[key], now - last < repeatInterval { return false }
        guard tokens >= 1 else { return false }
        tokens -= 1
        lastPosted[key] = now
        if lastPosted.count > 4096 { lastPosted = lastPosted.filter { now - $0.value < repeatInterval } }
        return true
    }
}

/// The object an Event is about.
public struct EventSubject: Sendable, Hashable {
    public var kind: String
    public var apiVersion: String
    public var namespace: String
    public var name: String
    public var uid: String?

    public init(kind: String, apiVersion: String = "v1", namespace: String, name: String, uid: String? = nil) {
        self.kind = kind
        self.apiVersion = apiVersion
        self.namespace = namespace
        self.name = name
        self.uid = uid
    }
}

/// Posts core/v1 Events (e.g. "a Service cannot be programmed") so `kubectl describe` shows them.
///
/// Never throws and never blocks the caller on the API server for long: failures are logged at debug level,
/// since an Event is advice, not state.
public final class EventRecorder: Sendable {
    public enum EventType: String, Sendable {
        case normal = "Normal"
        case warning = "Warning"
    }

    let client: KubeClient
    let component: String
    let host: String
    let limiter: Mutex<EventRateLimiter>

    public init(client: KubeClient, host: String, component: String = "kproxy", limiter: EventRateLimiter = .init()) {
        self.client = client
        self.host = host
        self.component = component
        self.limiter = Mutex(limiter)
    }

    /// Posts the Event unless the rate limiter holds it back. Returns whether it was posted.
    @discardableResult
    public func record(_ type: EventType, reason: String, message: String, about subject: EventSubject) async -> Bool {
        let key = "\(subject.kind)/\(subject.namespace)/\(subject.name)/\(reason)"
        guard limiter.withLock({ $0.allow(key: key, now: .now) }) else {
            client.logger.debug(
                "Event suppressed by rate limit", metadata: ["reason": "\(reason)", "object": "\(key)"])
            return false
        }
        // Events of cluster-scoped objects (Node) go to `default`, as kubelet and kube-proxy do.
        let namespace = subject.namespace.isEmpty ? "default" : subject.namespace
        let body = EventRecorder.body(
            type, reason: reason, message: message, about: subject, namespace: namespace, component: component,
            host: host, now: Date())
        do {
            let response = try await client.connection.send(
                .POST, path: "/api/v1/namespaces/\(namespace)/events", body: body)
            _ = try await client.connection.collect(response, path: "events")
            return true
        } catch {
            client.logger.debug("Posting an Event failed", metadata: ["reason": "\(reason)", "error": "\(error)"])
            return false
        }
    }

    static func body(
        _ type: EventType, reason: String, message: String, about subject: EventSubject, namespace: String,
        component: String, host: String, now: Date
    ) -> Data {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let time = formatter.string(from: now)
        var involved: [String: String] = [
            "kind": subject.kind, "apiVersion": subject.apiVersion, "name": subject.name,
        ]
        if !subject.namespace.isEmpty { involved["namespace"] = subject.namespace }
        if let uid = subject.uid { involved["uid"] = uid }
        let event: [String: Any] = [
            "apiVersion": "v1", "kind": "Event",
            "metadata": ["generateName": "\(subject.name).", "namespace": namespace],
            "involvedObject": involved,
            "type": type.rawValue, "reason": reason, "message": String(message.prefix(1024)),
            "source": ["component": component, "host": host],
            "reportingComponent": component, "reportingInstance": host,
            "firstTimestamp": time, "lastTimestamp": time, "count": 1,
        ]
        return (try? JSONSerialization.data(withJSONObject: event, options: [.sortedKeys])) ?? Data()
    }
}
