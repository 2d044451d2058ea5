import CNetfilter
import KubeModel
import RuleSynth

/// Set and map elements, chunked so each message's element nest stays under netlink's 16-bit attribute
/// length (nft splits the same way), and prefixes encoded as nft encodes intervals.
extension BatchEncoder {
    /// Bytes of element payload per message before a new chunk starts; the nest limit is 65535.
    static let elementChunkBytes = 60_000

    mutating func encodeElements(
        _ elements: [SetElement],
        adding: Bool,
        family: TableFamily,
        table: String,
        set: String,
        index: Int
    ) throws(EncodingError) {
        let interval = intervalSetsDeclared.contains(SetName(family: family, table: table, set: set))
        var start = 0
        while start < elements.count {
            let object = NftnlSet()
            object.set(NFTNL_SET_TABLE, string: table)
            object.set(NFTNL_SET_NAME, string: set)
            object.set(NFTNL_SET_FAMILY, u32: family.nfproto)
            var size = 0
            var end = start
            if start == 0, adding, interval, let width = SetElement.leadingIntervalEndWidth(elements) {
                let zero = NftnlSetElement()
                zero.set(NFTNL_SET_ELEM_KEY, bytes: [UInt8](repeating: 0, count: width))
                zero.set(NFTNL_SET_ELEM_FLAGS, u32: NFT_SET_ELEM_INTERVAL_END.rawValue)
                object.add(zero)
                size += 64
            }
            while end < elements.count {
                let element = elements[end]
                let cost = element.encodedBound
                if end > start, size + cost > Self.elementChunkBytes { break }
                try element.addKernelElements(to: object, adding: adding, interval: interval)
                size += cost
                end += 1
            }
            let bound = 1024 + table.utf8.count + set.utf8.count + size
            message(
                adding ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
                family: family,
                flags: adding ? NLM_F_CREATE : 0,
                bound: bound,
                operation: index,
                elements: start..<end
            ) { nftnl_set_elems_nlmsg_build_payload($0, object.handle) }
            start = end
        }
    }
}

/// Identifies a set across operations of one transaction.
struct SetName: Hashable {
    var family: TableFamily
    var table: String
    var set: String
}

extension SetElement {
    /// Upper bound of this element's encoding (interval elements count twice).
    var encodedBound: Int {
        var bound = 96 + key.count * 40
        switch data {
        case .verdict(let verdict): bound += 48 + (verdict.chain?.utf8.count ?? 0)
        case .values(let values): bound += 16 + values.count * 20
        case nil: break
        }
        bound += (comment?.utf8.count ?? 0) + 8
        return bound * 2
    }

    /// nft opens a new non-concatenated interval set with an interval-end element at key 0, unless a range
    /// starts there, so the kernel's tree sees everything below the first range as outside the set.
    /// Returns the key width of that element, or nil when none is needed.
    static func leadingIntervalEndWidth(_ elements: [SetElement]) -> Int? {
        var width = 0
        for element in elements {
            guard element.key.count == 1 else { return nil }
            let start: [UInt8]
            switch element.key[0] {
            case .prefix(let cidr): start = cidr.address.bytes
            case .address(let address): start = address.bytes
            default: return nil
            }
            if start.allSatisfy({ $0 == 0 }) { return nil }
            width = start.count
        }
        return width > 0 ? width : nil
    }

    /// The kernel elements for this element: one, or for a single prefix a start and an interval end
    /// (`address + 2^(bits - prefix)`, omitted when the range reaches the top of the address space).
    /// Concatenations with a prefix part carry an inclusive `KEY_END`, as nft sends them to pipapo sets.
    /// In a declared interval set a lone address is the range of just that address.
    func addKernelElements(
        to set: borrowing NftnlSet,
        adding: Bool,
        interval: Bool
    ) throws(EncodingError) {
        var range: CIDR?
        if key.count == 1, case .prefix(let cidr) = key[0] { range = cidr }
        if interval, key.count == 1, case .address(let address) = key[0] {
            range = CIDR(address: address, prefixLength: address.bytes.count * 8)
        }
        if let cidr = range {
            let first = NftnlSetElement()
            first.set(NFTNL_SET_ELEM_KEY, bytes: cidr.address.bytes)
            if adding { try describe(first) }
            set.add(first)
            if let next = increment(cidr.lastAddress.bytes) {
                let last = NftnlSetElement()
                last.set(NFTNL_SET_ELEM_KEY, bytes: next)
                last.set(NFTNL_SET_ELEM_FLAGS, u32: NFT_SET_ELEM_INTERVAL_END.rawValue)
                set.add(last)
            }
            return
        }
        let element = NftnlSetElement()
        element.set(NFTNL_SET_ELEM_KEY, bytes: try Self.concatenate(key, end: false))
        if key.contains(where: \.isPrefix) {
            element.set(NFTNL_SET_ELEM_KEY_END, bytes: try Self.concatenate(key, end: true))
        }
        if adding { try describe(element) }
        set.add(element)
    }

    /// Data, timeout and comment: what an added element carries beyond its key.
    private func describe(_ element: borrowing NftnlSetElement) throws(EncodingError) {
        switch data {
        case .verdict(let verdict):
            element.set(NFTNL_SET_ELEM_VERDICT, u32: UInt32(bitPattern: verdict.code))
            if let chain = verdict.chain { element.set(NFTNL_SET_ELEM_CHAIN, string: chain) }
        case .values(let values):
            element.set(NFTNL_SET_ELEM_DATA, bytes: try Self.concatenate(values, end: false))
        case nil:
            break
        }
        if let timeout { element.set(NFTNL_SET_ELEM_TIMEOUT, u64: UInt64(timeout) * 1000) }
        if let comment {
            var userData = UserData()
            userData.put(NFTNL_UDATA_SET_ELEM_COMMENT.rawValue, string: try checked(comment))
            element.set(NFTNL_SET_ELEM_USERDATA, bytes: userData.bytes)
        }
    }

    /// Key or data bytes: a single part as is, concatenations with each part padded to 4 bytes.
    static func concatenate(_ parts: [ElementValue], end: Bool) throws(EncodingError) -> [UInt8] {
        if parts.count == 1 { return try parts[0].bytes(end: end) }
        var bytes: [UInt8] = []
        for part in parts {
            let value = try part.bytes(end: end)
            bytes += value
            bytes += [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
        }
        return bytes
    }

    private func increment(_ bytes: [UInt8]) -> [UInt8]? {
        var result = bytes
        for index in result.indices.reversed() {
            if result[index] == 0xff {
                result[index] = 0
            } else {
                result[index] += 1
                return result
            }
        }
        return nil
    }
}

extension ElementValue {
    var isPrefix: Bool {
        if case .prefix = self { return true }
        return false
    }

    /// The register bytes nft uses for this value: addresses and ports in network order, marks in host order,
    /// interface names NUL-padded to `IFNAMSIZ`. For a prefix, its first address (or last, for a range end).
    func bytes(end: Bool) throws(EncodingError) -> [UInt8] {
        switch self {
        case .address(let address): return address.bytes
        case .prefix(let cidr): return end ? cidr.lastAddress.bytes : cidr.address.bytes
        case .proto(let proto): return [proto.number]
        case .port(let port): return [UInt8(port >> 8), UInt8(port & 0xff)]
        case .mark(let mark): return withUnsafeBytes(of: mark) { Array($0) }
        case .ifname(let name):
            let utf8 = Array(name.utf8)
            guard utf8.count < 16 else { throw EncodingError(reason: "interface name \"\(name)\" is too long") }
            return utf8 + [UInt8](repeating: 0, count: 16 - utf8.count)
        }
    }
}
