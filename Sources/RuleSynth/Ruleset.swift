import HashTreeCollections
import KubeModel

/// The nftables address families kproxy programs: one `kproxy` table in each.
public enum TableFamily: String, Hashable, Sendable, CaseIterable, Comparable {
    case ip
    case ip6

    /// `NFPROTO_IPV4` / `NFPROTO_IPV6`, as netlink and `nat` expressions want it.
    public var nfproto: UInt32 { self == .ip ? 2 : 10 }
    public var ipFamily: IPAddress.Family { self == .ip ? .ipv4 : .ipv6 }
    public init(_ family: IPAddress.Family) { self = family == .ipv4 ? .ip : .ip6 }

    public static func < (lhs: TableFamily, rhs: TableFamily) -> Bool { lhs.nfproto < rhs.nfproto }
}

/// A complete ruleset: what kproxy wants the kernel to hold, one table per family.
public struct Ruleset: Hashable, Sendable {
    public var tables: [Table]

    public init(tables: [Table]) { self.tables = tables }

    public func table(_ family: TableFamily) -> Table? { tables.first { $0.family == family } }
}

/// An nftables table with its chains and named sets/maps, each keyed by name.
///
/// Storage is persistent (hash tries), so a `Ruleset` that differs from its predecessor in one Service
/// shares everything else with it: copying is O(1), and ``RuleSync`` finds what changed by structural
/// sharing instead of comparing 100k chains. Mutate through the methods so the indexes stay in step.
public struct Table: Sendable {
    public var family: TableFamily
    public var name: String
    public var comment: String?
    public private(set) var chains: TreeDictionary<String, Chain>
    /// The same chains as a set of whole values: `subtracting` two of these yields exactly the added,
    /// removed and changed chains, skipping shared subtrees.
    public private(set) var chainContents: TreeSet<Chain>
    public private(set) var sets: TreeDictionary<String, NamedSet>
    /// The sets' declarations (elements left out), for the same structural diff.
    public private(set) var setDeclarations: TreeSet<NamedSet>
    /// Names of the sets that hold elements: the only ones whose elements a diff needs to compare.
    public private(set) var setsWithElements: TreeSet<String>

    public init(
        family: TableFamily, name: String, chains: [Chain] = [], sets: [NamedSet] = [], comment: String? = nil
    ) {
        self.family = family
        self.name = name
        self.comment = comment
        self.chains = [:]
        self.chainContents = []
        self.sets = [:]
        self.setDeclarations = []
        self.setsWithElements = []
        for chain in chains { setChain(chain) }
        for set in sets { setSet(set) }
    }

    /// Adds or replaces the chain of that name.
    public mutating func setChain(_ chain: Chain) {
        if let old = chains.updateValue(chain, forKey: chain.name) {
            if old == chain { return }
            chainContents.remove(old)
        }
        chainContents.insert(chain)
    }

    public mutating func removeChain(named name: String) {
        if let old = chains.removeValue(forKey: name) { chainContents.remove(old) }
    }

    /// Adds or replaces a set or map, elements included.
    public mutating func setSet(_ set: NamedSet) {
        let declaration = set.declaration
        if let old = sets.updateValue(set, forKey: set.name) {
            let oldDeclaration = old.declaration
            if oldDeclaration != declaration {
                setDeclarations.remove(oldDeclaration)
                setDeclarations.insert(declaration)
            }
        } else {
            setDeclarations.insert(declaration)
        }
        if set.elements.isEmpty { setsWithElements.remove(set.name) } else { setsWithElements.insert(set.name) }
    }

    public mutating func removeSet(named name: String) {
        if let old = sets.removeValue(forKey: name) {
            setDeclarations.remove(old.declaration)
            setsWithElements.remove(name)
        }
    }

    /// Adds an element to an existing set (in place: the elements are not copied); returns false when
    /// there is no such set.
    @discardableResult
    public mutating func insert(_ element: SetElement, into set: String) -> Bool {
        let count = sets.updateValue(forKey: set) { value -> Int? in
            guard value != nil else { return nil }
            value!.elements.insert(element)
            return value!.elements.count
        }
        guard let count else { return false }
        if count == 1 { setsWithElements.insert(set) }
        return true
    }

