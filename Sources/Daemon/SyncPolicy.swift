/// Decides when the sync loop programs the kernel, and whether fully or partially.
///
/// A pure state machine with the clock passed in, after kube-proxy's bounded-frequency runner: changes
/// coalesce for `minSyncPeriod`; every `syncPeriod` a sync re-checks the programmed state; a full rewrite
/// happens at start-up, after a failure, after a node change, and at most every `fullSyncInterval`.
public struct SyncPolicy: Sendable {
    public typealias Instant = ContinuousClock.Instant

    public enum Action: Hashable, Sendable {
        /// Not every source has listed yet: programming now could install a half-listed cluster.
        case waitForSources
        /// Nothing to do before this instant.
        case wait(until: Instant)
        case sync(full: Bool)
    }

    public var minSyncPeriod: Duration
    public var syncPeriod: Duration
    public var fullSyncInterval: Duration

    public private(set) var sourcesSynced = false
    /// When the oldest change that is not yet programmed arrived.
    public private(set) var pendingSince: Instant?
    public private(set) var needsFullSync = true
    public private(set) var lastSyncStart: Instant?
    public private(set) var lastFullSync: Instant?
    public private(set) var lastSuccess: Instant?

    public init(minSyncPeriod: Duration, syncPeriod: Duration, fullSyncInterval: Duration = .seconds(3600)) {
        self.minSyncPeriod = minSyncPeriod
        self.syncPeriod = syncPeriod
        self.fullSyncInterval = fullSyncInterval
    }

    public mutating func sourcesDidSync() { sourcesSynced = true }

    public mutating func changeArrived(at now: Instant) {
        if pendingSince == nil { pendingSince = now }
    }

    /// A node label change can move topology for every Service, so kube-proxy resyncs everything.
    public mutating func nodeChanged(at now: Instant) {
        needsFullSync = true
        changeArrived(at: now)
    }

    public func nextAction(now: Instant) -> Action {
        guard sourcesSynced else { return .waitForSources }
        guard let lastSyncStart else { return .sync(full: true) }
        let earliest = lastSyncStart + minSyncPeriod
        let full = needsFullSync || (lastFullSync.map { now - $0 >= fullSyncInterval } ?? true)
        if pendingSince != nil || needsFullSync {
            return now >= earliest ? .sync(full: full) : .wait(until: earliest)
        }
        let periodic = max(lastSyncStart + syncPeriod, earliest)
        return now >= periodic ? .sync(full: full) : .wait(until: periodic)
    }

    /// Call when a sync begins: the changes pending now are the ones it will carry.
    public mutating func syncStarted(at now: Instant, full: Bool) {
        lastSyncStart = now
        pendingSince = nil
        if full {
            needsFullSync = false
            lastFullSync = now
        }
    }

    /// A failed batch changed nothing in the kernel, so the next sync must rewrite everything.
    public mutating func syncFinished(at now: Instant, succeeded: Bool, startedAt: Instant) {
        if succeeded {
            lastSuccess = now
        } else {
            needsFullSync = true
            if pendingSince == nil { pendingSince = startedAt }
        }
    }
}
