import ClusterModel
import Daemon
import KubeModel
import Logging
import RuleSynth
import Synchronization
import Testing

/// Keeps every transaction, and rejects them on demand the way a failed netlink batch would.
final class RecordingSink: TransactionSink {
    let transactions = Mutex<[Transaction]>([])
    let rejecting = Mutex(false)

    func apply(_ transaction: Transaction) async throws {
        if rejecting.withLock({ $0 }) { throw CancellationError() }
        transactions.withLock { $0.append(transaction) }
    }

    var last: Transaction? { transactions.withLock { $0.last } }
}

@Suite("Rules backend")
struct RulesBackendTests {
    func snapshot(_ events: [ClusterEvent]) -> (ClusterSnapshot, ChangeSet) {
        var state = ClusterState(nodeName: "node-a")
        state.apply(events)
        return (state.snapshot, state.takeChanges())
    }

    static func isFullReplacement(_ transaction: Transaction) -> Bool {
        transaction.operations.contains { if case .deleteTable = $0 { true } else { false } }
    }

    @Test func aPartialSyncSendsOnlyTheChangedService() async throws {
        let sink = RecordingSink()
        let backend = RulesBackend(configuration: Configuration(), sink: sink, logger: Logger(label: "test"))
        let a = SyncLoopTests.service("a", ip: "10.96.0.1")
        let b = SyncLoopTests.service("b", ip: "10.96.0.2")
        let (first, _) = snapshot([a])
        try await backend.sync(first, changes: ChangeSet(), full: true)
        #expect(Self.isFullReplacement(try #require(sink.last)))

        let (second, changes) = snapshot([a, b])
        try await backend.sync(second, changes: changes, full: false)
        let partial = try #require(sink.last)
        #expect(!Self.isFullReplacement(partial))
        let text = partial.render()
        #expect(text.contains("10.96.0.2"))
        #expect(!text.contains("10.96.0.1"), "the unchanged Service is not re-sent")
    }

    @Test func afterARejectedBatchTheNextSyncReplacesEverything() async throws {
        let sink = RecordingSink()
        let backend = RulesBackend(configuration: Configuration(), sink: sink, logger: Logger(label: "test"))
        let a = SyncLoopTests.service("a", ip: "10.96.0.1")
        let (first, _) = snapshot([a])
        try await backend.sync(first, changes: ChangeSet(), full: true)

        sink.rejecting.withLock { $0 = true }
        let (second, changes) = snapshot([a, SyncLoopTests.service("b", ip: "10.96.0.2")])
        await #expect(throws: CancellationError.self) { try await backend.sync(second, changes: changes, full: false) }
        sink.rejecting.withLock { $0 = false }
        try await backend.sync(second, changes: ChangeSet(), full: false)
        let retry = try #require(sink.last)
        #expect(Self.isFullReplacement(retry))
        #expect(retry.render().contains("10.96.0.2"))
    }
}
