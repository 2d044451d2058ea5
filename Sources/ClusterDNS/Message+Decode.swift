import KubeModel

/// Why a packet is not a well-formed DNS message. Any of these makes a query a FORMERR (RFC 1035 §4.1.1).
public enum DNSWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The packet ends before the header, a count or a length says it should.
    case truncated(offset: Int)
    /// A compression pointer points at or after itself, which is how loops are made.
    case badPointer(offset: Int)
    /// Label type bits 01 or 10 (RFC 6891 §5 retired extended label types).
    case badLabelType(offset: Int)
    case nameTooLong(offset: Int)
    /// RDATA does not match its type's format or its RDLENGTH.
    case badRData(type: RecordType, offset: Int)
    /// More than one OPT, or an OPT whose owner is not the root or that is outside the additional section.
    case badOPT(offset: Int)

    public var description: String {
        switch self {
        case .truncated(let o): return "DNS message truncated at byte \(o)"
        case .badPointer(let o): return "DNS compression pointer at byte \(o) does not point backwards"
        case .badLabelType(let o): return "unsupported DNS label type at byte \(o)"
        case .nameTooLong(let o): return "DNS name at byte \(o) is longer than 255 bytes"
        case .badRData(let t, let o): return "malformed \(t) record data at byte \(o)"
        case .badOPT(let o): return "misplaced or repeated OPT record at byte \(o)"
        }
    }
}

