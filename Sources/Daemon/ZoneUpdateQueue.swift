import ClusterDNS
import ClusterModel
import Synchronization

/// Hands change sets from the sync loop to the DNS zone without making the loop wait for the index.
///
/// Building the zone for 10k Services takes seconds; done inline it held back the first rules sync.
/// Updates that arrive while one is being applied merge into one: the index update withdraws and re-adds
/// every changed Service from the newest snapshot, so the union of the change sets applied to the newest
/// snapshot gives the same zone as applying them one by one.
final class ZoneUpdateQueue: Sendable {
    private struct Pending {
        var snapshot: ClusterSnapshot?
        var changes = ChangeSet()
    }

    private let pending = Mutex(Pending())
    private let signal: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (signal, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func enqueue(_ snapshot: ClusterSnapshot, changes: ChangeSet) {
        pending.withLock {
            $0.snapshot = snapshot
            $0.changes.formUnion(changes)
        }
        continuation.yield()
    }

    /// Applies queued updates to `responder` until cancelled.
    func apply(to responder: ClusterResponder) async {
        for await _ in signal {
            let next = pending.withLock { pending -> Pending in
                defer { pending = Pending() }
                return pending
            }
            guard let snapshot = next.snapshot else { continue }
            responder.update(to: snapshot, changes: next.changes)
        }
    }

    func finish() { continuation.finish() }
}
