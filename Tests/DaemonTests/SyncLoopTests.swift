import ClusterModel
import Daemon
import Foundation
import KubeModel
import Logging
import Synchronization
import Testing

/// Records every sync, and fails on demand, so the loop's decisions can be asserted without a kernel.
final class RecordingBackend: ProxyBackend {
    struct Call: Sendable {
        var full: Bool
        var changedPorts: Set<String>
        var services: Int
    }

    private let calls = Mutex<[Call]>([])
    private let failNext = Mutex(0)

    var recorded: [Call] { calls.withLock { $0 } }
    func failNextSyncs(_ count: Int) { failNext.withLock { $0 = count } }

    func sync(_ snapshot: ClusterSnapshot, changes: ChangeSet, full: Bool) async throws {
        let failing = failNext.withLock { count -> Bool in
            defer { count = max(0, count - 1) }
            return count > 0
        }
        calls.withLock {
            $0.append(Call(full: full, changedPorts: Set(changes.servicePorts.map(\.description)),
                           services: snapshot.services.count))
        }
        if failing { throw CancellationError() }
    }
}

@Suite("Sync loop")
struct SyncLoopTests {
    static func service(_ name: String, ip: String) -> ClusterEvent {
        .upsert(.service(Service(
            metadata: ObjectMeta(name: name, namespace: "demo"),
            spec: ServiceSpec(clusterIPs: [IPAddress(ip)!], ports: [ServicePort(port: 80)]))))
    }

    /// Polls until `condition` holds; the loop runs on its own task, so tests wait for its effects.
    func eventually(_ condition: () async -> Bool) async throws {
        for _ in 0..<200 {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("condition never held")
    }

    func start(_ backend: RecordingBackend) -> (SyncLoop, AsyncStream<SourceUpdate>.Continuation, Task<Void, any Error>) {
        let (updates, continuation) = AsyncStream<SourceUpdate>.makeStream()
        let loop = SyncLoop(
            nodeName: "node-a", updates: updates, backend: backend, minSyncPeriod: .milliseconds(50),
            syncPeriod: .seconds(30), health: HealthMonitor(timeout: .seconds(60)), logger: Logger(label: "test"))
        let task = Task { try await loop.run() }
        return (loop, continuation, task)
    }

    @Test func nothingIsProgrammedBeforeTheSourcesHaveSynced() async throws {
        let backend = RecordingBackend()
        let (loop, updates, task) = start(backend)
        defer { task.cancel() }
        updates.yield(SourceUpdate(events: [Self.service("a", ip: "10.96.0.1")], synced: false))
        try await Task.sleep(for: .milliseconds(200))
        #expect(backend.recorded.isEmpty)

        updates.yield(SourceUpdate(events: [Self.service("b", ip: "10.96.0.2")], synced: true))
        try await eventually { backend.recorded.count == 1 }
        let first = try #require(backend.recorded.first)
        #expect(first.full)
        #expect(first.services == 2)
        #expect(await loop.syncCount == 1)
    }

    @Test func laterChangesArePartialAndCarryOnlyWhatChanged() async throws {
        let backend = RecordingBackend()
        let (_, updates, task) = start(backend)
        defer { task.cancel() }
        updates.yield(SourceUpdate(events: [Self.service("a", ip: "10.96.0.1")], synced: true))
        try await eventually { backend.recorded.count == 1 }

        updates.yield(SourceUpdate(events: [Self.service("b", ip: "10.96.0.2")], synced: true))
        try await eventually { backend.recorded.count == 2 }
        let second = backend.recorded[1]
        #expect(!second.full)
        #expect(second.changedPorts.count == 1)
        #expect(second.changedPorts.first?.contains("demo/b") == true)
    }

    @Test func aFailedSyncIsRetriedInFullWithTheSameChanges() async throws {
        let backend = RecordingBackend()
        let (loop, updates, task) = start(backend)
        defer { task.cancel() }
        updates.yield(SourceUpdate(events: [Self.service("a", ip: "10.96.0.1")], synced: true))
        try await eventually { backend.recorded.count == 1 }

        backend.failNextSyncs(1)
        updates.yield(SourceUpdate(events: [Self.service("b", ip: "10.96.0.2")], synced: true))
        try await eventually { backend.recorded.count == 3 }
        let retry = backend.recorded[2]
        #expect(retry.full)
        #expect(retry.changedPorts.contains { $0.contains("demo/b") })
        #expect(await loop.failedSyncCount == 1)
        #expect(loop.health.isHealthy())
    }
}
