import Foundation
import Synchronization

/// The shared view of ``HealthState`` that the sync loop writes and the `/healthz` server reads.
///
/// The HTTP routes answer synchronously on an event loop, so the state sits behind a `Mutex` rather
/// than inside the sync loop's actor.
public final class HealthMonitor: Sendable {
    private struct Shared {
        var state: HealthState
        var lastUpdatedWallTime: Date?
    }

    private let shared: Mutex<Shared>

    public init(timeout: Duration) { shared = Mutex(Shared(state: HealthState(timeout: timeout))) }

    public func queued(at now: ContinuousClock.Instant = .now) { shared.withLock { $0.state.queued(at: now) } }

    public func updated(at now: ContinuousClock.Instant = .now, syncStartedAt: ContinuousClock.Instant) {
        shared.withLock {
            $0.state.updated(at: now, syncStartedAt: syncStartedAt)
            $0.lastUpdatedWallTime = Date()
        }
    }

    public func setNodeDeleting(_ deleting: Bool) { shared.withLock { $0.state.nodeDeleting = deleting } }

    public func isHealthy(now: ContinuousClock.Instant = .now) -> Bool {
        shared.withLock { $0.state.isHealthy(now: now) }
    }

    public func isLive(now: ContinuousClock.Instant = .now) -> Bool { shared.withLock { $0.state.isLive(now: now) } }

    /// kube-proxy's `/healthz` and `/livez` answer: 200 or 503, with the same JSON fields.
    public func response(livez: Bool, now: ContinuousClock.Instant = .now, wallClock: Date = Date()) -> StatusResponse {
        let (ok, nodeEligible, lastUpdated) = shared.withLock { shared in
            (livez ? shared.state.isLive(now: now) : shared.state.isHealthy(now: now),
             !shared.state.nodeDeleting, shared.lastUpdatedWallTime)
        }
        let format = Date.ISO8601FormatStyle()
        let body = """
            {"lastUpdated": "\(lastUpdated.map { format.format($0) } ?? "")", \
            "currentTime": "\(format.format(wallClock))", "nodeEligible": \(nodeEligible)}
            """
        return StatusResponse(status: ok ? .ok : .serviceUnavailable, contentType: "application/json", body: body)
    }
}
