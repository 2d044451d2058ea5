import KubeModel

/// One resource record. OPT is not a record here: it lives in ``Message/edns``.
public struct ResourceRecord: Hashable, Sendable {
    public var name: DNSName
    public var recordClass: RecordClass
    public var ttl: UInt32
    public var data: RData

    public init(name: DNSName, recordClass: RecordClass = .internet, ttl: UInt32, data: RData) {
        self.name = name
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }

    public var type: RecordType { data.type }

    /// Records with equal keys form one RRset (RFC 2181 §5), which truncation never splits.
    var rrsetKey: RRsetKey { RRsetKey(name: name, type: type, recordClass: recordClass) }
}

struct RRsetKey: Hashable {
    var name: DNSName
    var type: RecordType
    var recordClass: RecordClass
}

/// The data of a record, typed for the records kproxy serves or must decompress to forward, and opaque
/// bytes for everything else (RFC 3597), which pass through unchanged.
public enum RData: Hashable, Sendable {
    /// An IPv4 address (must be `.v4`).
    case a(IPAddress)
    /// An IPv6 address (must be `.v6`).
    case aaaa(IPAddress)
    case ns(DNSName)
    case cname(DNSName)
    case ptr(DNSName)
    case soa(SOA)
    case mx(preference: UInt16, exchange: DNSName)
    /// Character-strings of up to 255 bytes each.
    case txt([[UInt8]])
    case srv(SRV)
    /// Any other type, as its uncompressed wire bytes.
    case unknown(type: RecordType, data: [UInt8])

    public var type: RecordType {
        switch self {
        case .a: return .a
        case .aaaa: return .aaaa
        case .ns: return .ns
        case .cname: return .cname
        case .ptr: return .ptr
        case .soa: return .soa
        case .mx: return .mx
        case .txt: return .txt
        case .srv: return .srv
        case .unknown(let type, _): return type
        }
    }

    /// TXT from text strings, split into 255-byte character-strings as needed.
    public static func txt(_ strings: String...) -> RData {
        .txt(
            strings.flatMap { string -> [[UInt8]] in
                let bytes = Array(string.utf8)
                if bytes.isEmpty { return [[]] }
                return stride(from: 0, to: bytes.count, by: 255).map { Array(bytes[$0..<min($0 + 255, bytes.count)]) }
            }
        )
    }
}

/// Start of authority; negative answers carry the zone's SOA, whose ``minimum`` bounds negative caching.
public struct SOA: Hashable, Sendable {
    public var primary: DNSName
    public var mailbox: DNSName
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    public var minimum: UInt32

    public init(
        primary: DNSName,
        mailbox: DNSName,
        serial: UInt32,
        refresh: UInt32,
        retry: UInt32,
        expire: UInt32,
        minimum: UInt32
    ) {
        self.primary = primary
        self.mailbox = mailbox
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }
}

/// RFC 2782 service location; the target is written uncompressed, as that RFC requires.
public struct SRV: Hashable, Sendable {
    public var priority: UInt16
    public var weight: UInt16
    public var port: UInt16
    public var target: DNSName

    public init(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName) {
        self.priority = priority
        self.weight = weight
        self.port = port
        self.target = target
    }
}
