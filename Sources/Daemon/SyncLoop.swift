import ClusterModel
import Foundation
import KubeModel
import Logging
import Metrics
import ServiceLifecycle

/// What a source of cluster state reports: a batch of changes, and whether every resource has now been
/// listed at least once.
public struct SourceUpdate: Sendable {
    public var events: [ClusterEvent]
    /// Once true, the model is complete enough to program: a half-listed cluster must never reach the kernel.
    public var synced: Bool

    public init(events: [ClusterEvent], synced: Bool) {
        self.events = events
        self.synced = synced
    }
}

/// One sync's work: turn the model into kernel state. Behind a protocol so the loop's timing and health
/// logic can be exercised without a kernel.
public protocol ProxyBackend: Sendable {
    /// Programs `snapshot`. A full sync rewrites everything; a partial one may send only `changes`.
    /// Throwing means nothing changed in the kernel (netlink batches are atomic).
    func sync(_ snapshot: ClusterSnapshot, changes: ChangeSet, full: Bool) async throws
}

/// The daemon's heart: feeds the model from a source, and programs it through a backend at the pace
/// ``SyncPolicy`` allows, keeping ``HealthState`` and the sync metrics current.
///
/// The DNS side gets every change set as it arrives, without waiting for the rules' rate limit: answers
/// are cheap to update and a client that just created a Service expects its name at once.
public actor SyncLoop: ServiceLifecycle.Service {
    /// Sees every change set with whether the sources have synced: DNS answers SERVFAIL until then.
    public typealias ModelObserver = @Sendable (ClusterSnapshot, ChangeSet, _ synced: Bool) async -> Void

    private let updates: AsyncStream<SourceUpdate>
    private let backend: any ProxyBackend
    private let observer: ModelObserver?
    private let metrics: ProxyMetrics
    private let logger: Logger

    private var state: ClusterState
    private var policy: SyncPolicy
    public nonisolated let health: HealthMonitor
    private var pendingChanges = ChangeSet()
    /// Wall-clock trigger times of EndpointSlice changes not yet programmed, for the latency metric.
    private var pendingTriggers: [Date] = []
    private var wakeup: CheckedContinuation<Void, Never>?
    public private(set) var syncCount = 0
    public private(set) var failedSyncCount = 0

    public init(
        nodeName: String, updates: AsyncStream<SourceUpdate>, backend: any ProxyBackend,
        minSyncPeriod: Duration, syncPeriod: Duration, health: HealthMonitor,
        metrics: ProxyMetrics = ProxyMetrics(), logger: Logger, observer: ModelObserver? = nil
    ) {
        self.updates = updates
        self.backend = backend
        self.observer = observer
        self.metrics = metrics
        self.logger = logger
        state = ClusterState(nodeName: nodeName)
        policy = SyncPolicy(minSyncPeriod: minSyncPeriod, syncPeriod: syncPeriod)
        self.health = health
    }

    public var snapshot: ClusterSnapshot { state.snapshot }

    /// Runs until the source ends or graceful shutdown; the programmed rules stay in the kernel either way.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.consumeUpdates() }
                group.addTask { await self.syncUntilCancelled() }
                _ = await group.next()
                group.cancelAll()
            }
        }
    }

    private func consumeUpdates() async {
        for await update in updates {
            await ingest(update)
        }
    }

    func ingest(_ update: SourceUpdate) async {
        let now = ContinuousClock.now
        state.apply(update.events)
        let changes = state.takeChanges()
        let becameSynced = update.synced && !policy.sourcesSynced
        if update.synced { policy.sourcesDidSync() }
        if !changes.isEmpty {
            pendingChanges.formUnion(changes)
            pendingTriggers.append(contentsOf: Self.triggerTimes(in: update.events))
            metrics.serviceChanges.increment(by: Int64(changes.services.count))
            metrics.endpointChanges.increment(by: Int64(changes.servicePorts.count))
            if changes.nodeChanged { policy.nodeChanged(at: now) } else { policy.changeArrived(at: now) }
            if policy.sourcesSynced { health.queued(at: now) }
        }
        if let observer, !changes.isEmpty || becameSynced {
            await observer(state.snapshot, changes, policy.sourcesSynced)
        }
        wake()
    }

    private func wake() {
        wakeup?.resume()
        wakeup = nil
    }

    private func syncUntilCancelled() async {
        while !Task.isCancelled {
            switch policy.nextAction(now: .now) {
            case .waitForSources:
                await sleep(until: nil)
            case .wait(let deadline):
                await sleep(until: deadline)
            case .sync(let full):
                await syncOnce(full: full)
            }
        }
    }

    /// Sleeps until `deadline` or until an update arrives, whichever is first.
    private func sleep(until deadline: ContinuousClock.Instant?) async {
        let timer = deadline.map { deadline in
            Task { [weak self] in
                try? await Task.sleep(until: deadline, clock: .continuous)
                await self?.wake()
            }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled { continuation.resume() } else { wakeup = continuation }
            }
        } onCancel: {
            Task { await self.wake() }
        }
        timer?.cancel()
    }

    private func syncOnce(full: Bool) async {
        let started = ContinuousClock.now
        let changes = pendingChanges
        let triggers = pendingTriggers
        pendingChanges = ChangeSet()
        pendingTriggers = []
        policy.syncStarted(at: started, full: full)
        do {
            try await backend.sync(state.snapshot, changes: changes, full: full)
            let finished = ContinuousClock.now
            policy.syncFinished(at: finished, succeeded: true, startedAt: started)
            health.updated(at: finished, syncStartedAt: started)
            syncCount += 1
            record(duration: finished - started, full: full)
            let acked = Date()
            for trigger in triggers {
                metrics.networkProgrammingDuration.recordSeconds(max(0, acked.timeIntervalSince(trigger)))
            }
            metrics.lastSyncTimestamp.record(acked.timeIntervalSince1970)
        } catch {
            let finished = ContinuousClock.now
            policy.syncFinished(at: finished, succeeded: false, startedAt: started)
            failedSyncCount += 1
            pendingChanges.formUnion(changes)
            pendingTriggers.append(contentsOf: triggers)
            metrics.syncFailures.increment()
            logger.error("sync failed; the kernel keeps the previous rules and the next sync is a full one",
                         metadata: ["error": "\(error)", "full": "\(full)"])
        }
    }

    private func record(duration: Duration, full: Bool) {
        metrics.syncDuration.record(duration: duration)
        (full ? metrics.fullSyncDuration : metrics.partialSyncDuration).record(duration: duration)
    }

    /// kube-proxy measures programming latency from this annotation, set by the EndpointSlice controller
    /// when the change that caused the slice update happened.
    static let triggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"

    static func triggerTimes(in events: [ClusterEvent]) -> [Date] {
        let now = Date()
        return events.compactMap { event in
            guard case .upsert(.endpointSlice(let slice)) = event else { return nil }
            guard let text = slice.metadata.annotations[triggerTimeAnnotation] else { return now }
            return (try? Date(text, strategy: .iso8601)) ?? now
        }
    }
}
