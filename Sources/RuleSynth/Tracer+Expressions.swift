import KubeModel

/// Evaluates one rule's expressions against one path, the way `nft_do_chain` does: expressions run in order
/// until one breaks (a failed comparison or lookup) or sets a verdict. `numgen` forks the path, once per value.
struct RuleContext {
    let machine: Machine
    let table: Int
    let chain: String
    let rule: Int
    /// The base chain whose evaluation this rule is part of: nat, masquerade and reject depend on its hook.
    let base: BaseChainSpec?

    /// Forks beyond this many values of one `numgen` are refused rather than traced.
    static let numgenLimit: UInt32 = 1 << 17

    struct Run {
        var state: Machine.State
        /// The 64 bytes of data registers (`NFT_REG32_00` … `NFT_REG32_15`).
        var registers = [UInt8](repeating: 0, count: 64)
        var weight: Double = 1
        var outcome: RuleOutcome = .next
        /// Set when the rule matched: its verdict or action, for the path's steps.
        var action: String?
        var notes: [String] = []
    }

    enum Effect {
        case proceed
        case breakRule
        case stop
    }

    var tableName: String { machine.tracer.tables[table].name }

    func unsupported(_ reason: String) -> TracerError {
        .unsupported(table: tableName, chain: chain, rule: rule, reason: reason)
    }

    func run(_ rule: Rule, state: Machine.State) throws(TracerError) -> [Run] {
        var results: [Run] = []
        var pending: [(index: Int, run: Run)] = [(0, Run(state: state))]
        while let (start, initial) = pending.popLast() {
            var run = initial
            var index = start
            var finished = false
            evaluation: while index < rule.expressions.count {
                let expression = rule.expressions[index]
                if case .numgen(_, let modulus, let offset, let dest) = expression {
                    guard modulus > 0 else { throw unsupported("numgen with modulus 0") }
                    guard modulus <= RuleContext.numgenLimit else {
                        throw unsupported("numgen mod \(modulus) forks more than \(RuleContext.numgenLimit) ways")
                    }
                    if let matched = try collapsedComparison(
                        rule,
                        at: index,
                        modulus: modulus,
                        offset: offset,
                        dest: dest
                    ) {
                        if matched < modulus {
                            var miss = run
                            miss.weight *= Double(modulus - matched) / Double(modulus)
                            miss.outcome = .next
                            miss.action = nil
                            results.append(miss)
                        }
                        if matched > 0 {
                            var hit = run
                            hit.weight *= Double(matched) / Double(modulus)
                            pending.append((index + 2, hit))
                        }
                        finished = true
                        break evaluation
                    }
                    for value in (0..<modulus).reversed() {
                        var fork = run
                        try store(dest, hostOrder(value &+ offset), into: &fork.registers)
                        fork.weight /= Double(modulus)
                        pending.append((index + 1, fork))
                    }
                    finished = true
                    break evaluation
                }
                switch try evaluate(expression, &run) {
                case .proceed:
                    index += 1
                case .breakRule:
                    run.outcome = .next
                    run.action = nil
                    results.append(run)
                    finished = true
                    break evaluation
                case .stop:
                    if !run.notes.isEmpty, let action = run.action {
                        run.action = (run.notes + [action]).joined(separator: ", ")
                    }
                    results.append(run)
                    finished = true
                    break evaluation
                }
            }
            if !finished {
                run.outcome = .next
                run.action = run.notes.isEmpty ? "matched" : run.notes.joined(separator: ", ")
                results.append(run)
            }
        }
        return results
    }

    /// How many `numgen` values pass the `cmp eq|neq` right after it, when nothing later in the rule reads the
    /// numgen's register before overwriting it: then the rule splits into just "matched" and "not matched",
    /// weighted by those counts, and a probability cascade over n endpoints costs O(n) instead of O(n²).
    func collapsedComparison(
        _ rule: Rule,
        at index: Int,
        modulus: UInt32,
        offset: UInt32,
        dest: Register
    ) throws(TracerError) -> UInt32? {
        guard index + 1 < rule.expressions.count,
            case .cmp(let op, let source, let data) = rule.expressions[index + 1],
            source == dest, data.count == 4, op == .eq || op == .neq
        else { return nil }
        let start = try registerOffset(dest, length: 4)
        let span = start..<start + 4
        for expression in rule.expressions[(index + 2)...] {
            for read in try reads(expression) where read.overlaps(span) { return nil }
            if let written = try writes(expression), written.contains(span.lowerBound),
                written.contains(span.upperBound - 1)
            {
                break
            }
        }
        let hits: UInt32 = fromHostOrder(data) &- offset < modulus ? 1 : 0
        return op == .eq ? hits : modulus - hits
    }

