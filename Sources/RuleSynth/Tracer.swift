import KubeModel

/// Runs a packet through a ``Ruleset`` the way netfilter would, executing the kernel expressions themselves.
///
/// Behaviour tests and `kproxy rules --trace` both need "what happens to this packet", and answering it from
/// the model (not from nft's text, as upstream's regex tracer does) means the tracer checks exactly the
/// bytecode the `Netfilter` module sends. Base chains run in hook and priority order, the routing decision
/// uses `fib`-style local-address checks, and every `numgen` branch is followed, so a trace lists every
/// endpoint a connection could reach, with its probability.
///
/// Pure: no clocks, no sockets. An expression the tracer cannot evaluate is a ``TracerError``, never a trap.
public struct Tracer: Sendable {
    /// The node's own addresses: `fib … type local` is true for them and for loopback.
    public let localAddresses: Set<IPAddress>
    /// Upper bound on rule evaluations per trace, so that a hostile ruleset cannot run forever.
    public var evaluationLimit = 2_000_000
    let tables: [CompiledTable]

    public init(ruleset: Ruleset, localAddresses: some Sequence<IPAddress>) throws(TracerError) {
        self.localAddresses = Set(localAddresses)
        var tables: [CompiledTable] = []
        for table in ruleset.tables.sorted(by: { ($0.family, $0.name) < ($1.family, $1.name) }) {
            tables.append(try CompiledTable(table))
        }
        self.tables = tables
    }

    /// Follows `packet` through every branch. `remembered` are entries earlier traces added with `dynset`
    /// (session affinity): pass a path's ``Path/learned`` to trace the same client's next connection.
    public func trace(_ packet: Packet, remembering remembered: [LearnedElement] = []) throws(TracerError) -> Trace {
        guard packet.source.family == packet.destination.family else {
            throw .badPacket(text: packet.description, reason: "source and destination are of different IP families")
        }
        var machine = Machine(tracer: self, family: TableFamily(packet.family))
        return Trace(packet: packet, paths: try machine.run(packet, remembered: remembered))
    }

    /// Whether `fib` would call `address` local: one of the node's addresses, or loopback.
    func isLocal(_ address: IPAddress) -> Bool {
        if localAddresses.contains(address) { return true }
        switch address {
        case .v4(let value): return value >> 24 == 127
        case .v6(let high, let low): return high == 0 && low == 1
        }
    }

    /// Where a path ends.
    public enum Disposition: Hashable, Sendable, Comparable, CustomStringConvertible {
        /// Accepted through input: a socket on this node receives it.
        case delivered
        /// Accepted through forward and postrouting: it leaves the node towards another host or pod.
        case forwarded
        /// Locally originated and accepted through postrouting towards another host or pod.
        case sent
        case dropped
        case rejected(RejectSpec.Kind)

        public var description: String {
            switch self {
            case .delivered: return "delivered locally"
            case .forwarded: return "forwarded"
            case .sent: return "sent"
            case .dropped: return "dropped"
            case .rejected(let kind): return kind == .tcpReset ? "rejected (tcp reset)" : "rejected"
            }
        }

        public var isAccepted: Bool {
            switch self {
            case .delivered, .forwarded, .sent: return true
            case .dropped, .rejected: return false
            }
        }

        var order: Int {
            switch self {
            case .delivered: return 0
            case .forwarded: return 1
            case .sent: return 2
            case .dropped: return 3
            case .rejected(let kind): return 4 + Int(kind.rawValue)
            }
        }

        public static func < (lhs: Disposition, rhs: Disposition) -> Bool { lhs.order < rhs.order }
    }

    /// One rule that matched along a path (its expressions ran to the end or to a verdict).
    public struct Step: Hashable, Sendable, CustomStringConvertible {
        public var table: String
        public var chain: String
        /// Index of the rule in its chain, from 0.
        public var rule: Int
        public var comment: String?
        /// What the rule did: its verdict, or the action that ended evaluation (dnat, reject, …).
        public var action: String

        public var description: String {
            "\(table) \(chain) #\(rule)" + (comment.map { " (\($0))" } ?? "") + ": \(action)"
        }
    }

    /// An element a `dynset` added on the way, such as a client's affinity entry.
    public struct LearnedElement: Hashable, Sendable, CustomStringConvertible {
        public var family: TableFamily
        public var table: String
        public var set: String
        public var key: [UInt8]
        /// The key in nft syntax.
        public var text: String

        public var description: String { "@\(set) { \(text) }" }
    }

    /// One way the packet can go, with the probability that `numgen` sends it this way.
    public struct Path: Hashable, Sendable {
        public var disposition: Disposition
        public var dnat: Destination?
        /// The address of an explicit `snat` (masquerade is reported in ``masqueraded``).
        public var snat: Destination?
        public var masqueraded: Bool
        public var probability: Double
        public var learned: [LearnedElement]
        public var steps: [Step]

        /// Upstream's packet-flow vocabulary: the DNAT target, or DROP, REJECT or ACCEPT.
        public var label: String {
            if let dnat, disposition.isAccepted { return dnat.description }
            switch disposition {
            case .dropped: return "DROP"
            case .rejected: return "REJECT"
            default: return "ACCEPT"
            }
        }
    }

