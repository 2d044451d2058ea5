/// Appends wire bytes, compressing names against the names already written (RFC 1035 §4.1.4).
///
/// Suffixes match byte-exactly, not case-insensitively: a pointer to a differently-cased earlier name would
/// change the case the client sees, and answers must echo the query's case.
struct WireWriter {
    var bytes: [UInt8] = []
    /// Suffixes of written names (slices of their wire form) and the offset each was written at. A list
    /// while short: a typical message holds a handful of distinct suffixes, and comparing lengths first
    /// rejects almost every candidate without hashing. Large answers (hundreds of endpoint names) switch
    /// to a dictionary so encoding stays linear.
    private var suffixes: [(suffix: ArraySlice<UInt8>, offset: UInt16)] = []
    private var suffixIndex: [ArraySlice<UInt8>: UInt16]? = nil
    private static let linearSuffixLimit = 32

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    private func pointer(to suffix: ArraySlice<UInt8>) -> UInt16? {
        if let suffixIndex { return suffixIndex[suffix] }
        for entry in suffixes where entry.suffix.count == suffix.count && entry.suffix.elementsEqual(suffix) {
            return entry.offset
        }
        return nil
    }

    private mutating func remember(_ suffix: ArraySlice<UInt8>, at offset: UInt16) {
        if suffixIndex != nil {
            suffixIndex![suffix] = offset
            return
        }
        suffixes.append((suffix, offset))
        if suffixes.count > Self.linearSuffixLimit {
            suffixIndex = Dictionary(suffixes.map { ($0.suffix, $0.offset) }, uniquingKeysWith: { first, _ in first })
        }
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func u32(_ value: UInt32) {
        u16(UInt16(truncatingIfNeeded: value >> 16))
        u16(UInt16(truncatingIfNeeded: value))
    }

    mutating func set16(_ value: UInt16, at offset: Int) {
        bytes[offset] = UInt8(truncatingIfNeeded: value >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    mutating func name(_ name: DNSName, compress: Bool = true) {
        let wire = name.wire
        var index = 0
        while index < wire.count {
            let suffix = wire[index...]
            if compress, let pointer = pointer(to: suffix) {
                u16(0xc000 | pointer)
                return
            }
            // Pointers hold 14 bits of offset; later names cannot point past that.
            if compress, bytes.count < 0x4000 { remember(suffix, at: UInt16(bytes.count)) }
            let length = Int(wire[index])
            bytes.append(contentsOf: wire[index..<(index + 1 + length)])
            index += 1 + length
        }
        u8(0)
    }

    mutating func record(_ record: ResourceRecord) {
        name(record.name)
        u16(record.type.rawValue)
        u16(record.recordClass.rawValue)
        u32(record.ttl)
        let lengthOffset = bytes.count
        u16(0)
        let start = bytes.count
        switch record.data {
        case .a(let address), .aaaa(let address):
            bytes.append(contentsOf: address.bytes)
        case .ns(let target), .cname(let target), .ptr(let target):
            name(target)
        case .mx(let preference, let exchange):
            u16(preference)
            name(exchange)
        case .soa(let soa):
            name(soa.primary)
            name(soa.mailbox)
            u32(soa.serial)
            u32(soa.refresh)
            u32(soa.retry)
            u32(soa.expire)
            u32(soa.minimum)
        case .srv(let srv):
            u16(srv.priority)
            u16(srv.weight)
            u16(srv.port)
            name(srv.target, compress: false)
        case .txt(let strings):
            for string in strings {
                let clipped = string.prefix(255)
                u8(UInt8(clipped.count))
                bytes.append(contentsOf: clipped)
            }
        case .unknown(_, let data):
            bytes.append(contentsOf: data)
        }
        set16(UInt16(truncatingIfNeeded: bytes.count - start), at: lengthOffset)
    }

    mutating func opt(_ edns: EDNS, extendedRcode: UInt8) {
        u8(0)
        u16(RecordType.opt.rawValue)
        u16(edns.udpPayloadSize)
        u32(UInt32(extendedRcode) << 24 | UInt32(edns.version) << 16 | (edns.dnssecOK ? 0x8000 : 0))
        let lengthOffset = bytes.count
        u16(0)
        let start = bytes.count
        for option in edns.options {
            u16(option.code)
            u16(UInt16(truncatingIfNeeded: option.data.count))
            bytes.append(contentsOf: option.data)
        }
        set16(UInt16(truncatingIfNeeded: bytes.count - start), at: lengthOffset)
    }
}

extension Message {
    /// The full message in wire form. Over TCP, frame it with ``tcpFramed(_:)``.
    public func encoded() -> [UInt8] {
        encode(answers: answers, authorities: authorities, additionals: additionals, truncated: isTruncated)
    }

    /// The message as it fits in `limit` bytes (a UDP client's ``udpResponseLimit``).
    ///
    /// Answer and authority records are required: if they do not fit, whole RRsets are dropped from the end
    /// and TC is set, so the client retries over TCP. An RRset is never split (RFC 2181 §9): a partial
    /// RRset looks complete to a cache. Additional records are optional and dropped by RRset without TC.
    /// The OPT record always stays, so the client still sees the server's EDNS.
    public func encoded(limit: Int) -> [UInt8] {
        let full = encoded()
        if full.count <= limit { return full }
        var required = answers.map { (Section.answer, $0) } + authorities.map { (Section.authority, $0) }
        var optional = additionals
        var truncated = isTruncated
        while true {
            let bytes = encode(
                answers: required.filter { $0.0 == .answer }.map(\.1),
                authorities: required.filter { $0.0 == .authority }.map(\.1),
                additionals: optional,
                truncated: truncated
            )
            // Header, question and OPT alone never exceed 512 bytes; this guards against looping if they did.
            if bytes.count <= limit || (required.isEmpty && optional.isEmpty) { return bytes }
            // Find how many records fit in order, then drop every RRset that does not fit whole, and retry:
            // dropping a record can only shrink the message, except where it held a compression target.
            let fitting = recordsFitting(required: required.map(\.1), optional: optional, limit: limit)
            if fitting.required < required.count {
                let overflow = Set(required[fitting.required...].map(\.1.rrsetKey))
                required = required[..<fitting.required].filter { !overflow.contains($0.1.rrsetKey) }
                optional = []
                truncated = true
            } else if fitting.optional < optional.count {
                let overflow = Set(optional[fitting.optional...].map(\.rrsetKey))
                optional = optional[..<fitting.optional].filter { !overflow.contains($0.rrsetKey) }
            } else {
                // Everything "fits" yet the message does not: only header, question and OPT are left to
                // blame. Send them alone with TC rather than loop.
                (required, optional, truncated) = ([], [], true)
            }
        }
    }

    private enum Section { case answer, authority }

    private func recordsFitting(
        required: [ResourceRecord],
        optional: [ResourceRecord],
        limit: Int
    ) -> (required: Int, optional: Int) {
        var writer = WireWriter(capacity: limit)
        writeHeaderAndQuestions(into: &writer)
        // Reserve the OPT record (11 bytes plus options) so it always fits.
        let budget = limit - (edns.map { 11 + $0.options.reduce(0) { $0 + 4 + $1.data.count } } ?? 0)
        for (index, record) in required.enumerated() {
            writer.record(record)
            if writer.bytes.count > budget { return (index, 0) }
        }
        for (index, record) in optional.enumerated() {
            writer.record(record)
            if writer.bytes.count > budget { return (required.count, index) }
        }
        return (required.count, optional.count)
    }

    private func writeHeaderAndQuestions(into writer: inout WireWriter) {
        writer.u16(id)
        writer.u16(flags(truncated: isTruncated))
        writer.u16(UInt16(truncatingIfNeeded: questions.count))
        writer.u16(0)
        writer.u16(0)
        writer.u16(0)
        for question in questions {
            writer.name(question.name)
            writer.u16(question.type.rawValue)
            writer.u16(question.questionClass.rawValue)
        }
    }

    private func flags(truncated: Bool) -> UInt16 {
        var flags = UInt16(opcode.rawValue) << 11 | rcode.rawValue & 0x0f
        if isResponse { flags |= 0x8000 }
        if isAuthoritative { flags |= 0x0400 }
        if truncated { flags |= 0x0200 }
        if recursionDesired { flags |= 0x0100 }
        if recursionAvailable { flags |= 0x0080 }
        if authenticData { flags |= 0x0020 }
        if checkingDisabled { flags |= 0x0010 }
        return flags
    }

    private func encode(
        answers: [ResourceRecord],
        authorities: [ResourceRecord],
        additionals: [ResourceRecord],
        truncated: Bool
    ) -> [UInt8] {
        var writer = WireWriter(capacity: 512)
        writeHeaderAndQuestions(into: &writer)
        writer.set16(flags(truncated: truncated), at: 2)
        for record in answers { writer.record(record) }
        for record in authorities { writer.record(record) }
        for record in additionals { writer.record(record) }
        writer.set16(UInt16(truncatingIfNeeded: answers.count), at: 6)
        writer.set16(UInt16(truncatingIfNeeded: authorities.count), at: 8)
        var additionalCount = additionals.count
        if let edns {
            writer.opt(edns, extendedRcode: UInt8(truncatingIfNeeded: rcode.rawValue >> 4))
            additionalCount += 1
        }
        writer.set16(UInt16(truncatingIfNeeded: additionalCount), at: 10)
        return writer.bytes
    }

    /// Prefixes a message with its 2-byte length, as DNS over TCP carries it (RFC 1035 §4.2.2).
    /// Messages over 65535 bytes cannot be framed; callers encode with `limit: 65535`.
    public static func tcpFramed(_ message: [UInt8]) -> [UInt8] {
        [UInt8(truncatingIfNeeded: message.count >> 8), UInt8(truncatingIfNeeded: message.count)] + message
    }

    /// The most a DNS message can be over TCP.
    public static let tcpLimit = 65535
}