    /// The register bytes an expression reads.
    func reads(_ expression: Expression) throws(TracerError) -> [Range<Int>] {
        let sets = machine.tracer.tables[table].sets
        func bytes(_ register: Register, _ length: Int) throws(TracerError) -> Range<Int> {
            let start = try registerOffset(register, length: 0)
            return start..<start + length
        }
        switch expression {
        case .cmp(_, let source, let data): return [try bytes(source, data.count)]
        case .bitwise(let source, _, let length, _, _): return [try bytes(source, Int(length))]
        case .lookup(let set, let source, _, _): return [try bytes(source, sets[set]?.keyLength ?? 64)]
        case .dynset(_, let set, let key, _): return [try bytes(key, sets[set]?.keyLength ?? 64)]
        case .metaSet(_, let source): return [try bytes(source, 4)]
        case .nat(let spec):
            var ranges: [Range<Int>] = []
            if let address = spec.addressRegister {
                ranges.append(try bytes(address, machine.family == .ip ? 4 : 16))
            }
            if let port = spec.portRegister { ranges.append(try bytes(port, 2)) }
            return ranges
        default: return []
        }
    }

    /// The register bytes an expression overwrites (whole 4-byte words, as the kernel zero-pads).
    func writes(_ expression: Expression) throws(TracerError) -> Range<Int>? {
        func words(_ register: Register, _ length: Int) throws(TracerError) -> Range<Int> {
            let start = try registerOffset(register, length: 0)
            return start..<start + (length + 3) / 4 * 4
        }
        switch expression {
        case .payload(_, _, let length, let dest): return try words(dest, Int(length))
        case .meta(let key, let dest):
            return try words(dest, key == .iifname || key == .oifname ? 16 : 4)
        case .ct(_, let dest), .fib(_, _, let dest), .numgen(_, _, _, let dest): return try words(dest, 4)
        case .bitwise(_, let dest, let length, _, _): return try words(dest, Int(length))
        case .immediate(.value(let bytes), let dest): return try words(dest, bytes.count)
        default: return nil
        }
    }

    // MARK: Registers

    func registerOffset(_ register: Register, length: Int) throws(TracerError) -> Int {
        guard (1...4).contains(register.number) || (8...23).contains(register.number) else {
            throw unsupported("register \(register.number) is not a data register")
        }
        let start = Int(register.slot) * 4
        guard start + length <= 64 else {
            throw unsupported("\(length) bytes at register \(register.number) run past the 64-byte register file")
        }
        return start
    }

    func load(_ register: Register, _ length: Int, from registers: [UInt8]) throws(TracerError) -> [UInt8] {
        let start = try registerOffset(register, length: length)
        return Array(registers[start..<start + length])
    }

    /// Stores like the kernel's loads do: the last partially written 4-byte word is zeroed first.
    func store(_ register: Register, _ bytes: [UInt8], into registers: inout [UInt8]) throws(TracerError) {
        let padded = (bytes.count + 3) / 4 * 4
        let start = try registerOffset(register, length: padded)
        for offset in 0..<padded { registers[start + offset] = offset < bytes.count ? bytes[offset] : 0 }
    }

    // MARK: Expressions

