import KubeModel

/// What a set element yields on a lookup hit.
enum ElementTarget: Hashable, Sendable {
    case member
    case verdict(Verdict)
    case data([UInt8])
}

/// A named set or map compiled to the byte keys the kernel compares: each part of a concatenation starts
/// on a 4-byte boundary and is zero-padded, exactly as the lookup's source registers are laid out.
struct CompiledSet: Sendable {
    let name: String
    let key: [DataType]
    let data: [DataType]?
    /// Byte length of the key (`DataType.concatenation`), as the lookup reads it from registers.
    let keyLength: Int
    /// Where each key part starts in the key bytes, and how many of its bytes are significant.
    let fields: [(offset: Int, length: Int)]
    /// Elements whose every part is a single value: the common case, looked up by hash.
    var exact: [[UInt8]: ElementTarget] = [:]
    /// Elements with a prefix in some part (`interval` sets): each part must lie within its range.
    var ranges: [(low: [UInt8], high: [UInt8], target: ElementTarget)] = []

    init(_ set: NamedSet, table: String) throws(TracerError) {
        name = set.name
        key = set.key
        data = set.data
        guard !set.key.isEmpty else {
            throw .badSet(table: table, set: set.name, reason: "the set has no key type")
        }
        keyLength = Int(DataType.concatenation(set.key).length)
        var offset = 0
        var fields: [(Int, Int)] = []
        for part in set.key {
            fields.append((offset, Int(part.length)))
            offset += set.key.count == 1 ? Int(part.length) : Int((part.length + 3) / 4 * 4)
        }
        self.fields = fields
        for element in set.elements {
            try add(element, table: table, interval: set.flags.contains(.interval))
        }
    }

    private mutating func add(_ element: SetElement, table: String, interval: Bool) throws(TracerError) {
        func fail(_ reason: String) -> TracerError {
            .badSet(
                table: table,
                set: name,
                reason: "element \(element.key.map(\.description).joined(separator: " . ")): \(reason)"
            )
        }
        guard element.key.count == key.count else {
            throw fail("has \(element.key.count) key parts but the set's type has \(key.count)")
        }
        var low = [UInt8](repeating: 0, count: keyLength)
        var high = low
        var isRange = false
        for (index, (value, type)) in zip(element.key, key).enumerated() {
            guard let (lowBytes, highBytes) = CompiledSet.bytes(value, as: type) else {
                throw fail("\(value) is not a value of type \(type.nftName)")
            }
            if lowBytes != highBytes {
                guard interval else { throw fail("a prefix needs a set with flags interval") }
                isRange = true
            }
            let start = fields[index].offset
            low.replaceSubrange(start..<start + lowBytes.count, with: lowBytes)
            high.replaceSubrange(start..<start + highBytes.count, with: highBytes)
        }
        let target: ElementTarget
        switch (data, element.data) {
        case (nil, nil):
            target = .member
        case ([.verdict]?, .verdict(let verdict)?):
            target = .verdict(verdict)
        case (let types?, .values(let values)?) where !types.contains(.verdict):
            guard values.count == types.count else {
                throw fail("maps to \(values.count) values but the map's type has \(types.count)")
            }
            var bytes: [UInt8] = []
            for (value, type) in zip(values, types) {
                guard let (lowBytes, highBytes) = CompiledSet.bytes(value, as: type), lowBytes == highBytes else {
                    throw fail("maps to \(value), which is not a single value of type \(type.nftName)")
                }
                bytes += lowBytes
                if types.count > 1 { bytes += [UInt8](repeating: 0, count: (4 - lowBytes.count % 4) % 4) }
            }
            target = .data(bytes)
        default:
            throw fail("its data does not match the set's declared data type")
        }
        if isRange {
            ranges.append((low, high, target))
        } else {
            exact[low] = target
        }
    }

    /// The element matching `keyBytes`, from the declared elements or from ones `dynset` added.
    func find(_ keyBytes: [UInt8], dynamic: Set<[UInt8]>?) -> ElementTarget? {
        if let hit = exact[keyBytes] { return hit }
        if dynamic?.contains(keyBytes) == true { return .member }
        for range in ranges where fieldsWithin(keyBytes, range.low, range.high) { return range.target }
        return nil
    }

    private func fieldsWithin(_ keyBytes: [UInt8], _ low: [UInt8], _ high: [UInt8]) -> Bool {
        for field in fields {
            let span = field.offset..<field.offset + field.length
            if keyBytes[span].lexicographicallyPrecedes(low[span]) { return false }
            if high[span].lexicographicallyPrecedes(keyBytes[span]) { return false }
        }
        return true
    }

    /// Renders key bytes back into nft's element syntax, for learned affinity entries.
    func describe(_ keyBytes: [UInt8]) -> String {
        zip(fields, key).map { field, type in
            let bytes = Array(keyBytes[field.offset..<min(keyBytes.count, field.offset + field.length)])
            return CompiledSet.describe(bytes, as: type)
        }.joined(separator: " . ")
    }

    /// The low and high bytes of one key part; they differ only for a prefix.
    static func bytes(_ value: ElementValue, as type: DataType) -> ([UInt8], [UInt8])? {
        switch (value, type) {
        case (.address(let address), .ipv4Addr) where address.family == .ipv4,
            (.address(let address), .ipv6Addr) where address.family == .ipv6:
            return (address.bytes, address.bytes)
        case (.prefix(let cidr), .ipv4Addr) where cidr.family == .ipv4,
            (.prefix(let cidr), .ipv6Addr) where cidr.family == .ipv6:
            return (cidr.address.bytes, cidr.lastAddress.bytes)
        case (.proto(let proto), .inetProto):
            return ([proto.number], [proto.number])
        case (.port(let port), .inetService):
            let bytes = [UInt8(port >> 8), UInt8(port & 0xff)]
            return (bytes, bytes)
        case (.mark(let mark), .mark):
            return (hostOrder(mark), hostOrder(mark))
        case (.ifname(let name), .ifname):
            guard name.utf8.count < 16 else { return nil }
            let bytes = Array(name.utf8) + [UInt8](repeating: 0, count: 16 - name.utf8.count)
            return (bytes, bytes)
        default:
            return nil
        }
    }

    static func describe(_ bytes: [UInt8], as type: DataType) -> String {
        switch type {
        case .ipv4Addr, .ipv6Addr:
            return IPAddress(bytes: bytes)?.description ?? bytes.description
        case .inetProto:
            let number = bytes.first ?? 0
            return TransportProtocol.allCases.first { $0.number == number }?.nftName ?? String(number)
        case .inetService:
            return bytes.count == 2 ? String(UInt16(bytes[0]) << 8 | UInt16(bytes[1])) : bytes.description
        case .mark:
            return bytes.count == 4 ? "0x" + String(fromHostOrder(bytes), radix: 16) : bytes.description
        case .ifname:
            return "\"" + String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self) + "\""
        case .verdict:
            return bytes.description
        }
    }
}

/// The 4 bytes of a host-order u32, as the kernel keeps marks, ct state, numgen and fib results.
func hostOrder(_ value: UInt32) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

func fromHostOrder(_ bytes: [UInt8]) -> UInt32 {
    var value: UInt32 = 0
    withUnsafeMutableBytes(of: &value) { raw in
        for (index, byte) in bytes.prefix(4).enumerated() { raw[index] = byte }
    }
    return value
}
