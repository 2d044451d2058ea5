import KubeModel

extension Tracer {
    /// Where a traced packet enters netfilter: that decides which hooks it crosses and in what order.
    public enum Origin: Hashable, Sendable, CustomStringConvertible {
        /// Arrives on an interface (a pod's veth, or the wire): prerouting, then input or forward.
        case inbound(interface: String)
        /// Sent by a process on the node: output, then postrouting (and back in through `lo` if local).
        case local

        public var description: String {
            switch self {
            case .inbound(let interface): return "from \(interface)"
            case .local: return "from this node"
            }
        }
    }

    /// The conntrack state the packet carries. Only `new` packets see nat chains, as in the kernel.
    public enum ConnectionState: Hashable, Sendable {
        case new
        case established

        /// `NF_CT_STATE_BIT(ctinfo)`: `ct state` loads this 4-byte bitmask.
        var bits: UInt32 { self == .new ? 1 << 3 : 1 << 1 }
    }

    /// One packet to trace. Ports are in host order; the tracer lays them out big-endian in the headers.
    public struct Packet: Hashable, Sendable, CustomStringConvertible {
        public var source: IPAddress
        public var destination: IPAddress
        public var `protocol`: TransportProtocol
        public var sourcePort: UInt16
        public var destinationPort: UInt16
        public var origin: Origin
        /// What `meta oifname` sees once the packet is routed off the node (forward, or local output).
        public var outputInterface: String
        public var mark: UInt32
        public var state: ConnectionState

        public init(
            source: IPAddress,
            destination: IPAddress,
            protocol: TransportProtocol = .tcp,
            sourcePort: UInt16 = 40000,
            destinationPort: UInt16,
            origin: Origin = .inbound(interface: "eth0"),
            outputInterface: String = "eth0",
            mark: UInt32 = 0,
            state: ConnectionState = .new
        ) {
            self.source = source
            self.destination = destination
            self.protocol = `protocol`
            self.sourcePort = sourcePort
            self.destinationPort = destinationPort
            self.origin = origin
            self.outputInterface = outputInterface
            self.mark = mark
            self.state = state
        }

        public var family: IPAddress.Family { destination.family }

        public var description: String {
            "\(`protocol`.nftName) \(Destination(address: source, port: sourcePort)) -> "
                + "\(Destination(address: destination, port: destinationPort)) \(origin)"
        }

        /// Parses `PROTO SRC[:PORT] -> DST:PORT [from IFACE]`, with IPv6 as `[addr]:port`.
        ///
        /// Without `from`, a source that is one of `localAddresses` is locally originated and anything else
        /// arrives on `eth0`: that is what an operator asking "what happens to this connection" means.
        public init(parsing text: String, localAddresses: Set<IPAddress> = []) throws(TracerError) {
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            func fail(_ reason: String) -> TracerError { .badPacket(text: text, reason: reason) }
            guard words.count == 4 || words.count == 6 else {
                throw fail("expected PROTO SRC[:PORT] -> DST:PORT [from IFACE], e.g. \"tcp 10.0.0.5 -> 10.96.0.10:80\"")
            }
            guard let proto = TransportProtocol.allCases.first(where: { $0.nftName == words[0].lowercased() }) else {
                throw fail("\(quoted: words[0]) is not tcp, udp or sctp")
            }
            guard words[2] == "->" else { throw fail("expected \"->\" between source and destination") }
            guard let source = Packet.parseEndpoint(words[1]) else {
                throw fail("\(quoted: words[1]) is not an address, address:port or [ipv6]:port")
            }
            guard let destination = Packet.parseEndpoint(words[3]), let destinationPort = destination.port else {
                throw fail("\(quoted: words[3]) needs a port: address:port or [ipv6]:port")
            }
            guard source.address.family == destination.address.family else {
                throw fail("source and destination are of different IP families")
            }
            var origin: Origin = localAddresses.contains(source.address) ? .local : .inbound(interface: "eth0")
            if words.count == 6 {
                guard words[4] == "from" else { throw fail("expected \"from IFACE\" after the destination") }
                guard (1...15).contains(words[5].utf8.count) else {
                    throw fail("interface name \(quoted: words[5]) must be 1 to 15 bytes")
                }
                origin = .inbound(interface: words[5])
            }
            self.init(
                source: source.address,
                destination: destination.address,
                protocol: proto,
                sourcePort: source.port ?? 40000,
                destinationPort: destinationPort,
                origin: origin
            )
        }

        static func parseEndpoint(_ text: String) -> (address: IPAddress, port: UInt16?)? {
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]"),
                    let address = IPAddress(text[text.index(after: text.startIndex)..<close]),
                    address.family == .ipv6
                else { return nil }
                let rest = text[text.index(after: close)...]
                if rest.isEmpty { return (address, nil) }
                guard rest.first == ":", let port = UInt16(rest.dropFirst()) else { return nil }
                return (address, port)
            }
            if let address = IPAddress(text) { return (address, nil) }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let address = IPAddress(parts[0]), address.family == .ipv4,
                let port = UInt16(parts[1])
            else { return nil }
            return (address, port)
        }
    }

    /// An address and port, printed the way `dnat to` and Go's `net.JoinHostPort` print them.
    public struct Destination: Hashable, Sendable, Comparable, CustomStringConvertible {
        public var address: IPAddress
        public var port: UInt16

        public init(address: IPAddress, port: UInt16) {
            self.address = address
            self.port = port
        }

        public var description: String {
            address.family == .ipv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
        }

        public static func < (lhs: Destination, rhs: Destination) -> Bool {
            (lhs.address, lhs.port) < (rhs.address, rhs.port)
        }
    }
}

/// The packet as the tracer's headers see it at one point in the pipeline, after any NAT so far.
struct PacketHeaders: Hashable, Sendable {
    var source: IPAddress
    var destination: IPAddress
    var proto: TransportProtocol
    var sourcePort: UInt16
    var destinationPort: UInt16

    /// A minimal IPv4 (20-byte) or IPv6 (40-byte) header, so that `payload` loads read real offsets.
    var network: [UInt8] {
        switch destination {
        case .v4:
            var header: [UInt8] = [0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, proto.number, 0, 0]
            header += source.bytes
            header += destination.bytes
            return header
        case .v6:
            var header: [UInt8] = [0x60, 0, 0, 0, 0, 20, proto.number, 64]
            header += source.bytes
            header += destination.bytes
            return header
        }
    }

    /// The transport header: TCP with SYN set (20 bytes), UDP (8 bytes) or the SCTP common header (12 bytes).
    var transport: [UInt8] {
        let ports = [
            UInt8(sourcePort >> 8), UInt8(sourcePort & 0xff), UInt8(destinationPort >> 8),
            UInt8(destinationPort & 0xff),
        ]
        switch proto {
        case .tcp: return ports + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
        case .udp: return ports + [0, 20, 0, 0]
        case .sctp: return ports + [0, 0, 0, 0, 0, 0, 0, 0]
        }
    }
}