    public mutating func remove(_ element: SetElement, from set: String) {
        let count = sets.updateValue(forKey: set) { value -> Int? in
            guard value != nil else { return nil }
            value!.elements.remove(element)
            return value!.elements.count
        }
        if count == 0 { setsWithElements.remove(set) }
    }
}

extension Table: Hashable {
    public static func == (lhs: Table, rhs: Table) -> Bool {
        lhs.family == rhs.family && lhs.name == rhs.name && lhs.comment == rhs.comment && lhs.chains == rhs.chains
            && lhs.sets == rhs.sets
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(family)
        hasher.combine(name)
        hasher.combine(chains.count)
        hasher.combine(sets.count)
    }
}

public enum ChainType: String, Hashable, Sendable {
    case filter
    case nat
    case route
}

/// Netfilter hooks, with their `NF_INET_*` numbers.
public enum Hook: String, Hashable, Sendable {
    case prerouting
    case input
    case forward
    case output
    case postrouting

    public var number: UInt32 {
        switch self {
        case .prerouting: return 0
        case .input: return 1
        case .forward: return 2
        case .output: return 3
        case .postrouting: return 4
        }
    }
}

/// What makes a chain a base chain: attached to a hook with a type and priority.
public struct BaseChainSpec: Hashable, Sendable {
    public var type: ChainType
    public var hook: Hook
    public var priority: Int32
    /// Base chains always accept by default: kproxy never blocks traffic it does not own.
    public var policy: Verdict

    public init(type: ChainType, hook: Hook, priority: Int32, policy: Verdict = .accept) {
        self.type = type
        self.hook = hook
        self.priority = priority
        self.policy = policy
    }
}

/// A chain. Equality compares everything; the hash covers only the name and rule count, because
/// chains are hashed on every ruleset update and two versions of one chain never share a table.
public struct Chain: Hashable, Sendable {
    public var name: String
    public var base: BaseChainSpec?
    public var rules: [Rule]
    public var comment: String?

    public init(name: String, base: BaseChainSpec? = nil, rules: [Rule] = [], comment: String? = nil) {
        self.name = name
        self.base = base
        self.rules = rules
        self.comment = comment
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(rules.count)
    }
}

/// A rule: kernel expressions in order, plus a comment that nft shows (stored as rule userdata).
public struct Rule: Hashable, Sendable {
    public var expressions: [Expression]
    public var comment: String?

    public init(_ expressions: [Expression], comment: String? = nil) {
        self.expressions = expressions
        self.comment = comment
    }
}

/// The nftables data types kproxy uses in set keys and map values, with nft's type ids and sizes.
public enum DataType: UInt32, Hashable, Sendable {
    case verdict = 1
    case ipv4Addr = 7
    case ipv6Addr = 8
    case inetProto = 12
    case inetService = 13
    case mark = 19
    case ifname = 41

    /// The type's size in bytes on the wire (before 4-byte alignment inside concatenations).
    public var length: UInt32 {
        switch self {
        case .verdict: return 4
        case .ipv4Addr: return 4
        case .ipv6Addr: return 16
        case .inetProto: return 1
        case .inetService: return 2
        case .mark: return 4
        case .ifname: return 16
        }
    }

    /// nft's name, as `type ipv4_addr . inet_proto` prints it.
    public var nftName: String {
        switch self {
        case .verdict: return "verdict"
        case .ipv4Addr: return "ipv4_addr"
        case .ipv6Addr: return "ipv6_addr"
        case .inetProto: return "inet_proto"
        case .inetService: return "inet_service"
        case .mark: return "mark"
        case .ifname: return "ifname"
        }
    }

    /// Concatenated key type id and length as the kernel stores them: ids shifted by 6 bits per part
    /// (nft's `TYPE_BITS`), each part padded to 4 bytes.
    public static func concatenation(_ parts: [DataType]) -> (type: UInt32, length: UInt32) {
        if parts.count == 1 { return (parts[0].rawValue, parts[0].length) }
        var type: UInt32 = 0
        var length: UInt32 = 0
        for part in parts {
            type = type << 6 | part.rawValue
            length += (part.length + 3) / 4 * 4
        }
        return (type, length)
    }
}

