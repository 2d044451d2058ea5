/// An address prefix such as `10.244.0.0/16`, as used by podCIDRs, clusterCIDR and source ranges.
public struct CIDR: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The network address, with host bits cleared.
    public let address: IPAddress
    public let prefixLength: Int

    public init?(address: IPAddress, prefixLength: Int) {
        let width = address.family == .ipv4 ? 32 : 128
        guard (0...width).contains(prefixLength) else { return nil }
        self.address = CIDR.mask(address, prefixLength)
        self.prefixLength = prefixLength
    }

    /// Parses `addr/len`; host bits may be set, as the API server accepts them and masks.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(parts[0]),
            parts[1].count <= 3, let length = Int(parts[1])
        else { return nil }
        self.init(address: address, prefixLength: length)
    }

    public var family: IPAddress.Family { address.family }

    public func contains(_ other: IPAddress) -> Bool {
        other.family == family && CIDR.mask(other, prefixLength) == address
    }

    public var description: String { "\(address)/\(prefixLength)" }

    public static func < (lhs: CIDR, rhs: CIDR) -> Bool {
        (lhs.address, lhs.prefixLength) < (rhs.address, rhs.prefixLength)
    }

    /// The highest address in the prefix; nftables interval sets need it.
    public var lastAddress: IPAddress {
        switch address {
        case .v4(let value):
            let hostBits = UInt32(32 - prefixLength)
            return .v4(hostBits == 32 ? UInt32.max : value | ((1 << hostBits) - 1))
        case .v6(let high, let low):
            let hostBits = 128 - prefixLength
            if hostBits >= 64 {
                let highHost = hostBits - 64
                return .v6(high: highHost == 64 ? UInt64.max : high | ((1 << UInt64(highHost)) - 1), low: UInt64.max)
            }
            return .v6(high: high, low: hostBits == 0 ? low : low | ((1 << UInt64(hostBits)) - 1))
        }
    }

    private static func mask(_ address: IPAddress, _ length: Int) -> IPAddress {
        switch address {
        case .v4(let value):
            return .v4(length == 0 ? 0 : value & ~UInt32(0) << UInt32(32 - length))
        case .v6(let high, let low):
            let highMask: UInt64 = length >= 64 ? .max : (length == 0 ? 0 : ~UInt64(0) << UInt64(64 - length))
            let lowMask: UInt64 = length <= 64 ? 0 : (length == 128 ? .max : ~UInt64(0) << UInt64(128 - length))
            return .v6(high: high & highMask, low: low & lowMask)
        }
    }
}

extension CIDR: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let cidr = CIDR(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\(quoted: text) is not a valid CIDR")
        }
        self = cidr
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
