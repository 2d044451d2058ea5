import KubeModel

/// The netfilter pipeline the tracer walks: which hook comes next, which base chains run, and what a
/// verdict does to the chain stack.
///
/// Work proceeds in rounds of one rule per live path. Paths that reach the same point in the same state are
/// merged (their probabilities add), which keeps a `numgen` probability cascade over n endpoints at O(n²)
/// rule evaluations instead of n! paths. Registers are cleared at every rule boundary for that merging:
/// nft never reads a register a previous rule wrote.
struct Machine {
    let tracer: Tracer
    let family: TableFamily
    /// Indexes into `tracer.tables` of the tables of this family.
    let tables: [Int]
    /// Base chains of every table of the family, per hook, in priority order.
    let hookChains: [Hook: [(table: Int, chain: Chain)]]
    var evaluations = 0

    init(tracer: Tracer, family: TableFamily) {
        self.tracer = tracer
        self.family = family
        tables = tracer.tables.indices.filter { tracer.tables[$0].family == family }
        var hookChains: [Hook: [(table: Int, chain: Chain)]] = [:]
        for table in tables {
            for (hook, chains) in tracer.tables[table].baseChains {
                hookChains[hook, default: []] += chains.map { (table, $0) }
            }
        }
        for hook in hookChains.keys {
            hookChains[hook]?.sort {
                ($0.chain.base?.priority ?? 0, $0.table) < ($1.chain.base?.priority ?? 0, $1.table)
            }
        }
        self.hookChains = hookChains
    }

    struct Frame: Hashable {
        var table: Int
        var chain: String
        /// The next rule to run when control returns to this frame.
        var rule: Int
    }

    /// Everything that decides what happens next to one path, apart from the registers.
    struct State: Hashable {
        var headers: PacketHeaders
        var mark: UInt32
        var inputInterface: String
        var outputInterface: String
        var ctState: UInt32
        var ctStatus: UInt32
        /// `nf_nat_initialized` for the destination and source manipulations.
        var destinationNatDone = false
        var sourceNatDone = false
        var hook: Hook
        /// A locally originated packet to a local address, back in through `lo`.
        var looped = false
        /// Index into the hook's base chains of the chain running (or next to run).
        var baseIndex = 0
        var stack: [Frame] = []
        var dnat: Tracer.Destination?
        var snat: Tracer.Destination?
        var masqueraded = false
        /// Keys added by `dynset`, by table index and set name.
        var dynamic: [String: Set<[UInt8]>] = [:]
        var learned: [Tracer.LearnedElement] = []
        var disposition: Tracer.Disposition?
    }

    struct Entry {
        var state: State
        var probability: Double
        var steps: [Tracer.Step]
    }

    mutating func run(_ packet: Tracer.Packet, remembered: [Tracer.LearnedElement]) throws(TracerError) -> [Tracer.Path]
    {
        let headers = PacketHeaders(
            source: packet.source,
            destination: packet.destination,
            proto: packet.protocol,
            sourcePort: packet.sourcePort,
            destinationPort: packet.destinationPort
        )
        var state = State(
            headers: headers,
            mark: packet.mark,
            inputInterface: "",
            outputInterface: "",
            ctState: packet.state.bits,
            ctStatus: 0,
            hook: .prerouting
        )
        switch packet.origin {
        case .inbound(let interface):
            state.inputInterface = interface
        case .local:
            state.hook = .output
            state.outputInterface = tracer.isLocal(packet.destination) ? "lo" : packet.outputInterface
        }
        for element in remembered where element.family == family {
            guard let table = tables.first(where: { tracer.tables[$0].name == element.table }) else { continue }
            state.dynamic["\(table)/\(element.set)", default: []].insert(element.key)
        }

        var frontier = [Entry(state: state, probability: 1, steps: [])]
        var finished: [Entry] = []
        while !frontier.isEmpty {
            var next: [Entry] = []
            var index: [State: Int] = [:]
            for entry in frontier {
                for successor in try advance(entry, packet: packet) {
                    if successor.state.disposition != nil {
                        finished.append(successor)
                    } else if let at = index[successor.state] {
                        next[at].probability += successor.probability
                    } else {
                        index[successor.state] = next.count
                        next.append(successor)
                    }
                }
            }
            frontier = next
        }
        return merge(finished)
    }

