import ClusterModel
import HashTreeCollections
import KubeModel

/// Turns a cluster snapshot into kproxy's ``Ruleset``, incrementally.
///
/// The synthesizer caches what each Service port contributed (a fragment) and patches persistent tables,
/// so a sync that changes one Service costs one fragment plus O(log n) updates, and the resulting
/// ``Ruleset`` shares all other structure with the previous one (which ``RuleSync`` exploits to diff in
/// time proportional to the change). The output depends only on the snapshot and the ``NodeConfig``:
/// the same inputs give the same ruleset, whatever order the changes arrived in.
public struct RuleSynthesizer: Sendable {
    public let node: NodeConfig
    public let families: [TableFamily]
    public private(set) var ruleset: Ruleset
    private let tableIndex: [TableFamily: Int]
    private var fragments: TreeDictionary<ServicePortName, ServiceFragment> = [:]
    /// Every fragment's wish for each element slot. Slots can be wanted twice: a ClusterIP by each port of
    /// a Service, a hairpin entry by two Services sharing an endpoint, and (in a broken cluster) one
    /// IP:port by two Services. The lowest ``ServicePortName`` wins, so the outcome is order-independent.
    private var claims: TreeDictionary<ElementSlot, [Claim]> = [:]

    struct Claim: Hashable, Sendable {
        var owner: ServicePortName
        var element: SetElement
    }

    public init(node: NodeConfig) {
        self.node = node
        var families: Set<TableFamily> = []
        for ip in node.nodeIPs { families.insert(TableFamily(ip.family)) }
        for cidr in node.clusterCIDRs { families.insert(TableFamily(cidr.family)) }
        self.families = families.isEmpty ? TableFamily.allCases : families.sorted()
        ruleset = Ruleset(tables: self.families.map { BaseLayout.table($0, node: node) })
        var tableIndex: [TableFamily: Int] = [:]
        for (index, table) in ruleset.tables.enumerated() { tableIndex[table.family] = index }
        self.tableIndex = tableIndex
    }

    /// Brings the ruleset in line with the whole snapshot, reusing cached fragments whose input is unchanged.
    @discardableResult
    public mutating func synthesize(_ snapshot: ClusterSnapshot) -> Ruleset {
        for (name, _) in fragments where snapshot.servicePorts[name] == nil { remove(name) }
        for (name, info) in snapshot.servicePorts { update(name, info: info, endpoints: snapshot.endpoints(for: name)) }
        return ruleset
    }

    /// Re-synthesizes only the named Service ports (the ``ChangeSet`` of the last cluster update).
    @discardableResult
    public mutating func synthesize(_ snapshot: ClusterSnapshot, changed: some Sequence<ServicePortName>) -> Ruleset {
        for name in changed {
            if let info = snapshot.servicePorts[name] {
                update(name, info: info, endpoints: snapshot.endpoints(for: name))
            } else {
                remove(name)
            }
        }
        return ruleset
    }

    /// Sets one Service port's input directly: the entry point for callers (and benchmarks) that hold
    /// ports rather than a snapshot. Unchanged input costs one comparison.
    public mutating func update(_ info: ServicePortInfo, endpoints: [ServiceEndpoint]) {
        update(info.name, info: info, endpoints: endpoints)
    }

    private mutating func update(_ name: ServicePortName, info: ServicePortInfo, endpoints: [ServiceEndpoint]) {
        let old = fragments[name]
        if let old, old.info == info, old.endpoints == endpoints { return }
        let new = ServiceFragment(info: info, endpoints: endpoints, node: node, families: families)
        apply(name, old: old, new: new)
        fragments[name] = new
    }

    /// Drops one Service port's rules.
    public mutating func remove(_ name: ServicePortName) {
        guard let old = fragments.removeValue(forKey: name) else { return }
        apply(name, old: old, new: nil)
    }

    private mutating func apply(_ owner: ServicePortName, old: ServiceFragment?, new: ServiceFragment?) {
        for index in ruleset.tables.indices {
            let family = ruleset.tables[index].family
            let oldChains = old?.chains[family] ?? []
            let newChains = new?.chains[family] ?? []
            let kept = Set(newChains.map(\.name))
            for chain in oldChains where !kept.contains(chain.name) {
                ruleset.tables[index].removeChain(named: chain.name)
            }
            for chain in newChains { ruleset.tables[index].setChain(chain) }

            let oldSets = old?.sets[family] ?? []
            let newSets = new?.sets[family] ?? []
            let keptSets = Set(newSets.map(\.name))
            for set in oldSets where !keptSets.contains(set.name) {
                ruleset.tables[index].removeSet(named: set.name)
            }
            for set in newSets where ruleset.tables[index].sets[set.name] != set {
                ruleset.tables[index].setSet(set)
            }
        }
        for (slot, element) in old?.elements ?? [:] where new?.elements[slot] != element {
            unclaim(slot, owner: owner)
        }
        for (slot, element) in new?.elements ?? [:] where old?.elements[slot] != element {
            claim(slot, Claim(owner: owner, element: element))
        }
    }

    private mutating func claim(_ slot: ElementSlot, _ claim: Claim) {
        let (previous, next) = claims.updateValue(forKey: slot) { list -> (SetElement?, SetElement?) in
            guard var current = list else {
                list = [claim]
                return (nil, claim.element)
            }
            let previous = current.first?.element
            current.removeAll { $0.owner == claim.owner }
            let position = current.firstIndex { claim.owner < $0.owner } ?? current.count
            current.insert(claim, at: position)
            list = current
            return (previous, current.first?.element)
        }
        install(slot, previous: previous, next: next)
    }

    private mutating func unclaim(_ slot: ElementSlot, owner: ServicePortName) {
        let (previous, next) = claims.updateValue(forKey: slot) { list -> (SetElement?, SetElement?) in
            guard var current = list else { return (nil, nil) }
            let previous = current.first?.element
            current.removeAll { $0.owner == owner }
            list = current.isEmpty ? nil : current
            return (previous, current.first?.element)
        }
        install(slot, previous: previous, next: next)
    }

    private mutating func install(_ slot: ElementSlot, previous: SetElement?, next: SetElement?) {
        guard previous != next, let index = tableIndex[slot.family] else { return }
        if let previous { ruleset.tables[index].remove(previous, from: slot.set) }
        if let next { ruleset.tables[index].insert(next, into: slot.set) }
    }
}

/// The complete ruleset for a snapshot: kproxy's rules as a pure function.
public func synthesize(_ snapshot: ClusterSnapshot, node: NodeConfig) -> Ruleset {
    var synthesizer = RuleSynthesizer(node: node)
    return synthesizer.synthesize(snapshot)
}
