/// A resource record TYPE (RFC 1035 §3.2.2 and later registrations); any 16-bit value is representable, so
/// unknown types pass through (RFC 3597).
public struct RecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = RecordType(rawValue: 1)
    public static let ns = RecordType(rawValue: 2)
    public static let cname = RecordType(rawValue: 5)
    public static let soa = RecordType(rawValue: 6)
    public static let ptr = RecordType(rawValue: 12)
    public static let mx = RecordType(rawValue: 15)
    public static let txt = RecordType(rawValue: 16)
    public static let aaaa = RecordType(rawValue: 28)
    public static let srv = RecordType(rawValue: 33)
    public static let opt = RecordType(rawValue: 41)
    public static let ixfr = RecordType(rawValue: 251)
    public static let axfr = RecordType(rawValue: 252)
    public static let any = RecordType(rawValue: 255)

    private static let names: [(RecordType, String)] = [
        (.a, "A"), (.ns, "NS"), (.cname, "CNAME"), (.soa, "SOA"), (.ptr, "PTR"), (.mx, "MX"), (.txt, "TXT"),
        (.aaaa, "AAAA"), (.srv, "SRV"), (.opt, "OPT"), (.ixfr, "IXFR"), (.axfr, "AXFR"), (.any, "ANY"),
        (RecordType(rawValue: 43), "DS"), (RecordType(rawValue: 46), "RRSIG"), (RecordType(rawValue: 48), "DNSKEY"),
        (RecordType(rawValue: 64), "SVCB"), (RecordType(rawValue: 65), "HTTPS"), (RecordType(rawValue: 257), "CAA"),
    ]

    /// Mnemonic as `dig` prints it, `TYPE<n>` (RFC 3597) for others.
    public var description: String {
        RecordType.names.first { $0.0 == self }?.1 ?? "TYPE\(rawValue)"
    }

    /// Parses a mnemonic (any case) or `TYPE<n>`.
    public init?(_ text: String) {
        let upper = text.uppercased()
        if let known = RecordType.names.first(where: { $0.1 == upper }) {
            self = known.0
        } else if upper.hasPrefix("TYPE"), let value = UInt16(upper.dropFirst(4)) {
            self.init(rawValue: value)
        } else {
            return nil
        }
    }
}

/// A resource record CLASS; kproxy serves `IN` and passes others through.
public struct RecordClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let internet = RecordClass(rawValue: 1)
    public static let chaos = RecordClass(rawValue: 3)
    public static let any = RecordClass(rawValue: 255)

    public var description: String {
        switch self {
        case .internet: return "IN"
        case .chaos: return "CH"
        case .any: return "ANY"
        default: return "CLASS\(rawValue)"
        }
    }
}

/// Header OPCODE (4 bits).
public struct Opcode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0f }

    public static let query = Opcode(rawValue: 0)
    public static let status = Opcode(rawValue: 2)
    public static let notify = Opcode(rawValue: 4)
    public static let update = Opcode(rawValue: 5)
}

/// RCODE, 12 bits wide: the header's 4 bits plus EDNS0's 8 extended bits (RFC 6891 §6.1.3).
public struct ResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0fff }

    public static let noError = ResponseCode(rawValue: 0)
    public static let formatError = ResponseCode(rawValue: 1)
    public static let serverFailure = ResponseCode(rawValue: 2)
    public static let nameError = ResponseCode(rawValue: 3)
    public static let notImplemented = ResponseCode(rawValue: 4)
    public static let refused = ResponseCode(rawValue: 5)
    /// BADVERS: the query's EDNS version is higher than ours (extended, needs OPT).
    public static let badVersion = ResponseCode(rawValue: 16)

    /// Upper-case names as `dig` prints them in the `status:` field; metrics use them as labels.
    public var description: String {
        switch rawValue {
        case 0: return "NOERROR"
        case 1: return "FORMERR"
        case 2: return "SERVFAIL"
        case 3: return "NXDOMAIN"
        case 4: return "NOTIMP"
        case 5: return "REFUSED"
        case 16: return "BADVERS"
        default: return "RCODE\(rawValue)"
        }
    }
}