    func evaluate(_ expression: Expression, _ run: inout Run) throws(TracerError) -> Effect {
        switch expression {
        case .payload(let base, let offset, let length, let dest):
            let header: [UInt8]
            switch base {
            case .network: header = run.state.headers.network
            case .transport: header = run.state.headers.transport
            case .link: throw unsupported("link-layer payload loads are not modelled")
            }
            let start = Int(offset)
            let end = start + Int(length)
            guard length > 0, end <= header.count else {
                throw unsupported(
                    "payload load of \(length) bytes at offset \(offset) runs past the \(header.count)-byte "
                        + "\(base) header the tracer models"
                )
            }
            try store(dest, Array(header[start..<end]), into: &run.registers)
        case .meta(let key, let dest):
            let bytes: [UInt8]
            switch key {
            case .mark: bytes = hostOrder(run.state.mark)
            case .iifname: bytes = ifname(run.state.inputInterface)
            case .oifname: bytes = ifname(run.state.outputInterface)
            case .nfproto: bytes = [UInt8(truncatingIfNeeded: machine.family.nfproto)]
            case .l4proto: bytes = [run.state.headers.proto.number]
            }
            try store(dest, bytes, into: &run.registers)
        case .metaSet(let key, let source):
            guard key == .mark else { throw unsupported("only meta mark can be set") }
            run.state.mark = fromHostOrder(try load(source, 4, from: run.registers))
            run.notes.append("mark set 0x" + String(run.state.mark, radix: 16))
        case .ct(let key, let dest):
            let value = key == .state ? run.state.ctState : run.state.ctStatus
            try store(dest, hostOrder(value), into: &run.registers)
        case .fib(let flags, let result, let dest):
            try store(dest, hostOrder(try fibAddressType(flags, result, run.state)), into: &run.registers)
        case .cmp(let op, let source, let data):
            guard !data.isEmpty else { throw unsupported("cmp with no data") }
            let value = try load(source, data.count, from: run.registers)
            let matches: Bool
            switch op {
            case .eq: matches = value == data
            case .neq: matches = value != data
            case .lt: matches = value.lexicographicallyPrecedes(data)
            case .lte: matches = !data.lexicographicallyPrecedes(value)
            case .gt: matches = data.lexicographicallyPrecedes(value)
            case .gte: matches = !value.lexicographicallyPrecedes(data)
            }
            return matches ? .proceed : .breakRule
        case .bitwise(let source, let dest, let length, let mask, let xor):
            guard mask.count == Int(length), xor.count == Int(length) else {
                throw unsupported("bitwise over \(length) bytes needs a mask and xor of that length")
            }
            let value = try load(source, Int(length), from: run.registers)
            try store(dest, (0..<value.count).map { value[$0] & mask[$0] ^ xor[$0] }, into: &run.registers)
        case .lookup(let name, let source, let dest, let invert):
            return try lookup(name, source: source, dest: dest, invert: invert, &run)
        case .immediate(.verdict(let verdict), let dest):
            guard dest == .verdict else { throw unsupported("an immediate verdict must target the verdict register") }
            if verdict == .continue { return .proceed }
            run.outcome = .verdict(verdict)
            run.action = verdict.description
            return .stop
        case .immediate(.value(let bytes), let dest):
            guard dest != .verdict else { throw unsupported("immediate data cannot target the verdict register") }
            try store(dest, bytes, into: &run.registers)
        case .numgen:
            throw unsupported("numgen is forked before evaluation")
        case .nat(let spec):
            return try nat(spec, &run)
        case .masquerade:
            guard base?.type == .nat, base?.hook == .postrouting else {
                throw unsupported("masquerade is only valid in a nat chain at hook postrouting")
            }
            run.state.masqueraded = true
            run.state.ctStatus |= ipsSourceNat
            run.state.sourceNatDone = true
            run.outcome = .verdict(.accept)
            run.action = "masquerade"
            return .stop
        case .dynset(let op, let name, let key, _):
            try dynset(op, name, key, &run)
        case .reject(let spec):
            guard let hook = base?.hook, hook != .postrouting else {
                throw unsupported("reject is only valid at hooks prerouting, input, forward and output")
            }
            run.outcome = .rejected(spec.kind)
            run.action = "reject"
            return .stop
        case .counter:
            break
        }
        return .proceed
    }

    /// `IPS_SRC_NAT` and `IPS_DST_NAT`, as `ct status` shows them once a binding exists.
    var ipsSourceNat: UInt32 { 1 << 4 }
    var ipsDestinationNat: UInt32 { 1 << 5 }

    func ifname(_ name: String) -> [UInt8] {
        let bytes = Array(name.utf8.prefix(15))
        return bytes + [UInt8](repeating: 0, count: 16 - bytes.count)
    }

    /// `fib saddr|daddr type`: `RTN_LOCAL` for the node's addresses and loopback, `RTN_MULTICAST`,
    /// `RTN_BROADCAST`, else `RTN_UNICAST` (the node is assumed to have a default route).
    func fibAddressType(_ flags: FibFlags, _ result: FibResult, _ state: Machine.State) throws(TracerError) -> UInt32 {
        guard result == .addrtype else { throw unsupported("fib results other than type need the routing table") }
        guard flags.isDisjoint(with: [.iif, .oif]) else {
            throw unsupported("fib … type with iif or oif needs per-interface addresses")
        }
        let address: IPAddress
        switch (flags.contains(.saddr), flags.contains(.daddr)) {
        case (true, false): address = state.headers.source
        case (false, true): address = state.headers.destination
        default: throw unsupported("fib needs exactly one of saddr and daddr")
        }
        if machine.tracer.isLocal(address) { return 2 }
        switch address {
        case .v4(let value):
            if value >> 28 == 0xe { return 5 }
            if value == UInt32.max { return 3 }
        case .v6(let high, _):
            if high >> 56 == 0xff { return 5 }
        }
        return 1
    }

