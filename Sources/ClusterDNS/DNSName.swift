/// A domain name held as its labels' raw bytes, in the case the sender used.
///
/// DNS compares names ignoring ASCII case (RFC 4343) but answers must echo the query's case, so the bytes are
/// kept as written and `==`/`hash(into:)` fold case. Use ``isIdentical(to:)`` where the exact bytes matter
/// (case echo, compression). Every name is absolute; the root is the name with no labels.
///
/// Stored in wire form without the root's zero byte (`3www7example3com`): one array per name, so building,
/// comparing and writing a name does not allocate per label, which the query engine's hot path relies on.
public struct DNSName: Sendable, CustomStringConvertible {
    /// Length-prefixed labels, without the terminating zero-length root label.
    public private(set) var wire: [UInt8]

    /// RFC 1035 §2.3.4: at most 63 bytes per label, 255 bytes in wire form including the root byte.
    public static let maxLabelLength = 63
    public static let maxWireLength = 255

    public static let root = DNSName(uncheckedWire: [])

    /// Wraps wire bytes the caller has already validated (the decoder and the label-appending paths).
    init(uncheckedWire: [UInt8]) {
        self.wire = uncheckedWire
    }

    /// Builds a name from labels; fails on an empty or over-long label, or an over-long name.
    public init(labels: some Sequence<some Collection<UInt8>>) throws(DNSNameError) {
        var wire: [UInt8] = []
        for label in labels {
            guard !label.isEmpty else { throw .emptyLabel }
            guard label.count <= DNSName.maxLabelLength else { throw .labelTooLong(label.count) }
            wire.append(UInt8(label.count))
            wire.append(contentsOf: label)
        }
        guard wire.count + 1 <= DNSName.maxWireLength else { throw .nameTooLong(wire.count + 1) }
        self.wire = wire
    }

    /// Builds a name from text labels, such as `["web", "default", "svc", "cluster", "local"]`.
    public init(labels: [String]) throws(DNSNameError) {
        try self.init(labels: labels.map { Array($0.utf8) })
    }

    /// Length of the name in wire form, including the root byte.
    public var wireLength: Int { wire.count + 1 }

    public var isRoot: Bool { wire.isEmpty }

    /// Start offsets of each label's length byte in ``wire``.
    public var labelOffsets: [Int] {
        var offsets: [Int] = []
        var index = 0
        while index < wire.count {
            offsets.append(index)
            index += 1 + Int(wire[index])
        }
        return offsets
    }

    public var labelCount: Int {
        var count = 0
        var index = 0
        while index < wire.count {
            count += 1
            index += 1 + Int(wire[index])
        }
        return count
    }

    /// The labels' bytes, leftmost first.
    public var labels: [ArraySlice<UInt8>] {
        labelOffsets.map { wire[($0 + 1)..<($0 + 1 + Int(wire[$0]))] }
    }

    /// The leftmost label, or nil for the root.
    public var firstLabel: ArraySlice<UInt8>? {
        guard let length = wire.first else { return nil }
        return wire[1..<(1 + Int(length))]
    }

    /// The name without its leftmost `count` labels (the root stays the root).
    public func dropping(labels count: Int) -> DNSName {
        var index = 0
        var dropped = 0
        while dropped < count && index < wire.count {
            index += 1 + Int(wire[index])
            dropped += 1
        }
        return DNSName(uncheckedWire: Array(wire[index...]))
    }

    /// `label.self`; fails if the result would exceed DNS limits.
    public func prepending(label: some Collection<UInt8>) throws(DNSNameError) -> DNSName {
        guard !label.isEmpty else { throw .emptyLabel }
        guard label.count <= DNSName.maxLabelLength else { throw .labelTooLong(label.count) }
        guard wire.count + label.count + 2 <= DNSName.maxWireLength else {
            throw .nameTooLong(wire.count + label.count + 2)
        }
        var result: [UInt8] = [UInt8(label.count)]
        result.reserveCapacity(wire.count + label.count + 1)
        result.append(contentsOf: label)
        result.append(contentsOf: wire)
        return DNSName(uncheckedWire: result)
    }

    /// `self.suffix`, as a search-list expansion builds candidates; fails if the result is too long.
    public func appending(_ suffix: DNSName) throws(DNSNameError) -> DNSName {
        guard wire.count + suffix.wire.count + 1 <= DNSName.maxWireLength else {
            throw .nameTooLong(wire.count + suffix.wire.count + 1)
        }
        return DNSName(uncheckedWire: wire + suffix.wire)
    }

    /// True if `self` equals `ancestor` or lies below it, ignoring case.
    public func isSubdomain(of ancestor: DNSName) -> Bool {
        guard ancestor.wire.count <= wire.count else { return false }
        let start = wire.count - ancestor.wire.count
        // The suffix must begin on a label boundary of `self`, not inside a label.
        var index = 0
        while index < start { index += 1 + Int(wire[index]) }
        guard index == start else { return false }
        return DNSName.equalFoldingCase(wire[start...], ancestor.wire[...])
    }

    /// The labels of `self` left of `ancestor`, or nil if `self` is not below or equal to it.
    public func relative(to ancestor: DNSName) -> [ArraySlice<UInt8>]? {
        guard isSubdomain(of: ancestor) else { return nil }
        let keep = labelCount - ancestor.labelCount
        return Array(labels.prefix(keep))
    }

    /// Exact byte equality, case included.
    public func isIdentical(to other: DNSName) -> Bool { wire == other.wire }

    /// The same name with ASCII letters lower-cased, for cache keys and index keys.
    public func lowercased() -> DNSName {
        DNSName(uncheckedWire: wire.map(DNSName.lower))
    }

    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        byte &- 0x41 < 26 ? byte | 0x20 : byte
    }

    static func equalFoldingCase(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var i = a.startIndex
        var j = b.startIndex
        while i < a.endIndex {
            if lower(a[i]) != lower(b[j]) { return false }
            i += 1
            j += 1
        }
        return true
    }
}

extension DNSName: Hashable {
    /// Case-insensitive, as RFC 4343 requires for name comparison.
    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        equalFoldingCase(lhs.wire[...], rhs.wire[...])
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(wire.count)
        for byte in wire { hasher.combine(DNSName.lower(byte)) }
    }
}

/// Why a name could not be built or parsed.
public enum DNSNameError: Error, Hashable, Sendable, CustomStringConvertible {
    case emptyLabel
    case labelTooLong(Int)
    case nameTooLong(Int)
    case badEscape(String)

    public var description: String {
        switch self {
        case .emptyLabel: return "a DNS name has an empty label (two dots in a row); remove the extra dot"
        case .labelTooLong(let n): return "a DNS label is \(n) bytes long; labels are limited to 63 bytes"
        case .nameTooLong(let n): return "a DNS name is \(n) bytes long in wire form; names are limited to 255"
        case .badEscape(let text): return "bad escape \(quoted: text) in a DNS name; use \\. \\\\ or \\DDD (decimal)"
        }
    }
}
