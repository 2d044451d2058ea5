/// Exponential backoff with jitter, capped, as client-go's reflector uses (800 ms doubling to 30 s, up to
/// +100 % jitter so that a fleet of nodes does not reconnect in step after an API server restart).
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    public var factor: Double
    /// The delay is stretched by up to this fraction at random, then capped at ``maximum``.
    public var jitter: Double

    public init(
        initial: Duration = .milliseconds(800), maximum: Duration = .seconds(30), factor: Double = 2,
        jitter: Double = 1
    ) {
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
    }

    /// The wait before retry number `attempt` (1 for the first retry); `random` is uniform in 0..<1.
    public func delay(attempt: Int, random: Double) -> Duration {
        let initialSeconds = Backoff.seconds(initial)
        let maximumSeconds = Backoff.seconds(maximum)
        var base = initialSeconds
        for _ in 1..<max(1, attempt) {
            base *= factor
            if base >= maximumSeconds { break }
        }
        base = min(base, maximumSeconds)
        let stretched = min(base * (1 + jitter * min(max(random, 0), 1)), maximumSeconds)
        return .nanoseconds(Int64((stretched * 1e9).rounded()))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// The list → watch → re-list cycle of one resource, without I/O: the driver performs each ``Action``
/// and reports the outcome back.
///
/// - A list yields a resourceVersion; the watch continues from it, and from every object and bookmark
///   after that, so a dropped connection resumes where it stopped.
/// - 410 Expired (as a status or a watch ERROR event) means that version is gone: re-list at once.
/// - Any other failure backs off (``Backoff``) and retries the same step; success resets the count.
/// - A watch that ends cleanly (the server's `timeoutSeconds`) is resumed at once, unless it delivered
///   nothing, in which case a short backoff keeps a misbehaving server from turning it into a busy loop.
public struct ReflectorStateMachine: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        case list
        case watch(resourceVersion: String)
        /// Wait ``Backoff/delay(attempt:random:)`` for this attempt, then call ``backoffElapsed()``.
        case backOff(attempt: Int)
    }

    /// What a watch stream delivered.
    public enum WatchInput: Sendable, Hashable {
        /// An ADDED/MODIFIED/DELETED object at this resourceVersion (nil if it had none).
        case object(resourceVersion: String?)
        case bookmark(resourceVersion: String)
        /// An ERROR event.
        case error(code: Int, expired: Bool)
    }

    public enum WatchOutcome: Sendable, Hashable {
        case keepReading
        /// Close the stream and do this instead.
        case stop(Action)
    }

    enum State: Sendable, Hashable {
        case initial
        case listing
        case watching(eventsSeen: Bool)
        case waiting(then: Action)
    }

    var state: State = .initial
    /// The version the next watch starts from; nil until the first successful list.
    public private(set) var resourceVersion: String?
    public private(set) var hasSynced = false
    public private(set) var consecutiveFailures = 0

    public init() {}

    public mutating func start() -> Action {
        precondition(state == .initial, "start() called twice")
        state = .listing
        return .list
    }

    /// The list succeeded. `firstSync` is true exactly once: the resource is now fully known.
    public mutating func listSucceeded(resourceVersion: String?) -> (action: Action, firstSync: Bool) {
        guard let resourceVersion, !resourceVersion.isEmpty else {
            return (fail(retrying: .list), false)
        }
        self.resourceVersion = resourceVersion
        consecutiveFailures = 0
        let first = !hasSynced
        hasSynced = true
        state = .watching(eventsSeen: false)
        return (.watch(resourceVersion: resourceVersion), first)
    }

    public mutating func watchReceived(_ input: WatchInput) -> WatchOutcome {
        switch input {
        case .object(let version):
            if let version, !version.isEmpty { resourceVersion = version }
        case .bookmark(let version):
            if !version.isEmpty { resourceVersion = version }
        case .error(_, let expired):
            return .stop(failed(expired: expired))
        }
        consecutiveFailures = 0
        state = .watching(eventsSeen: true)
        return .keepReading
    }

    /// The server closed the watch normally.
    public mutating func watchEnded() -> Action {
        guard let resourceVersion else { return fail(retrying: .list) }
        if case .watching(eventsSeen: false) = state {
            return fail(retrying: .watch(resourceVersion: resourceVersion))
        }
        state = .watching(eventsSeen: false)
        return .watch(resourceVersion: resourceVersion)
    }

    /// The current list or watch failed (status, transport, or unreadable stream).
    public mutating func failed(expired: Bool) -> Action {
        switch state {
        case .listing, .initial, .waiting:
            return fail(retrying: .list)
        case .watching:
            guard !expired, let version = resourceVersion else { return relist() }
            return fail(retrying: .watch(resourceVersion: version))
        }
    }

    public mutating func backoffElapsed() -> Action {
        guard case .waiting(let then) = state else { return .list }
        switch then {
        case .list, .backOff: state = .listing
        case .watch: state = .watching(eventsSeen: false)
        }
        return then
    }

    /// A 410 while watching: the version is compacted away. Re-list at once; a list cannot return 410
    /// (it reads without a version), so this cannot loop.
    mutating func relist() -> Action {
        resourceVersion = nil
        state = .listing
        return .list
    }

    mutating func fail(retrying action: Action) -> Action {
        consecutiveFailures += 1
        state = .waiting(then: action)
        return .backOff(attempt: consecutiveFailures)
    }
}
