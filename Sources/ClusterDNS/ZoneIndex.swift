import ClusterModel
import HashTreeCollections
import KubeModel

/// Every name of the cluster zone that has records or children, keyed by its lower-cased wire form.
///
/// Built once from a ``ClusterSnapshot``, then kept current from each ``ChangeSet``: a changed Service's
/// old names are withdrawn and its new ones added, so an update costs time proportional to that Service
/// (its ports and endpoints), never to the cluster. Each name counts its children, so an empty
/// non-terminal (`svc.<zone>`, `_tcp.<svc>…`) exists exactly as long as something lies below it (RFC 8020).
/// Reverse names live apart: kproxy answers the PTRs it knows and lets the rest fall through upstream.
public struct ZoneIndex: Sendable {
    public let config: ZoneConfig
    /// Bumped on every update that changed something; the SOA serial.
    public private(set) var serial: UInt32 = 1
    var nodes: [NameKey: Node] = [:]
    var reverse: [NameKey: Node] = [:]
    /// What each Service put into ``nodes`` and ``reverse``, to withdraw it when the Service changes.
    var contributions: [ServiceKey: [Contribution]] = [:]
    var servicesPerNamespace: [String: Int] = [:]
    var podsPerNamespace: [String: Int] = [:]
    /// The snapshot's own persistent map: O(1) to take, read for verified pod records and server-side search.
    public private(set) var podsByIP: TreeDictionary<IPAddress, ObjectKey> = [:]
    let zoneLabels: Int
    /// The SOA's MNAME and RNAME, made once: every negative answer carries them.
    let soaPrimary: DNSName
    let soaMailbox: DNSName

    /// The records one owner keeps at one name.
    struct RecordSet: Hashable, Sendable {
        var owner: Owner
        var records: [RData]
    }

    enum Owner: Hashable, Sendable, Comparable {
        /// The apex, `dns-version`, `svc` and `pod`: present for the index's whole life.
        case fixed
        case service(ServiceKey)
        /// `<ns>.svc.<zone>` of a namespace that has pods on this node but no Service.
        case pods
    }

    struct Node: Sendable, Equatable {
        var sets: [RecordSet] = []
        /// Names directly below this one that exist.
        var children = 0

        var exists: Bool { !sets.isEmpty || children > 0 }

        /// Owners add their sets in update order, which differs between an incremental and a fresh index.
        static func == (lhs: Node, rhs: Node) -> Bool {
            lhs.children == rhs.children
                && lhs.sets.sorted { $0.owner < $1.owner } == rhs.sets.sorted { $0.owner < $1.owner }
        }
    }

    /// One name's records from one Service.
    struct Contribution: Hashable, Sendable {
        var name: DNSName
        var records: [RData]
        var isReverse = false
    }

    public init(config: ZoneConfig) {
        self.config = config
        zoneLabels = config.zone.labelCount
        soaPrimary = config.zone.child("dns")?.child("ns") ?? config.zone
        soaMailbox = config.zone.child("hostmaster") ?? config.zone
        for contribution in fixedContributions() { add(contribution, owner: .fixed) }
    }

    /// An index of everything in `snapshot`.
    public init(config: ZoneConfig, snapshot: ClusterSnapshot) {
        self.init(config: config)
        for (key, entry) in snapshot.services { setService(key, entry) }
        setPods(snapshot)
    }

    /// Brings the index to `snapshot`, touching only what `changes` names.
    public mutating func update(to snapshot: ClusterSnapshot, changes: ChangeSet) {
        for key in changes.services { setService(key, snapshot.services[key]) }
        if changes.podsChanged { setPods(snapshot) }
        if !changes.services.isEmpty || changes.podsChanged { serial &+= 1 }
    }

    /// A namespace exists for DNS while it holds a Service or a Pod kproxy knows of.
    public func namespaceExists(_ namespace: String) -> Bool {
        servicesPerNamespace[namespace] != nil || podsPerNamespace[namespace] != nil
    }

    /// The namespace of the pod that owns `address`, for server-side search and verified pod records.
    public func podNamespace(of address: IPAddress) -> String? { podsByIP[address]?.namespace }

    func node(_ name: DNSName) -> Node? { nodes[NameKey(name)] }

    func reverseNode(_ name: DNSName) -> Node? { reverse[NameKey(name)] }

    // MARK: Updating

