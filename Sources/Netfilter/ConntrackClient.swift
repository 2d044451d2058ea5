import CNetfilter
import CNetfilterShims
import Glibc
import KubeModel
import Synchronization

/// One conntrack entry's original and reply tuples: who sent it where, and who the kernel expects to
/// answer (after DNAT, the backend).
public struct ConntrackEntry: Hashable, Sendable, CustomStringConvertible {
    public var protocolNumber: UInt8
    public var originalSource: IPAddress
    public var originalDestination: IPAddress
    public var originalSourcePort: UInt16
    public var originalDestinationPort: UInt16
    public var replySource: IPAddress
    public var replyDestination: IPAddress
    public var replySourcePort: UInt16
    public var replyDestinationPort: UInt16
    /// The conntrack zone, 0 unless something set one.
    public var zone: UInt16

    public var description: String {
        "proto \(protocolNumber) \(originalSource):\(originalSourcePort)"
            + " -> \(originalDestination):\(originalDestinationPort) reply from \(replySource):\(replySourcePort)"
    }
}

/// Reads and deletes conntrack entries over ctnetlink (`NFNL_SUBSYS_CTNETLINK`), in the current network
/// namespace or another one, without the `conntrack` binary.
///
/// kproxy uses it for UDP: a UDP "connection" has no end, so an entry DNATed to a backend that went away
/// keeps black-holing the client until it times out; deleting it lets the next packet pick a live backend.
public final class ConntrackClient: Sendable {
    private let socket: Mutex<NetlinkSocket>
    private let sequence: Mutex<UInt32>

    public init(netns: String? = nil) throws(NetfilterError) {
        self.socket = Mutex(try NetlinkSocket(bus: NETLINK_NETFILTER, netns: netns))
        self.sequence = Mutex(UInt32(truncatingIfNeeded: time(nil)) &* 7)
    }

    private func nextSequence() -> UInt32 {
        sequence.withLock { value in
            value &+= 1
            return value
        }
    }

    /// Every UDP entry of `family`.
    public func udpEntries(_ family: IPAddress.Family) throws(NetfilterError) -> [ConntrackEntry] {
        let seq = nextSequence()
        let request = ConntrackMessage(
            type: IPCTNL_MSG_CT_GET,
            family: family,
            flags: NLM_F_REQUEST | NLM_F_DUMP,
            sequence: seq
        )
        let messages = try socket.withLock { socket throws(NetfilterError) -> [[UInt8]] in
            try request.send(on: socket, context: "dumping conntrack entries")
            return try socket.replies(to: seq, operation: "dump conntrack")
        }
        return messages.compactMap { ConntrackEntry(message: $0) }.filter { $0.protocolNumber == UInt8(IPPROTO_UDP) }
    }

    /// Deletes every UDP entry for which `isStale` is true, in one write, and returns those deleted. An
    /// entry that expired meanwhile (`ENOENT`) counts as deleted.
    @discardableResult
    public func deleteUDPEntries(
        _ families: [IPAddress.Family] = IPAddress.Family.allCases,
        where isStale: (ConntrackEntry) -> Bool
    ) throws(NetfilterError) -> [ConntrackEntry] {
        var stale: [ConntrackEntry] = []
        for family in families { stale += try udpEntries(family).filter(isStale) }
        guard !stale.isEmpty else { return [] }
        var requests: [(sequence: UInt32, entry: ConntrackEntry)] = []
        var bytes: [UInt8] = []
        for entry in stale {
            let seq = nextSequence()
            var message = ConntrackMessage(
                type: IPCTNL_MSG_CT_DELETE,
                family: entry.originalSource.family,
                flags: NLM_F_REQUEST | NLM_F_ACK,
                sequence: seq
            )
            message.putTuple(CTA_TUPLE_ORIG.rawValue, entry)
            if entry.zone != 0 { message.putU16(CTA_ZONE.rawValue, entry.zone.bigEndian) }
            bytes += message.bytes
            requests.append((seq, entry))
        }
        try self.socket.withLock { socket throws(NetfilterError) in
            socket.ensureBuffers(send: bytes.count + 4096, receive: max(requests.count * 1024, 1 << 20))
            let sent = bytes.withUnsafeBytes { raw in
                Result { () throws(NetfilterError) in
                    try socket.send(raw, context: "deleting \(requests.count) conntrack entries")
                }
            }
            try sent.get()
            var failures: [NetfilterError.Rejection] = []
            for (seq, entry) in requests {
                do throws(NetfilterError) {
                    _ = try socket.replies(to: seq, operation: "delete conntrack \(entry)")
                } catch .rejected(let rejections) where rejections.allSatisfy({ $0.errno == ENOENT }) {
                    continue
                } catch .rejected(let rejections) {
                    failures += rejections
                }
            }
            if !failures.isEmpty { throw .rejected(failures) }
        }
        return stale
    }
}

/// A ctnetlink request built with libmnl in its own buffer.
private struct ConntrackMessage {
    private(set) var storage = [UInt8](repeating: 0, count: 512)
    private var length = 0

