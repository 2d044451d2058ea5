/// An ordered list of nftables operations, applied as one atomic netlink batch (or one `nft -f` file).
///
/// Order matters the way it does for the kernel: a chain is added before a rule jumps to it, and a map
/// element is deleted before the chain it points to.
public struct Transaction: Hashable, Sendable {
    public var operations: [Operation]

    public init(_ operations: [Operation] = []) { self.operations = operations }

    public var isEmpty: Bool { operations.isEmpty }

    public enum Operation: Hashable, Sendable {
        /// `add table`: creates it, or does nothing if it exists.
        case addTable(TableFamily, String, comment: String?)
        /// `delete table`: removes it and everything in it.
        case deleteTable(TableFamily, String)
        /// `add chain`: creates it (with its hook, for base chains) or does nothing if it exists. The chain
        /// carries no rules here: they follow as ``addRule`` operations.
        case addChain(TableFamily, table: String, Chain)
        case flushChain(TableFamily, table: String, chain: String)
        case deleteChain(TableFamily, table: String, chain: String)
        /// Appends a rule to the end of the chain.
        case addRule(TableFamily, table: String, chain: String, Rule)
        /// `add set`/`add map`: the declaration only (no elements); elements travel separately.
        case addSet(TableFamily, table: String, NamedSet)
        /// `isMap` only matters to nft's text, which spells `flush map` and `delete map` differently.
        case flushSet(TableFamily, table: String, set: String, isMap: Bool)
        case deleteSet(TableFamily, table: String, set: String, isMap: Bool)
        case addElements(TableFamily, table: String, set: String, [SetElement])
        /// Deletes elements by key; only `key` of each element is used.
        case deleteElements(TableFamily, table: String, set: String, [SetElement])
    }
}