    /// Runs structural steps (entering and leaving chains and hooks) until one rule has run or the path ends.
    mutating func advance(_ entry: Entry, packet: Tracer.Packet) throws(TracerError) -> [Entry] {
        var entry = entry
        while true {
            if entry.state.disposition != nil { return [entry] }
            guard let frame = entry.state.stack.last else {
                let chains = hookChains[entry.state.hook] ?? []
                while entry.state.baseIndex < chains.count, !applies(chains[entry.state.baseIndex].chain, entry.state) {
                    entry.state.baseIndex += 1
                }
                if entry.state.baseIndex >= chains.count {
                    finishHook(&entry.state, packet: packet)
                } else {
                    let base = chains[entry.state.baseIndex]
                    entry.state.stack = [Frame(table: base.table, chain: base.chain.name, rule: 0)]
                }
                continue
            }
            let table = tracer.tables[frame.table]
            guard let chain = table.chains[frame.chain] else {
                throw .unknownChain(table: table.name, chain: frame.chain, referencedFrom: "a jump")
            }
            guard frame.rule < chain.rules.count else {
                entry.state.stack.removeLast()
                if entry.state.stack.isEmpty { applyPolicy(&entry.state) }
                continue
            }
            evaluations += 1
            if evaluations > tracer.evaluationLimit { throw .tooManyBranches(limit: tracer.evaluationLimit) }
            entry.state.stack[entry.state.stack.count - 1].rule += 1
            let rule = chain.rules[frame.rule]
            let hookBases = hookChains[entry.state.hook] ?? []
            let context = RuleContext(
                machine: self,
                table: frame.table,
                chain: chain.name,
                rule: frame.rule,
                base: hookBases.indices.contains(entry.state.baseIndex)
                    ? hookBases[entry.state.baseIndex].chain.base : nil
            )
            var successors: [Entry] = []
            let runs = try context.run(rule, state: entry.state)
            evaluations += max(0, runs.count - 1)
            if evaluations > tracer.evaluationLimit { throw .tooManyBranches(limit: tracer.evaluationLimit) }
            for run in runs {
                var successor = Entry(
                    state: run.state,
                    probability: entry.probability * run.weight,
                    steps: entry.steps
                )
                if let action = run.action {
                    successor.steps.append(
                        Tracer.Step(
                            table: table.name,
                            chain: chain.name,
                            rule: frame.rule,
                            comment: rule.comment,
                            action: action
                        )
                    )
                }
                try apply(run.outcome, to: &successor.state, table: frame.table)
                successors.append(successor)
            }
            return successors
        }
    }

    /// nat chains see only the first packet of a connection, and only until a binding for their
    /// manipulation exists (nf_nat_inet_fn); other chains always run.
    func applies(_ chain: Chain, _ state: State) -> Bool {
        guard chain.base?.type == .nat else { return true }
        guard state.ctState == Tracer.ConnectionState.new.bits else { return false }
        return isDestinationHook(state.hook) ? !state.destinationNatDone : !state.sourceNatDone
    }

    func isDestinationHook(_ hook: Hook) -> Bool { hook == .prerouting || hook == .output }

