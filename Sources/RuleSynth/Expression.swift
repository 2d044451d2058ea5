/// One nftables kernel expression, exactly as netlink carries it (`NFTA_EXPR_*`).
///
/// kproxy models what the kernel sees, not nft's surface syntax: the `Netfilter` module encodes these one to
/// one into libnftnl expressions, and the text renderer recovers nft syntax from them the way nft's own
/// delinearizer does, by tracking what each register holds.
public enum Expression: Hashable, Sendable {
    /// Loads `length` bytes at `offset` of a header into `dest`.
    case payload(base: PayloadBase, offset: UInt32, length: UInt32, dest: Register)
    case meta(MetaKey, dest: Register)
    /// Writes a register into packet metadata (`meta mark set ...`).
    case metaSet(MetaKey, source: Register)
    case ct(CtKey, dest: Register)
    /// `fib daddr type`: looks up the destination (or source) address in the FIB.
    case fib(FibFlags, result: FibResult, dest: Register)
    case cmp(CmpOp, source: Register, data: [UInt8])
    /// `dest = (source & mask) ^ xor`, over `length` bytes.
    case bitwise(source: Register, dest: Register, length: UInt32, mask: [UInt8], xor: [UInt8])
    /// Looks the register(s) up in a named set; with `dest` it is a map lookup (`.verdict` for vmaps).
    case lookup(set: String, source: Register, dest: Register?, invert: Bool)
    case immediate(ImmediateData, dest: Register)
    /// `numgen random mod N` (or `inc`), plus `offset`.
    case numgen(NumgenType, modulus: UInt32, offset: UInt32, dest: Register)
    case nat(NatSpec)
    /// `masquerade fully-random` and friends; `flags` are `NF_NAT_RANGE_*` bits.
    case masquerade(flags: UInt32)
    /// `update @set { key }` with the set's timeout refreshed (`op: .update`) or `add`.
    case dynset(DynsetOp, set: String, key: Register, timeout: UInt64?)
    case reject(RejectSpec)
    case counter
}

/// nftables registers: `.verdict` is register 0; data registers are 16 bytes (`.r1`–`.r4`, numbered 1–4)
/// or 4 bytes (`.r32(n)`, numbered 8–23). Concatenations load each part at the next 4-byte register.
public struct Register: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let number: UInt32

    public init(number: UInt32) { self.number = number }

    public static let verdict = Register(number: 0)
    public static let r1 = Register(number: 1)
    public static let r2 = Register(number: 2)
    /// The 4-byte register covering byte `4 * index` of the data registers (NFT_REG32_00 + index).
    public static func r32(_ index: UInt32) -> Register { Register(number: 8 + index) }

    /// Index of this register's first 4-byte slot, so concatenation offsets can be computed.
    public var slot: UInt32 { number >= 8 ? number - 8 : (number - 1) * 4 }

    /// The register that starts `bytes` after this one (bytes rounded up to 4), as concatenations lay out.
    public func advanced(byBytes bytes: UInt32) -> Register {
        Register.atSlot(slot + (bytes + 3) / 4)
    }

    /// The register starting at 4-byte slot `index`, numbered as nft numbers it: a slot that begins a
    /// 16-byte register is named by that register (`reg 2` for slot 4), any other by its 4-byte number.
    /// Both address the same bytes, but `nft list` and the bytecode tests expect nft's choice.
    public static func atSlot(_ index: UInt32) -> Register {
        index % 4 == 0 ? Register(number: 1 + index / 4) : .r32(index)
    }

    public var description: String { "reg \(number)" }
    public static func < (lhs: Register, rhs: Register) -> Bool { lhs.number < rhs.number }
}

public enum PayloadBase: UInt32, Hashable, Sendable {
    case link = 0
    case network = 1
    case transport = 2
}

/// `NFT_META_*` keys kproxy uses.
public enum MetaKey: UInt32, Hashable, Sendable {
    case mark = 3
    case iifname = 6
    case oifname = 7
    case nfproto = 15
    case l4proto = 16
}

/// `NFT_CT_*` keys kproxy uses.
public enum CtKey: UInt32, Hashable, Sendable {
    case state = 0
    case status = 2
}

