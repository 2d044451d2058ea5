import ClusterModel
import KubeModel
import Synchronization

/// The cluster zone as a ``DNSResponder``: answers from the latest ``ZoneIndex`` and hands everything
/// outside the zone, and the out-of-zone parts of ExternalName and server-side search answers, to `upstream`.
///
/// Queries are answered under the lock, which takes microseconds, and updates mutate the index in place
/// under it: a query holding a copy would force the next update to copy every table, so only the rare
/// answers that wait on upstream take a copy.
public final class ClusterResponder: DNSResponder {
    public let config: ZoneConfig
    let upstream: (any DNSResponder)?
    let index: Mutex<ZoneIndex?>

    /// - Parameter upstream: the forwarder, or nil to answer only the cluster zone (others get nil → REFUSED).
    public init(config: ZoneConfig, upstream: (any DNSResponder)? = nil) {
        self.config = config
        self.upstream = upstream
        index = Mutex(nil)
    }

    /// True once a snapshot has been loaded; before that, in-zone queries get SERVFAIL.
    public var isSynced: Bool { index.withLock { $0 != nil } }

    /// Replaces the index with one built from `snapshot` (the first sync, or a full resync).
    public func load(_ snapshot: ClusterSnapshot) {
        let fresh = ZoneIndex(config: config, snapshot: snapshot)
        index.withLock { $0 = fresh }
    }

    /// Applies one batch of changes in place; before the first ``load(_:)`` it builds from the snapshot.
    public func update(to snapshot: ClusterSnapshot, changes: ChangeSet) {
        let loaded = index.withLock { state -> Bool in
            guard state != nil else { return false }
            state!.update(to: snapshot, changes: changes)
            return true
        }
        if !loaded { load(snapshot) }
    }

    /// A copy of the current index, for `kproxy resolve` and tests; nil before the first sync.
    public var currentIndex: ZoneIndex? { index.withLock { $0 } }

    /// The zone's verdict, computed under the lock; nil before the first sync. The client's namespace is
    /// looked up only when a search could start, so ordinary answers cost no pod lookup.
    func zoneAnswer(_ query: Message, from client: IPAddress) -> ZoneAnswer? {
        index.withLock { state -> ZoneAnswer? in
            guard let zone = state else { return nil }
            return zone.answer(query, clientNamespace: config.serverSideSearch ? zone.podNamespace(of: client) : nil)
        }
    }

    /// Everything but the answers that wait on upstream, on the server's event loop with no task.
    public func respondImmediately(
        to query: Message, from client: IPAddress, transport: Transport
    )
        -> ImmediateResponse
    {
        switch zoneAnswer(query, from: client) {
        case nil:
            if let name = query.question?.name, ZoneIndex.isInZone(name, config: config) {
                return .answered(ZoneIndex.notSynced(query))
            }
            return upstream?.respondImmediately(to: query, from: client, transport: transport) ?? .answered(nil)
        case .response(let response):
            return .answered(response)
        case .notInZone:
            return upstream?.respondImmediately(to: query, from: client, transport: transport) ?? .answered(nil)
        case .resolve:
            return .needsSuspension
        }
    }

    public func respond(to query: Message, from client: IPAddress, transport: Transport) async -> Message? {
        switch zoneAnswer(query, from: client) {
        case nil:
            if let name = query.question?.name, ZoneIndex.isInZone(name, config: config) {
                return ZoneIndex.notSynced(query)
            }
            return await upstream?.respond(to: query, from: client, transport: transport)
        case .response(let response):
            return response
        case .notInZone:
            return await upstream?.respond(to: query, from: client, transport: transport)
        case .resolve(let continuation):
            guard let zone = currentIndex else { return ZoneIndex.notSynced(query) }
            return await zone.finish(continuation) { name, type in
                guard let upstream else { return nil }
                let lookup = Message.query(id: query.id, name: name, type: type, recursionDesired: true)
                return await upstream.respond(to: lookup, from: client, transport: transport)
            }
        }
    }
}