    mutating func setService(_ key: ServiceKey, _ entry: ServiceEntry?) {
        if let old = contributions.removeValue(forKey: key) {
            for contribution in old { remove(contribution, owner: .service(key)) }
            servicesPerNamespace[key.namespace, default: 1] -= 1
            if servicesPerNamespace[key.namespace] == 0 { servicesPerNamespace.removeValue(forKey: key.namespace) }
        }
        guard let entry else { return }
        let new = ZoneIndex.contributions(for: entry, config: config)
        for contribution in new { add(contribution, owner: .service(key)) }
        contributions[key] = new
        servicesPerNamespace[key.namespace, default: 0] += 1
    }

    /// Pods arrive only as "something changed" in a ``ChangeSet``; a node has a few hundred at most, so the
    /// per-namespace counts are recounted and the pod map itself is shared with the snapshot.
    mutating func setPods(_ snapshot: ClusterSnapshot) {
        podsByIP = snapshot.podsByIP
        var counts: [String: Int] = [:]
        for key in snapshot.pods.keys { counts[key.namespace, default: 0] += 1 }
        let svc = config.zone.child("svc")
        for namespace in podsPerNamespace.keys where counts[namespace] == nil {
            if let name = svc?.child(namespace) { remove(Contribution(name: name, records: []), owner: .pods) }
        }
        for namespace in counts.keys where podsPerNamespace[namespace] == nil {
            if let name = svc?.child(namespace) { add(Contribution(name: name, records: []), owner: .pods) }
        }
        podsPerNamespace = counts
    }

    mutating func add(_ contribution: Contribution, owner: Owner) {
        let key = NameKey(contribution.name)
        let set = RecordSet(owner: owner, records: contribution.records)
        if contribution.isReverse {
            reverse[key, default: Node()].sets.append(set)
        } else if nodes[key] != nil {
            nodes[key]!.sets.append(set)
        } else {
            nodes[key] = Node(sets: [set])
            addChild(below: contribution.name)
        }
    }

    mutating func remove(_ contribution: Contribution, owner: Owner) {
        let key = NameKey(contribution.name)
        if contribution.isReverse {
            guard let index = reverse[key]?.sets.firstIndex(where: { $0.owner == owner }) else { return }
            reverse[key]!.sets.remove(at: index)
            if reverse[key]!.sets.isEmpty { reverse.removeValue(forKey: key) }
            return
        }
        guard let index = nodes[key]?.sets.firstIndex(where: { $0.owner == owner }) else { return }
        nodes[key]!.sets.remove(at: index)
        if !nodes[key]!.exists {
            nodes.removeValue(forKey: key)
            removeChild(below: contribution.name)
        }
    }

    /// Counts a new name at its parent, creating empty non-terminals up to the apex as needed.
    mutating func addChild(below name: DNSName) {
        var current = name
        while current.labelCount > zoneLabels {
            let parent = current.dropping(labels: 1)
            let key = NameKey(parent)
            if nodes[key] != nil {
                nodes[key]!.children += 1
                return
            }
            nodes[key] = Node(children: 1)
            current = parent
        }
    }

    /// Uncounts a removed name, removing empty non-terminals that no longer have anything below them.
    mutating func removeChild(below name: DNSName) {
        var current = name
        while current.labelCount > zoneLabels {
            let parent = current.dropping(labels: 1)
            let key = NameKey(parent)
            guard nodes[key] != nil else { return }
            nodes[key]!.children -= 1
            guard !nodes[key]!.exists else { return }
            nodes.removeValue(forKey: key)
            current = parent
        }
    }
}

extension ZoneIndex: Equatable {
    /// Same names, same records: what an incrementally updated index must share with a fresh one.
    public static func == (lhs: ZoneIndex, rhs: ZoneIndex) -> Bool {
        lhs.config == rhs.config && lhs.nodes == rhs.nodes && lhs.reverse == rhs.reverse
            && lhs.servicesPerNamespace == rhs.servicesPerNamespace && lhs.podsPerNamespace == rhs.podsPerNamespace
            && lhs.podsByIP == rhs.podsByIP
    }
}

/// A name folded to lower case, hashed as one block of bytes: the index's key on the query path.
struct NameKey: Hashable, Sendable {
    let bytes: [UInt8]

    /// Shares the name's bytes when they are already lower case, as almost every query's are.
    init(_ name: DNSName) {
        let wire = name.wire
        bytes = wire.contains { $0 &- 0x41 < 26 } ? wire.map(DNSName.lower) : wire
    }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