/// A bounds-checked cursor: every read either succeeds inside the packet or throws, so a hostile packet can
/// never read out of bounds or make decoding loop.
struct WireReader {
    let bytes: [UInt8]
    var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    mutating func u8() throws(DNSWireError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(DNSWireError) -> UInt16 {
        guard offset + 2 <= bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32() throws(DNSWireError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }

    mutating func take(_ count: Int) throws(DNSWireError) -> ArraySlice<UInt8> {
        guard count >= 0, offset + count <= bytes.count else { throw .truncated(offset: offset) }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    /// Reads a possibly compressed name. Each pointer must point strictly before the label sequence that
    /// contains it, so the walk moves backwards and ends after at most one step per byte: no loops, no
    /// forward references (RFC 1035 §4.1.4 only ever needs earlier names).
    mutating func name() throws(DNSWireError) -> DNSName {
        var wire: [UInt8] = []
        var cursor = offset
        var segmentStart = offset
        var resumeAt: Int? = nil
        while true {
            guard cursor < bytes.count else { throw .truncated(offset: cursor) }
            let length = bytes[cursor]
            switch length & 0xc0 {
            case 0x00:
                if length == 0 {
                    offset = resumeAt ?? cursor + 1
                    return DNSName(uncheckedWire: wire)
                }
                let end = cursor + 1 + Int(length)
                guard end <= bytes.count else { throw .truncated(offset: cursor) }
                guard wire.count + Int(length) + 2 <= DNSName.maxWireLength else {
                    throw .nameTooLong(offset: offset)
                }
                wire.append(contentsOf: bytes[cursor..<end])
                cursor = end
            case 0xc0:
                guard cursor + 1 < bytes.count else { throw .truncated(offset: cursor) }
                let target = Int(length & 0x3f) << 8 | Int(bytes[cursor + 1])
                guard target < segmentStart else { throw .badPointer(offset: cursor) }
                if resumeAt == nil { resumeAt = cursor + 2 }
                cursor = target
                segmentStart = target
            default:
                throw .badLabelType(offset: cursor)
            }
        }
    }
}

extension Message {
    /// Decodes a whole message. Counts that promise more than the packet holds fail as ``DNSWireError/truncated(offset:)``;
    /// bytes after the last counted record are ignored, as BIND and dig do.
    public init(decoding bytes: [UInt8]) throws(DNSWireError) {
        var reader = WireReader(bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        let qdcount = Int(try reader.u16())
        let ancount = Int(try reader.u16())
        let nscount = Int(try reader.u16())
        let arcount = Int(try reader.u16())
        // Each question takes ≥5 bytes and each record ≥11: a lying count fails here, before any work.
        guard qdcount * 5 + (ancount + nscount + arcount) * 11 <= reader.remaining else {
            throw .truncated(offset: reader.offset)
        }
        self.init(
            id: id,
            isResponse: flags & 0x8000 != 0,
            opcode: Opcode(rawValue: UInt8(flags >> 11 & 0x0f)),
            isAuthoritative: flags & 0x0400 != 0,
            isTruncated: flags & 0x0200 != 0,
            recursionDesired: flags & 0x0100 != 0,
            recursionAvailable: flags & 0x0080 != 0,
            authenticData: flags & 0x0020 != 0,
            checkingDisabled: flags & 0x0010 != 0,
            rcode: ResponseCode(rawValue: flags & 0x000f)
        )
        questions.reserveCapacity(qdcount)
        for _ in 0..<qdcount {
            let name = try reader.name()
            let type = RecordType(rawValue: try reader.u16())
            let questionClass = RecordClass(rawValue: try reader.u16())
            questions.append(Question(name: name, type: type, questionClass: questionClass))
        }
        answers = try Message.records(ancount, from: &reader)
        authorities = try Message.records(nscount, from: &reader)
        for _ in 0..<arcount {
            let start = reader.offset
            let (record, opt) = try Message.record(from: &reader)
            if let opt {
                guard edns == nil else { throw .badOPT(offset: start) }
                edns = opt.edns
                rcode = ResponseCode(rawValue: UInt16(opt.extendedRcode) << 4 | rcode.rawValue)
            } else if let record {
                additionals.append(record)
            }
        }
    }

    private static func records(_ count: Int, from reader: inout WireReader) throws(DNSWireError) -> [ResourceRecord] {
        var result: [ResourceRecord] = []
        result.reserveCapacity(count)
        for _ in 0..<count {
            let start = reader.offset
            let (record, opt) = try record(from: &reader)
            guard opt == nil, let record else { throw .badOPT(offset: start) }
            result.append(record)
        }
        return result
    }

    private static func record(
        from reader: inout WireReader
    ) throws(DNSWireError) -> (ResourceRecord?, (edns: EDNS, extendedRcode: UInt8)?) {
        let nameOffset = reader.offset
        let name = try reader.name()
        let type = RecordType(rawValue: try reader.u16())
        let rawClass = try reader.u16()
        let ttl = try reader.u32()
        let length = Int(try reader.u16())
        let start = reader.offset
        guard length <= reader.remaining else { throw .truncated(offset: start) }
        let end = start + length
        if type == .opt {
            guard name.isRoot else { throw .badOPT(offset: nameOffset) }
            var options: [EDNS.Option] = []
            while reader.offset < end {
                let code = try reader.u16()
                let optionLength = Int(try reader.u16())
                guard reader.offset + optionLength <= end else { throw .badRData(type: .opt, offset: reader.offset) }
                options.append(EDNS.Option(code: code, data: Array(try reader.take(optionLength))))
            }
            let edns = EDNS(
                udpPayloadSize: Int(rawClass),
                version: UInt8(truncatingIfNeeded: ttl >> 16),
                dnssecOK: ttl & 0x8000 != 0,
                options: options
            )
            return (nil, (edns, UInt8(truncatingIfNeeded: ttl >> 24)))
        }
        let recordClass = RecordClass(rawValue: rawClass)
        let data = try rdata(type: type, recordClass: recordClass, end: end, from: &reader)
        guard reader.offset == end else { throw .badRData(type: type, offset: start) }
        return (ResourceRecord(name: name, recordClass: recordClass, ttl: ttl, data: data), nil)
    }

    /// Names inside RDATA are read with the packet as context, since NS, CNAME, PTR, SOA and MX may be
    /// compressed (RFC 3597 §4); SRV targets are read leniently too, though RFC 2782 forbids compressing them.
    private static func rdata(
        type: RecordType,
        recordClass: RecordClass,
        end: Int,
        from reader: inout WireReader
    ) throws(DNSWireError) -> RData {
        let start = reader.offset
        let length = end - start
        func boundedName(_ reader: inout WireReader) throws(DNSWireError) -> DNSName {
            let name = try reader.name()
            guard reader.offset <= end else { throw .badRData(type: type, offset: start) }
            return name
        }
        switch type {
        case .a where recordClass == .internet:
            guard length == 4 else { throw .badRData(type: type, offset: start) }
            return .a(.v4(try reader.u32()))
        case .aaaa where recordClass == .internet:
            guard length == 16 else { throw .badRData(type: type, offset: start) }
            let high = UInt64(try reader.u32()) << 32 | UInt64(try reader.u32())
            let low = UInt64(try reader.u32()) << 32 | UInt64(try reader.u32())
            return .aaaa(.v6(high: high, low: low))
        case .ns: return .ns(try boundedName(&reader))
        case .cname: return .cname(try boundedName(&reader))
        case .ptr: return .ptr(try boundedName(&reader))
        case .mx:
            guard length >= 3 else { throw .badRData(type: type, offset: start) }
            let preference = try reader.u16()
            return .mx(preference: preference, exchange: try boundedName(&reader))
        case .soa:
            let primary = try boundedName(&reader)
            let mailbox = try boundedName(&reader)
            guard end - reader.offset == 20 else { throw .badRData(type: type, offset: start) }
            return .soa(
                SOA(
                    primary: primary,
                    mailbox: mailbox,
                    serial: try reader.u32(),
                    refresh: try reader.u32(),
                    retry: try reader.u32(),
                    expire: try reader.u32(),
                    minimum: try reader.u32()
                )
            )
        case .srv:
            guard length >= 7 else { throw .badRData(type: type, offset: start) }
            let priority = try reader.u16()
            let weight = try reader.u16()
            let port = try reader.u16()
            return .srv(SRV(priority: priority, weight: weight, port: port, target: try boundedName(&reader)))
        case .txt:
            var strings: [[UInt8]] = []
            while reader.offset < end {
                let count = Int(try reader.u8())
                guard reader.offset + count <= end else { throw .badRData(type: type, offset: start) }
                strings.append(Array(try reader.take(count)))
            }
            return .txt(strings)
        default:
            return .unknown(type: type, data: Array(try reader.take(length)))
        }
    }

    /// The FORMERR reply to a packet that did not decode: RFC 1035 lets a server answer what it could read,
    /// so the ID, opcode and RD come from the header. Nil when there is no header or the packet is itself a
    /// response (answering responses would let two servers bounce packets forever).
    public static func formatErrorResponse(toMalformed bytes: [UInt8]) -> Message? {
        guard bytes.count >= 12, bytes[2] & 0x80 == 0 else { return nil }
        return Message(
            id: UInt16(bytes[0]) << 8 | UInt16(bytes[1]),
            isResponse: true,
            opcode: Opcode(rawValue: bytes[2] >> 3 & 0x0f),
            recursionDesired: bytes[2] & 0x01 != 0,
            rcode: .formatError
        )
    }
}