public struct SetFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `NFT_SET_*` bits.
    public static let constant = SetFlags(rawValue: 1 << 1)
    public static let interval = SetFlags(rawValue: 1 << 2)
    public static let map = SetFlags(rawValue: 1 << 3)
    public static let timeout = SetFlags(rawValue: 1 << 4)
    public static let eval = SetFlags(rawValue: 1 << 5)
    /// nft's `dynamic` is the kernel's `NFT_SET_EVAL`: the set is updated from the packet path.
    public static let dynamic = SetFlags.eval
    public static let concat = SetFlags(rawValue: 1 << 7)
}

/// A named set or map. kproxy names every set itself: the kernel's `%d` allocation scans all sets.
///
/// Equality compares everything (elements compare in O(1) when shared); the hash leaves the elements
/// out, so that hashing stays cheap however large the set.
public struct NamedSet: Hashable, Sendable {
    public var name: String
    public var key: [DataType]
    /// The map's value type (`.verdict` for a vmap); nil for a plain set.
    public var data: [DataType]?
    /// `.interval`, `.timeout` and `.eval` (dynamic) are the ones that matter; `.map` and `.concat` are derived.
    public var flags: SetFlags
    /// Default element timeout in seconds, for `flags timeout` sets.
    public var timeout: UInt32?
    /// Maximum element count (`NFTA_SET_DESC_SIZE`). nft gives dynamic sets 65535 when none is said and
    /// lists it back, so kproxy says it explicitly and the kernel holds the same either way.
    public var size: UInt32?
    public var comment: String?
    public var elements: TreeSet<SetElement>

    public init(
        name: String, key: [DataType], data: [DataType]? = nil, flags: SetFlags = [], timeout: UInt32? = nil,
        size: UInt32? = nil, comment: String? = nil, elements: some Sequence<SetElement> = []
    ) {
        self.name = name
        self.key = key
        self.data = data
        self.flags = flags
        self.timeout = timeout
        self.size = size
        self.comment = comment
        self.elements = TreeSet(elements)
    }

    public var isMap: Bool { data != nil }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(key)
        hasher.combine(flags.rawValue)
        hasher.combine(timeout)
    }

    /// Whether the kernel object itself (not its elements) is the same: otherwise it must be re-created.
    public func hasSameDeclaration(as other: NamedSet) -> Bool {
        name == other.name && key == other.key && data == other.data && flags == other.flags
            && timeout == other.timeout && size == other.size && comment == other.comment
    }
}

/// One part of an element key or map value.
public enum ElementValue: Hashable, Sendable, Comparable, CustomStringConvertible {
    case address(IPAddress)
    /// A prefix, only in `interval` sets: the kernel stores it as a start and an end element.
    case prefix(CIDR)
    case proto(TransportProtocol)
    case port(UInt16)
    case mark(UInt32)
    case ifname(String)

    public var description: String {
        switch self {
        case .address(let address): return address.description
        case .prefix(let cidr): return cidr.description
        case .proto(let proto): return proto.nftName
        case .port(let port): return String(port)
        case .mark(let mark): return "0x" + String(mark, radix: 16)
        case .ifname(let name): return "\"\(name)\""
        }
    }

    public static func < (lhs: ElementValue, rhs: ElementValue) -> Bool {
        switch (lhs, rhs) {
        case (.address(let a), .address(let b)): return a < b
        case (.prefix(let a), .prefix(let b)): return a < b
        case (.proto(let a), .proto(let b)): return a < b
        case (.port(let a), .port(let b)): return a < b
        case (.mark(let a), .mark(let b)): return a < b
        case (.ifname(let a), .ifname(let b)): return a < b
        default: return lhs.description < rhs.description
        }
    }
}

/// What a map element maps to.
public enum ElementData: Hashable, Sendable {
    case verdict(Verdict)
    case values([ElementValue])
}

public struct SetElement: Hashable, Sendable {
    public var key: [ElementValue]
    public var data: ElementData?
    /// Per-element timeout in seconds, overriding the set's.
    public var timeout: UInt32?
    /// Stored as element userdata, so `nft list` shows it.
    public var comment: String?

    public init(key: [ElementValue], data: ElementData? = nil, timeout: UInt32? = nil, comment: String? = nil) {
        self.key = key
        self.data = data
        self.timeout = timeout
        self.comment = comment
    }
}