public struct FibFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let saddr = FibFlags(rawValue: 1 << 0)
    public static let daddr = FibFlags(rawValue: 1 << 1)
    public static let mark = FibFlags(rawValue: 1 << 2)
    public static let iif = FibFlags(rawValue: 1 << 3)
    public static let oif = FibFlags(rawValue: 1 << 4)
}

/// `NFT_FIB_RESULT_*`.
public enum FibResult: UInt32, Hashable, Sendable {
    case oif = 1
    case oifname = 2
    case addrtype = 3
}

/// `NFT_CMP_*`.
public enum CmpOp: UInt32, Hashable, Sendable {
    case eq = 0
    case neq = 1
    case lt = 2
    case lte = 3
    case gt = 4
    case gte = 5
}

public enum ImmediateData: Hashable, Sendable {
    case verdict(Verdict)
    case value([UInt8])
}

/// A verdict, in a rule, an immediate, or a verdict-map element.
public enum Verdict: Hashable, Sendable, Comparable, CustomStringConvertible {
    case accept
    case drop
    case `return`
    case `continue`
    case jump(String)
    case goto(String)

    /// The kernel's verdict codes (`NF_ACCEPT`, `NF_DROP`, `NFT_CONTINUE`, `NFT_RETURN`, `NFT_JUMP`, `NFT_GOTO`).
    public var code: Int32 {
        switch self {
        case .drop: return 0
        case .accept: return 1
        case .continue: return -1
        case .return: return -5
        case .jump: return -3
        case .goto: return -4
        }
    }

    public var chain: String? {
        switch self {
        case .jump(let chain), .goto(let chain): return chain
        default: return nil
        }
    }

    /// nft's spelling; chain names are quoted because kube-proxy-style names contain `/`.
    public var description: String {
        switch self {
        case .accept: return "accept"
        case .drop: return "drop"
        case .return: return "return"
        case .continue: return "continue"
        case .jump(let chain): return "jump \(chain)"
        case .goto(let chain): return "goto \(chain)"
        }
    }

    public static func < (lhs: Verdict, rhs: Verdict) -> Bool { lhs.description < rhs.description }
}

public enum NumgenType: UInt32, Hashable, Sendable {
    case incremental = 0
    case random = 1
}

/// A `nat` expression: `dnat to addr:port`, or `dnat to ip daddr . th dport map @m`, with registers.
public struct NatSpec: Hashable, Sendable {
    public enum Kind: UInt32, Hashable, Sendable {
        case snat = 0
        case dnat = 1
    }

    public var kind: Kind
    /// `NFPROTO_IPV4` (2) or `NFPROTO_IPV6` (10).
    public var family: UInt32
    public var addressRegister: Register?
    public var portRegister: Register?
    public var flags: UInt32

    public init(kind: Kind, family: UInt32, addressRegister: Register?, portRegister: Register?, flags: UInt32 = 0) {
        self.kind = kind
        self.family = family
        self.addressRegister = addressRegister
        self.portRegister = portRegister
        self.flags = flags
    }

    /// `NF_NAT_RANGE_MAP_IPS`, `NF_NAT_RANGE_PROTO_SPECIFIED`, `NF_NAT_RANGE_PROTO_RANDOM_FULLY`.
    public static let mapIPs: UInt32 = 1 << 0
    public static let protoSpecified: UInt32 = 1 << 1
    public static let protoRandomFully: UInt32 = 1 << 4
}

/// `NFT_DYNSET_OP_*`.
public enum DynsetOp: UInt32, Hashable, Sendable {
    case add = 0
    case update = 1
    case delete = 2
}

/// `reject`, with `NFT_REJECT_*` type and an ICMP(v6)/ICMPx code.
public struct RejectSpec: Hashable, Sendable {
    public enum Kind: UInt32, Hashable, Sendable {
        case icmpUnreach = 0
        case tcpReset = 1
        case icmpxUnreach = 2
    }

    public var kind: Kind
    public var code: UInt8

    public init(kind: Kind, code: UInt8) {
        self.kind = kind
        self.code = code
    }

    /// `reject` with nft's default for the family: ICMP port-unreachable (3 for ICMP, 4 for ICMPv6).
    public static func portUnreachable(_ family: TableFamily) -> RejectSpec {
        RejectSpec(kind: .icmpUnreach, code: family == .ip ? 3 : 4)
    }
}