    /// Every way a packet can go. Paths with the same outcome are merged and their probabilities summed.
    public struct Trace: Sendable, CustomStringConvertible {
        public var packet: Packet
        public var paths: [Path]

        /// The DNAT targets of accepted paths, sorted.
        public var endpoints: [Destination] {
            Array(Set(paths.filter(\.disposition.isAccepted).compactMap(\.dnat))).sorted()
        }

        /// Path labels, deduplicated and sorted (endpoints first), joined as upstream's tests print them:
        /// `"10.180.0.1:80, 10.180.2.1:80"`, `"DROP"`, `"REJECT"`.
        public var summary: String {
            let endpoints = self.endpoints.map(\.description)
            let others = Set(paths.filter { !($0.disposition.isAccepted && $0.dnat != nil) }.map(\.label)).sorted()
            return (endpoints + others).joined(separator: ", ")
        }

        /// True when every accepted path is masqueraded, false when none is, nil when it depends on the branch.
        public var masqueraded: Bool? {
            let flags = Set(paths.filter(\.disposition.isAccepted).map(\.masqueraded))
            return flags.count == 1 ? flags.first : (flags.isEmpty ? false : nil)
        }

        public var description: String {
            var lines = ["\(packet): \(summary)"]
            for path in paths {
                var head = "  \(path.label)"
                if path.disposition.isAccepted {
                    head += " (\(path.disposition)\(path.masqueraded ? ", masqueraded" : "")"
                    if let snat = path.snat { head += ", snat to \(snat)" }
                    head += ")"
                }
                if paths.count > 1 { head += " p=\(formatProbability(path.probability))" }
                lines.append(head)
                for learned in path.learned { lines.append("    learns \(learned)") }
                for step in path.steps { lines.append("    \(step)") }
            }
            return lines.joined(separator: "\n")
        }

        private func formatProbability(_ value: Double) -> String {
            let scaled = (value * 10_000).rounded() / 10_000
            return String(scaled)
        }
    }
}

/// Why a trace could not be computed. Each names the table, chain, rule or set involved.
public enum TracerError: Error, Hashable, Sendable, CustomStringConvertible {
    case badPacket(text: String, reason: String)
    case badSet(table: String, set: String, reason: String)
    case badChain(table: String, chain: String, reason: String)
    /// An expression the tracer does not model, or one the kernel would refuse.
    case unsupported(table: String, chain: String, rule: Int, reason: String)
    case unknownChain(table: String, chain: String, referencedFrom: String)
    case unknownSet(table: String, set: String, referencedFrom: String)
    /// Jumps nested deeper than the kernel's 16-entry stack: a loop, or a layout the kernel refuses.
    case jumpStackOverflow(table: String, chain: String)
    case tooManyBranches(limit: Int)

    public var description: String {
        switch self {
        case .badPacket(let text, let reason):
            return "cannot trace packet \(quoted: text): \(reason)"
        case .badSet(let table, let set, let reason):
            return "set \(set) in table \(table): \(reason)"
        case .badChain(let table, let chain, let reason):
            return "chain \(chain) in table \(table): \(reason)"
        case .unsupported(let table, let chain, let rule, let reason):
            return "rule #\(rule) of chain \(chain) in table \(table): \(reason)"
        case .unknownChain(let table, let chain, let from):
            return "\(from) refers to chain \(chain), which table \(table) does not have"
        case .unknownSet(let table, let set, let from):
            return "\(from) refers to set \(set), which table \(table) does not have"
        case .jumpStackOverflow(let table, let chain):
            return "jumping to chain \(chain) in table \(table) nests deeper than the kernel's 16 levels"
        case .tooManyBranches(let limit):
            return "the trace needs more than \(limit) rule evaluations; narrow the packet or the ruleset"
        }
    }
}

/// A table with its sets compiled and its base chains ordered per hook.
struct CompiledTable: Sendable {
    let family: TableFamily
    let name: String
    let chains: [String: Chain]
    let sets: [String: CompiledSet]
    /// Base chains by hook, in priority order (then by name, for a deterministic order among equals).
    let baseChains: [Hook: [Chain]]

    init(_ table: Table) throws(TracerError) {
        family = table.family
        name = table.name
        var chains: [String: Chain] = [:]
        for chain in table.chains.values { chains[chain.name] = chain }
        self.chains = chains
        var sets: [String: CompiledSet] = [:]
        for set in table.sets.values { sets[set.name] = try CompiledSet(set, table: "\(table.family) \(table.name)") }
        self.sets = sets
        var baseChains: [Hook: [Chain]] = [:]
        for chain in table.chains.values {
            guard let base = chain.base else { continue }
            if base.type == .nat && base.hook == .forward {
                throw .badChain(table: table.name, chain: chain.name, reason: "nat chains cannot hook forward")
            }
            if base.policy != .accept && base.policy != .drop {
                throw .badChain(table: table.name, chain: chain.name, reason: "a base chain's policy is accept or drop")
            }
            baseChains[base.hook, default: []].append(chain)
        }
        for hook in baseChains.keys {
            baseChains[hook]?.sort { ($0.base?.priority ?? 0, $0.name) < ($1.base?.priority ?? 0, $1.name) }
        }
        self.baseChains = baseChains
    }
}
