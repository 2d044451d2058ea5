import KubeModel

/// The packet fields kproxy's rules read, with where each lives.
enum Field: Hashable, Sendable {
    case saddr
    case daddr
    case l4proto
    /// `th dport`: the destination port of any transport header (TCP, UDP and SCTP put it at offset 2).
    case dport

    func load(_ family: TableFamily, into register: Register) -> Expression {
        switch self {
        case .saddr, .daddr:
            let (offset, length) = addressLocation(family)
            return .payload(base: .network, offset: offset, length: length, dest: register)
        case .l4proto: return .meta(.l4proto, dest: register)
        case .dport: return .payload(base: .transport, offset: 2, length: 2, dest: register)
        }
    }

    func length(_ family: TableFamily) -> UInt32 {
        switch self {
        case .saddr, .daddr: return family == .ip ? 4 : 16
        case .l4proto: return 1
        case .dport: return 2
        }
    }

    /// Offset and length of the address in the IPv4 or IPv6 header.
    func addressLocation(_ family: TableFamily) -> (UInt32, UInt32) {
        switch (family, self) {
        case (.ip, .saddr): return (12, 4)
        case (.ip, _): return (16, 4)
        case (.ip6, .saddr): return (8, 16)
        case (.ip6, _): return (24, 16)
        }
    }
}

/// Builds one rule's kernel expressions exactly as nft 1.0.6 linearizes the equivalent text, so that
/// `nft list ruleset` prints what ``Ruleset/render()`` prints whether the rule came from netlink or `nft -f`.
///
/// Host-order values (marks, numgen results, `ct state`, fib types) are written in native byte order, as
/// the kernel keeps them in registers; packet fields are in network order.
struct RuleBuilder {
    let family: TableFamily
    var expressions: [Expression] = []

    init(_ family: TableFamily) { self.family = family }

    static func host(_ value: UInt32) -> [UInt8] {
        switch value {
        case 0: return hostZero
        case 2: return hostTwo
        default: return withUnsafeBytes(of: value) { Array($0) }
        }
    }

    // Shared so that the values every rule uses cost no allocation.
    private static let hostZero = withUnsafeBytes(of: UInt32(0)) { Array($0) }
    private static let hostTwo = withUnsafeBytes(of: UInt32(2)) { Array($0) }
    private static let protocolBytes: [TransportProtocol: [UInt8]] = Dictionary(
        uniqueKeysWithValues: TransportProtocol.allCases.map { ($0, [$0.number]) })

    /// `ip saddr 10.0.0.1`, or `!=`.
    mutating func match(_ field: Field, _ address: IPAddress, negate: Bool = false) {
        expressions.append(field.load(family, into: .r1))
        expressions.append(.cmp(negate ? .neq : .eq, source: .r1, data: address.bytes))
    }

    /// `ip saddr 10.0.0.0/8`: nft loads only the prefix's bytes when it ends on a byte boundary, and masks
    /// the whole address otherwise.
    mutating func match(_ field: Field, _ cidr: CIDR, negate: Bool = false) {
        let (offset, length) = field.addressLocation(family)
        let op: CmpOp = negate ? .neq : .eq
        let bytes = cidr.address.bytes
        if cidr.prefixLength == Int(length) * 8 {
            match(field, cidr.address, negate: negate)
        } else if cidr.prefixLength % 8 == 0 && cidr.prefixLength > 0 {
            let prefixBytes = UInt32(cidr.prefixLength / 8)
            expressions.append(.payload(base: .network, offset: offset, length: prefixBytes, dest: .r1))
            expressions.append(.cmp(op, source: .r1, data: Array(bytes.prefix(Int(prefixBytes)))))
        } else {
            var mask = [UInt8](repeating: 0, count: Int(length))
            for bit in 0..<cidr.prefixLength { mask[bit / 8] |= 0x80 >> UInt8(bit % 8) }
            expressions.append(.payload(base: .network, offset: offset, length: length, dest: .r1))
            expressions.append(
                .bitwise(
                    source: .r1, dest: .r1, length: length, mask: mask,
                    xor: [UInt8](repeating: 0, count: Int(length))))
            expressions.append(.cmp(op, source: .r1, data: bytes))
        }
    }

    /// Loads the fields as one concatenation starting at register 1; returns that register.
    private mutating func load(_ fields: [Field]) -> Register {
        var register = Register.r1
        for (index, field) in fields.enumerated() {
            if index > 0 { register = register.advanced(byBytes: fields[index - 1].length(family)) }
            expressions.append(field.load(family, into: register))
        }
        return .r1
    }

