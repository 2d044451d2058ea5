import HashTreeCollections

/// A chain in one family's table.
public struct ChainID: Hashable, Sendable, Comparable {
    public var family: TableFamily
    public var name: String

    public init(family: TableFamily, name: String) {
        self.family = family
        self.name = name
    }

    public static func < (lhs: ChainID, rhs: ChainID) -> Bool { (lhs.family, lhs.name) < (rhs.family, rhs.name) }
}

/// Plans each sync's ``Transaction`` from what was last programmed to what is wanted now.
///
/// A pure value: the caller passes the time (seconds on any monotonic clock), applies the planned
/// transaction, and keeps ``SyncPlan/next`` only if the kernel accepted it. After a failure, start again
/// from `SyncPlanner()`, whose first plan is a full sync.
public struct SyncPlanner: Hashable, Sendable {
    /// What the kernel holds, as far as kproxy knows; nil before the first successful sync.
    public private(set) var programmed: Ruleset?
    /// Chains flushed because nothing wants them, with the time they were flushed. They are deleted no
    /// sooner than ``staleChainDelay`` later: kernels before 6.2 keep a chain busy for a moment after the
    /// map element that pointed to it was deleted (kube-proxy does the same).
    public private(set) var staleChains: TreeDictionary<ChainID, Double> = [:]

    public static let staleChainDelay: Double = 1

    public init() {}

    /// When the earliest pending chain deletion falls due: schedule a sync then, even if nothing changes.
    public var nextDeletionDue: Double? {
        staleChains.values.min().map { $0 + Self.staleChainDelay }
    }

    /// The transaction that takes the kernel from ``programmed`` to `desired`: a full sync the first time
    /// (or when `full` is set), otherwise only the differences plus any stale chains now due for deletion.
    public func plan(_ desired: Ruleset, now: Double, full: Bool = false) -> SyncPlan {
        guard let programmed, !full else {
            var next = SyncPlanner()
            next.programmed = desired
            return SyncPlan(transaction: Self.fullSync(desired), next: next, isFull: true)
        }
        var operations: [Transaction.Operation] = []
        var next = self
        next.programmed = desired
        // Deletions of chains flushed in an earlier sync come first, while nothing can point to them.
        for (id, flushed) in staleChains.sorted(by: { $0.key < $1.key }) where now - flushed >= Self.staleChainDelay {
            next.staleChains.removeValue(forKey: id)
            if desired.table(id.family)?.chains[id.name] == nil, programmed.table(id.family) != nil,
                desired.table(id.family) != nil
            {
                operations.append(.deleteChain(id.family, table: BaseLayout.tableName, chain: id.name))
            }
        }
        for family in TableFamily.allCases {
            let old = programmed.table(family)
            let new = desired.table(family)
            switch (old, new) {
            case (nil, nil):
                continue
            case (let old?, nil):
                operations.append(.deleteTable(family, old.name))
                for id in next.staleChains.keys where id.family == family { next.staleChains.removeValue(forKey: id) }
            case (nil, let new?):
                operations.append(.addTable(family, new.name, comment: new.comment))
                operations.append(.deleteTable(family, new.name))
                operations += Self.create(new)
            case (let old?, let new?):
                Self.diff(old, new, now: now, into: &operations, stale: &next.staleChains)
            }
        }
        return SyncPlan(transaction: Transaction(operations), next: next, isFull: false)
    }

    /// Replaces every kproxy table with `ruleset` in one batch: `add table` then `delete table` works
    /// whether or not the table exists, so this adopts a previous run's tables (or a crashed one's)
    /// without listing them. A family the ruleset lacks has its table removed.
    public static func fullSync(_ ruleset: Ruleset) -> Transaction {
        var operations: [Transaction.Operation] = []
        for family in TableFamily.allCases {
            let table = ruleset.table(family)
            let name = table?.name ?? BaseLayout.tableName
            operations.append(.addTable(family, name, comment: table?.comment))
            operations.append(.deleteTable(family, name))
            if let table { operations += create(table) }
        }
        return Transaction(operations)
    }

    /// Every operation that builds `table` from nothing: declarations first, so that rules and map
    /// elements can refer to any set or chain.
    static func create(_ table: Table) -> [Transaction.Operation] {
        let family = table.family
        var operations: [Transaction.Operation] = [.addTable(family, table.name, comment: table.comment)]
        let sets = table.sets.values.sorted { $0.name < $1.name }
        let chains = table.chains.values.sorted { $0.name < $1.name }
        for set in sets { operations.append(.addSet(family, table: table.name, set.declaration)) }
        for chain in chains { operations.append(.addChain(family, table: table.name, chain.declaration)) }
        for set in sets where !set.elements.isEmpty {
            operations.append(.addElements(family, table: table.name, set: set.name, set.sortedElements))
        }
        for chain in chains {
            for rule in chain.rules {
                operations.append(.addRule(family, table: table.name, chain: chain.name, rule))
            }
        }
        return operations
    }