    /// Leaves a hook: allocates the null NAT binding, makes the routing decision, and picks the next hook.
    func finishHook(_ state: inout State, packet: Tracer.Packet) {
        if state.ctState == Tracer.ConnectionState.new.bits {
            if isDestinationHook(state.hook) {
                state.destinationNatDone = true
            } else if state.hook != .forward {
                state.sourceNatDone = true
            }
        }
        state.baseIndex = 0
        let local = tracer.isLocal(state.headers.destination)
        switch state.hook {
        case .prerouting:
            if state.looped || local {
                state.hook = .input
                state.outputInterface = ""
            } else {
                state.hook = .forward
                state.outputInterface = packet.outputInterface
            }
        case .input:
            state.disposition = .delivered
        case .forward:
            state.hook = .postrouting
        case .output:
            // The kernel re-routes after a DNAT in output.
            state.outputInterface = local ? "lo" : packet.outputInterface
            state.hook = .postrouting
        case .postrouting:
            if case .local = packet.origin, local, !state.looped {
                state.looped = true
                state.inputInterface = "lo"
                state.outputInterface = ""
                state.hook = .prerouting
            } else {
                state.disposition = packet.origin == .local ? .sent : .forwarded
            }
        }
    }

    func applyPolicy(_ state: inout State) {
        let chains = hookChains[state.hook] ?? []
        let policy = state.baseIndex < chains.count ? chains[state.baseIndex].chain.base?.policy : .accept
        if policy == .drop {
            state.disposition = .dropped
        } else {
            state.baseIndex += 1
        }
    }

    func apply(_ outcome: RuleOutcome, to state: inout State, table: Int) throws(TracerError) {
        switch outcome {
        case .next:
            return
        case .rejected(let kind):
            state.disposition = .rejected(kind)
        case .verdict(let verdict):
            switch verdict {
            case .continue:
                return
            case .accept:
                state.stack = []
                state.baseIndex += 1
            case .drop:
                state.disposition = .dropped
            case .return:
                state.stack.removeLast()
                if state.stack.isEmpty { applyPolicy(&state) }
            case .jump(let chain), .goto(let chain):
                let compiled = tracer.tables[table]
                let from = state.stack.last?.chain ?? "a base chain"
                guard compiled.chains[chain] != nil else {
                    throw .unknownChain(table: compiled.name, chain: chain, referencedFrom: "chain \(from)")
                }
                if case .goto = verdict {
                    state.stack.removeLast()
                } else if state.stack.count >= 16 {
                    throw .jumpStackOverflow(table: compiled.name, chain: chain)
                }
                state.stack.append(Frame(table: table, chain: chain, rule: 0))
            }
        }
    }

    /// Merges paths with the same outcome and orders them: accepted paths by endpoint, then the rest.
    func merge(_ finished: [Entry]) -> [Tracer.Path] {
        var paths: [Tracer.Path] = []
        var index: [Tracer.Path: Int] = [:]
        for entry in finished {
            let state = entry.state
            let key = Tracer.Path(
                disposition: state.disposition ?? .dropped,
                dnat: state.dnat,
                snat: state.snat,
                masqueraded: state.masqueraded,
                probability: 0,
                learned: state.learned,
                steps: []
            )
            if let at = index[key] {
                paths[at].probability += entry.probability
            } else {
                index[key] = paths.count
                var path = key
                path.probability = entry.probability
                path.steps = entry.steps
                paths.append(path)
            }
        }
        return paths.sorted { lhs, rhs in
            let l = (lhs.disposition.isAccepted ? 0 : 1, lhs.dnat, lhs.disposition, lhs.masqueraded ? 1 : 0)
            let r = (rhs.disposition.isAccepted ? 0 : 1, rhs.dnat, rhs.disposition, rhs.masqueraded ? 1 : 0)
            if l.0 != r.0 { return l.0 < r.0 }
            if l.1 != r.1 {
                guard let a = l.1 else { return false }
                guard let b = r.1 else { return true }
                return a < b
            }
            if l.2 != r.2 { return l.2 < r.2 }
            return l.3 < r.3
        }
    }
}

/// How a rule's evaluation ended.
enum RuleOutcome: Hashable {
    /// A comparison failed (NFT_BREAK) or every expression ran without a verdict.
    case next
    case verdict(Verdict)
    case rejected(RejectSpec.Kind)
}
