import Foundation

/// An IPv4 or IPv6 address, parsed strictly the way the API server validates them.
///
/// Hand-written rather than `inet_pton` so that parsing is pure, allocation-free and identical on every
/// platform; rule synthesis and the DNS index parse and format these on hot paths.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(UInt32)
    /// The address as two big-endian halves: `high` holds bytes 0–7.
    case v6(high: UInt64, low: UInt64)

    public enum Family: String, Hashable, Sendable, Codable, CaseIterable {
        case ipv4 = "IPv4"
        case ipv6 = "IPv6"
    }

    public var family: Family {
        switch self {
        case .v4: return .ipv4
        case .v6: return .ipv6
        }
    }

    /// Parses dotted-quad IPv4 (no leading zeros, as Go ≥ 1.17 rejects them) or RFC 4291 IPv6 text.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        if utf8.contains(UInt8(ascii: ":")) {
            guard let (high, low) = IPAddress.parseV6(utf8) else { return nil }
            self = .v6(high: high, low: low)
        } else {
            guard let value = IPAddress.parseV4(utf8[...]) else { return nil }
            self = .v4(value)
        }
    }

    /// The address in network byte order.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value):
            return (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0))) }
        case .v6(let high, let low):
            return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
                + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
        }
    }

    /// Builds an address from 4 or 16 network-order bytes.
    public init?(bytes: some Collection<UInt8>) {
        let array = Array(bytes)
        switch array.count {
        case 4:
            self = .v4(array.reduce(0) { $0 << 8 | UInt32($1) })
        case 16:
            let high = array[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = array[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self = .v6(high: high, low: low)
        default:
            return nil
        }
    }

    /// RFC 5952 text: lower case, longest zero run compressed, as `nft list ruleset` and `dig` print it.
    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
        case .v6(let high, let low):
            let groups = (0..<4).map { UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64($0))) }
                + (0..<4).map { UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64($0))) }
            return IPAddress.formatV6(groups)
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        case (.v6(let ah, let al), .v6(let bh, let bl)): return (ah, al) < (bh, bl)
        }
    }

    /// Dashed form used by DNS for endpoints without a hostname and for pod records (`10-244-1-5`).
    public var dashed: String {
        // Byte-wise rather than Foundation's replacingOccurrences: the DNS index names every endpoint this
        // way, and at 100k endpoints the Foundation path was a tenth of start-up.
        let separator = UInt8(ascii: self.family == .ipv4 ? "." : ":")
        return String(decoding: description.utf8.map { $0 == separator ? UInt8(ascii: "-") : $0 }, as: UTF8.self)
    }

    private static func parseV4(_ text: ArraySlice<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        var current: UInt32 = 0
        var digits = 0
        var leadingZero = false
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, octets < 3 else { return nil }
                value = value << 8 | current
                octets += 1
                current = 0
                digits = 0
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            if digits == 1 && leadingZero { return nil }
            if digits == 0 { leadingZero = byte == UInt8(ascii: "0") }
            current = current * 10 + UInt32(byte - UInt8(ascii: "0"))
            digits += 1
            guard digits <= 3, current <= 255 else { return nil }
        }
        guard digits > 0, octets == 3 else { return nil }
        return value << 8 | current
    }

    private static func parseV6(_ text: [UInt8]) -> (UInt64, UInt64)? {
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        var index = 0
        let count = text.count
        if count >= 2 && text[0] == UInt8(ascii: ":") {
            guard text[1] == UInt8(ascii: ":") else { return nil }
            sawGap = true
            index = 2
            if count == 2 { return (0, 0) }
        }
        while index < count {
            var end = index
            while end < count && text[end] != UInt8(ascii: ":") { end += 1 }
            let field = text[index..<end]
            if field.isEmpty { return nil }
            if field.contains(UInt8(ascii: ".")) {
                // An embedded IPv4 address may only stand last.
                guard end == count, let v4 = parseV4(field) else { return nil }
                let groups = [UInt16(v4 >> 16), UInt16(v4 & 0xffff)]
                if sawGap { tail += groups } else { head += groups }
                index = end
                break
            }
            guard field.count <= 4, let group = UInt16(String(decoding: field, as: UTF8.self), radix: 16) else {
                return nil
            }
            if sawGap { tail.append(group) } else { head.append(group) }
            if end == count { index = end; break }
            // `end` is a colon: a second colon right after marks the gap.
            if end + 1 < count && text[end + 1] == UInt8(ascii: ":") {
                guard !sawGap else { return nil }
                sawGap = true
                index = end + 2
                if index == count { break }
            } else {
                guard end + 1 < count else { return nil }
                index = end + 1
            }
        }
        let total = head.count + tail.count
        if sawGap { guard total <= 7 else { return nil } } else { guard total == 8 else { return nil } }
        let groups = head + Array(repeating: 0, count: 8 - total) + tail
        let high = groups[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let low = groups[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return (high, low)
    }

    private static func formatV6(_ groups: [UInt16]) -> String {
        var bestStart = -1
        var bestLength = 1
        var runStart = -1
        for i in 0...8 {
            if i < 8 && groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength {
                    bestStart = runStart
                    bestLength = i - runStart
                }
                runStart = -1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return hex.joined(separator: ":") }
        let left = hex[0..<bestStart].joined(separator: ":")
        let right = hex[(bestStart + bestLength)...].joined(separator: ":")
        return left + "::" + right
    }
}

extension IPAddress: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\(quoted: text) is not a valid IP address")
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension String.StringInterpolation {
    /// Quotes user-supplied text in error messages, cut short so that a 10 MB value cannot flood a log.
    public mutating func appendInterpolation(quoted text: String) {
        let shown = text.count > 80 ? String(text.prefix(77)) + "..." : text
        appendLiteral("\"")
        appendLiteral(shown)
        appendLiteral("\"")
    }
}