    /// The changes between two versions of one table, found through structural sharing: the work is
    /// proportional to what changed, not to the table.
    static func diff(
        _ old: Table, _ new: Table, now: Double, into operations: inout [Transaction.Operation],
        stale: inout TreeDictionary<ChainID, Double>
    ) {
        let family = old.family
        let table = new.name
        let addedChains = new.chainContents.subtracting(old.chainContents).sorted { $0.name < $1.name }
        let removedChains = old.chainContents.subtracting(new.chainContents).sorted { $0.name < $1.name }
        let addedDeclarations = new.setDeclarations.subtracting(old.setDeclarations).sorted { $0.name < $1.name }
        let removedDeclarations = old.setDeclarations.subtracting(new.setDeclarations).sorted { $0.name < $1.name }

        var recreatedSets: [NamedSet] = []
        var newSets: [NamedSet] = []
        for set in addedDeclarations {
            if old.sets[set.name] != nil { recreatedSets.append(set) } else { newSets.append(set) }
        }
        let recreated = Set(recreatedSets.map(\.name))
        let created = recreated.union(newSets.map(\.name))
        let goneSets = removedDeclarations.filter { new.sets[$0.name] == nil }
        // Element changes: only sets holding elements can have any, and an unchanged set's elements are
        // shared with the old table, so comparing them is O(1).
        var elementChanges: [(name: String, gone: [SetElement], added: [SetElement])] = []
        for name in old.setsWithElements.union(new.setsWithElements).sorted() {
            let before = created.contains(name) ? [] : (old.sets[name]?.elements ?? [])
            let after = new.sets[name]?.elements ?? []
            guard before != after else { continue }
            let byKey = { (a: SetElement, b: SetElement) in a.key.lexicographicallyPrecedes(b.key) }
            elementChanges.append(
                (
                    name, new.sets[name] == nil ? [] : before.subtracting(after).sorted(by: byKey),
                    after.subtracting(before).sorted(by: byKey)
                ))
        }

        // 1. New sets and chains are declared first, so anything below may refer to them.
        for set in newSets { operations.append(.addSet(family, table: table, set.declaration)) }
        var filled: [Chain] = []
        var recreatedChains: [Chain] = []
        for chain in addedChains {
            if let previous = old.chains[chain.name] {
                if previous.base != chain.base || previous.comment != chain.comment {
                    recreatedChains.append(chain)
                } else {
                    operations.append(.flushChain(family, table: table, chain: chain.name))
                }
            } else {
                operations.append(.addChain(family, table: table, chain.declaration))
                // A chain flushed earlier and wanted again is kept (kube-proxy #122605).
                stale.removeValue(forKey: ChainID(family: family, name: chain.name))
            }
            filled.append(chain)
        }
        // A set is re-created when its declaration changed (an affinity timeout): every chain using it must
        // let go first, even one whose rules read the same. Rare, so a scan of the table is fine here.
        if !recreated.isEmpty {
            let refilled = Set(filled.map(\.name))
            for chain in new.chains.values.sorted(by: { $0.name < $1.name })
            where !refilled.contains(chain.name) && chain.references(recreated) {
                operations.append(.flushChain(family, table: table, chain: chain.name))
                filled.append(chain)
            }
        }
        // 2. Chains nothing wants any more are emptied now and deleted in a later sync.
        for chain in removedChains where new.chains[chain.name] == nil {
            operations.append(.flushChain(family, table: table, chain: chain.name))
            stale[ChainID(family: family, name: chain.name)] = now
        }
        // A base chain's hook or priority cannot change in place; nothing jumps to base chains.
        for chain in recreatedChains {
            operations.append(.deleteChain(family, table: table, chain: chain.name))
            operations.append(.addChain(family, table: table, chain.declaration))
        }
        // 3. Elements that went away or changed value, while the sets still hold them.
        for change in elementChanges where !change.gone.isEmpty {
            operations.append(.deleteElements(family, table: table, set: change.name, change.gone))
        }
        // 4. Sets no longer wanted (stale affinity sets), and sets whose declaration changed. Rules that
        //    used them were flushed above, since a rule naming another set is a changed rule.
        for set in goneSets { operations.append(.deleteSet(family, table: table, set: set.name, isMap: set.isMap)) }
        for set in recreatedSets {
            operations.append(.deleteSet(family, table: table, set: set.name, isMap: set.isMap))
            operations.append(.addSet(family, table: table, set.declaration))
        }
        // 5. New elements, then the rules of new and changed chains.
        for change in elementChanges where !change.added.isEmpty {
            operations.append(.addElements(family, table: table, set: change.name, change.added))
        }
        for chain in filled {
            for rule in chain.rules {
                operations.append(.addRule(family, table: table, chain: chain.name, rule))
            }
        }
    }
}

/// One sync's work: the transaction to apply, and the planner state to keep once the kernel accepted it.
public struct SyncPlan: Hashable, Sendable {
    public var transaction: Transaction
    public var next: SyncPlanner
    public var isFull: Bool
}

extension Chain {
    func references(_ sets: Set<String>) -> Bool {
        rules.contains { rule in
            rule.expressions.contains { expression in
                switch expression {
                case .lookup(let set, _, _, _), .dynset(_, let set, _, _): return sets.contains(set)
                default: return false
                }
            }
        }
    }

    /// The chain without its rules, as `add chain` declares it.
    var declaration: Chain { Chain(name: name, base: base, rules: [], comment: comment) }
}

extension NamedSet {
    var declaration: NamedSet {
        var copy = self
        copy.elements = []
        return copy
    }
}