    /// `ip daddr @set`, `ip saddr != @set`, or `ip daddr . meta l4proto . th dport @set`.
    mutating func lookup(_ fields: [Field], in set: String, negate: Bool = false) {
        let source = load(fields)
        expressions.append(.lookup(set: set, source: source, dest: nil, invert: negate))
    }

    /// `... vmap @map`: the verdict comes from the map.
    mutating func vmap(_ fields: [Field], _ map: String) {
        let source = load(fields)
        expressions.append(.lookup(set: map, source: source, dest: .verdict, invert: false))
    }

    mutating func matchProtocol(_ proto: TransportProtocol) {
        expressions.append(.meta(.l4proto, dest: .r1))
        expressions.append(.cmp(.eq, source: .r1, data: Self.protocolBytes[proto] ?? [proto.number]))
    }

    /// `ct state new`.
    mutating func ctStateNew() { ctBits(.state, 0x08) }

    /// `ct status dnat`.
    mutating func ctStatusDNAT() { ctBits(.status, 0x20) }

    private mutating func ctBits(_ key: CtKey, _ bits: UInt32) {
        expressions.append(.ct(key, dest: .r1))
        expressions.append(
            .bitwise(source: .r1, dest: .r1, length: 4, mask: Self.host(bits), xor: Self.host(0)))
        expressions.append(.cmp(.neq, source: .r1, data: Self.host(0)))
    }

    /// `fib saddr type local` / `fib daddr type local` (RTN_LOCAL is 2).
    mutating func fibLocal(_ flags: FibFlags) {
        expressions.append(.fib(flags, result: .addrtype, dest: .r1))
        expressions.append(.cmp(.eq, source: .r1, data: Self.host(2)))
    }

    /// `meta mark set meta mark | MARK`.
    mutating func setMark(_ mark: UInt32) {
        expressions.append(.meta(.mark, dest: .r1))
        expressions.append(.bitwise(source: .r1, dest: .r1, length: 4, mask: Self.host(~mark), xor: Self.host(mark)))
        expressions.append(.metaSet(.mark, source: .r1))
    }

    /// `meta mark set meta mark ^ MARK`.
    mutating func toggleMark(_ mark: UInt32) {
        expressions.append(.meta(.mark, dest: .r1))
        expressions.append(
            .bitwise(source: .r1, dest: .r1, length: 4, mask: Self.host(0xffff_ffff), xor: Self.host(mark)))
        expressions.append(.metaSet(.mark, source: .r1))
    }

    /// `meta mark & MARK != 0`.
    mutating func markIsSet(_ mark: UInt32) {
        expressions.append(.meta(.mark, dest: .r1))
        expressions.append(.bitwise(source: .r1, dest: .r1, length: 4, mask: Self.host(mark), xor: Self.host(0)))
        expressions.append(.cmp(.neq, source: .r1, data: Self.host(0)))
    }

    /// `numgen random mod N 0`: true with probability 1/N.
    mutating func oneIn(_ modulus: UInt32) {
        expressions.append(.numgen(.random, modulus: modulus, offset: 0, dest: .r1))
        expressions.append(.cmp(.eq, source: .r1, data: Self.host(0)))
    }

    /// `update @set { ip saddr }`, refreshing the set's timeout.
    mutating func updateSet(_ set: String, with field: Field) {
        expressions.append(field.load(family, into: .r1))
        expressions.append(.dynset(.update, set: set, key: .r1, timeout: nil))
    }

    /// `meta l4proto tcp dnat to 10.0.0.1:80`: nft needs the protocol match before a port mapping.
    mutating func dnat(_ proto: TransportProtocol, to address: IPAddress, port: UInt16) {
        matchProtocol(proto)
        expressions.append(.immediate(.value(address.bytes), dest: .r1))
        expressions.append(.immediate(.value([UInt8(port >> 8), UInt8(port & 0xff)]), dest: .r2))
        expressions.append(
            .nat(
                NatSpec(
                    kind: .dnat, family: family.nfproto, addressRegister: .r1, portRegister: .r2,
                    flags: NatSpec.mapIPs | NatSpec.protoSpecified)))
    }

    mutating func masqueradeFullyRandom() { expressions.append(.masquerade(flags: NatSpec.protoRandomFully)) }

    mutating func reject() { expressions.append(.reject(.portUnreachable(family))) }

    mutating func verdict(_ verdict: Verdict) { expressions.append(.immediate(.verdict(verdict), dest: .verdict)) }

    func rule(comment: String? = nil) -> Rule { Rule(expressions, comment: comment) }
}
