import KubeModel

/// An upstream resolver, `nameserver` from the node's resolv.conf by default.
public struct Upstream: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: Int

    public init(address: IPAddress, port: Int = 53) {
        self.address = address
        self.port = port
    }

    /// Parses `1.2.3.4`, `1.2.3.4:5353`, `::1`, or `[::1]:5353`; a bare address means port 53.
    public init?(_ text: String) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            guard let address = IPAddress(text[text.index(after: text.startIndex)..<close]) else { return nil }
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                self.init(address: address)
            } else {
                guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else {
                    return nil
                }
                self.init(address: address, port: port)
            }
        } else if let address = IPAddress(text) {
            self.init(address: address)
        } else {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let address = IPAddress(parts[0]), let port = Int(parts[1]),
                (1...65535).contains(port)
            else { return nil }
            self.init(address: address, port: port)
        }
    }

    public var description: String {
        address.family == .ipv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    /// Upstreams from resolv.conf `nameserver` addresses, without kproxy's own listen addresses: a node
    /// whose resolv.conf points at kproxy would otherwise forward to itself in a loop. An unspecified
    /// listen address (0.0.0.0 or ::) covers every local address of its family on that port.
    public static func fromNameservers(
        _ nameservers: [IPAddress],
        port: Int = 53,
        excluding listening: [Upstream]
    ) -> [Upstream] {
        var seen = Set<Upstream>()
        return nameservers.map { Upstream(address: $0, port: port) }.filter { candidate in
            let isSelf = listening.contains { own in
                guard own.port == candidate.port, own.address.family == candidate.address.family else { return false }
                return own.address == candidate.address || own.address == .v4(0) || own.address == .v6(high: 0, low: 0)
            }
            return !isSelf && seen.insert(candidate).inserted
        }
    }
}