    init(type: cntl_msg_types, family: IPAddress.Family, flags: Int32, sequence: UInt32) {
        length = storage.withUnsafeMutableBytes { raw -> Int in
            let header = mnl_nlmsg_put_header(raw.baseAddress)!
            header.pointee.nlmsg_type = UInt16(NFNL_SUBSYS_CTNETLINK << 8) | UInt16(type.rawValue)
            header.pointee.nlmsg_flags = UInt16(truncatingIfNeeded: flags)
            header.pointee.nlmsg_seq = sequence
            let extra = mnl_nlmsg_put_extra_header(header, MemoryLayout<nfgenmsg>.size)!
                .assumingMemoryBound(to: nfgenmsg.self)
            extra.pointee.nfgen_family = UInt8(family == .ipv4 ? AF_INET : AF_INET6)
            extra.pointee.version = UInt8(NFNETLINK_V0)
            extra.pointee.res_id = 0
            return Int(header.pointee.nlmsg_len)
        }
    }

    var bytes: ArraySlice<UInt8> { storage[0..<Int(CNetfilter_NLMSG_ALIGN(UInt32(length)))] }

    private mutating func edit(_ body: (UnsafeMutablePointer<nlmsghdr>) -> Void) {
        length = storage.withUnsafeMutableBytes { raw -> Int in
            let header = raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
            body(header)
            return Int(header.pointee.nlmsg_len)
        }
    }

    mutating func putU16(_ type: UInt32, _ value: UInt16) {
        edit { mnl_attr_put_u16($0, UInt16(type), value) }
    }

    /// `CTA_TUPLE_*` nest: addresses, then protocol and ports (network order), as ctnetlink wants them.
    mutating func putTuple(_ type: UInt32, _ entry: ConntrackEntry) {
        edit { header in
            let tuple = mnl_attr_nest_start(header, UInt16(type))
            let ip = mnl_attr_nest_start(header, UInt16(CTA_TUPLE_IP.rawValue))
            let v4 = entry.originalSource.family == .ipv4
            let source = entry.originalSource.bytes
            let destination = entry.originalDestination.bytes
            mnl_attr_put(header, UInt16(v4 ? CTA_IP_V4_SRC.rawValue : CTA_IP_V6_SRC.rawValue), source.count, source)
            mnl_attr_put(
                header,
                UInt16(v4 ? CTA_IP_V4_DST.rawValue : CTA_IP_V6_DST.rawValue),
                destination.count,
                destination
            )
            mnl_attr_nest_end(header, ip)
            let proto = mnl_attr_nest_start(header, UInt16(CTA_TUPLE_PROTO.rawValue))
            mnl_attr_put_u8(header, UInt16(CTA_PROTO_NUM.rawValue), entry.protocolNumber)
            mnl_attr_put_u16(header, UInt16(CTA_PROTO_SRC_PORT.rawValue), entry.originalSourcePort.bigEndian)
            mnl_attr_put_u16(header, UInt16(CTA_PROTO_DST_PORT.rawValue), entry.originalDestinationPort.bigEndian)
            mnl_attr_nest_end(header, proto)
            mnl_attr_nest_end(header, tuple)
        }
    }

    func send(on socket: borrowing NetlinkSocket, context: String) throws(NetfilterError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(NetfilterError) in try socket.send(raw, context: context) }
        }
        try result.get()
    }
}

extension ConntrackEntry {
    /// Parses an `IPCTNL_MSG_CT_NEW` dump message; nil when a tuple is incomplete.
    init?(message: [UInt8]) {
        let attributes = NetlinkAttributes(message: message)
        guard let original = attributes.nested(UInt16(CTA_TUPLE_ORIG.rawValue)).flatMap(Tuple.init),
            let reply = attributes.nested(UInt16(CTA_TUPLE_REPLY.rawValue)).flatMap(Tuple.init)
        else { return nil }
        protocolNumber = original.proto
        originalSource = original.source
        originalDestination = original.destination
        originalSourcePort = original.sourcePort
        originalDestinationPort = original.destinationPort
        replySource = reply.source
        replyDestination = reply.destination
        replySourcePort = reply.sourcePort
        replyDestinationPort = reply.destinationPort
        zone = attributes.value(UInt16(CTA_ZONE.rawValue)).map { UInt16($0.first!) << 8 | UInt16($0.last!) } ?? 0
    }

    private struct Tuple {
        var source: IPAddress
        var destination: IPAddress
        var proto: UInt8
        var sourcePort: UInt16
        var destinationPort: UInt16

        init?(_ attributes: NetlinkAttributes) {
            guard let ip = attributes.nested(UInt16(CTA_TUPLE_IP.rawValue)),
                let proto = attributes.nested(UInt16(CTA_TUPLE_PROTO.rawValue)),
                let number = proto.value(UInt16(CTA_PROTO_NUM.rawValue))?.first
            else { return nil }
            let source = ip.value(UInt16(CTA_IP_V4_SRC.rawValue)) ?? ip.value(UInt16(CTA_IP_V6_SRC.rawValue))
            let destination = ip.value(UInt16(CTA_IP_V4_DST.rawValue)) ?? ip.value(UInt16(CTA_IP_V6_DST.rawValue))
            guard let source = source.flatMap({ IPAddress(bytes: $0) }),
                let destination = destination.flatMap({ IPAddress(bytes: $0) })
            else { return nil }
            self.source = source
            self.destination = destination
            self.proto = number
            func port(_ type: UInt32) -> UInt16 {
                guard let value = proto.value(UInt16(type)), value.count == 2 else { return 0 }
                return UInt16(value.first!) << 8 | UInt16(value.last!)
            }
            sourcePort = port(CTA_PROTO_SRC_PORT.rawValue)
            destinationPort = port(CTA_PROTO_DST_PORT.rawValue)
        }
    }
}