    func lookup(
        _ name: String,
        source: Register,
        dest: Register?,
        invert: Bool,
        _ run: inout Run
    ) throws(TracerError) -> Effect {
        let compiled = machine.tracer.tables[table]
        guard let set = compiled.sets[name] else {
            throw .unknownSet(table: compiled.name, set: name, referencedFrom: "rule #\(rule) of chain \(chain)")
        }
        let key = try load(source, set.keyLength, from: run.registers)
        let hit = set.find(key, dynamic: run.state.dynamic["\(table)/\(name)"])
        if invert {
            guard dest == nil else { throw unsupported("an inverted lookup in @\(name) cannot have a destination") }
            return hit == nil ? .proceed : .breakRule
        }
        guard let hit else { return .breakRule }
        guard let dest else { return .proceed }
        if dest == .verdict {
            guard case .verdict(let verdict) = hit else { throw unsupported("@\(name) is not a verdict map") }
            if verdict == .continue { return .proceed }
            run.outcome = .verdict(verdict)
            run.action = "\(verdict) (from @\(name))"
            return .stop
        }
        guard case .data(let bytes) = hit else { throw unsupported("@\(name) is not a map with data values") }
        try store(dest, bytes, into: &run.registers)
        return .proceed
    }

    func nat(_ spec: NatSpec, _ run: inout Run) throws(TracerError) -> Effect {
        guard let base, base.type == .nat else { throw unsupported("nat is only valid in a nat chain") }
        let destination = spec.kind == .dnat
        guard destination == machine.isDestinationHook(base.hook) else {
            throw unsupported("\(destination ? "dnat" : "snat") is not valid at hook \(base.hook)")
        }
        guard spec.family == machine.family.nfproto else {
            throw unsupported("nat for NFPROTO \(spec.family) in a table of family \(machine.family)")
        }
        var address: IPAddress?
        if let register = spec.addressRegister {
            let bytes = try load(register, machine.family == .ip ? 4 : 16, from: run.registers)
            address = IPAddress(bytes: bytes)
        }
        var port: UInt16?
        if let register = spec.portRegister {
            let bytes = try load(register, 2, from: run.registers)
            port = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        }
        guard address != nil || port != nil else { throw unsupported("nat with neither an address nor a port") }
        var headers = run.state.headers
        if destination {
            headers.destination = address ?? headers.destination
            headers.destinationPort = port ?? headers.destinationPort
            let target = Tracer.Destination(address: headers.destination, port: headers.destinationPort)
            run.state.dnat = target
            run.state.ctStatus |= ipsDestinationNat
            run.state.destinationNatDone = true
            run.action = "dnat to \(target)"
        } else {
            headers.source = address ?? headers.source
            headers.sourcePort = port ?? headers.sourcePort
            let target = Tracer.Destination(address: headers.source, port: headers.sourcePort)
            run.state.snat = target
            run.state.ctStatus |= ipsSourceNat
            run.state.sourceNatDone = true
            run.action = "snat to \(target)"
        }
        run.state.headers = headers
        run.outcome = .verdict(.accept)
        return .stop
    }

    func dynset(_ op: DynsetOp, _ name: String, _ register: Register, _ run: inout Run) throws(TracerError) {
        let compiled = machine.tracer.tables[table]
        guard let set = compiled.sets[name] else {
            throw .unknownSet(table: compiled.name, set: name, referencedFrom: "rule #\(rule) of chain \(chain)")
        }
        guard set.data == nil else { throw unsupported("dynset into map @\(name) is not modelled") }
        let key = try load(register, set.keyLength, from: run.registers)
        let text = set.describe(key)
        let slot = "\(table)/\(name)"
        switch op {
        case .add, .update:
            if run.state.dynamic[slot, default: []].insert(key).inserted {
                run.state.learned.append(
                    Tracer.LearnedElement(
                        family: compiled.family,
                        table: compiled.name,
                        set: name,
                        key: key,
                        text: text
                    )
                )
            }
            run.notes.append("\(op == .add ? "add" : "update") @\(name) { \(text) }")
        case .delete:
            run.state.dynamic[slot]?.remove(key)
            run.notes.append("delete @\(name) { \(text) }")
        }
    }
}
